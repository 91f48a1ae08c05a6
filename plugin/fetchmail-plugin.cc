#include "fetchmail-plugin.hh"

#ifndef FETCHMAIL_VERSION
#  define FETCHMAIL_VERSION "0.0.0"
#endif

const char *fetchmail_plugin_version = DOVECOT_ABI_VERSION;
const char *fetchmail_plugin_dependencies[] = { nullptr };

static struct module *fetchmail_module;

const char *fetchmail_version_string(void)
{
	return "dovecot-fetchmail " FETCHMAIL_VERSION
		" (Dovecot " DOVECOT_ABI_VERSION ")";
}

void fetchmail_plugin_init(struct module *module)
{
	fetchmail_module = module;
}

void fetchmail_plugin_deinit(void)
{
	fetchmail_module = nullptr;
}
