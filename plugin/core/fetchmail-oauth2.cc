#include "fetchmail-oauth2.hh"

#include "fetchmail-account.hh"
#include "fetchmail-crypto.hh"
#include "fetchmail-json.hh"
#include "fetchmail-redact.hh"
#include "fetchmail-strings.hh"

#include <openssl/evp.h>

#include <algorithm>

namespace fetchmail {

namespace {

const size_t URL_MAX = 2048;
const size_t NAME_MAX_LEN = 32;
const size_t LABEL_MAX = 64;
const size_t CLIENT_ID_MAX = 512;
const size_t CLIENT_SECRET_MAX = 1024;
const size_t SCOPE_MAX = 2048;
const size_t TENANT_MAX = 128;
const size_t ERROR_CODE_MAX = 64;
const size_t DEVICE_CODE_MAX = 4096;
const size_t USER_CODE_MAX = 64;
const int64_t EXPIRES_IN_MAX = 365 * 24 * 3600;
const int64_t DEVICE_EXPIRES_MAX = 24 * 3600;
const int64_t DEVICE_INTERVAL_MAX = 3600;
const int64_t DEVICE_SLOW_DOWN = 5;
const int64_t CLOCK_SKEW = 60;
const int STATE_RECORD_VERSION = 1;
const int TOKENS_RECORD_VERSION = 1;
const size_t STATE_RANDOM_BYTES = 32;
const size_t VERIFIER_RANDOM_BYTES = 48;

const char *const GOOGLE_AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth";
const char *const GOOGLE_TOKEN = "https://oauth2.googleapis.com/token";
const char *const GOOGLE_SCOPE = "https://mail.google.com/";
const char *const MICROSOFT_BASE = "https://login.microsoftonline.com/";
const char *const MICROSOFT_SCOPE =
	"offline_access https://outlook.office.com/IMAP.AccessAsUser.All "
	"https://outlook.office.com/POP.AccessAsUser.All";

/* visible ASCII, no spaces: tokens, codes */
bool visible_ascii(std::string_view s)
{
	return std::all_of(s.begin(), s.end(), [](char c) {
		return c > 0x20 && c < 0x7f;
	});
}

bool unreserved(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		c == '~';
}

bool base64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* RFC 6749 A.4: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
bool scope_valid(std::string_view scope)
{
	if (scope.size() > SCOPE_MAX)
		return false;
	return std::all_of(scope.begin(), scope.end(), [](char c) {
		return c == ' ' || (c >= 0x21 && c <= 0x7e && c != '"' &&
				    c != '\\');
	});
}

/* RFC 6749 A.7: error = 1*( %x20-21 / %x23-5B / %x5D-7E ) */
bool error_code_valid(std::string_view code)
{
	if (code.empty() || code.size() > ERROR_CODE_MAX)
		return false;
	return std::all_of(code.begin(), code.end(), [](char c) {
		return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
	});
}

bool tenant_valid(std::string_view tenant)
{
	return !tenant.empty() && tenant.size() <= TENANT_MAX &&
		std::all_of(tenant.begin(), tenant.end(), [](char c) {
			return (c >= 'A' && c <= 'Z') ||
				(c >= 'a' && c <= 'z') ||
				(c >= '0' && c <= '9') || c == '-' || c == '.';
		});
}

std::string quote(std::string_view value)
{
	return "'" + account_quote_value(value) + "'";
}

/* "scheme://authority" of an URL: the host part, without userinfo and
   port, lowercased; "" when there is none. */
std::string url_host(std::string_view url, std::string_view scheme)
{
	if (url.size() < scheme.size() + 3 ||
	    !ascii_iequals(url.substr(0, scheme.size()), scheme) ||
	    url.substr(scheme.size(), 3) != "://")
		return "";
	std::string_view rest = url.substr(scheme.size() + 3);
	std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
	size_t at = authority.rfind('@');
	if (at != authority.npos)
		authority.remove_prefix(at + 1);
	std::string_view host = authority;
	if (!host.empty() && host.front() == '[') {
		size_t end = host.find(']');
		if (end == host.npos)
			return "";
		host = host.substr(0, end + 1);
	} else {
		host = host.substr(0, host.find(':'));
	}
	std::string out;
	for (char c : host)
		out += ascii_tolower(c);
	return out;
}

bool url_chars_valid(std::string_view url)
{
	return !url.empty() && url.size() <= URL_MAX && visible_ascii(url) &&
		url.find('#') == url.npos;
}

Redactor redactor_of(const std::vector<std::string> &secrets)
{
	Redactor r;
	for (const std::string &s : secrets)
		r.add_secret(s);
	return r;
}

void redact(std::string &text, const std::vector<std::string> &secrets)
{
	redactor_of(secrets).redact(text);
}

/* ------------------------------------------------------------ providers */

struct ProviderReader {
	const OAuth2SettingLookup &lookup;
	OAuth2Provider &p;

