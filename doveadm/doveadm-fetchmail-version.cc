#include "doveadm-fetchmail.hh"
#include "fetchmail-plugin.hh"

/* `doveadm fetchmail version`: proves that both plugins are loaded (the
   string comes from the mail plugin). */
static void cmd_fetchmail_version(struct doveadm_cmd_context *cctx ATTR_UNUSED)
{
	doveadm_print_init(DOVEADM_PRINT_TYPE_FLOW);
	doveadm_print_header_simple("version");
	doveadm_print(fetchmail_version_string());
}

static const struct doveadm_cmd_param fetchmail_version_params[] = {
	{ '\0', nullptr, CMD_PARAM_BOOL, false, {}, CMD_PARAM_FLAG_NONE },
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_version = {
	.cmd = cmd_fetchmail_version,
	.mail_cmd = nullptr,
	.name = "fetchmail version",
	.usage = "",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_version_params,
};
