#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail remove -u USER <id>`: remove the account with its
   status, ledger and log. Delivered mail is not touched. */

static void cmd_fetchmail_remove_init(struct doveadm_mail_cmd_context *ctx,
				      const char *const args[])
{
	fetchmail_cmd_init_id((struct fetchmail_cmd_context *)ctx, args);
}

static int fetchmail_remove(struct fetchmail_cmd_context *fctx, const Settings &,
			    Store &store)
{
	StoredAccount stored;
	std::string error;

	/* a corrupt record can still be removed */
	if (store.load(fctx->id, stored, error) < 0 &&
	    store.last_error() != StoreError::Corrupt)
		return fetchmail_cmd_fail_store(fctx, store, error);
	if (store.remove(fctx->id, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	fetchmail_cmd_notify_changed(store);
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_remove_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_remove_init, fetchmail_remove,
				   nullptr);
}

static const struct doveadm_cmd_param fetchmail_remove_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_remove = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_remove_alloc,
	.name = "fetchmail remove",
	.usage = FETCHMAIL_USAGE_PREFIX "<id>",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_remove_params,
};