	std::string key(std::string_view suffix) const
	{
		return "fetchmail_oauth2_" + p.name + "_" + std::string(suffix);
	}
	/* the setting's value, trimmed (a "<file" value keeps the file's
	   trailing newline) */
	std::string get(std::string_view suffix) const
	{
		return std::string(trim(lookup(key(suffix))));
	}
	bool fail(std::string_view suffix, std::string_view what)
	{
		if (p.error.empty())
			p.error = key(suffix) + ": " + std::string(what);
		return false;
	}

	bool text(std::string_view suffix, std::string &dest, size_t max,
		  bool echo = true)
	{
		std::string v = get(suffix);
		if (v.empty())
			return true;
		if (v.size() > max)
			return fail(suffix, "longer than " +
				    std::to_string(max) + " bytes");
		if (has_ctrl_chars(v))
			return fail(suffix, echo ?
				    "must not contain control characters (got " +
				    quote(v) + ")" :
				    "must not contain control characters");
		dest = std::move(v);
		return true;
	}
	bool url(std::string_view suffix, std::string &dest)
	{
		std::string v = get(suffix);
		if (v.empty())
			return true;
		if (!oauth2_https_url_valid(v))
			return fail(suffix, "must be an https URL (got " +
				    quote(v) + ")");
		dest = std::move(v);
		return true;
	}
	/* A server setting, checked like the account field (host or
	   port) it becomes the default of. */
	bool server(std::string_view suffix, const char *field,
		    Account &scratch)
	{
		std::string v = get(suffix), error;
		if (v.empty())
			return false;
		if (account_set_field(scratch, field, v, error) < 0)
			return fail(suffix, error.substr(error.find(':') + 2));
		return true;
	}
	void host(std::string_view suffix, std::string &dest)
	{
		Account scratch;
		if (server(suffix, "host", scratch))
			dest = scratch.host;
	}
	void port(std::string_view suffix, uint16_t &dest)
	{
		Account scratch;
		if (server(suffix, "port", scratch))
			dest = scratch.port;
	}
};

void preset_google(OAuth2Provider &p)
{
	p.label = "Google";
	p.authorize_url = GOOGLE_AUTHORIZE;
	p.token_url = GOOGLE_TOKEN;
	p.scope = GOOGLE_SCOPE;
	p.imap_host = "imap.gmail.com";
	p.pop3_host = "pop.gmail.com";
	/* a refresh token only comes with offline access, and Google issues
	   it again only when consent is asked again */
	p.authorize_params = { { "access_type", "offline" },
			       { "prompt", "consent" } };
	p.device_note = "Google does not allow the mail scope "
		"(https://mail.google.com/) in its device flow; use "
		"`oauth2 start`/`finish` or import a refresh token";
}

void preset_microsoft(OAuth2Provider &p)
{
	std::string base = MICROSOFT_BASE + p.tenant + "/oauth2/v2.0/";
	p.label = "Microsoft 365 / Outlook.com";
	p.authorize_url = base + "authorize";
	p.token_url = base + "token";
	p.device_url = base + "devicecode";
	p.scope = MICROSOFT_SCOPE;
	p.imap_host = "outlook.office365.com";
	p.pop3_host = "outlook.office365.com";
}

void provider_parse(const OAuth2SettingLookup &lookup, OAuth2Provider &p)
{
	ProviderReader r{lookup, p};

	std::string preset = r.get("preset");
	if (preset.empty())
		preset = p.name == "google" || p.name == "microsoft" ?
			p.name : "generic";
	if (ascii_iequals(preset, "google"))
		p.preset = OAuth2Preset::Google;
	else if (ascii_iequals(preset, "microsoft"))
		p.preset = OAuth2Preset::Microsoft;
	else if (ascii_iequals(preset, "generic"))
		p.preset = OAuth2Preset::Generic;
	else {
		r.fail("preset", "must be google, microsoft or generic (got " +
		       quote(preset) + ")");
		return;
	}

	std::string tenant = r.get("tenant");
	if (!tenant.empty() && p.preset != OAuth2Preset::Microsoft) {
		r.fail("tenant", "only for the microsoft preset");
		return;
	}
	if (p.preset == OAuth2Preset::Microsoft) {
		if (tenant.empty())
			tenant = "common";
		if (!tenant_valid(tenant)) {
			r.fail("tenant", "must be common, organizations, "
			       "consumers, a tenant id or a domain (got " +
			       quote(tenant) + ")");
			return;
		}
		p.tenant = tenant;
		preset_microsoft(p);
	} else if (p.preset == OAuth2Preset::Google) {
		preset_google(p);
	} else {
		p.label = p.name;
	}

	r.text("label", p.label, LABEL_MAX);
	r.text("client_id", p.client_id, CLIENT_ID_MAX);
	/* never echo the secret */
	r.text("client_secret", p.client_secret, CLIENT_SECRET_MAX, false);
	r.url("authorize_url", p.authorize_url);
	r.url("token_url", p.token_url);
	r.url("device_url", p.device_url);
	if (!p.device_url.empty())
		p.device_note.clear();

	std::string scope = r.get("scope");
	if (!scope.empty()) {
		if (!scope_valid(scope))
			r.fail("scope", "must be scope tokens separated by "
			       "spaces (got " + quote(scope) + ")");
		else
			p.scope = scope;
	}
	std::string mech = r.get("mechanism");
	if (ascii_iequals(mech, "oauthbearer"))
		p.mechanism = SaslMech::OAuthBearer;
	else if (mech.empty() || ascii_iequals(mech, "xoauth2"))
		p.mechanism = SaslMech::XOAuth2;
	else
		r.fail("mechanism", "must be xoauth2 or oauthbearer (got " +
		       quote(mech) + ")");
	r.host("imap_host", p.imap_host);
	r.port("imap_port", p.imap_port);
	r.host("pop3_host", p.pop3_host);
	r.port("pop3_port", p.pop3_port);

	if (p.client_id.empty())
		r.fail("client_id", "not set");
	else if (p.token_url.empty())
		r.fail("token_url", "not set (required for a generic provider)");
}

/* --------------------------------------------------------------- JSON */

/* An integer in [1, max] given as a JSON number or a string of digits
   (some providers send "3600"). 0 when missing, -1 when malformed. */
int get_seconds(const Json::Value &obj, const char *key, int64_t max,
		int64_t &value_r)
{
	const Json::Value &v = obj[key];
	int64_t n = 0;

	if (v.isNull())
		return 0;
	if (v.isInt64()) {
		n = v.asInt64();
	} else if (v.isUInt64()) {
		n = max;
	} else if (v.isString()) {
		std::string s = v.asString();
		if (s.empty() || s.size() > 12 ||
		    s.find_first_not_of("0123456789") != s.npos)
			return -1;
		n = std::stoll(s);
	} else {
		return -1;
	}
	if (n <= 0)
		return -1;
	value_r = std::min(n, max);
	return 1;
}

/* A string member that must be visible ASCII of at most max bytes. 0 when
   missing, 1 when read, -1 (error_r names the key, never the value)
   otherwise. */
int get_token(const Json::Value &obj, const char *key, size_t max,
	      std::string &value_r, std::string &error_r)
{
	std::string v;
	int ret = json_get(obj, key, v, error_r);
	if (ret <= 0)
		return ret;
	if (v.empty() || v.size() > max || !visible_ascii(v)) {
		error_r = std::string(key) + ": not a valid token";
		return -1;
	}
	value_r = std::move(v);
	return 1;
}

/* Parse a response body into an object; errors say what is wrong without
   echoing the body. */
int read_body(std::string_view body, Json::Value &root_r,
	      std::string &error_r)
{
	if (body.size() > OAUTH2_MAX_RESPONSE) {
		error_r = "response larger than " +
			std::to_string(OAUTH2_MAX_RESPONSE) + " bytes";
		return -1;
	}
	std::string error;
	int ret;
	try {
		ret = json_read_object(body, root_r, error);
	} catch (const std::exception &) {
		/* jsoncpp throws beyond its nesting limit */
		ret = -1;
	}
	if (ret < 0) {
		/* jsoncpp's message may quote the body: keep only its kind */
		error_r = error == "not a JSON object" ? error : "not valid JSON";
		return -1;
	}
	return 0;
}

OAuth2Outcome outcome_of_error_code(std::string_view code)
{
	static const struct {
		std::string_view code;
		OAuth2Outcome outcome;
	} codes[] = {
		{ "invalid_grant", OAuth2Outcome::ConsentNeeded },
		{ "invalid_client", OAuth2Outcome::Config },
		{ "unauthorized_client", OAuth2Outcome::Config },
		{ "invalid_scope", OAuth2Outcome::Config },
		{ "invalid_request", OAuth2Outcome::Config },
		{ "unsupported_grant_type", OAuth2Outcome::Config },
		{ "temporarily_unavailable", OAuth2Outcome::Temporary },
		{ "server_error", OAuth2Outcome::Temporary },
		{ "authorization_pending", OAuth2Outcome::Pending },
		{ "slow_down", OAuth2Outcome::SlowDown },
		{ "expired_token", OAuth2Outcome::Expired },
		{ "access_denied", OAuth2Outcome::Denied },
	};
	for (const auto &c : codes) {
		if (c.code == code)
			return c.outcome;
	}
	return OAuth2Outcome::Temporary;
}

/* The outcome of a response that is not a success: an RFC 6749 5.2 error
   object when there is one, else the HTTP status. */
OAuth2Outcome parse_error(long status, std::string_view body,
			  const std::vector<std::string> &secrets,
			  std::string &error_r)
{
	std::string http = "HTTP " + std::to_string(status);
	Json::Value root;
	std::string error, code, description;
	bool server_side = status >= 500 || status == 429;

	if (read_body(body, root, error) < 0 ||
	    json_get(root, "error", code, error) <= 0 ||
	    !error_code_valid(code)) {
		error_r = http + (status >= 200 && status < 300 ?
				  ": no token and no error in the response" :
				  "");
		return OAuth2Outcome::Temporary;
	}
	/* a description of another type is left out */
	if (json_get(root, "error_description", description, error) < 0)
		description.clear();
	Redactor redactor = redactor_of(secrets);
	std::string text = code;
	if (!description.empty())
		text += ": " + redactor.server_text(
			description, OAUTH2_MAX_ERROR_DESCRIPTION);
	redactor.redact(text);
	if (server_side) {
		error_r = http + ": " + text;
		return OAuth2Outcome::Temporary;
	}
	error_r = text;
	return outcome_of_error_code(code);
}

bool success(long status)
{
	return status >= 200 && status < 300;
}

/* The members of a token response (RFC 6749 5.1). -1 with error_r naming
   the member, never its value. */
int token_fields(const Json::Value &root, OAuth2TokenResponse &token,
		 std::string &error_r)
{
	std::string type;
	int ret = get_token(root, "access_token", OAUTH2_MAX_TOKEN,
			    token.access_token, error_r);
	if (ret == 0)
		error_r = "access_token: missing";
	if (ret <= 0)
		return -1;
	if (get_token(root, "refresh_token", OAUTH2_MAX_TOKEN,
		      token.refresh_token, error_r) < 0 ||
	    json_get(root, "token_type", type, error_r) < 0 ||
	    json_get(root, "scope", token.scope, error_r) < 0)
		return -1;
	if (!type.empty() && !ascii_iequals(type, "bearer")) {
		error_r = "token_type: " + quote(type) +
			" is not supported (only Bearer)";
		return -1;
	}
	if (!scope_valid(token.scope)) {
		error_r = "scope: not valid";
		return -1;
	}
	ret = get_seconds(root, "expires_in", EXPIRES_IN_MAX, token.expires_in);
	if (ret < 0) {
		error_r = "expires_in: expected a positive number of seconds";
		return -1;
	}
	if (ret == 0)
		token.expires_in = OAUTH2_DEFAULT_EXPIRES_IN;
	return 0;
}

bool user_code_valid(std::string_view code)
{
	return !code.empty() && code.size() <= USER_CODE_MAX &&
		std::all_of(code.begin(), code.end(), [](char c) {
			return c >= 0x20 && c < 0x7f;
		});
}

/* The members of a device authorization response (RFC 8628 3.2). */
int device_fields(const Json::Value &root, OAuth2DeviceAuthorization &auth,
		  std::string &error_r)
{
	/* Google says verification_url */
	const char *uri_key = root.isMember("verification_uri") ?
		"verification_uri" : "verification_url";
	int ret = get_token(root, "device_code", DEVICE_CODE_MAX,
			    auth.device_code, error_r);
	if (ret == 0)
		error_r = "device_code: missing";
	if (ret <= 0)
		return -1;
	if ((ret = json_get(root, "user_code", auth.user_code, error_r)) < 0)
		return -1;
	if (ret == 0 || !user_code_valid(auth.user_code)) {
		error_r = ret == 0 ? "user_code: missing" :
			"user_code: not a valid code";
		return -1;
	}
	if ((ret = json_get(root, uri_key, auth.verification_uri,
			    error_r)) < 0)
		return -1;
	if (ret == 0 || !oauth2_https_url_valid(auth.verification_uri)) {
		error_r = ret == 0 ? "verification_uri: missing" :
			"verification_uri: not an https URL";
		return -1;
	}
	if (json_get(root, "verification_uri_complete",
		     auth.verification_uri_complete, error_r) < 0)
		return -1;
	if (!auth.verification_uri_complete.empty() &&
	    !oauth2_https_url_valid(auth.verification_uri_complete)) {
		error_r = "verification_uri_complete: not an https URL";
		return -1;
	}
	ret = get_seconds(root, "expires_in", DEVICE_EXPIRES_MAX,
			  auth.expires_in);
	if (ret <= 0) {
		error_r = ret == 0 ? "expires_in: missing" :
			"expires_in: expected a positive number of seconds";
		return -1;
	}
	if (get_seconds(root, "interval", DEVICE_INTERVAL_MAX,
			auth.interval) < 0) {
		error_r = "interval: expected a positive number of seconds";
		return -1;
	}
	return 0;
}

/* A response of a token or device endpoint: an error (see parse_error),
   or a 2xx whose object has key, read by fields into result_r. A 2xx
   with an "error" member and without key is an error response too. */
template <typename Result>
OAuth2Outcome parse_response(long status, std::string_view body,
			     const std::vector<std::string> &secrets,
			     const char *key, const char *malformed,
			     int (*fields)(const Json::Value &, Result &,
					   std::string &),
			     Result &result_r, std::string &error_r)
{
	try {
		if (!success(status))
			return parse_error(status, body, secrets, error_r);

		Json::Value root;
		std::string error;
		if (read_body(body, root, error) < 0) {
			error_r = malformed + error;
			return OAuth2Outcome::Temporary;
		}
		if (root.isMember("error") && !root.isMember(key))
			return parse_error(status, body, secrets, error_r);
		Result result;
		if (fields(root, result, error) < 0) {
			redact(error, secrets);
			error_r = malformed + error;
			return OAuth2Outcome::Temporary;
		}
		result_r = std::move(result);
		return OAuth2Outcome::Ok;
	} catch (const std::exception &) {
		error_r = std::string(malformed) + "internal error";
		return OAuth2Outcome::Temporary;
	}
}

std::string hex(const unsigned char *data, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (size_t i = 0; i < size; i++) {
		out += digits[data[i] >> 4];
		out += digits[data[i] & 15];
	}
	return out;
}

/* SHA-256 of data into md (32 bytes); false when OpenSSL fails. */
bool sha256(std::string_view data, unsigned char md[32])
{
	unsigned int len = 0;
	return EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(),
			  nullptr) == 1 && len == 32;
}

std::string random_base64url(const RandomFill &random, size_t bytes)
{
	std::string raw(bytes, '\0');
	random(raw.data(), raw.size());
	return base64url_encode(raw);
}

/* The request parameters every token request carries: client_id and
   client_secret when configured. */
void add_client(std::vector<std::pair<std::string_view, std::string_view>> &form,
		const OAuth2Provider &p)
{
	form.emplace_back("client_id", p.client_id);
	if (!p.client_secret.empty())
		form.emplace_back("client_secret", p.client_secret);
}

const char *state_kind_name(OAuth2StateKind kind)
{
	return kind == OAuth2StateKind::Device ? "device" : "code";
}

} // namespace

