#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail list -u USER|-A [--status never|ok|error|running]`:
   one row per account with its status, never the password. The oauth2
   column shows an OAuth2 account's consent state (connected, consent
   needed: <reason>, never connected), never a token. A record that
   cannot be read is listed with last-status "corrupt" and the reason in
   last-error, so that it is seen and can be removed.

   With a chosen output format (-f json|tab|flow|table, or the HTTP API)
   every row has every column below. Left to its default, list prints a
   table for people that fits a terminal like doveadm's own tables: the
   compact columns with short titles, times to the minute, the error last
   (a long one runs to the end of its line without pushing anything). */

struct ListColumn {
	const char *key;    /* the JSON key and the field of account_show_fields() */
	const char *title;  /* in the compact table */
	bool compact;
};

static const ListColumn list_columns[] = {
	{ "id", "id", true },
	{ "protocol", "proto", true },
	{ "host", "host", true },
	{ "remote-user", "user", false },
	{ "mailbox", "mailbox", false },
	{ "active", "active", false },
	{ "push", "push", false },
	{ "oauth2", "oauth2", false },
	{ "last-status", "status", true },
	{ "last-run", "last-run", true },
	{ "last-fetched", "got", true },
	{ "next-run", "next-run", false },
	{ "last-error", "error", true },
};

static void cmd_fetchmail_list_init(struct doveadm_mail_cmd_context *ctx,
				    const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;
	const char *status;
	RunStatus parsed;

	fctx->compact = !fctx->print_chosen;
	for (const ListColumn &c : list_columns) {
		if (!fctx->compact)
			doveadm_print_header_simple(c.key);
		else if (c.compact)
			doveadm_print_header(c.key, c.title,
					     static_cast<doveadm_print_header_flags>(0));
	}
	if (!fetchmail_cmd_init_no_args(fctx, args))
		return;
	if (doveadm_cmd_param_str(ctx->cctx, "status", &status)) {
		if (run_status_parse(status, parsed) < 0) {
			fetchmail_cmd_fail(fctx, EX_USAGE, std::string(
				"status: must be never, ok, error or running "
				"(got ") + account_quote_value(status) + ")");
			return;
		}
		fctx->status = p_strdup(ctx->pool, status);
	}
}

/* "2026-12-02T01:13:20Z" as "2026-12-02 01:13" */
static std::string list_short_time(const std::string &iso)
{
	if (iso.size() < 16)
		return iso;
	std::string t = iso.substr(0, 16);
	t[10] = ' ';
	return t;
}

static void list_print_row(struct fetchmail_cmd_context *fctx,
	const std::vector<std::pair<std::string, std::string>> &fields)
{
	for (const ListColumn &c : list_columns) {
		if (fctx->compact && !c.compact)
			continue;
		std::string value;
		for (const auto &[name, v] : fields) {
			if (name == c.key) {
				value = v;
				break;
			}
		}
		if (fctx->compact && (strcmp(c.key, "last-run") == 0 ||
				      strcmp(c.key, "next-run") == 0))
			value = list_short_time(value);
		doveadm_print(value.c_str());
	}
}

static void list_print(struct fetchmail_cmd_context *fctx,
		       const StoredAccount &stored)
{
	list_print_row(fctx, account_show_fields(stored.account,
						 stored.status, stored.oauth2));
}

static void list_print_corrupt(struct fetchmail_cmd_context *fctx,
			       const std::string &id, const std::string &error)
{
	list_print_row(fctx, { { "id", id }, { "last-status", "corrupt" },
			       { "last-error", error } });
}

static int fetchmail_list(struct fetchmail_cmd_context *fctx, const Settings &,
			  Store &store)
{
	std::vector<std::string> ids;
	std::string error;

	if (store.list_ids(ids, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	LiveStatuses live = fetchmail_cmd_live_statuses(store);
	for (const std::string &id : ids) {
		StoredAccount stored;
		if (store.load(id, stored, error) < 0) {
			if (store.last_error() != StoreError::Corrupt)
				return fetchmail_cmd_fail_store(fctx, store, error);
			if (fctx->status == nullptr)
				list_print_corrupt(fctx, id, error);
			continue;
		}
		fetchmail_cmd_live_merge(live, stored);
		if (fctx->status != nullptr &&
		    strcmp(fctx->status,
			   run_status_name(stored.status.last_status)) != 0)
			continue;
		list_print(fctx, stored);
	}
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_list_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_list_init, fetchmail_list,
				   DOVEADM_PRINT_TYPE_TABLE);
}

static const struct doveadm_cmd_param fetchmail_list_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('s', "status", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_list = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_list_alloc,
	.name = "fetchmail list",
	.usage = FETCHMAIL_USAGE_PREFIX "[--status never|ok|error|running]",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_list_params,
};
