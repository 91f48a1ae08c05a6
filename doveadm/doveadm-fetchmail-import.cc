#include "doveadm-fetchmail.hh"
#include "fetchmail-import.hh"
#include "fetchmail-import-fetchmailrc.hh"
#include "fetchmail-import-mailu.hh"
#include "fetchmail-import-postfixadmin.hh"

extern "C" {
#include "istream.h"
}

#include <memory>

using namespace fetchmail;

/* `doveadm fetchmail import -u USER|-A --from fetchmailrc|postfixadmin|mailu
   [--apply] [--fetchids FILE] [--mark-existing] [--domain DOMAIN] FILE`:
   create the accounts another fetcher had (docs/migration.md).

   init() reads FILE (and --fetchids) once, as the user doveadm runs as,
   before it drops to each user's privileges, and parses it; a bad file
   fails here and touches no user. Over the HTTP API, file and fetchids
   are ISTREAM parameters: doveadm-server hands over the content sent in
   the request and never opens a path on the server.

   Each user's run() takes the accounts that belong to the user (see
   import_belongs_to()) and prints one row per account: create (a dry run,
   the default), created (--apply), exists (an account with the same host,
   protocol, remote user and folders is there: nothing is created, so
   importing twice is harmless) or skip (with the reason); then one row per
   option that is not carried over (refused, ignored, changed). Seeds, so
   that nothing is fetched twice: --fetchids puts fetchmail's UIDLs of
   that remote user and server into a new POP3 account's ledger; with
   --mark-existing every other new account with keep yes gets a baseline:
   its first run records what is on the server as fetched. The seed is
   written with the account in one transaction.

   Passwords are never printed; neither is the text of a refused command.
   Accounts that belong to no user are reported on stderr at the end. */

