/* Unit tests for fetchmail-oauth2: provider presets and settings, token
   endpoint requests, the authorization URL, response parsing (tokens,
   errors, device authorization) with its bounds and redaction, access
   token expiry, PKCE, consent states, device polling, the token record. */

#include "fetchmail-oauth2.hh"
#include "test-common.hh"

#include <map>
#include <vector>

using namespace fetchmail;

namespace {

/* Settings as a map; unset settings are "". */
struct Settings {
	std::map<std::string, std::string> values;

	OAuth2SettingLookup lookup() const
	{
		return [this](std::string_view name) {
			auto it = values.find(std::string(name));
			return it == values.end() ? std::string() : it->second;
		};
	}
};

OAuth2Providers parse(const std::map<std::string, std::string> &values)
{
	Settings s{values};
	OAuth2Providers providers;
	oauth2_providers_parse(s.lookup(), providers);
	return providers;
}

/* A provider that has everything, for request tests. */
OAuth2Provider generic_provider()
{
	OAuth2Providers providers = parse({
		{ "fetchmail_oauth2_providers", "corp" },
		{ "fetchmail_oauth2_corp_client_id", "cid" },
		{ "fetchmail_oauth2_corp_client_secret", "sec ret\n" },
		{ "fetchmail_oauth2_corp_authorize_url", "https://id.example/auth" },
		{ "fetchmail_oauth2_corp_token_url", "https://id.example/token" },
		{ "fetchmail_oauth2_corp_device_url", "https://id.example/device" },
		{ "fetchmail_oauth2_corp_scope", "mail offline" },
	});
	assert_int_equal(providers.list.size(), 1);
	assert_str(providers.list[0].error, "");
	return providers.list[0];
}

/* A random source that returns the same byte over and over. */
RandomFill fixed_random(unsigned char byte)
{
	return [byte](void *data, size_t size) { memset(data, byte, size); };
}

} // namespace

/* ------------------------------------------------------------ providers */

static void test_preset_google(void **)
{
	OAuth2Providers providers = parse({
		{ "fetchmail_oauth2_providers", "google" },
		{ "fetchmail_oauth2_google_client_id", "1234.apps.googleusercontent.com" },
		{ "fetchmail_oauth2_google_client_secret", "GOCSPX-secret\n" },
	});
	assert_int_equal(providers.list.size(), 1);
	const OAuth2Provider &p = providers.list[0];
	assert_str(p.error, "");
	assert_str(p.name, "google");
	assert_true(p.preset == OAuth2Preset::Google);
	assert_str(p.label, "Google");
	assert_str(p.client_id, "1234.apps.googleusercontent.com");
	assert_str(p.client_secret, "GOCSPX-secret");   /* newline trimmed */
	assert_str(p.authorize_url, "https://accounts.google.com/o/oauth2/v2/auth");
	assert_str(p.token_url, "https://oauth2.googleapis.com/token");
	assert_str(p.device_url, "");
	assert_true(p.device_note.find("mail scope") != std::string::npos);
	assert_str(p.scope, "https://mail.google.com/");
	assert_true(p.mechanism == SaslMech::XOAuth2);
	assert_str(p.imap_host, "imap.gmail.com");
	assert_int_equal(p.imap_port, 993);
	assert_str(p.pop3_host, "pop.gmail.com");
	assert_int_equal(p.pop3_port, 995);
	assert_int_equal(p.authorize_params.size(), 2);
}

