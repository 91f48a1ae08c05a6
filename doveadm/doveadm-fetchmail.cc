#include "doveadm-fetchmail.hh"
#include "fetchmail-plugin.hh"

const char *doveadm_fetchmail_plugin_version = DOVECOT_ABI_VERSION;

static struct doveadm_cmd_ver2 *const doveadm_fetchmail_commands[] = {
	&doveadm_cmd_fetchmail_version,
};

void doveadm_fetchmail_plugin_init(struct module *module ATTR_UNUSED)
{
	for (struct doveadm_cmd_ver2 *cmd : doveadm_fetchmail_commands)
		doveadm_cmd_register_ver2(cmd);
}

void doveadm_fetchmail_plugin_deinit(void)
{
}
