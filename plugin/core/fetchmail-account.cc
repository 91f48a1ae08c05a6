#include "fetchmail-account.hh"
#include "fetchmail-oauth2.hh"

#include "fetchmail-strings.hh"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

namespace fetchmail {

namespace {

const size_t HOST_MAX = 253;
const size_t REMOTE_USER_MAX = 256;
const size_t PASSWORD_MAX = 1024;
const size_t MAILBOX_MAX = 255;
const size_t FOLDER_MAX = 1024;
const size_t FOLDERS_MAX_COUNT = 256;

int fail(std::string &error_r, std::string_view field, std::string_view what)
{
	error_r = std::string(field) + ": " + std::string(what);
	return -1;
}

int fail_got(std::string &error_r, std::string_view field,
	     std::string_view what, std::string_view value)
{
	error_r = std::string(field) + ": " + std::string(what) +
		" (got '" + account_quote_value(value) + "')";
	return -1;
}

bool parse_bool(std::string_view s, bool &value_r)
{
	if (ascii_iequals(s, "yes") || ascii_iequals(s, "true") || s == "1")
		value_r = true;
	else if (ascii_iequals(s, "no") || ascii_iequals(s, "false") || s == "0")
		value_r = false;
	else
		return false;
	return true;
}

bool dns_name_valid(std::string_view host)
{
	if (host.back() == '.')
		host.remove_suffix(1);
	if (host.empty())
		return false;
	size_t start = 0;
	while (start <= host.size()) {
		size_t end = host.find('.', start);
		if (end == host.npos)
			end = host.size();
		std::string_view label = host.substr(start, end - start);
		if (label.empty() || label.size() > 63 ||
		    label.front() == '-' || label.back() == '-')
			return false;
		for (char c : label) {
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return false;
		}
		start = end + 1;
	}
	return true;
}

bool ip_valid(int af, std::string_view s)
{
	unsigned char buf[16];
	std::string str(s);
	return inet_pton(af, str.c_str(), buf) == 1;
}

/* Validate a host, returning the form to store (IPv6 without brackets). */
int host_parse(std::string_view value, std::string &host_r,
	       std::string &error_r)
{
	if (value.empty())
		return fail(error_r, "host", "must not be empty");
	if (value.size() > HOST_MAX)
		return fail(error_r, "host", "longer than 253 bytes");
	if (value.find(' ') != value.npos || has_ctrl_chars(value)) {
		return fail_got(error_r, "host",
				"must not contain spaces or control characters",
				value);
	}
	std::string_view inner = value;
	bool bracketed = false;
	if (value.front() == '[' && value.back() == ']' && value.size() > 2) {
		inner = value.substr(1, value.size() - 2);
		bracketed = true;
	}
	if (bracketed || inner.find(':') != inner.npos) {
		if (!ip_valid(AF_INET6, inner)) {
			return fail_got(error_r, "host",
					"not a valid IPv6 address", value);
		}
	} else if (inner.find_first_not_of("0123456789.") == inner.npos) {
		if (!ip_valid(AF_INET, inner)) {
			return fail_got(error_r, "host",
					"not a valid IPv4 address", value);
		}
	} else if (!dns_name_valid(inner)) {
		return fail_got(error_r, "host",
				"must be a DNS name or an IP address", value);
	}
	host_r = std::string(inner);
	return 0;
}

int max_size_parse(std::string_view value, uint64_t &size_r,
		   std::string &error_r)
{
	std::string_view digits = value;
	unsigned shift = 0;

	if (!digits.empty()) {
		switch (ascii_tolower(digits.back())) {
		case 'k': shift = 10; break;
		case 'm': shift = 20; break;
		case 'g': shift = 30; break;
		}
		if (shift != 0)
			digits.remove_suffix(1);
	}
	uint64_t n = 0;
	if (!parse_u64(digits, UINT64_MAX >> shift, n)) {
		return fail_got(error_r, "max-size",
				"must be a number of bytes with an optional k, M or G suffix",
				value);
	}
	size_r = n << shift;
	return 0;
}

/* What text_check() requires besides a length. */
enum TextRules {
	TEXT_NO_LINE_BREAKS = 0,  /* no CR, LF or NUL (a password) */
	TEXT_NO_CTRL = 1,         /* no control characters at all */
	TEXT_UTF8 = 2,            /* well-formed UTF-8 */
	TEXT_ECHO = 4,            /* the error may quote the value */
};

int text_check(std::string_view field, std::string_view value, size_t max,
	       int rules, std::string &error_r)
{
	const bool all_ctrl = (rules & TEXT_NO_CTRL) != 0;
	const bool echo = (rules & TEXT_ECHO) != 0;

	if (value.empty())
		return fail(error_r, field, "must not be empty");
	if (value.size() > max) {
		return fail(error_r, field, "longer than " +
			    std::to_string(max) + " bytes");
	}
	if ((rules & TEXT_UTF8) != 0 && !utf8_valid(value)) {
		return fail_got(error_r, field, "must be valid UTF-8", value);
	}
	if (all_ctrl ? has_ctrl_chars(value) : has_line_breaks(value)) {
		std::string what = all_ctrl ?
			"must not contain control characters" :
			"must not contain CR, LF or NUL";
		if (!echo)
			return fail(error_r, field, what);
		return fail_got(error_r, field, what, value);
	}
	return 0;
}

int bool_field(std::string_view field, std::string_view value, bool &dest,
	       std::string &error_r)
{
	bool b;
	if (!parse_bool(value, b))
		return fail_got(error_r, field, "must be yes or no", value);
	dest = b;
	return 0;
}

/* days since 1970-01-01 -> civil date (H. Hinnant's algorithm) */
void civil_from_days(int64_t z, int64_t &y_r, unsigned &m_r, unsigned &d_r)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	d_r = doy - (153 * mp + 2) / 5 + 1;
	m_r = mp < 10 ? mp + 3 : mp - 9;
	y_r = (int64_t)yoe + era * 400 + (m_r <= 2 ? 1 : 0);
}

std::string iso8601_format(int64_t secs, int ms)
{
	UtcTime t = utc_time(secs);
	char buf[64];
	if (ms < 0) {
		snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02u:%02u:%02uZ",
			 t.year, t.month, t.day, t.hour, t.minute, t.second);
	} else {
		snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02u:%02u:%02u.%03dZ",
			 t.year, t.month, t.day, t.hour, t.minute, t.second,
			 ms);
	}
	return buf;
}