static void test_preset_microsoft(void **)
{
	OAuth2Providers providers = parse({
		{ "fetchmail_oauth2_providers", "microsoft contoso" },
		{ "fetchmail_oauth2_microsoft_client_id", "11111111-2222-3333-4444-555555555555" },
		{ "fetchmail_oauth2_contoso_preset", "microsoft" },
		{ "fetchmail_oauth2_contoso_tenant", "contoso.onmicrosoft.com" },
		{ "fetchmail_oauth2_contoso_client_id", "abc" },
		{ "fetchmail_oauth2_contoso_label", "Contoso mail" },
	});
	assert_int_equal(providers.list.size(), 2);
	const OAuth2Provider &m = providers.list[0];
	assert_str(m.error, "");
	assert_true(m.preset == OAuth2Preset::Microsoft);
	assert_str(m.tenant, "common");
	assert_str(m.authorize_url, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize");
	assert_str(m.token_url, "https://login.microsoftonline.com/common/oauth2/v2.0/token");
	assert_str(m.device_url, "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode");
	assert_str(m.scope, "offline_access https://outlook.office.com/IMAP.AccessAsUser.All "
		   "https://outlook.office.com/POP.AccessAsUser.All");
	assert_str(m.imap_host, "outlook.office365.com");
	assert_str(m.pop3_host, "outlook.office365.com");
	assert_str(m.client_secret, "");
	assert_str(m.device_note, "");

	const OAuth2Provider &c = providers.list[1];
	assert_str(c.error, "");
	assert_str(c.name, "contoso");
	assert_str(c.label, "Contoso mail");
	assert_str(c.token_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
	assert_true(providers.find("contoso") == &providers.list[1]);
	assert_null(providers.find("google"));
	assert_str(providers.names(), "microsoft contoso");
}

static void test_provider_overrides(void **)
{
	OAuth2Providers providers = parse({
		{ "fetchmail_oauth2_providers", "google" },
		{ "fetchmail_oauth2_google_client_id", "cid" },
		{ "fetchmail_oauth2_google_token_url", "https://127.0.0.1:8443/token" },
		{ "fetchmail_oauth2_google_device_url", "https://127.0.0.1:8443/device" },
		{ "fetchmail_oauth2_google_mechanism", "OAUTHBEARER" },
		{ "fetchmail_oauth2_google_scope", "a b" },
		{ "fetchmail_oauth2_google_imap_host", "127.0.0.1" },
		{ "fetchmail_oauth2_google_imap_port", "10993" },
	});
	const OAuth2Provider &p = providers.list[0];
	assert_str(p.error, "");
	assert_str(p.token_url, "https://127.0.0.1:8443/token");
	assert_str(p.device_url, "https://127.0.0.1:8443/device");
	assert_str(p.device_note, "");   /* a device endpoint was configured */
	assert_true(p.mechanism == SaslMech::OAuthBearer);
	assert_str(p.scope, "a b");
	assert_str(p.imap_host, "127.0.0.1");
	assert_int_equal(p.imap_port, 10993);
	/* not overridden: the preset's */
	assert_str(p.authorize_url, "https://accounts.google.com/o/oauth2/v2/auth");
}

static void test_provider_errors(void **)
{
	const struct {
		std::map<std::string, std::string> settings;
		const char *error;
	} cases[] = {
		{ { { "fetchmail_oauth2_providers", "google" } },
		  "fetchmail_oauth2_google_client_id: not set" },
		{ { { "fetchmail_oauth2_providers", "corp" },
		    { "fetchmail_oauth2_corp_client_id", "c" } },
		  "fetchmail_oauth2_corp_token_url: not set (required for a generic provider)" },
		{ { { "fetchmail_oauth2_providers", "corp" },
		    { "fetchmail_oauth2_corp_client_id", "c" },
		    { "fetchmail_oauth2_corp_token_url", "http://id.example/token" } },
		  "fetchmail_oauth2_corp_token_url: must be an https URL (got 'http://id.example/token')" },
		{ { { "fetchmail_oauth2_providers", "corp" },
		    { "fetchmail_oauth2_corp_client_id", "c" },
		    { "fetchmail_oauth2_corp_token_url", "https:///token" } },
		  "fetchmail_oauth2_corp_token_url: must be an https URL (got 'https:///token')" },
		{ { { "fetchmail_oauth2_providers", "google" },
		    { "fetchmail_oauth2_google_client_id", "c" },
		    { "fetchmail_oauth2_google_mechanism", "plain" } },
		  "fetchmail_oauth2_google_mechanism: must be xoauth2 or oauthbearer (got 'plain')" },
		{ { { "fetchmail_oauth2_providers", "google" },
		    { "fetchmail_oauth2_google_client_id", "c" },
		    { "fetchmail_oauth2_google_tenant", "common" } },
		  "fetchmail_oauth2_google_tenant: only for the microsoft preset" },
		{ { { "fetchmail_oauth2_providers", "microsoft" },
		    { "fetchmail_oauth2_microsoft_client_id", "c" },
		    { "fetchmail_oauth2_microsoft_tenant", "../evil" } },
		  "fetchmail_oauth2_microsoft_tenant: must be common, organizations, consumers, a tenant id or a domain (got '../evil')" },
		{ { { "fetchmail_oauth2_providers", "x" },
		    { "fetchmail_oauth2_x_preset", "yahoo" } },
		  "fetchmail_oauth2_x_preset: must be google, microsoft or generic (got 'yahoo')" },
		{ { { "fetchmail_oauth2_providers", "google" },
		    { "fetchmail_oauth2_google_client_id", "c" },
		    { "fetchmail_oauth2_google_scope", "a \"b\"" } },
		  "fetchmail_oauth2_google_scope: must be scope tokens separated by spaces (got 'a \"b\"')" },
		{ { { "fetchmail_oauth2_providers", "google" },
		    { "fetchmail_oauth2_google_client_id", "c" },
		    { "fetchmail_oauth2_google_imap_port", "99999" } },
		  "fetchmail_oauth2_google_imap_port: must be a number from 1 to 65535 (got '99999')" },
		{ { { "fetchmail_oauth2_providers", "google" },
		    { "fetchmail_oauth2_google_client_id", "c" },
		    { "fetchmail_oauth2_google_pop3_host", "bad host" } },
		  "fetchmail_oauth2_google_pop3_host: must not contain spaces or control characters (got 'bad host')" },
		{ { { "fetchmail_oauth2_providers", "google" },
		    { "fetchmail_oauth2_google_client_id", "c" },
		    { "fetchmail_oauth2_google_client_secret", "s\x01secret" } },
		  /* the secret is never echoed */
		  "fetchmail_oauth2_google_client_secret: must not contain control characters" },
		{ { { "fetchmail_oauth2_providers", "Bad_Name" } },
		  "fetchmail_oauth2_providers: invalid provider name 'Bad_Name' (a-z, 0-9 and '-', at most 32)" },
	};
	for (const auto &c : cases) {
		OAuth2Providers providers = parse(c.settings);
		assert_int_equal(providers.list.size(), 1);
		assert_str(providers.list[0].error, c.error);
	}
}

static void test_provider_list(void **)
{
	OAuth2Providers providers = parse({
		{ "fetchmail_oauth2_providers", " google,microsoft\tgoogle  corp " },
		{ "fetchmail_oauth2_google_client_id", "g" },
		{ "fetchmail_oauth2_microsoft_client_id", "m" },
	});
	assert_int_equal(providers.list.size(), 3);
	assert_str(providers.names(), "google microsoft corp");
	assert_str(providers.list[0].error, "");
	assert_str(providers.list[1].error, "");
	/* one bad provider does not spoil the others */
	assert_str(providers.list[2].error, "fetchmail_oauth2_corp_client_id: not set");

	assert_int_equal(parse({}).list.size(), 0);
	assert_str(parse({}).names(), "none");

	assert_true(oauth2_provider_name_valid("google"));
	assert_true(oauth2_provider_name_valid("my-corp2"));
	assert_false(oauth2_provider_name_valid(""));
	assert_false(oauth2_provider_name_valid("-x"));
	assert_false(oauth2_provider_name_valid("Google"));
	assert_false(oauth2_provider_name_valid("a_b"));
	assert_false(oauth2_provider_name_valid(std::string(33, 'a')));
	assert_true(oauth2_provider_name_valid(std::string(32, 'a')));
}

/* ------------------------------------------------------------- requests */

static void test_requests(void **)
{
	OAuth2Provider p = generic_provider();
	assert_str(p.client_secret, "sec ret");

	assert_str(oauth2_form_encode({ { "a b", "c&d=e" }, { "x", "\xc3\xa4/+~" } }),
		   "a%20b=c%26d%3De&x=%C3%A4%2F%2B~");

	OAuth2Request r = oauth2_refresh_request(p, "1//R+t/x");
	assert_str(r.url, "https://id.example/token");
	assert_str(r.body, "grant_type=refresh_token&refresh_token=1%2F%2FR%2Bt%2Fx"
		   "&client_id=cid&client_secret=sec%20ret&scope=mail%20offline");

	r = oauth2_code_request(p, "C0DE", "https://panel.example/cb?x=1", "ver-ifier");
	assert_str(r.url, "https://id.example/token");
	assert_str(r.body, "grant_type=authorization_code&code=C0DE"
		   "&redirect_uri=https%3A%2F%2Fpanel.example%2Fcb%3Fx%3D1"
		   "&code_verifier=ver-ifier&client_id=cid&client_secret=sec%20ret");

	r = oauth2_device_token_request(p, "DEV");
	assert_str(r.body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
		   "&device_code=DEV&client_id=cid&client_secret=sec%20ret");

	r = oauth2_device_authorization_request(p);
	assert_str(r.url, "https://id.example/device");
	assert_str(r.body, "client_id=cid&client_secret=sec%20ret&scope=mail%20offline");

	/* a public client: no client_secret at all; no scope: none sent */
	p.client_secret.clear();
	p.scope.clear();
	assert_str(oauth2_refresh_request(p, "R").body,
		   "grant_type=refresh_token&refresh_token=R&client_id=cid");
	assert_str(oauth2_device_authorization_request(p).body, "client_id=cid");
}

static void test_authorize_url(void **)
{
	OAuth2Provider p = generic_provider();
	assert_str(oauth2_authorize_url(p, "https://panel.example/cb", "ST", "CH", ""),
		   "https://id.example/auth?response_type=code&client_id=cid"
		   "&redirect_uri=https%3A%2F%2Fpanel.example%2Fcb&scope=mail%20offline"
		   "&state=ST&code_challenge=CH&code_challenge_method=S256");

	OAuth2Providers g = parse({
		{ "fetchmail_oauth2_providers", "google" },
		{ "fetchmail_oauth2_google_client_id", "gid" },
		{ "fetchmail_oauth2_google_authorize_url", "https://a.example/auth?tenant=1" },
	});
	assert_str(oauth2_authorize_url(g.list[0], "http://localhost:8080/", "S", "C",
					"bob@gmail.com"),
		   "https://a.example/auth?tenant=1&response_type=code&client_id=gid"
		   "&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2F"
		   "&scope=https%3A%2F%2Fmail.google.com%2F&state=S&code_challenge=C"
		   "&code_challenge_method=S256&login_hint=bob%40gmail.com"
		   "&access_type=offline&prompt=consent");
}

static void test_redirect_uri(void **)
{
	const struct {
		const char *uri;
		bool ok;
	} cases[] = {
		{ "https://panel.example/oauth2/callback", true },
		{ "HTTPS://panel.example:8443/cb?x=1", true },
		{ "http://localhost:8080/cb", true },
		{ "http://127.0.0.1/cb", true },
		{ "http://[::1]:9/cb", true },
		{ "http://panel.example/cb", false },
		{ "http://localhost.evil.example/cb", false },
		{ "https://panel.example/cb#frag", false },
		{ "https://panel example/cb", false },
		{ "https://panel.example/\r\ncb", false },
		{ "https:///cb", false },
		{ "javascript:alert(1)", false },
		{ "ftp://panel.example/", false },
	};
	for (const auto &c : cases) {
		std::string error;
		int ret = oauth2_redirect_uri_check(c.uri, error);
		if ((ret == 0) != c.ok)
			fail_msg("redirect uri %s: %d (%s)", c.uri, ret, error.c_str());
		if (!c.ok)
			assert_prefix(error, "redirect-uri: must be an https URL");
	}
	std::string error;
	assert_int_equal(oauth2_redirect_uri_check("", error), -1);
	assert_str(error, "redirect-uri: missing");
	assert_int_equal(oauth2_redirect_uri_check(
		"https://x.example/" + std::string(2100, 'a'), error), -1);
}

/* ------------------------------------------------------------ responses */

static void test_token_ok(void **)
{
	OAuth2TokenResponse t;
	std::string error;

	assert_true(oauth2_parse_token_response(200,
		R"({"access_token":"ya29.A0","token_type":"Bearer","expires_in":3599,)"
		R"("refresh_token":"1//R2","scope":"https://mail.google.com/"})",
		{}, t, error) == OAuth2Outcome::Ok);
	assert_str(t.access_token, "ya29.A0");
	assert_str(t.refresh_token, "1//R2");
	assert_int_equal(t.expires_in, 3599);
	assert_str(t.scope, "https://mail.google.com/");

	/* no rotation, expires_in as a string, token_type in lower case */
	t = OAuth2TokenResponse();
	assert_true(oauth2_parse_token_response(200,
		R"({"access_token":"eyJ0.x.y","token_type":"bearer","expires_in":"4000","ext_expires_in":4000})",
		{}, t, error) == OAuth2Outcome::Ok);
	assert_str(t.refresh_token, "");
	assert_int_equal(t.expires_in, 4000);

	/* no expires_in: an hour; an absurd one: a year */
	assert_true(oauth2_parse_token_response(200, R"({"access_token":"A"})",
						{}, t, error) == OAuth2Outcome::Ok);
	assert_int_equal(t.expires_in, OAUTH2_DEFAULT_EXPIRES_IN);
	assert_true(oauth2_parse_token_response(200,
		R"({"access_token":"A","expires_in":99999999999})",
		{}, t, error) == OAuth2Outcome::Ok);
	assert_int_equal(t.expires_in, 365 * 24 * 3600);
	assert_true(oauth2_parse_token_response(201,
		R"({"access_token":"A","expires_in":5})", {}, t, error) ==
		OAuth2Outcome::Ok);
	assert_int_equal(t.expires_in, 5);
}

static void test_token_malformed(void **)
{
	const std::string big_token(OAUTH2_MAX_TOKEN + 1, 'a');
	const struct {
		std::string body;
		const char *error;
	} cases[] = {
		{ "", "malformed token response: not valid JSON" },
		{ "<html>oops</html>", "malformed token response: not valid JSON" },
		{ "[]", "malformed token response: not a JSON object" },
		{ "\"ya29\"", "malformed token response: not valid JSON" },
		{ "{}", "malformed token response: access_token: missing" },
		{ R"({"access_token":""})", "malformed token response: access_token: not a valid token" },
		{ R"({"access_token":"A B"})", "malformed token response: access_token: not a valid token" },
		{ R"({"access_token":"A\u0001B"})", "malformed token response: access_token: not a valid token" },
		{ R"({"access_token":"A\u00e4"})", "malformed token response: access_token: not a valid token" },
		{ R"({"access_token":")" + big_token + "\"}",
		  "malformed token response: access_token: not a valid token" },
		{ R"({"access_token":7})", "malformed token response: access_token: expected a string" },
		{ R"({"access_token":"A","refresh_token":["R"]})",
		  "malformed token response: refresh_token: expected a string" },
		{ R"({"access_token":"A","refresh_token":"R R"})",
		  "malformed token response: refresh_token: not a valid token" },
		{ R"({"access_token":"A","token_type":"mac"})",
		  "malformed token response: token_type: 'mac' is not supported (only Bearer)" },
		{ R"({"access_token":"A","expires_in":0})",
		  "malformed token response: expires_in: expected a positive number of seconds" },
		{ R"({"access_token":"A","expires_in":-3})",
		  "malformed token response: expires_in: expected a positive number of seconds" },
		{ R"({"access_token":"A","expires_in":"1h"})",
		  "malformed token response: expires_in: expected a positive number of seconds" },
		{ R"({"access_token":"A","expires_in":1.5})",
		  "malformed token response: expires_in: expected a positive number of seconds" },
		{ R"({"access_token":"A","scope":"a\"b"})", "malformed token response: scope: not valid" },
		{ R"({"access_token":"A","access_token":"B"})", "malformed token response: not valid JSON" },
		{ R"({"access_token":"A"} trailing)", "malformed token response: not valid JSON" },
		{ "{\"access_token\":\"A\",\"x\":\"" + std::string(OAUTH2_MAX_RESPONSE, 'x') + "\"}",
		  "malformed token response: response larger than 65536 bytes" },
		{ std::string(5000, '[') + std::string(5000, ']'),
		  "malformed token response: not valid JSON" },
	};
	for (const auto &c : cases) {
		OAuth2TokenResponse t;
		std::string error;
		OAuth2Outcome o = oauth2_parse_token_response(200, c.body, {}, t, error);
		if (o != OAuth2Outcome::Temporary)
			fail_msg("%.60s: outcome %s", c.body.c_str(), oauth2_outcome_name(o));
		assert_str(error, c.error);
		assert_str(t.access_token, "");
	}
}