/* ------------------------------------------------------------ providers */

const OAuth2Provider *OAuth2Providers::find(std::string_view name) const
{
	for (const auto &p : list) {
		if (p.name == name)
			return &p;
	}
	return nullptr;
}

std::string OAuth2Providers::names() const
{
	std::string out;
	for (const auto &p : list) {
		if (!out.empty())
			out += ' ';
		out += p.name;
	}
	return out.empty() ? "none" : out;
}

bool oauth2_provider_name_valid(std::string_view name)
{
	if (name.empty() || name.size() > NAME_MAX_LEN || name.front() == '-')
		return false;
	return std::all_of(name.begin(), name.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-';
	});
}

void oauth2_providers_parse(const OAuth2SettingLookup &lookup,
			    OAuth2Providers &providers_r)
{
	std::string list = lookup("fetchmail_oauth2_providers");
	OAuth2Providers providers;
	size_t pos = 0;

	for (char &c : list) {
		if (c == ',' || c == '\t' || c == '\r' || c == '\n')
			c = ' ';
	}
	while (pos < list.size()) {
		size_t end = list.find(' ', pos);
		if (end == list.npos)
			end = list.size();
		std::string name = list.substr(pos, end - pos);
		pos = end + 1;
		if (name.empty() || providers.find(name) != nullptr)
			continue;
		OAuth2Provider p;
		p.name = name;
		if (!oauth2_provider_name_valid(name)) {
			p.name = account_quote_value(name);
			p.error = "fetchmail_oauth2_providers: invalid provider "
				"name " + quote(name) + " (a-z, 0-9 and '-', "
				"at most 32)";
		} else {
			provider_parse(lookup, p);
		}
		providers.list.push_back(std::move(p));
	}
	providers_r = std::move(providers);
}