std::string join_folders(const std::vector<std::string> &folders)
{
	std::string s;
	for (const auto &f : folders) {
		if (!s.empty())
			s += ',';
		s += f;
	}
	return s;
}

} // namespace

uint16_t Account::effective_port() const
{
	if (port != 0)
		return port;
	if (protocol == Protocol::Imap)
		return tls == TlsMode::Implicit ? 993 : 143;
	return tls == TlsMode::Implicit ? 995 : 110;
}

const std::vector<std::string_view> &account_field_names()
{
	static const std::vector<std::string_view> names = {
		"host", "port", "protocol", "remote-user", "password", "tls",
		"tls-verify", "keep", "folders", "mailbox", "max-size",
		"active", "auth", "oauth2-provider", "push",
	};
	return names;
}

std::string account_quote_value(std::string_view value)
{
	static const char hex[] = "0123456789abcdef";
	const size_t max = 64;
	std::string s;

	for (size_t i = 0; i < value.size() && i < max; i++) {
		unsigned char c = (unsigned char)value[i];
		if (is_ctrl_char(c) || c == '\\' || c == '\'') {
			s += "\\x";
			s += hex[c >> 4];
			s += hex[c & 15];
		} else {
			s += (char)c;
		}
	}
	if (value.size() > max)
		s += "...";
	return s;
}