static void test_token_errors(void **)
{
	const struct {
		long status;
		std::string body;
		OAuth2Outcome outcome;
		const char *error;
	} cases[] = {
		{ 400, R"({"error":"invalid_grant","error_description":"Token has been expired or revoked."})",
		  OAuth2Outcome::ConsentNeeded, "invalid_grant: Token has been expired or revoked." },
		{ 400, R"({"error":"invalid_grant"})", OAuth2Outcome::ConsentNeeded, "invalid_grant" },
		{ 401, R"({"error":"invalid_client","error_description":"The OAuth client was not found."})",
		  OAuth2Outcome::Config, "invalid_client: The OAuth client was not found." },
		{ 400, R"({"error":"unauthorized_client"})", OAuth2Outcome::Config, "unauthorized_client" },
		{ 400, R"({"error":"invalid_scope"})", OAuth2Outcome::Config, "invalid_scope" },
		{ 400, R"({"error":"invalid_request"})", OAuth2Outcome::Config, "invalid_request" },
		{ 400, R"({"error":"unsupported_grant_type"})", OAuth2Outcome::Config, "unsupported_grant_type" },
		{ 400, R"({"error":"temporarily_unavailable"})", OAuth2Outcome::Temporary, "temporarily_unavailable" },
		{ 400, R"({"error":"server_error"})", OAuth2Outcome::Temporary, "server_error" },
		{ 400, R"({"error":"something_new"})", OAuth2Outcome::Temporary, "something_new" },
		{ 400, R"({"error":"authorization_pending"})", OAuth2Outcome::Pending, "authorization_pending" },
		{ 400, R"({"error":"slow_down"})", OAuth2Outcome::SlowDown, "slow_down" },
		{ 400, R"({"error":"expired_token"})", OAuth2Outcome::Expired, "expired_token" },
		{ 400, R"({"error":"access_denied"})", OAuth2Outcome::Denied, "access_denied" },
		/* a 2xx that is an error after all */
		{ 200, R"({"error":"authorization_pending"})", OAuth2Outcome::Pending, "authorization_pending" },
		{ 200, R"({"status":"ok"})", OAuth2Outcome::Temporary,
		  "malformed token response: access_token: missing" },
		/* server side: temporary, whatever the body says */
		{ 503, R"({"error":"invalid_grant","error_description":"x"})",
		  OAuth2Outcome::Temporary, "HTTP 503: invalid_grant: x" },
		{ 500, "<html>Internal Server Error</html>", OAuth2Outcome::Temporary, "HTTP 500" },
		{ 502, "", OAuth2Outcome::Temporary, "HTTP 502" },
		{ 429, R"({"error":"rate_limited"})", OAuth2Outcome::Temporary, "HTTP 429: rate_limited" },
		/* no usable error object */
		{ 400, "Bad Request", OAuth2Outcome::Temporary, "HTTP 400" },
		{ 400, R"({"error":5})", OAuth2Outcome::Temporary, "HTTP 400" },
		{ 400, R"({"error":""})", OAuth2Outcome::Temporary, "HTTP 400" },
		{ 400, R"({"error":"bad\"quote"})", OAuth2Outcome::Temporary, "HTTP 400" },
		{ 404, R"([{"error":"invalid_grant"}])", OAuth2Outcome::Temporary, "HTTP 404" },
		/* a description of another type is left out */
		{ 400, R"({"error":"invalid_grant","error_description":{"a":1}})",
		  OAuth2Outcome::ConsentNeeded, "invalid_grant" },
		/* control characters replaced */
		{ 400, R"({"error":"invalid_grant","error_description":"a\nb\u0007c"})",
		  OAuth2Outcome::ConsentNeeded, "invalid_grant: a?b?c" },
	};
	for (const auto &c : cases) {
		OAuth2TokenResponse t;
		std::string error;
		OAuth2Outcome o = oauth2_parse_token_response(c.status, c.body, {}, t, error);
		if (o != c.outcome)
			fail_msg("%ld %s: outcome %s", c.status, c.body.c_str(),
				 oauth2_outcome_name(o));
		assert_str(error, c.error);
	}
}

