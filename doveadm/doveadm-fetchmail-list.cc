#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail list -u USER|-A [--status never|ok|error|running]`:
   one row per account with its status, never the password. The oauth2
   column shows an OAuth2 account's consent state (connected, consent
   needed: <reason>, never connected), never a token. A record that
   cannot be read is listed with last-status "corrupt" and the reason in
   last-error, so that it is seen and can be removed. */

static const char *const list_columns[] = {
	"id", "protocol", "host", "remote-user", "mailbox", "active",
	"oauth2", "last-status", "last-run", "last-fetched", "next-run", "last-error",
};

static void cmd_fetchmail_list_init(struct doveadm_mail_cmd_context *ctx,
				    const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;
	const char *status;
	RunStatus parsed;

	for (const char *column : list_columns)
		doveadm_print_header_simple(column);
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

static void list_print(const StoredAccount &stored)
{
	auto fields = account_show_fields(stored.account, stored.status,
					  stored.oauth2);

	for (const char *column : list_columns) {
		const char *value = "";
		for (const auto &[name, v] : fields) {
			if (name == column) {
				value = v.c_str();
				break;
			}
		}
		doveadm_print(value);
	}
}

static void list_print_corrupt(const std::string &id, const std::string &error)
{
	for (const char *column : list_columns) {
		if (strcmp(column, "id") == 0)
			doveadm_print(id.c_str());
		else if (strcmp(column, "last-status") == 0)
			doveadm_print("corrupt");
		else if (strcmp(column, "last-error") == 0)
			doveadm_print(error.c_str());
		else
			doveadm_print("");
	}
}

static int fetchmail_list(struct fetchmail_cmd_context *fctx, const Settings &,
			  Store &store)
{
	std::vector<std::string> ids;
	std::string error;

	if (store.list_ids(ids, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	for (const std::string &id : ids) {
		StoredAccount stored;
		if (store.load(id, stored, error) < 0) {
			if (store.last_error() != StoreError::Corrupt)
				return fetchmail_cmd_fail_store(fctx, store, error);
			if (fctx->status == nullptr)
				list_print_corrupt(id, error);
			continue;
		}
		if (fctx->status != nullptr &&
		    strcmp(fctx->status,
			   run_status_name(stored.status.last_status)) != 0)
			continue;
		list_print(stored);
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