int account_set_field(Account &account, std::string_view name,
		      std::string_view value, std::string &error_r)
{
	if (name == "host") {
		std::string host;
		if (host_parse(value, host, error_r) < 0)
			return -1;
		account.host = std::move(host);
	} else if (name == "port") {
		uint64_t n = 0;
		if (!parse_u64(value, 65535, n) || n == 0) {
			return fail_got(error_r, "port",
					"must be a number from 1 to 65535", value);
		}
		account.port = (uint16_t)n;
	} else if (name == "protocol") {
		if (ascii_iequals(value, "pop3"))
			account.protocol = Protocol::Pop3;
		else if (ascii_iequals(value, "imap"))
			account.protocol = Protocol::Imap;
		else
			return fail_got(error_r, "protocol",
					"must be pop3 or imap", value);
		account.protocol_set = true;
	} else if (name == "remote-user") {
		if (text_check(name, value, REMOTE_USER_MAX,
			       TEXT_NO_CTRL | TEXT_ECHO, error_r) < 0)
			return -1;
		account.remote_user = std::string(value);
	} else if (name == "password") {
		/* never echo the value */
		if (text_check(name, value, PASSWORD_MAX, TEXT_NO_LINE_BREAKS,
			       error_r) < 0)
			return -1;
		account.password = std::string(value);
	} else if (name == "tls") {
		if (ascii_iequals(value, "implicit"))
			account.tls = TlsMode::Implicit;
		else if (ascii_iequals(value, "starttls"))
			account.tls = TlsMode::StartTls;
		else if (ascii_iequals(value, "none"))
			account.tls = TlsMode::None;
		else
			return fail_got(error_r, "tls",
					"must be implicit, starttls or none",
					value);
	} else if (name == "tls-verify") {
		return bool_field(name, value, account.tls_verify, error_r);
	} else if (name == "keep") {
		return bool_field(name, value, account.keep, error_r);
	} else if (name == "active") {
		return bool_field(name, value, account.active, error_r);
	} else if (name == "push") {
		return bool_field(name, value, account.push, error_r);
	} else if (name == "folders") {
		std::vector<std::string> list;
		size_t start = 0;
		for (;;) {
			size_t end = value.find(',', start);
			list.emplace_back(value.substr(start, end == value.npos ?
						       value.npos : end - start));
			if (end == value.npos)
				break;
			start = end + 1;
		}
		return account_set_folders(account, list, error_r);
	} else if (name == "mailbox") {
		if (text_check(name, value, MAILBOX_MAX,
			       TEXT_NO_CTRL | TEXT_UTF8 | TEXT_ECHO, error_r) < 0)
			return -1;
		account.mailbox = std::string(value);
	} else if (name == "max-size") {
		uint64_t size = 0;
		if (max_size_parse(value, size, error_r) < 0)
			return -1;
		account.max_size = size;
	} else if (name == "auth") {
		if (ascii_iequals(value, "password"))
			account.auth = AuthMethod::Password;
		else if (ascii_iequals(value, "oauth2"))
			account.auth = AuthMethod::OAuth2;
		else
			return fail_got(error_r, "auth",
					"must be password or oauth2", value);
	} else if (name == "oauth2-provider") {
		if (!value.empty() && !oauth2_provider_name_valid(value)) {
			return fail_got(error_r, "oauth2-provider",
					"must be a provider name (a-z, 0-9 "
					"and '-')", value);
		}
		account.oauth2_provider = std::string(value);
	} else {
		error_r = "unknown field '" + account_quote_value(name) + "'";
		return -1;
	}
	return 0;
}

int account_set_folders(Account &account,
			const std::vector<std::string> &folders,
			std::string &error_r)
{
	std::vector<std::string> list;

	for (const auto &f : folders) {
		std::string_view name = trim(f, " \t");
		if (name.empty())
			return fail(error_r, "folders",
				    "folder names must not be empty");
		if (text_check("folders", name, FOLDER_MAX,
			       TEXT_NO_CTRL | TEXT_UTF8 | TEXT_ECHO, error_r) < 0)
			return -1;
		if (std::find(list.begin(), list.end(), name) == list.end())
			list.emplace_back(name);
	}
	if (list.empty())
		return fail(error_r, "folders", "must name at least one folder");
	if (list.size() > FOLDERS_MAX_COUNT)
		return fail(error_r, "folders", "more than 256 folders");
	account.folders = std::move(list);
	return 0;
}

int account_validate(const Account &account, std::string &error_r)
{
	if (account.host.empty())
		return fail(error_r, "host", "missing");
	if (!account.protocol_set)
		return fail(error_r, "protocol", "missing (pop3 or imap)");
	if (account.remote_user.empty())
		return fail(error_r, "remote-user", "missing");
	if (account.auth == AuthMethod::Password) {
		if (account.password.empty())
			return fail(error_r, "password", "missing");
		if (!account.oauth2_provider.empty())
			return fail(error_r, "oauth2-provider",
				    "only with auth oauth2");
	} else {
		if (account.oauth2_provider.empty())
			return fail(error_r, "oauth2-provider",
				    "missing (required with auth oauth2)");
		if (!account.password.empty())
			return fail(error_r, "password",
				    "not used with auth oauth2");
	}
	if (account.protocol != Protocol::Imap &&
	    !(account.folders.size() == 1 && account.folders[0] == "INBOX"))
		return fail(error_r, "folders", "only for protocol imap");
	if (account.protocol != Protocol::Imap && account.push)
		return fail(error_r, "push", "only for protocol imap");
	if (account.folders.empty())
		return fail(error_r, "folders", "must name at least one folder");
	if (account.mailbox.empty())
		return fail(error_r, "mailbox", "missing");
	return 0;
}