static void test_token_error_bounds(void **)
{
	OAuth2TokenResponse t;
	std::string error;

	/* the description is cut at 256 bytes */
	std::string body = R"({"error":"invalid_grant","error_description":")" +
		std::string(1000, 'd') + "\"}";
	assert_true(oauth2_parse_token_response(400, body, {}, t, error) ==
		    OAuth2Outcome::ConsentNeeded);
	assert_str(error, "invalid_grant: " + std::string(256, 'd') + "...");

	/* the secrets sent never come back in an error, also not when the
	   provider echoes them */
	const std::vector<std::string> secrets = { "1//R-SECRET-77", "client-s3cret" };
	assert_true(oauth2_parse_token_response(400,
		R"({"error":"invalid_grant","error_description":"refresh token 1//R-SECRET-77 )"
		R"(of client client-s3cret is revoked"})", secrets, t, error) ==
		OAuth2Outcome::ConsentNeeded);
	assert_str(error, "invalid_grant: refresh token *** of client *** is revoked");
	/* an over-long error code is not an error code */
	assert_true(oauth2_parse_token_response(400,
		"{\"error\":\"" + std::string(65, 'e') + "\"}", secrets, t, error) ==
		OAuth2Outcome::Temporary);
	assert_str(error, "HTTP 400");
	/* a token that fails the checks is never quoted */
	assert_true(oauth2_parse_token_response(200,
		R"({"access_token":"ya29 LEAKED"})", secrets, t, error) ==
		OAuth2Outcome::Temporary);
	assert_true(error.find("LEAKED") == std::string::npos);
}

