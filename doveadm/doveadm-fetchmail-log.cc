#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail log -u USER <id>`: the last run log of one account:
   the exchange with the remote server, credentials already redacted when
   it was written (see fetchmail-runlog.hh). */

static void cmd_fetchmail_log_init(struct doveadm_mail_cmd_context *ctx,
				   const char *const args[])
{
	if (fetchmail_cmd_init_id((struct fetchmail_cmd_context *)ctx, args))
		doveadm_print_header("log", "log",
				     DOVEADM_PRINT_HEADER_FLAG_HIDE_TITLE);
}

static int cmd_fetchmail_log_run(struct doveadm_mail_cmd_context *ctx,
				 struct mail_user *user)
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	if (ctx->exit_code != 0)
		return -1;
	return fetchmail_cmd_guard(fctx, [&] {
		Settings set;
		Store *store;
		StoredAccount stored;
		std::string error, log;
		int ret;

		if ((ret = fetchmail_cmd_begin(fctx, user, set, store)) <= 0)
			return ret;
		if ((ret = store->load(fctx->id, stored, error)) < 0 &&
		    store->last_error() != StoreError::Corrupt)
			fetchmail_cmd_fail_store(fctx, *store, error);
		else if ((ret = store->load_log(fctx->id, log, error)) < 0)
			fetchmail_cmd_fail_store(fctx, *store, error);
		else
			doveadm_print(log.c_str());
		fetchmail_cmd_end(store);
		return ret < 0 ? -1 : 0;
	});
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_log_alloc(void)
{
	struct fetchmail_cmd_context *fctx = fetchmail_cmd_alloc();

	fctx->ctx.v.init = cmd_fetchmail_log_init;
	fctx->ctx.v.run = cmd_fetchmail_log_run;
	doveadm_print_init(DOVEADM_PRINT_TYPE_FLOW);
	return &fctx->ctx;
}

static const struct doveadm_cmd_param fetchmail_log_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_log = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_log_alloc,
	.name = "fetchmail log",
	.usage = FETCHMAIL_USAGE_PREFIX "<id>",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_log_params,
};