const char *oauth2_preset_name(OAuth2Preset preset)
{
	switch (preset) {
	case OAuth2Preset::Google: return "google";
	case OAuth2Preset::Microsoft: return "microsoft";
	case OAuth2Preset::Generic: break;
	}
	return "generic";
}

const char *oauth2_mechanism_name(SaslMech mech)
{
	return mech == SaslMech::OAuthBearer ? "oauthbearer" : "xoauth2";
}

/* ------------------------------------------------------------- requests */

std::string oauth2_url_encode(std::string_view value)
{
	static const char digits[] = "0123456789ABCDEF";
	std::string out;
	for (unsigned char c : value) {
		if (unreserved((char)c)) {
			out += (char)c;
		} else {
			out += '%';
			out += digits[c >> 4];
			out += digits[c & 15];
		}
	}
	return out;
}

std::string oauth2_form_encode(
	const std::vector<std::pair<std::string_view, std::string_view>> &pairs)
{
	std::string out;
	for (const auto &[name, value] : pairs) {
		if (!out.empty())
			out += '&';
		out += oauth2_url_encode(name) + "=" + oauth2_url_encode(value);
	}
	return out;
}

OAuth2Request oauth2_refresh_request(const OAuth2Provider &provider,
				     std::string_view refresh_token)
{
	std::vector<std::pair<std::string_view, std::string_view>> form = {
		{ "grant_type", "refresh_token" },
		{ "refresh_token", refresh_token },
	};
	add_client(form, provider);
	if (!provider.scope.empty())
		form.emplace_back("scope", provider.scope);
	return { provider.token_url, oauth2_form_encode(form) };
}