static void test_device_response(void **)
{
	OAuth2DeviceAuthorization d;
	std::string error;

	assert_true(oauth2_parse_device_response(200,
		R"({"user_code":"FQK6-JL2N","device_code":"DAQABAAEAAAD--DLA3VO7Q",)"
		R"("verification_uri":"https://microsoft.com/devicelogin","expires_in":900,)"
		R"("interval":5,"message":"To sign in, use a web browser..."})",
		{}, d, error) == OAuth2Outcome::Ok);
	assert_str(d.user_code, "FQK6-JL2N");
	assert_str(d.device_code, "DAQABAAEAAAD--DLA3VO7Q");
	assert_str(d.verification_uri, "https://microsoft.com/devicelogin");
	assert_int_equal(d.expires_in, 900);
	assert_int_equal(d.interval, 5);

	/* Google's spelling, no interval (5), a complete URI */
	d = OAuth2DeviceAuthorization();
	assert_true(oauth2_parse_device_response(200,
		R"({"device_code":"AH-1","user_code":"GQVQ-JKEC","verification_url":)"
		R"("https://www.google.com/device","verification_uri_complete":)"
		R"("https://www.google.com/device?user_code=GQVQ-JKEC","expires_in":"1800"})",
		{}, d, error) == OAuth2Outcome::Ok);
	assert_str(d.verification_uri, "https://www.google.com/device");
	assert_str(d.verification_uri_complete, "https://www.google.com/device?user_code=GQVQ-JKEC");
	assert_int_equal(d.interval, 5);
	assert_int_equal(d.expires_in, 1800);

	const struct {
		long status;
		std::string body;
		OAuth2Outcome outcome;
		const char *error;
	} cases[] = {
		{ 200, R"({"user_code":"U","verification_uri":"https://x.example/","expires_in":9})",
		  OAuth2Outcome::Temporary, "malformed device authorization response: device_code: missing" },
		{ 200, R"({"device_code":"D","verification_uri":"https://x.example/","expires_in":9})",
		  OAuth2Outcome::Temporary, "malformed device authorization response: user_code: missing" },
		{ 200, R"({"device_code":"D","user_code":"U\n","verification_uri":"https://x.example/","expires_in":9})",
		  OAuth2Outcome::Temporary, "malformed device authorization response: user_code: not a valid code" },
		{ 200, R"({"device_code":"D","user_code":"U","verification_uri":"http://x.example/","expires_in":9})",
		  OAuth2Outcome::Temporary, "malformed device authorization response: verification_uri: not an https URL" },
		{ 200, R"({"device_code":"D","user_code":"U","expires_in":9})",
		  OAuth2Outcome::Temporary, "malformed device authorization response: verification_uri: missing" },
		{ 200, R"({"device_code":"D","user_code":"U","verification_uri":"https://x.example/"})",
		  OAuth2Outcome::Temporary, "malformed device authorization response: expires_in: missing" },
		{ 200, R"({"device_code":"D","user_code":"U","verification_uri":"https://x.example/","expires_in":9,"interval":0})",
		  OAuth2Outcome::Temporary, "malformed device authorization response: interval: expected a positive number of seconds" },
		{ 200, R"({"device_code":"D","user_code":"U","verification_uri":"https://x.example/",)"
		       R"("verification_uri_complete":"javascript:x","expires_in":9})",
		  OAuth2Outcome::Temporary, "malformed device authorization response: verification_uri_complete: not an https URL" },
		{ 200, "[1]", OAuth2Outcome::Temporary, "malformed device authorization response: not a JSON object" },
		{ 400, R"({"error":"invalid_client"})", OAuth2Outcome::Config, "invalid_client" },
		{ 400, R"({"error":"invalid_scope","error_description":"AADSTS70011: The provided value for scope is not valid."})",
		  OAuth2Outcome::Config, "invalid_scope: AADSTS70011: The provided value for scope is not valid." },
		{ 503, "down", OAuth2Outcome::Temporary, "HTTP 503" },
	};
	for (const auto &c : cases) {
		OAuth2DeviceAuthorization a;
		OAuth2Outcome o = oauth2_parse_device_response(c.status, c.body, {}, a, error);
		if (o != c.outcome)
			fail_msg("%s: outcome %s", c.body.c_str(), oauth2_outcome_name(o));
		assert_str(error, c.error);
	}
	/* long values are clamped */
	assert_true(oauth2_parse_device_response(200,
		R"({"device_code":"D","user_code":"U","verification_uri":"https://x.example/",)"
		R"("expires_in":9999999,"interval":99999})", {}, d, error) == OAuth2Outcome::Ok);
	assert_int_equal(d.expires_in, 86400);
	assert_int_equal(d.interval, 3600);
}

