#ifndef FETCHMAIL_SETTINGS_HH
#define FETCHMAIL_SETTINGS_HH

/* The plugin { fetchmail_* } settings of one mail user, parsed once per
   user. Every setting and its default is listed, with a comment, in
   conf.d/90-fetchmail.conf. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-crypto.hh"
#include "fetchmail-oauth2.hh"
#include "fetchmail-roles.hh"

#include <string>

namespace fetchmail {

enum class DeliveryMethod { Storage, Lmtp };

struct Settings {
	KeyRing keys;            /* empty when fetchmail_key is unset */
	unsigned int interval_secs = 5 * 60;
	unsigned int max_parallel = 16;
	unsigned int timeout_msecs = 60 * 1000;
	DeliveryMethod delivery = DeliveryMethod::Storage;
	size_t max_log_size = 64 * 1024;
	RolePolicy roles;
	/* fetchmail_oauth2_providers and each provider's settings; a
	   provider with a bad or missing setting carries its error and is
	   refused where it is used (see fetchmail-oauth2.hh) */
	OAuth2Providers oauth2_providers;
};

/* Parse the user's settings. Returns -1 with error_r naming the setting
   when one is invalid. */
int settings_read(struct mail_user *user, Settings &set_r,
		  std::string &error_r);

} // namespace fetchmail

#endif