OAuth2Request oauth2_code_request(const OAuth2Provider &provider,
				  std::string_view code,
				  std::string_view redirect_uri,
				  std::string_view code_verifier)
{
	std::vector<std::pair<std::string_view, std::string_view>> form = {
		{ "grant_type", "authorization_code" },
		{ "code", code },
		{ "redirect_uri", redirect_uri },
		{ "code_verifier", code_verifier },
	};
	add_client(form, provider);
	return { provider.token_url, oauth2_form_encode(form) };
}

OAuth2Request oauth2_device_token_request(const OAuth2Provider &provider,
					  std::string_view device_code)
{
	std::vector<std::pair<std::string_view, std::string_view>> form = {
		{ "grant_type", "urn:ietf:params:oauth:grant-type:device_code" },
		{ "device_code", device_code },
	};
	add_client(form, provider);
	return { provider.token_url, oauth2_form_encode(form) };
}

OAuth2Request oauth2_device_authorization_request(
	const OAuth2Provider &provider)
{
	std::vector<std::pair<std::string_view, std::string_view>> form;
	add_client(form, provider);
	if (!provider.scope.empty())
		form.emplace_back("scope", provider.scope);
	return { provider.device_url, oauth2_form_encode(form) };
}

std::string oauth2_authorize_url(const OAuth2Provider &provider,
				 std::string_view redirect_uri,
				 std::string_view state,
				 std::string_view code_challenge,
				 std::string_view login_hint)
{
	std::vector<std::pair<std::string_view, std::string_view>> query = {
		{ "response_type", "code" },
		{ "client_id", provider.client_id },
		{ "redirect_uri", redirect_uri },
	};
	if (!provider.scope.empty())
		query.emplace_back("scope", provider.scope);
	query.emplace_back("state", state);
	query.emplace_back("code_challenge", code_challenge);
	query.emplace_back("code_challenge_method", "S256");
	if (!login_hint.empty())
		query.emplace_back("login_hint", login_hint);
	for (const auto &[name, value] : provider.authorize_params)
		query.emplace_back(name, value);
	const std::string &base = provider.authorize_url;
	return base + (base.find('?') == base.npos ? "?" : "&") +
		oauth2_form_encode(query);
}

