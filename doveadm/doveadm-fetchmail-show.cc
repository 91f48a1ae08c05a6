#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail show -u USER <id>`: every field and status of one
   account (never the password, never a token), one per line by default. */

static void cmd_fetchmail_show_init(struct doveadm_mail_cmd_context *ctx,
				    const char *const args[])
{
	if (!fetchmail_cmd_init_id((struct fetchmail_cmd_context *)ctx, args))
		return;
	for (const auto &[name, value] :
	     account_show_fields(Account(), AccountStatus()))
		doveadm_print_header_simple(t_strdup(name.c_str()));
}

static int fetchmail_show(struct fetchmail_cmd_context *fctx, const Settings &,
			  Store &store)
{
	StoredAccount stored;
	std::string error;

	if (store.load(fctx->id, stored, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	fetchmail_cmd_live_merge(fetchmail_cmd_live_statuses(store), stored);
	for (const auto &[name, value] :
	     account_show_fields(stored.account, stored.status, stored.oauth2))
		doveadm_print(value.c_str());
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_show_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_show_init, fetchmail_show,
				   DOVEADM_PRINT_TYPE_PAGER);
}

static const struct doveadm_cmd_param fetchmail_show_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_show = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_show_alloc,
	.name = "fetchmail show",
	.usage = FETCHMAIL_USAGE_PREFIX "<id>",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_show_params,
};