std::vector<std::pair<std::string, std::string>>
account_show_fields(const Account &account, const AccountStatus &status,
		    std::string_view oauth2)
{
	auto yesno = [](bool b) { return std::string(b ? "yes" : "no"); };
	auto when = [](int64_t t) {
		return t == 0 ? std::string() : iso8601_utc(t);
	};
	return {
		{ "id", account.id },
		{ "host", account.host },
		{ "port", std::to_string(account.effective_port()) },
		{ "protocol", protocol_name(account.protocol) },
		{ "remote-user", account.remote_user },
		{ "tls", tls_mode_name(account.tls) },
		{ "tls-verify", yesno(account.tls_verify) },
		{ "keep", yesno(account.keep) },
		{ "folders", join_folders(account.folders) },
		{ "mailbox", account.mailbox },
		{ "max-size", std::to_string(account.max_size) },
		{ "active", yesno(account.active) },
		{ "auth", auth_method_name(account.auth) },
		{ "oauth2-provider", account.oauth2_provider },
		{ "oauth2", std::string(oauth2) },
		{ "push", yesno(account.push) },
		{ "last-run", when(status.last_run) },
		{ "last-status", run_status_name(status.last_status) },
		{ "last-error", status.last_error },
		{ "last-fetched", std::to_string(status.last_fetched) },
		{ "next-run", when(status.next_run) },
	};
}

const char *protocol_name(Protocol protocol)
{
	return protocol == Protocol::Imap ? "imap" : "pop3";
}

const char *tls_mode_name(TlsMode tls)
{
	switch (tls) {
	case TlsMode::Implicit: return "implicit";
	case TlsMode::StartTls: return "starttls";
	case TlsMode::None: return "none";
	}
	return "implicit";
}

const char *run_status_name(RunStatus status)
{
	switch (status) {
	case RunStatus::Never: return "never";
	case RunStatus::Ok: return "ok";
	case RunStatus::Error: return "error";
	case RunStatus::Running: return "running";
	}
	return "never";
}

const char *auth_method_name(AuthMethod auth)
{
	return auth == AuthMethod::OAuth2 ? "oauth2" : "password";
}

int run_status_parse(std::string_view name, RunStatus &status_r)
{
	for (RunStatus s : { RunStatus::Never, RunStatus::Ok,
			     RunStatus::Error, RunStatus::Running }) {
		if (name == run_status_name(s)) {
			status_r = s;
			return 0;
		}
	}
	return -1;
}

UtcTime utc_time(int64_t unix_secs)
{
	/* 0000-01-01 .. 9999-12-31T23:59:59 */
	const int64_t min = -62167219200LL, max = 253402300799LL;
	int64_t secs = std::clamp(unix_secs, min, max);
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	UtcTime t;
	int64_t y;
	civil_from_days(days, y, t.month, t.day);
	t.year = static_cast<int>(y);
	t.hour = static_cast<unsigned>(rem / 3600);
	t.minute = static_cast<unsigned>(rem / 60 % 60);
	t.second = static_cast<unsigned>(rem % 60);
	/* 1970-01-01 was a Thursday */
	t.weekday = static_cast<unsigned>(((days % 7) + 11) % 7);
	return t;
}

std::string iso8601_utc(int64_t unix_secs)
{
	return iso8601_format(unix_secs, -1);
}

std::string iso8601_utc_ms(int64_t unix_ms)
{
	int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	return iso8601_format(secs, (int)ms);
}

std::string account_generate_id(const std::function<uint32_t()> &rand32)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint64_t bits = ((uint64_t)rand32() << 8) | (rand32() & 0xff);
	std::string id = "fm-";

	for (int i = 7; i >= 0; i--)
		id += alphabet[(bits >> (i * 5)) & 31];
	return id;
}

bool account_id_valid(std::string_view id)
{
	if (id.empty() || id.size() > 32)
		return false;
	return std::all_of(id.begin(), id.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-';
	});
}

} // namespace fetchmail
