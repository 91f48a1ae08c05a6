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

static int fetchmail_log(struct fetchmail_cmd_context *fctx, const Settings &,
			 Store &store)
{
	StoredAccount stored;
	std::string error, log;

	/* the log of a corrupt record can still be read */
	if (store.load(fctx->id, stored, error) < 0 &&
	    store.last_error() != StoreError::Corrupt)
		return fetchmail_cmd_fail_store(fctx, store, error);
	if (store.load_log(fctx->id, log, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	doveadm_print(log.c_str());
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_log_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_log_init, fetchmail_log,
				   DOVEADM_PRINT_TYPE_FLOW);
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
