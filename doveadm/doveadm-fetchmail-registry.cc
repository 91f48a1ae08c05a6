#include "doveadm-fetchmail.hh"
#include "fetchmail-registry.hh"

using namespace fetchmail;

/* `doveadm fetchmail registry rebuild -u USER|-A`: recompute the users'
   registry entries from their stored accounts, for when the registry dict
   was lost or is out of step. Users without active accounts are removed
   from it. */

static int fetchmail_registry_rebuild(struct fetchmail_cmd_context *fctx,
				      const Settings &, Store &store)
{
	std::string error;
	int ret = registry_update_user(store, error);

	if (ret < 0)
		return fetchmail_cmd_fail(fctx, EX_TEMPFAIL, error);
	if (ret == 0) {
		return fetchmail_cmd_fail(fctx, EX_CONFIG,
					  "fetchmail_registry is not set");
	}
	return 0;
}

static struct doveadm_mail_cmd_context *
cmd_fetchmail_registry_rebuild_alloc(void)
{
	return fetchmail_cmd_alloc(nullptr, fetchmail_registry_rebuild,
				   nullptr);
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