bool oauth2_https_url_valid(std::string_view url)
{
	return url_chars_valid(url) && !url_host(url, "https").empty();
}

int oauth2_redirect_uri_check(std::string_view uri, std::string &error_r)
{
	if (uri.empty()) {
		error_r = "redirect-uri: missing";
		return -1;
	}
	if (url_chars_valid(uri)) {
		if (!url_host(uri, "https").empty())
			return 0;
		std::string host = url_host(uri, "http");
		if (host == "localhost" || host == "127.0.0.1" ||
		    host == "[::1]")
			return 0;
	}
	error_r = "redirect-uri: must be an https URL without fragment, or "
		"http on localhost (got " + quote(uri) + ")";
	return -1;
}

/* ------------------------------------------------------------ responses */

OAuth2Outcome oauth2_parse_token_response(long http_status,
					  std::string_view body,
					  const std::vector<std::string> &secrets,
					  OAuth2TokenResponse &token_r,
					  std::string &error_r)
{
	return parse_response(http_status, body, secrets, "access_token",
			      "malformed token response: ", token_fields,
			      token_r, error_r);
}

OAuth2Outcome oauth2_parse_device_response(long http_status,
					   std::string_view body,
					   const std::vector<std::string> &secrets,
					   OAuth2DeviceAuthorization &auth_r,
					   std::string &error_r)
{
	return parse_response(http_status, body, secrets, "device_code",
			      "malformed device authorization response: ",
			      device_fields, auth_r, error_r);
}

const char *oauth2_outcome_name(OAuth2Outcome outcome)
{
	switch (outcome) {
	case OAuth2Outcome::Ok: return "ok";
	case OAuth2Outcome::ConsentNeeded: return "consent needed";
	case OAuth2Outcome::Config: return "configuration error";
	case OAuth2Outcome::Temporary: return "temporary error";
	case OAuth2Outcome::Pending: return "authorization pending";
	case OAuth2Outcome::SlowDown: return "slow down";
	case OAuth2Outcome::Expired: return "expired";
	case OAuth2Outcome::Denied: return "access denied";
	}
	return "temporary error";
}

/* -------------------------------------------------------- access tokens */

int64_t oauth2_refresh_due(int64_t issued, int64_t expires)
{
	int64_t lifetime = expires - issued;
	if (lifetime <= 0)
		return expires;
	return expires - std::min(OAUTH2_EXPIRY_MARGIN, lifetime / 4);
}

