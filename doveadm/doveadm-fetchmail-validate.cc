#include "doveadm-fetchmail.hh"

#include <algorithm>

using namespace fetchmail;

/* `doveadm fetchmail validate -u USER [--id ID] <fields>`: what add (or,
   with --id, an edit of that account) would say about the fields given,
   without changing anything. One row per bad field (field, error), with
   the error text add and edit give; no rows when everything is good.
   Every field is checked on its own, so a form can mark all of them at
   once. The exit code is 0 whenever the fields could be judged: over the
   HTTP API a failed command carries only its exit code, and the rows are
   the reasons a panel shows next to its fields. */

static void cmd_fetchmail_validate_init(struct doveadm_mail_cmd_context *ctx,
					const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;
	const char *id;

	doveadm_print_header_simple("field");
	doveadm_print_header_simple("error");
	if (!fetchmail_cmd_init_no_args(fctx, args))
		return;
	if (doveadm_cmd_param_str(ctx->cctx, "id", &id)) {
		const char *const id_args[] = { id, nullptr };
		fetchmail_cmd_init_id(fctx, id_args);
	}
}

static bool validate_has_error(const FieldErrors &errors,
			       const std::string &field)
{
	return std::any_of(errors.begin(), errors.end(),
			   [&](const auto &e) { return e.first == field; });
}

/* Give the field account_validate() named a stand-in value that it
   accepts, so that the next call looks further. False for a field it
   has no stand-in for. */
static bool validate_stand_in(Account &account, const std::string &field)
{
	if (field == "protocol")
		account.protocol_set = true;
	else if (field == "folders")
		account.folders = { "INBOX" };
	else if (field == "host")
		account.host = "-";
	else if (field == "remote-user")
		account.remote_user = "-";
	else if (field == "password")
		account.password = account.auth == AuthMethod::OAuth2 ? "" : "-";
	else if (field == "oauth2-provider")
		account.oauth2_provider =
			account.auth == AuthMethod::OAuth2 ? "-" : "";
	else if (field == "mailbox")
		account.mailbox = "-";
	else
		return false;
	return true;
}

/* account_validate() names the first whole-record problem only: note it,
   stand in for that field and ask again, so that every missing field is
   named at once. A field whose own value was bad (and so is still unset)
   is not reported a second time. */
static void validate_record(Account account, FieldErrors &errors)
{
	std::string error;

	for (size_t i = 0; i <= account_field_names().size(); i++) {
		if (account_validate(account, error) == 0)
			return;
		std::string field = error.substr(0, error.find(':'));
		if (!validate_has_error(errors, field))
			errors.emplace_back(field, error);
		if (!validate_stand_in(account, field))
			return;
	}
}

static int fetchmail_validate(struct fetchmail_cmd_context *fctx,
			      const Settings &set, Store &store)
{
	StoredAccount stored;
	FieldErrors errors;
	std::string error;
	bool password_set;

	if (fctx->id != nullptr &&
	    store.load(fctx->id, stored, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	fetchmail_cmd_set_fields(fctx, stored.account, password_set, errors);
	/* an edit keeps the stored password unless a new one is given (the
	   loaded record holds it only encrypted) */
	if (fctx->id != nullptr && !password_set &&
	    stored.account.auth == AuthMethod::Password)
		stored.account.password = "-";
	/* an OAuth2 provider must be configured; add takes the host from
	   it */
	if (fetchmail_oauth2_account_check(set, stored.account,
					   fctx->id == nullptr, error) != 0) {
		std::string field = error.substr(0, error.find(':'));
		if (!validate_has_error(errors, field))
			errors.emplace_back(field, error);
	}
	validate_record(stored.account, errors);
	for (const auto &[field, message] : errors) {
		doveadm_print(field.c_str());
		doveadm_print(message.c_str());
	}
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_validate_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_validate_init,
				   fetchmail_validate, DOVEADM_PRINT_TYPE_TABLE);
}

static const struct doveadm_cmd_param fetchmail_validate_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('i', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAMS_FIELDS,
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_validate = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_validate_alloc,
	.name = "fetchmail validate",
	.usage = FETCHMAIL_USAGE_PREFIX "[--id <id>] " FETCHMAIL_USAGE_FIELDS,
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_validate_params,
};
