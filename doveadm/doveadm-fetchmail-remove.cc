#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail remove -u USER <id>`: remove the account with its
   status, ledger and log. Delivered mail is not touched. */

static void cmd_fetchmail_remove_init(struct doveadm_mail_cmd_context *ctx,
				      const char *const args[])
{
	fetchmail_cmd_init_id((struct fetchmail_cmd_context *)ctx, args);
}

static int cmd_fetchmail_remove_run(struct doveadm_mail_cmd_context *ctx,
				    struct mail_user *user)
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	if (ctx->exit_code != 0)
		return -1;
	return fetchmail_cmd_guard(fctx, [&] {
		Settings set;
		Store *store;
		StoredAccount stored;
		std::string error;
		int ret;

		if ((ret = fetchmail_cmd_begin(fctx, user, set, store)) <= 0)
			return ret;
		/* a corrupt record can still be removed */
		if ((ret = store->load(fctx->id, stored, error)) < 0 &&
		    store->last_error() != StoreError::Corrupt)
			fetchmail_cmd_fail_store(fctx, *store, error);
		else if ((ret = store->remove(fctx->id, error)) < 0)
			fetchmail_cmd_fail_store(fctx, *store, error);
		else
			fetchmail_cmd_registry_update(fctx, *store);
		fetchmail_cmd_end(store);
		return ret;
	});
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_remove_alloc(void)
{
	struct fetchmail_cmd_context *fctx = fetchmail_cmd_alloc();

	fctx->ctx.v.init = cmd_fetchmail_remove_init;
	fctx->ctx.v.run = cmd_fetchmail_remove_run;
	return &fctx->ctx;
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
