#ifndef FETCHMAIL_SETTINGS_HH
#define FETCHMAIL_SETTINGS_HH

/* The plugin { fetchmail_* } settings. Every setting and its default is
   listed, with a comment, in conf.d/90-fetchmail.conf.

   One parser, settings_parse(), reads them through a lookup function:
   for a mail user from its plugin settings, once, when the user is created
   (the fetchmail_mail_user_created hook in fetchmail-plugin.cc keeps the
   result in the user's module context, where settings_of() finds it; a
   bad value fails the user's initialization through user->error, as quota
   and mail-crypt do), and for the scheduler from doveadm's plugin
   settings. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-crypto.hh"
#include "fetchmail-notice.hh"
#include "fetchmail-oauth2.hh"
#include "fetchmail-roles.hh"

#include <functional>
#include <string>

namespace fetchmail {

enum class DeliveryMethod { Storage, Lmtp };

struct Settings {
	KeyRing keys;            /* empty when fetchmail_key is unset */
	unsigned int interval_secs = 5 * 60;
	unsigned int max_parallel = 16;
	unsigned int timeout_msecs = 60 * 1000;
	unsigned int run_timeout_secs = 30 * 60;
	unsigned int max_messages = 250000;
	DeliveryMethod delivery = DeliveryMethod::Storage;
	size_t max_log_size = 64 * 1024;
	RolePolicy roles;
	/* the fetch service: IMAP IDLE connections held at most
	   (fetchmail_max_push, 0 = no push), and fetch-on-look: a user who
	   opens INBOX has accounts polled whose last poll is older than this
	   (fetchmail_look_age, 0 = off; also the least time between two
	   such polls of a user) */
	unsigned int max_push = 100;
	unsigned int look_age_secs = 60;
	/* the registry dict URI (fetchmail_registry), "" for none */
	std::string registry;
	/* fetchmail_oauth2_providers and each provider's settings; a
	   provider with a bad or missing setting carries its error and is
	   refused where it is used (see fetchmail-oauth2.hh) */
	OAuth2Providers oauth2_providers;
	/* failure notices to the user (fetchmail-notice.hh): how long an
	   account fails before its user is told (fetchmail_notify_after, 0 =
	   never), the notice's From (fetchmail_notify_from, checked by
	   notice_from_check(); "" = NOTICE_FROM_DEFAULT) and where the user
	   fixes the account (fetchmail_notify_url, "" = ask the
	   administrator) */
	unsigned int notify_after_secs = NOTICE_AFTER_DEFAULT_SECS;
	std::string notify_from;
	std::string notify_url;
};

/* The value of a plugin setting, "" when it is not set. */
using SettingLookup = std::function<std::string(const char *name)>;

/* Parse every fetchmail_* setting. Returns -1 with error_r naming the
   setting ("fetchmail_interval: ...") when one is invalid. */
int settings_parse(const SettingLookup &lookup, Settings &set_r,
		   std::string &error_r);

/* The settings of a mail user, parsed when it was created; nullptr when
   the fetchmail plugin is not in its mail_plugins. */
const Settings *settings_of(struct mail_user *user);

} // namespace fetchmail

#endif
