#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail role -u USER [--actor LOGIN]`: what the actor may
   do, for a panel that shows each person only what they may use. One row
   per user: `role` (admin, domain-admin or user) and `domains` (the
   domains of a domain admin, comma separated). Without --actor it
   describes the doveadm operator, who is admin. With a user mask or -A
   there is one row for each user the actor may act for (doveadm adds
   `username`): the users a panel's user picker offers. The server still
   checks every later command on its own. */

static void cmd_fetchmail_role_init(struct doveadm_mail_cmd_context *ctx,
				    const char *const args[])
{
	doveadm_print_header_simple("role");
	doveadm_print_header_simple("domains");
	fetchmail_cmd_init_no_args((struct fetchmail_cmd_context *)ctx, args);
}

static int fetchmail_role(struct fetchmail_cmd_context *fctx, const Settings &set,
			  Store &)
{
	const char *actor = fetchmail_cmd_actor(fctx);
	std::string domains;

	if (*actor == '\0') {
		doveadm_print(role_name(Role::Admin));
		doveadm_print("");
		return 0;
	}
	for (const std::string &domain : set.roles.domains_of(actor)) {
		if (!domains.empty())
			domains += ',';
		domains += domain;
	}
	doveadm_print(role_name(set.roles.role_of(actor)));
	doveadm_print(domains.c_str());
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_role_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_role_init, fetchmail_role,
				   DOVEADM_PRINT_TYPE_TABLE);
}

static const struct doveadm_cmd_param fetchmail_role_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_role = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_role_alloc,
	.name = "fetchmail role",
	.usage = FETCHMAIL_USAGE_PREFIX,
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_role_params,
};
