#include "doveadm-fetchmail.hh"
#include "fetchmail-registry.hh"

using namespace fetchmail;

/* `doveadm fetchmail registry rebuild -u USER|-A`: recompute the users'
   registry entries from their stored accounts, for when the registry dict
   was lost or is out of step. Users without active accounts are removed
   from it. */

static int cmd_fetchmail_registry_rebuild_run(
	struct doveadm_mail_cmd_context *ctx, struct mail_user *user)
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	return fetchmail_cmd_guard(fctx, [&] {
		Settings set;
		Store *store;
		std::string error;
		int ret;

		if ((ret = fetchmail_cmd_begin(fctx, user, set, store)) <= 0)
			return ret;
		if ((ret = registry_update_user(*store, error)) < 0)
			fetchmail_cmd_fail(fctx, EX_TEMPFAIL, error);
		else if (ret == 0) {
			ret = fetchmail_cmd_fail(fctx, EX_CONFIG,
				"fetchmail_registry is not set");
		}
		fetchmail_cmd_end(store);
		return ret < 0 ? -1 : 0;
	});
}

static struct doveadm_mail_cmd_context *
cmd_fetchmail_registry_rebuild_alloc(void)
{
	struct fetchmail_cmd_context *fctx = fetchmail_cmd_alloc();

	fctx->ctx.v.run = cmd_fetchmail_registry_rebuild_run;
	return &fctx->ctx;
}

static const struct doveadm_cmd_param fetchmail_registry_rebuild_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_registry_rebuild = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_registry_rebuild_alloc,
	.name = "fetchmail registry rebuild",
	.usage = FETCHMAIL_USAGE_PREFIX,
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_registry_rebuild_params,
};
