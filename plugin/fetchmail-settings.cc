#include "fetchmail-settings.hh"

namespace fetchmail {

static const char *setting(struct mail_user *user, const char *name)
{
	const char *value = mail_user_plugin_getenv(user, name);
	return value == nullptr ? "" : value;
}

static int setting_time_msecs(struct mail_user *user, const char *name,
			      unsigned int &msecs_r, std::string &error_r)
{
	const char *value = setting(user, name), *error;

	if (*value == '\0')
		return 0;
	if (settings_get_time_msecs(value, &msecs_r, &error) < 0) {
		error_r = std::string(name) + ": " + error;
		return -1;
	}
	return 0;
}

static int setting_uint(struct mail_user *user, const char *name,
			unsigned int min, unsigned int &value_r,
			std::string &error_r)
{
	const char *value = setting(user, name);

	if (*value == '\0')
		return 0;
	if (str_to_uint(value, &value_r) < 0 || value_r < min) {
		error_r = std::string(name) + ": must be a number of at least " +
			std::to_string(min) + " (got '" + value + "')";
		return -1;
	}
	return 0;
}

static int settings_read_keys(struct mail_user *user, Settings &set_r,
			      std::string &error_r)
{
	const char *key = setting(user, "fetchmail_key");
	const char *old_keys = setting(user, "fetchmail_old_keys");

	if (*key == '\0' && *old_keys == '\0')
		return 0;
	if (*key == '\0') {
		error_r = "fetchmail_key: not set, but fetchmail_old_keys is";
		return -1;
	}
	if (set_r.keys.parse(key, old_keys, error_r) < 0) {
		error_r = "fetchmail_key: " + error_r;
		return -1;
	}
	return 0;
}

/* The OAuth2 providers, through the pure parser (fetchmail-oauth2): it
   never fails as a whole, each provider keeps its own error. */
static void settings_read_oauth2(struct mail_user *user, Settings &set_r)
{
	oauth2_providers_parse([user](std::string_view name) {
		return std::string(setting(user, std::string(name).c_str()));
	}, set_r.oauth2_providers);
}

int settings_read(struct mail_user *user, Settings &set_r,
		  std::string &error_r)
{
	unsigned int interval_msecs = set_r.interval_secs * 1000;
	const char *delivery = setting(user, "fetchmail_delivery");
	const char *log_size = setting(user, "fetchmail_max_log_size");

	if (settings_read_keys(user, set_r, error_r) < 0 ||
	    setting_time_msecs(user, "fetchmail_interval", interval_msecs,
			       error_r) < 0 ||
	    setting_time_msecs(user, "fetchmail_timeout", set_r.timeout_msecs,
			       error_r) < 0 ||
	    setting_uint(user, "fetchmail_max_parallel", 1,
			 set_r.max_parallel, error_r) < 0)
		return -1;
	set_r.interval_secs = interval_msecs / 1000;
	if (set_r.interval_secs == 0) {
		error_r = "fetchmail_interval: must be at least 1 second";
		return -1;
	}

	if (*delivery == '\0' || strcmp(delivery, "storage") == 0)
		set_r.delivery = DeliveryMethod::Storage;
	else if (strcmp(delivery, "lmtp") == 0)
		set_r.delivery = DeliveryMethod::Lmtp;
	else {
		error_r = std::string("fetchmail_delivery: must be storage "
				      "or lmtp (got '") + delivery + "')";
		return -1;
	}

	if (*log_size != '\0') {
		uoff_t bytes = 0;
		const char *error = nullptr;
		if (settings_get_size(log_size, &bytes, &error) < 0) {
			error_r = std::string("fetchmail_max_log_size: ") + error;
			return -1;
		}
		if (bytes < 1024) {
			error_r = "fetchmail_max_log_size: must be at least 1k";
			return -1;
		}
		set_r.max_log_size = bytes;
	}

	if (set_r.roles.parse(setting(user, "fetchmail_admins"),
			      setting(user, "fetchmail_domain_admins"),
			      error_r) < 0)
		return -1;
	settings_read_oauth2(user, set_r);
	return 0;
}

} // namespace fetchmail