namespace {

const size_t IMPORT_COLUMNS = 6;
const char *const import_columns[IMPORT_COLUMNS] = {
	"line", "action", "id", "account", "option", "reason",
};

struct ImportState {
	ImportSource source = ImportSource::Fetchmailrc;
	std::string file_name;
	ImportFile file;
	bool have_fetchids = false;
	FetchIds fetchids;
	bool apply = false;
	bool mark_existing = false;
	std::string domain;
	std::vector<bool> claimed;
	bool file_notes_printed = false;
};

ImportState *import_state(struct fetchmail_cmd_context *fctx)
{
	return static_cast<ImportState *>(fctx->verb_state);
}

/* The whole stream, or -1 with an error naming it. */
int import_read(struct istream *input, const std::string &name,
		std::string &text_r, std::string &error_r)
{
	const unsigned char *data;
	size_t size;

	/* doveadm-server has already read the request's value to its end */
	i_stream_seek(input, 0);
	while (i_stream_read_more(input, &data, &size) > 0) {
		if (text_r.size() + size > IMPORT_MAX_FILE_SIZE) {
			error_r = name + ": larger than 32 MiB";
			return -1;
		}
		text_r.append(reinterpret_cast<const char *>(data), size);
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0) {
		error_r = name + ": " + i_stream_get_error(input);
		return -1;
	}
	return 0;
}

std::string import_stream_name(struct istream *input, const char *param)
{
	const char *name = i_stream_get_name(input);
	return name != nullptr && *name != '\0' ? name : param;
}

int import_parse(ImportSource source, const std::string &text,
		 ImportFile &file, std::string &error_r)
{
	switch (source) {
	case ImportSource::Fetchmailrc:
		return import_fetchmailrc(text, file, error_r);
	case ImportSource::PostfixAdmin:
		return import_postfixadmin(text, file, error_r);
	case ImportSource::Mailu:
		return import_mailu(text, file, error_r);
	}
	return -1;
}

int import_init(struct fetchmail_cmd_context *fctx, const char *const args[])
{
	struct doveadm_cmd_context *cctx = fctx->ctx.cctx;
	auto state = std::make_unique<ImportState>();
	struct istream *input;
	const char *value;
	std::string text, error;

	if (!fetchmail_cmd_init_no_args(fctx, args))
		return -1;
	if (!doveadm_cmd_param_str(cctx, "from", &value))
		return fetchmail_cmd_fail(fctx, EX_USAGE, "from: missing "
			"(fetchmailrc, postfixadmin or mailu)");
	if (import_source_parse(value, state->source) < 0)
		return fetchmail_cmd_fail(fctx, EX_USAGE, "from: must be "
			"fetchmailrc, postfixadmin or mailu (got '" +
			account_quote_value(value) + "')");
	(void)doveadm_cmd_param_bool(cctx, "apply", &state->apply);
	(void)doveadm_cmd_param_bool(cctx, "mark-existing",
				     &state->mark_existing);
	if (doveadm_cmd_param_str(cctx, "domain", &value)) {
		Account probe;
		if (account_set_field(probe, "host", value, error) < 0)
			return fetchmail_cmd_fail(fctx, EX_USAGE, "domain: " +
				error.substr(error.find(": ") + 2));
		state->domain = value;
	}

	if (!doveadm_cmd_param_istream(cctx, "file", &input))
		return fetchmail_cmd_fail(fctx, EX_USAGE,
			"file: missing (the file to import)");
	state->file_name = import_stream_name(input, "file");
	if (import_read(input, state->file_name, text, error) < 0)
		return fetchmail_cmd_fail(fctx, EX_NOINPUT, error);
	if (import_parse(state->source, text, state->file, error) < 0)
		return fetchmail_cmd_fail(fctx, EX_DATAERR,
					  state->file_name + ": " + error);
	state->claimed.assign(state->file.accounts.size(), false);

	if (doveadm_cmd_param_istream(cctx, "fetchids", &input)) {
		std::string ids, name = import_stream_name(input, "fetchids");
		if (import_read(input, name, ids, error) < 0)
			return fetchmail_cmd_fail(fctx, EX_NOINPUT, error);
		if (fetchids_parse(ids, state->fetchids, error) < 0)
			return fetchmail_cmd_fail(fctx, EX_DATAERR,
						  name + ": " + error);
		state->have_fetchids = true;
	}
	fctx->verb_state = state.release();
	return 0;
}

void cmd_fetchmail_import_init(struct doveadm_mail_cmd_context *ctx,
			       const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	for (const char *column : import_columns)
		doveadm_print_header_simple(column);
	fetchmail_cmd_guard(fctx, [&] { return import_init(fctx, args); });
}

void import_print(size_t line, const char *action, const std::string &id,
		  const std::string &account, const std::string &option,
		  const std::string &reason)
{
	doveadm_print(std::to_string(line).c_str());
	doveadm_print(action);
	doveadm_print(id.c_str());
	doveadm_print(account.c_str());
	doveadm_print(option.c_str());
	doveadm_print(reason.c_str());
}

void import_print_notes(const std::vector<ImportNote> &notes,
			const std::string &account)
{
	for (const ImportNote &n : notes)
		import_print(n.line, import_note_kind_name(n.kind), "", account,
			     n.option, n.reason);
}

/* Seed a new account's ledger so that nothing is fetched twice. Returns
   whether the ledger holds something; describes it in seed_r. */
bool import_seed(const ImportState &state, const Account &account,
		 Ledger &ledger, std::string &seed_r)
{
	if (account.protocol == Protocol::Pop3 && state.have_fetchids) {
		std::vector<std::string> uidls =
			state.fetchids.find(account.remote_user, account.host);
		if (!uidls.empty()) {
			for (std::string &uidl : uidls)
				ledger.pop3_add(std::move(uidl));
			seed_r = std::to_string(ledger.pop3_count()) +
				" UIDLs from fetchids: those messages are "
				"not fetched again";
			return true;
		}
	}
	if (!state.mark_existing)
		return false;
	if (!account.keep) {
		seed_r = "not marked: keep is no, so what is on the server "
			"was not fetched yet";
		return false;
	}
	if (account.protocol == Protocol::Pop3) {
		ledger.set_pop3_baseline(true);
	} else {
		for (const std::string &folder : account.folders)
			ledger.folder(folder).baseline = true;
	}
	seed_r = "marked: the first run records what is on the server as "
		"fetched and fetches only newer mail";
	return true;
}

/* The user's accounts, for finding ones imported before. Records that do
   not load are left out (list shows them as corrupt). */
int import_existing(struct fetchmail_cmd_context *fctx, Store &store,
		    std::vector<Account> &accounts_r,
		    std::vector<std::string> &ids_r)
{
	std::vector<std::string> ids;
	std::string error;

	if (store.list_ids(ids, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	for (const std::string &id : ids) {
		StoredAccount stored;
		if (store.load(id, stored, error) < 0) {
			if (store.last_error() != StoreError::Corrupt)
				return fetchmail_cmd_fail_store(fctx, store,
								error);
			continue;
		}
		accounts_r.push_back(stored.account);
		ids_r.push_back(id);
	}
	return 0;
}

int fetchmail_import(struct fetchmail_cmd_context *fctx, const Settings &set,
		     Store &store)
{
	ImportState *state = import_state(fctx);
	const char *user = store.user()->username;
	std::vector<Account> existing;
	std::vector<std::string> ids;
	std::string error;

	if (state == nullptr)
		return -1;
	if (import_existing(fctx, store, existing, ids) < 0)
		return -1;
	if (!state->file_notes_printed) {
		state->file_notes_printed = true;
		import_print_notes(state->file.notes, "");
	}
	bool created = false;
	for (size_t i = 0; i < state->file.accounts.size(); i++) {
		ImportedAccount &imp = state->file.accounts[i];
		if (!import_belongs_to(imp, user, state->domain,
				       fctx->ctx.iterate_single_user))
			continue;
		state->claimed[i] = true;
		std::string label = import_account_label(imp.account);
		if (imp.skip.empty() &&
		    account_validate(imp.account, error) < 0)
			imp.skip = error;
		if (!imp.skip.empty()) {
			import_print(imp.line, "skip", "", label, "", imp.skip);
			import_print_notes(imp.notes, label);
			continue;
		}
		size_t found = existing.size();
		for (size_t j = 0; j < existing.size(); j++) {
			if (import_same_account(existing[j], imp.account)) {
				found = j;
				break;
			}
		}
		if (found < existing.size()) {
			import_print(imp.line, "exists", ids[found], label, "",
				     ids[found].empty() ? "the same remote "
				     "mailbox as an account above: nothing "
				     "created" : "already there: nothing "
				     "created");
			import_print_notes(imp.notes, label);
			continue;
		}

		Ledger ledger;
		std::string seed;
		bool seeded = import_seed(*state, imp.account, ledger, seed);
		StoredAccount stored;
		stored.account = imp.account;
		if (state->apply) {
			stored.status.next_run = ioloop_time +
				i_rand_limit(set.interval_secs);
			if (store.create(stored, error,
					 seeded ? &ledger : nullptr) < 0)
				return fetchmail_cmd_fail_store(fctx, store,
					state->file_name + ": line " +
					std::to_string(imp.line) + ": " + error);
			created = true;
		}
		/* a second entry for the same mailbox in the file */
		existing.push_back(stored.account);
		ids.push_back(stored.account.id);
		import_print(imp.line, state->apply ? "created" : "create",
			     stored.account.id, label, "", seed);
		import_print_notes(imp.notes, label);
	}
	if (created)
		fetchmail_cmd_notify_changed(store);
	return 0;
}

void cmd_fetchmail_import_deinit(struct doveadm_mail_cmd_context *ctx)
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;
	std::unique_ptr<ImportState> state(import_state(fctx));

	fctx->verb_state = nullptr;
	if (state == nullptr || ctx->exit_code != 0)
		return;
	for (size_t i = 0; i < state->file.accounts.size(); i++) {
		const ImportedAccount &imp = state->file.accounts[i];
		if (state->claimed[i])
			continue;
		std::string names;
		for (const std::string &n : imp.local_names)
			names += (names.empty() ? "" : ", ") +
				account_quote_value(n);
		i_warning("fetchmail: import: %s: line %zu: %s not imported: %s",
			  state->file_name.c_str(), imp.line,
			  import_account_label(imp.account).c_str(),
			  names.empty() ? "no local name in the file (import "
			  "it with -u USER)" : ("no such user among those "
			  "imported: " + names).c_str());
	}
}

struct doveadm_mail_cmd_context *cmd_fetchmail_import_alloc(void)
{
	struct doveadm_mail_cmd_context *ctx =
		fetchmail_cmd_alloc(cmd_fetchmail_import_init, fetchmail_import,
				    DOVEADM_PRINT_TYPE_TABLE);
	ctx->v.deinit = cmd_fetchmail_import_deinit;
	return ctx;
}

const struct doveadm_cmd_param fetchmail_import_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('r', "from", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM('y', "apply", CMD_PARAM_BOOL, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM('M', "mark-existing", CMD_PARAM_BOOL,
			CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM('D', "domain", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE),
	/* ISTREAMs: a path on the command line (read by doveadm before it
	   drops privileges), the content itself over the HTTP API */
	FETCHMAIL_PARAM('\0', "file", CMD_PARAM_ISTREAM,
			CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAM('\0', "fetchids", CMD_PARAM_ISTREAM,
			CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAM_END,
};

} // namespace

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_import = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_import_alloc,
	.name = "fetchmail import",
	.usage = FETCHMAIL_USAGE_PREFIX
		"--from fetchmailrc|postfixadmin|mailu [--apply] "
		"[--fetchids <file>] [--mark-existing] [--domain <domain>] "
		"<file>",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_import_params,
};