bool OAuth2Tokens::access_usable(int64_t now) const
{
	return !access_token.empty() &&
		now < oauth2_refresh_due(access_issued, access_expires) &&
		/* a clock that went back: don't trust the times */
		now + CLOCK_SKEW >= access_issued;
}

/* ----------------------------------------------------------------- PKCE */

std::string base64url_encode(std::string_view data)
{
	std::string out = base64_encode(data);
	while (!out.empty() && out.back() == '=')
		out.pop_back();
	for (char &c : out) {
		if (c == '+')
			c = '-';
		else if (c == '/')
			c = '_';
	}
	return out;
}

std::string oauth2_pkce_verifier(const RandomFill &random)
{
	return random_base64url(random, VERIFIER_RANDOM_BYTES);
}

bool oauth2_pkce_verifier_valid(std::string_view verifier)
{
	return verifier.size() >= 43 && verifier.size() <= 128 &&
		std::all_of(verifier.begin(), verifier.end(), unreserved);
}

std::string oauth2_pkce_challenge(std::string_view verifier)
{
	unsigned char md[32];
	if (!sha256(verifier, md))
		return "";
	return base64url_encode(std::string_view((const char *)md, sizeof(md)));
}

/* ------------------------------------------------------- consent states */

std::string oauth2_state_generate(const RandomFill &random)
{
	return random_base64url(random, STATE_RANDOM_BYTES);
}

bool oauth2_state_valid(std::string_view state)
{
	return state.size() == 43 &&
		std::all_of(state.begin(), state.end(), base64url_char);
}

std::string oauth2_state_key(std::string_view state)
{
	unsigned char md[32];
	if (!sha256(state, md))
		return "";
	return hex(md, sizeof(md));
}

std::string oauth2_state_encode(const OAuth2ConsentState &state,
				std::string_view secret_blob)
{
	try {
		Json::Value root(Json::objectValue);
		root["v"] = STATE_RECORD_VERSION;
		root["kind"] = state_kind_name(state.kind);
		root["user"] = state.user;
		root["account"] = state.account_id;
		root["provider"] = state.provider;
		root["remote-user"] = state.remote_user;
		if (state.kind == OAuth2StateKind::Code)
			root["redirect-uri"] = state.redirect_uri;
		root["created"] = Json::Int64(state.created);
		root["expires"] = Json::Int64(state.expires);
		if (state.kind == OAuth2StateKind::Device) {
			root["interval"] = Json::Int64(state.interval);
			root["next-poll"] = Json::Int64(state.next_poll);
		}
		root["secret"] = std::string(secret_blob);
		return json_write(root);
	} catch (const std::exception &) {
		return "";
	}
}

int oauth2_state_decode(std::string_view json, OAuth2ConsentState &state_r,
			std::string &secret_blob_r, std::string &error_r)
{
	try {
		Json::Value root;
		int version;
		std::string kind, blob;
		OAuth2ConsentState s;

		if (json_read_object(json, root, error_r) < 0 ||
		    json_version(root, STATE_RECORD_VERSION, "version",
				 "a non-negative integer", version,
				 error_r) < 0) {
			error_r = "consent state: " + error_r;
			return -1;
		}
		const char *required[] = { "kind", "user", "account",
					   "provider", "secret" };
		for (const char *key : required) {
			if (!root[key].isString()) {
				error_r = std::string("consent state: ") + key +
					": missing";
				return -1;
			}
		}
		if (json_get(root, "kind", kind, error_r) < 0 ||
		    json_get(root, "user", s.user, error_r) < 0 ||
		    json_get(root, "account", s.account_id, error_r) < 0 ||
		    json_get(root, "provider", s.provider, error_r) < 0 ||
		    json_get(root, "remote-user", s.remote_user, error_r) < 0 ||
		    json_get(root, "redirect-uri", s.redirect_uri, error_r) < 0 ||
		    json_get(root, "created", s.created, error_r) < 0 ||
		    json_get(root, "expires", s.expires, error_r) < 0 ||
		    json_get(root, "interval", s.interval, error_r) < 0 ||
		    json_get(root, "next-poll", s.next_poll, error_r) < 0 ||
		    json_get(root, "secret", blob, error_r) < 0) {
			error_r = "consent state: " + error_r;
			return -1;
		}
		if (kind == "code")
			s.kind = OAuth2StateKind::Code;
		else if (kind == "device")
			s.kind = OAuth2StateKind::Device;
		else {
			error_r = "consent state: kind: must be code or device";
			return -1;
		}
		state_r = std::move(s);
		secret_blob_r = std::move(blob);
	} catch (const std::exception &) {
		error_r = "consent state: malformed";
		return -1;
	}
	return 0;
}