/* -------------------------------------------------------- access tokens */

static void test_expiry(void **)
{
	assert_int_equal(oauth2_refresh_due(1000, 4600), 4540);  /* 60 s */
	assert_int_equal(oauth2_refresh_due(1000, 1008), 1006);  /* a quarter */
	assert_int_equal(oauth2_refresh_due(1000, 1002), 1002);  /* nothing */
	assert_int_equal(oauth2_refresh_due(1000, 1000), 1000);
	assert_int_equal(oauth2_refresh_due(1000, 900), 900);

	OAuth2Tokens t;
	t.access_token = "A";
	t.access_issued = 1000;
	t.access_expires = 4600;
	assert_true(t.access_usable(1000));
	assert_true(t.access_usable(4539));
	assert_false(t.access_usable(4540));
	assert_false(t.access_usable(5000));
	assert_true(t.access_usable(950));    /* small clock skew */
	assert_false(t.access_usable(900));   /* the clock went back */
	t.access_token.clear();
	assert_false(t.access_usable(2000));
}

/* ----------------------------------------------------------------- PKCE */

static void test_pkce(void **)
{
	/* RFC 7636 appendix B */
	const unsigned char octets[] = {
		116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216,
		173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5,
		88, 83, 132, 141, 121,
	};
	std::string verifier = base64url_encode(
		std::string_view((const char *)octets, sizeof(octets)));
	assert_str(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
	assert_str(oauth2_pkce_challenge(verifier),
		   "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	assert_true(oauth2_pkce_verifier_valid(verifier));

	assert_str(base64url_encode(""), "");
	assert_str(base64url_encode("f"), "Zg");
	assert_str(base64url_encode("fo"), "Zm8");
	assert_str(base64url_encode("foo"), "Zm9v");
	assert_str(base64url_encode("\xfb\xff"), "-_8");

	/* from the injected random source: 48 bytes, 64 characters */
	std::string v = oauth2_pkce_verifier(fixed_random(0xfb));
	assert_int_equal(v.size(), 64);
	assert_true(oauth2_pkce_verifier_valid(v));
	assert_str(v.substr(0, 8), "-_v7-_v7");
	assert_str(oauth2_pkce_verifier(fixed_random(0)), std::string(64, 'A'));
	/* a different source, a different verifier */
	assert_true(oauth2_pkce_verifier(fixed_random(1)) !=
		    oauth2_pkce_verifier(fixed_random(2)));

	assert_false(oauth2_pkce_verifier_valid(std::string(42, 'a')));
	assert_true(oauth2_pkce_verifier_valid(std::string(43, 'a')));
	assert_true(oauth2_pkce_verifier_valid(std::string(128, '~')));
	assert_false(oauth2_pkce_verifier_valid(std::string(129, 'a')));
	assert_false(oauth2_pkce_verifier_valid(std::string(42, 'a') + "+"));
	assert_false(oauth2_pkce_verifier_valid(std::string(42, 'a') + "="));
}

/* ------------------------------------------------------- consent states */

static void test_state(void **)
{
	std::string s = oauth2_state_generate(fixed_random(0));
	assert_str(s, std::string(43, 'A'));
	assert_true(oauth2_state_valid(s));
	assert_true(oauth2_state_valid(oauth2_state_generate(fixed_random(0xff))));
	assert_false(oauth2_state_valid(std::string(42, 'A')));
	assert_false(oauth2_state_valid(std::string(44, 'A')));
	assert_false(oauth2_state_valid(std::string(42, 'A') + "+"));
	assert_false(oauth2_state_valid(std::string(42, 'A') + "."));
	assert_str(oauth2_state_key("abc"),
		   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	OAuth2ConsentState st;
	st.user = "user1@example.org";
	st.account_id = "fm-abcdefgh";
	st.provider = "google";
	st.remote_user = "bob@gmail.com";
	st.redirect_uri = "https://panel.example/cb";
	st.created = 1000;
	st.expires = 1000 + OAUTH2_STATE_LIFETIME;
	std::string json = oauth2_state_encode(st, "v1:00000000:AAAA");
	assert_str(json, R"({"account":"fm-abcdefgh","created":1000,"expires":1600,)"
		   R"("kind":"code","provider":"google","redirect-uri":"https://panel.example/cb",)"
		   R"("remote-user":"bob@gmail.com","secret":"v1:00000000:AAAA",)"
		   R"("user":"user1@example.org","v":1})");

	OAuth2ConsentState back;
	std::string blob, error;
	assert_int_equal(oauth2_state_decode(json, back, blob, error), 0);
	assert_true(back.kind == OAuth2StateKind::Code);
	assert_str(back.user, st.user);
	assert_str(back.account_id, st.account_id);
	assert_str(back.provider, st.provider);
	assert_str(back.remote_user, st.remote_user);
	assert_str(back.redirect_uri, st.redirect_uri);
	assert_int_equal(back.created, 1000);
	assert_int_equal(back.expires, 1600);
	assert_str(blob, "v1:00000000:AAAA");

	/* checks: user, expiry, a creation time in the future */
	assert_int_equal(oauth2_state_check(back, "user1@example.org", 1599, error), 0);
	assert_int_equal(oauth2_state_check(back, "user2@example.org", 1100, error), -1);
	assert_str(error, "state: unknown, expired or already used");
	assert_int_equal(oauth2_state_check(back, "user1@example.org", 1600, error), -1);
	assert_str(error, "state: expired (consent must be finished within 10 minutes)");
	assert_int_equal(oauth2_state_check(back, "user1@example.org", 900, error), -1);
	assert_int_equal(oauth2_state_check(back, "user1@example.org", 950, error), 0);

	/* device states keep their polling */
	st.kind = OAuth2StateKind::Device;
	st.redirect_uri.clear();
	st.interval = 10;
	st.next_poll = 1010;
	assert_int_equal(oauth2_state_decode(oauth2_state_encode(st, "B"), back,
					     blob, error), 0);
	assert_true(back.kind == OAuth2StateKind::Device);
	assert_int_equal(back.interval, 10);
	assert_int_equal(back.next_poll, 1010);
	assert_int_equal(oauth2_state_check(back, "user1@example.org", 1600, error), -1);
	assert_str(error, "state: expired (the device code expired; start again)");

	const struct {
		const char *json;
		const char *error;
	} bad[] = {
		{ "nope", "consent state: not valid JSON" },
		{ R"({"v":2,"kind":"code","user":"u","account":"a","provider":"p","secret":"s"})",
		  "consent state: version 2 is newer than this plugin supports" },
		{ R"({"kind":"code","account":"a","provider":"p","secret":"s"})",
		  "consent state: user: missing" },
		{ R"({"kind":"x","user":"u","account":"a","provider":"p","secret":"s"})",
		  "consent state: kind: must be code or device" },
		{ R"({"kind":"code","user":"u","account":"a","provider":"p","secret":"s","created":"1"})",
		  "consent state: created: expected a number" },
	};
	for (const auto &c : bad) {
		assert_int_equal(oauth2_state_decode(c.json, back, blob, error), -1);
		assert_prefix(error, c.error);
	}
}

static void test_device_poll(void **)
{
	OAuth2DevicePoll p = OAuth2DevicePoll::start(1000, 900, 5);
	assert_int_equal(p.next_poll(), 1005);
	assert_int_equal(p.expires(), 1900);
	assert_true(p.polled(1005, OAuth2Outcome::Pending));
	assert_int_equal(p.next_poll(), 1010);
	/* slow_down: 5 s more, for good */
	assert_true(p.polled(1010, OAuth2Outcome::SlowDown));
	assert_int_equal(p.interval(), 10);
	assert_int_equal(p.next_poll(), 1020);
	assert_true(p.polled(1020, OAuth2Outcome::Temporary));
	assert_int_equal(p.next_poll(), 1030);
	assert_true(p.polled(1899, OAuth2Outcome::Pending));
	assert_false(p.polled(1900, OAuth2Outcome::Pending));
	assert_true(p.expired(1900));
	assert_false(p.expired(1899));
	/* final outcomes end polling */
	for (OAuth2Outcome o : { OAuth2Outcome::Ok, OAuth2Outcome::Denied,
				 OAuth2Outcome::Expired, OAuth2Outcome::Config,
				 OAuth2Outcome::ConsentNeeded }) {
		OAuth2DevicePoll q = OAuth2DevicePoll::start(0, 100, 1);
		assert_false(q.polled(1, o));
	}
	/* resumed from a stored state; intervals are bounded */
	OAuth2DevicePoll r = OAuth2DevicePoll::resume(2000, 0, 1500);
	assert_int_equal(r.interval(), 1);
	assert_int_equal(r.next_poll(), 1500);
	assert_int_equal(OAuth2DevicePoll::start(0, 10, 100000).interval(), 3600);
}

/* ------------------------------------------------------- stored tokens */

static void test_tokens(void **)
{
	OAuth2Tokens t;
	OAuth2TokenResponse r;
	r.access_token = "A1";
	r.refresh_token = "R1";
	r.expires_in = 3600;
	oauth2_tokens_apply(t, r, 1000);
	assert_str(t.access_token, "A1");
	assert_str(t.refresh_token, "R1");
	assert_int_equal(t.access_issued, 1000);
	assert_int_equal(t.access_expires, 4600);
	assert_int_equal(t.updated, 1000);
	assert_true(t.connected());

	/* no rotation: the refresh token stays */
	r.access_token = "A2";
	r.refresh_token.clear();
	oauth2_tokens_apply(t, r, 2000);
	assert_str(t.access_token, "A2");
	assert_str(t.refresh_token, "R1");

	oauth2_tokens_consent_needed(t, "invalid_grant: revoked", 3000);
	assert_str(t.refresh_token, "");
	assert_str(t.access_token, "");
	assert_str(t.consent_error, "invalid_grant: revoked");
	assert_false(t.connected());
	assert_false(t.access_usable(3000));

	/* consent again clears the reason */
	r.refresh_token = "R9";
	oauth2_tokens_apply(t, r, 4000);
	assert_str(t.consent_error, "");
	assert_true(t.connected());

	std::string json = oauth2_tokens_encode(t, "v1:11111111:RR", "v1:11111111:AA");
	assert_str(json, R"({"access":"v1:11111111:AA","access-expires":7600,)"
		   R"("access-issued":4000,"refresh":"v1:11111111:RR","updated":4000,"v":1})");
	OAuth2Tokens back;
	std::string rb, ab, error;
	assert_int_equal(oauth2_tokens_decode(json, back, rb, ab, error), 0);
	assert_str(rb, "v1:11111111:RR");
	assert_str(ab, "v1:11111111:AA");
	assert_str(back.refresh_token, "");   /* plaintext is never stored */
	assert_int_equal(back.access_issued, 4000);
	assert_int_equal(back.access_expires, 7600);
	assert_int_equal(back.updated, 4000);

	oauth2_tokens_consent_needed(t, "", 5000);
	json = oauth2_tokens_encode(t, "", "");
	assert_str(json, R"({"consent-error":"the provider refused the refresh token","updated":5000,"v":1})");
	assert_int_equal(oauth2_tokens_decode(json, back, rb, ab, error), 0);
	assert_str(rb, "");
	assert_str(back.consent_error, "the provider refused the refresh token");

	assert_int_equal(oauth2_tokens_decode("{\"refresh\":1}", back, rb, ab, error), -1);
	assert_str(error, "token record: refresh: expected a string");
	assert_int_equal(oauth2_tokens_decode("{\"v\":9}", back, rb, ab, error), -1);
	assert_str(error, "token record: version 9 is newer than this plugin supports");

	assert_str(oauth2_consent_text(false, false, ""), "never connected");
	assert_str(oauth2_consent_text(true, false, ""), "never connected");
	assert_str(oauth2_consent_text(true, true, ""), "connected");
	assert_str(oauth2_consent_text(true, false, "invalid_grant: x"),
		   "consent needed: invalid_grant: x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preset_google),
		cmocka_unit_test(test_preset_microsoft),
		cmocka_unit_test(test_provider_overrides),
		cmocka_unit_test(test_provider_errors),
		cmocka_unit_test(test_provider_list),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_authorize_url),
		cmocka_unit_test(test_redirect_uri),
		cmocka_unit_test(test_token_ok),
		cmocka_unit_test(test_token_malformed),
		cmocka_unit_test(test_token_errors),
		cmocka_unit_test(test_token_error_bounds),
		cmocka_unit_test(test_device_response),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_pkce),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_device_poll),
		cmocka_unit_test(test_tokens),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
