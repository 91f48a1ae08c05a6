#include "fetchmail-settings.hh"

#include "fetchmail-strings.hh"

namespace fetchmail {

/* Dovecot's time parsers: settings_get_time_msecs() and
   settings_get_time() (seconds, for times beyond 49 days) */
using TimeParser = int(const char *str, unsigned int *value_r,
		       const char **error_r);

static int setting_time(const SettingLookup &lookup, const char *name,
			TimeParser *parse, unsigned int &value_r,
			std::string &error_r)
{
	std::string value = lookup(name);
	const char *error;

	if (value.empty())
		return 0;
	if (parse(value.c_str(), &value_r, &error) < 0) {
		error_r = std::string(name) + ": " + error;
		return -1;
	}
	return 0;
}

static int setting_time_msecs(const SettingLookup &lookup, const char *name,
			      unsigned int &msecs_r, std::string &error_r)
{
	return setting_time(lookup, name, settings_get_time_msecs, msecs_r,
			    error_r);
}

static int setting_uint(const SettingLookup &lookup, const char *name,
			unsigned int min, unsigned int &value_r,
			std::string &error_r)
{
	std::string value = lookup(name);

	if (value.empty())
		return 0;
	if (str_to_uint(value.c_str(), &value_r) < 0 || value_r < min) {
		error_r = std::string(name) + ": must be a number of at least " +
			std::to_string(min) + " (got '" + value + "')";
		return -1;
	}
	return 0;
}

static int settings_parse_keys(const SettingLookup &lookup, Settings &set_r,
			       std::string &error_r)
{
	std::string key = lookup("fetchmail_key");
	std::string old_keys = lookup("fetchmail_old_keys");

	if (key.empty() && old_keys.empty())
		return 0;
	if (key.empty()) {
		error_r = "fetchmail_key: not set, but fetchmail_old_keys is";
		return -1;
	}
	if (set_r.keys.parse(key, old_keys, error_r) < 0) {
		error_r = "fetchmail_key: " + error_r;
		return -1;
	}
	return 0;
}

/* The failure notices: fetchmail_notify_after in seconds (milliseconds,
   as the other times are read, end at 49 days), the From as
   notice_from_check() takes it, the URL one line. */
static int settings_parse_notify(const SettingLookup &lookup, Settings &set_r,
				 std::string &error_r)
{
	std::string from = lookup("fetchmail_notify_from");
	std::string url = lookup("fetchmail_notify_url");

	if (setting_time(lookup, "fetchmail_notify_after", settings_get_time,
			 set_r.notify_after_secs, error_r) < 0)
		return -1;
	if (notice_from_check(from, error_r) < 0) {
		error_r = "fetchmail_notify_from: " + error_r;
		return -1;
	}
	if (has_ctrl_chars(url) || url.size() > 1024) {
		error_r = "fetchmail_notify_url: must be one line of at most "
			"1024 bytes";
		return -1;
	}
	set_r.notify_from = from;
	set_r.notify_url = url;
	return 0;
}

/* The OAuth2 providers, through the pure parser (fetchmail-oauth2): it
   never fails as a whole, each provider keeps its own error. */
static void settings_parse_oauth2(const SettingLookup &lookup,
				  Settings &set_r)
{
	oauth2_providers_parse([&lookup](std::string_view name) {
		return lookup(std::string(name).c_str());
	}, set_r.oauth2_providers);
}

int settings_parse(const SettingLookup &lookup, Settings &set_r,
		   std::string &error_r)
{
	unsigned int interval_msecs = set_r.interval_secs * 1000;
	unsigned int run_timeout_msecs = set_r.run_timeout_secs * 1000;
	std::string delivery = lookup("fetchmail_delivery");
	std::string log_size = lookup("fetchmail_max_log_size");

	if (settings_parse_keys(lookup, set_r, error_r) < 0 ||
	    setting_time_msecs(lookup, "fetchmail_interval", interval_msecs,
			       error_r) < 0 ||
	    setting_time_msecs(lookup, "fetchmail_timeout", set_r.timeout_msecs,
			       error_r) < 0 ||
	    setting_time_msecs(lookup, "fetchmail_run_timeout",
			       run_timeout_msecs, error_r) < 0 ||
	    setting_uint(lookup, "fetchmail_max_parallel", 1,
			 set_r.max_parallel, error_r) < 0 ||
	    setting_uint(lookup, "fetchmail_max_messages", 1,
			 set_r.max_messages, error_r) < 0 ||
	    setting_uint(lookup, "fetchmail_max_push", 0,
			 set_r.max_push, error_r) < 0 ||
	    setting_time(lookup, "fetchmail_look_age", settings_get_time,
			 set_r.look_age_secs, error_r) < 0)
		return -1;
	set_r.run_timeout_secs = run_timeout_msecs / 1000;
	if (set_r.run_timeout_secs == 0) {
		error_r = "fetchmail_run_timeout: must be at least 1 second";
		return -1;
	}
	set_r.interval_secs = interval_msecs / 1000;
	if (set_r.interval_secs == 0) {
		error_r = "fetchmail_interval: must be at least 1 second";
		return -1;
	}

	if (delivery.empty() || delivery == "storage")
		set_r.delivery = DeliveryMethod::Storage;
	else if (delivery == "lmtp")
		set_r.delivery = DeliveryMethod::Lmtp;
	else {
		error_r = "fetchmail_delivery: must be storage or lmtp (got '" +
			delivery + "')";
		return -1;
	}

	if (!log_size.empty()) {
		uoff_t bytes = 0;
		const char *error = nullptr;
		if (settings_get_size(log_size.c_str(), &bytes, &error) < 0) {
			error_r = std::string("fetchmail_max_log_size: ") + error;
			return -1;
		}
		if (bytes < 1024) {
			error_r = "fetchmail_max_log_size: must be at least 1k";
			return -1;
		}
		set_r.max_log_size = bytes;
	}

	if (set_r.roles.parse(lookup("fetchmail_admins"),
			      lookup("fetchmail_domain_admins"), error_r) < 0)
		return -1;
	set_r.registry = lookup("fetchmail_registry");
	if (settings_parse_notify(lookup, set_r, error_r) < 0)
		return -1;
	settings_parse_oauth2(lookup, set_r);
	return 0;
}

} // namespace fetchmail