int oauth2_state_check(const OAuth2ConsentState &state, std::string_view user,
		       int64_t now, std::string &error_r)
{
	if (state.user != user) {
		error_r = "state: unknown, expired or already used";
		return -1;
	}
	if (now >= state.expires || state.created > now + CLOCK_SKEW) {
		error_r = state.kind == OAuth2StateKind::Code ?
			"state: expired (consent must be finished within "
			"10 minutes)" :
			"state: expired (the device code expired; start again)";
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- device flow */

OAuth2DevicePoll OAuth2DevicePoll::start(int64_t now, int64_t expires_in,
					 int64_t interval)
{
	interval = std::clamp<int64_t>(interval, 1, DEVICE_INTERVAL_MAX);
	return OAuth2DevicePoll(now + expires_in, interval, now + interval);
}

OAuth2DevicePoll OAuth2DevicePoll::resume(int64_t expires, int64_t interval,
					  int64_t next_poll)
{
	interval = std::clamp<int64_t>(interval, 1, DEVICE_INTERVAL_MAX);
	return OAuth2DevicePoll(expires, interval, next_poll);
}

bool OAuth2DevicePoll::polled(int64_t now, OAuth2Outcome outcome)
{
	switch (outcome) {
	case OAuth2Outcome::SlowDown:
		interval_ = std::min(interval_ + DEVICE_SLOW_DOWN,
				     DEVICE_INTERVAL_MAX);
		break;
	case OAuth2Outcome::Pending:
	case OAuth2Outcome::Temporary:
		break;
	default:
		return false;
	}
	next_poll_ = now + interval_;
	return !expired(now);
}

/* ------------------------------------------------------- stored tokens */

std::string oauth2_tokens_encode(const OAuth2Tokens &tokens,
				 std::string_view refresh_blob,
				 std::string_view access_blob)
{
	try {
		Json::Value root(Json::objectValue);
		root["v"] = TOKENS_RECORD_VERSION;
		if (!refresh_blob.empty())
			root["refresh"] = std::string(refresh_blob);
		if (!access_blob.empty()) {
			root["access"] = std::string(access_blob);
			root["access-issued"] = Json::Int64(tokens.access_issued);
			root["access-expires"] = Json::Int64(tokens.access_expires);
		}
		if (!tokens.consent_error.empty())
			root["consent-error"] = tokens.consent_error;
		root["updated"] = Json::Int64(tokens.updated);
		return json_write(root);
	} catch (const std::exception &) {
		return "";
	}
}

int oauth2_tokens_decode(std::string_view json, OAuth2Tokens &tokens_r,
			 std::string &refresh_blob_r,
			 std::string &access_blob_r, std::string &error_r)
{
	try {
		Json::Value root;
		int version;
		OAuth2Tokens t;
		std::string refresh, access;

		if (json_read_object(json, root, error_r) < 0 ||
		    json_version(root, TOKENS_RECORD_VERSION, "version",
				 "a non-negative integer", version,
				 error_r) < 0 ||
		    json_get(root, "refresh", refresh, error_r) < 0 ||
		    json_get(root, "access", access, error_r) < 0 ||
		    json_get(root, "access-issued", t.access_issued,
			     error_r) < 0 ||
		    json_get(root, "access-expires", t.access_expires,
			     error_r) < 0 ||
		    json_get(root, "consent-error", t.consent_error,
			     error_r) < 0 ||
		    json_get(root, "updated", t.updated, error_r) < 0) {
			error_r = "token record: " + error_r;
			return -1;
		}
		tokens_r = std::move(t);
		refresh_blob_r = std::move(refresh);
		access_blob_r = std::move(access);
	} catch (const std::exception &) {
		error_r = "token record: malformed";
		return -1;
	}
	return 0;
}

void oauth2_tokens_apply(OAuth2Tokens &tokens,
			 const OAuth2TokenResponse &response, int64_t now)
{
	tokens.access_token = response.access_token;
	tokens.access_issued = now;
	tokens.access_expires = now + response.expires_in;
	if (!response.refresh_token.empty())
		tokens.refresh_token = response.refresh_token;
	tokens.consent_error.clear();
	tokens.updated = now;
}

void oauth2_tokens_consent_needed(OAuth2Tokens &tokens,
				  std::string_view reason, int64_t now)
{
	tokens.refresh_token.clear();
	tokens.access_token.clear();
	tokens.access_issued = 0;
	tokens.access_expires = 0;
	tokens.consent_error = reason.empty() ? "the provider refused the "
		"refresh token" : std::string(reason);
	tokens.updated = now;
}

void oauth2_status_hold(AccountStatus &status)
{
	status.held = true;
	status.next_run = 0;
}

void oauth2_status_release(AccountStatus &status, int64_t now)
{
	if (!status.held)
		return;
	status.held = false;
	status.next_run = now;
}

std::string oauth2_consent_text(bool has_record, bool has_refresh,
				std::string_view consent_error)
{
	if (has_record && !consent_error.empty())
		return "consent needed: " + std::string(consent_error);
	if (has_record && has_refresh)
		return "connected";
	return "never connected";
}

} // namespace fetchmail
