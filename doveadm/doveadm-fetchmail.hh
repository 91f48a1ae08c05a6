#ifndef DOVEADM_FETCHMAIL_HH
#define DOVEADM_FETCHMAIL_HH

/* The doveadm plugin: `doveadm fetchmail <verb>`.

   One file per verb (doveadm-fetchmail-<verb>.cc), each defining one
   struct doveadm_cmd_ver2. This file holds what they share: the command
   context, parameter helpers and the single place where errors become exit
   codes. All verbs except `version` are doveadm mail commands, so -u, user
   masks, -A, -F and proxying come from doveadm itself. */

#include "fetchmail-dovecot.hh"

extern "C" {
#include "doveadm-mail.h"
#include "doveadm-cmd.h"
#include "doveadm-print.h"
}

extern "C" {
extern const char *doveadm_fetchmail_plugin_version;
void doveadm_fetchmail_plugin_init(struct module *module);
void doveadm_fetchmail_plugin_deinit(void);
}

extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_version;

#endif
