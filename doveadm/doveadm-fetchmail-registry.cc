#include "doveadm-fetchmail.hh"
#include "fetchmail-notify.hh"

using namespace fetchmail;

/* `doveadm fetchmail registry rebuild -u USER|-A`: have the fetch service
   read the users' accounts again from their attributes, for when the
   registry dict was lost or is out of step. The service writes the
   registry (users without accounts leave it); this only tells it. */

static int fetchmail_registry_rebuild(struct fetchmail_cmd_context *fctx,
				      const Settings &, Store &store)
{
	struct mail_user *user = store.user();
	std::string error;
	int ret = service_notify(user->set->base_dir, "CHANGED",
				 user->username, error);

	if (ret < 0)
		return fetchmail_cmd_fail(fctx, EX_TEMPFAIL, error);
	if (ret == 0) {
		return fetchmail_cmd_fail(fctx, EX_TEMPFAIL, std::string(
			"the fetch service is not running (no ") +
			user->set->base_dir + "/" + SERVICE_SOCKET_NAME +
			"): see service fetchmail in 90-fetchmail.conf");
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
