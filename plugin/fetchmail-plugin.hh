#ifndef FETCHMAIL_PLUGIN_HH
#define FETCHMAIL_PLUGIN_HH

/* The mail plugin "fetchmail" (lib90_fetchmail_plugin.so).

   Loaded through mail_plugins, it gives every mail user the account store,
   the retrieval driver and the scheduler. The doveadm plugin
   (lib10_doveadm_fetchmail_plugin.so) calls into it, following the
   mail-crypt pattern: doveadm loads the mail plugin first, then the doveadm
   plugin resolves these symbols against it. */

#include "fetchmail-dovecot.hh"

extern "C" {
extern const char *fetchmail_plugin_version;
extern const char *fetchmail_plugin_dependencies[];

void fetchmail_plugin_init(struct module *module);
void fetchmail_plugin_deinit(void);
}

/* "dovecot-fetchmail 0.1.0 (Dovecot <abi>)", for `doveadm fetchmail version`
   and log lines. */
const char *fetchmail_version_string(void);

#endif
