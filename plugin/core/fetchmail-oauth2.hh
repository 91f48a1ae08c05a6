#ifndef FETCHMAIL_OAUTH2_HH
#define FETCHMAIL_OAUTH2_HH

/* OAuth2 (RFC 6749) for accounts that log in with a token instead of a
   password: the provider model with its presets, the requests to a token
   endpoint, the parsing of what comes back, PKCE (RFC 7636), the consent
   state of the authorization code flow, the device flow's polling policy
   (RFC 8628) and the stored token record.

   Everything here is pure: no I/O, no Dovecot types, no clock and no
   random source of its own (both are passed in). The Dovecot glue sends
   the requests (fetchmail-http), stores the records (fetchmail-store) and
   drives the flows (fetchmail-oauth2-refresh, doveadm oauth2 verbs).

   Every byte from a token or device endpoint is untrusted: bodies are
   bounded, anything that is not a JSON object is refused, every value is
   checked (type, length, characters), and error texts are sanitized,
   bounded and never carry a token: the secrets a request carried are
   redacted from every error text made of a response.

   Nothing throws out of this API (std::bad_alloc aside). */

#include "fetchmail-account.hh"
#include "fetchmail-sasl.hh"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fetchmail {

/* ------------------------------------------------------------ providers */

enum class OAuth2Preset { Generic, Google, Microsoft };

/* One provider, configured server-wide in plugin { }:

     fetchmail_oauth2_providers = google microsoft
     fetchmail_oauth2_<name>_client_id = ...
     fetchmail_oauth2_<name>_client_secret = </etc/dovecot/<name>.secret

   and optionally, per provider,

     _preset         google | microsoft | generic; default: the name when
                     it is google or microsoft, generic otherwise (so that
                     e.g. a second Microsoft tenant can be "contoso" with
                     _preset = microsoft)
     _label          shown to panels (default: "Google", "Microsoft", or
                     the name)
     _tenant         microsoft only: common (default), organizations,
                     consumers, a tenant id or a domain
     _authorize_url, _token_url, _device_url
                     https URLs; presets fill them
     _scope          space separated scope tokens (RFC 6749 3.3)
     _mechanism      xoauth2 (default) | oauthbearer
     _imap_host, _imap_port, _pop3_host, _pop3_port
                     the provider's mail servers, the defaults of new
                     accounts and what `oauth2 providers` shows

   Presets:
     google     authorize https://accounts.google.com/o/oauth2/v2/auth
                (with access_type=offline and prompt=consent, so that a
                refresh token is issued), token
                https://oauth2.googleapis.com/token, no device endpoint
                (Google refuses mail scopes in its device flow), scope
                https://mail.google.com/, imap.gmail.com:993,
                pop.gmail.com:995
     microsoft  https://login.microsoftonline.com/<tenant>/oauth2/v2.0/
                authorize, token and devicecode; scope offline_access
                https://outlook.office.com/IMAP.AccessAsUser.All
                https://outlook.office.com/POP.AccessAsUser.All;
                outlook.office365.com:993 and :995
     generic    nothing: _token_url is required; _authorize_url is needed
                for `oauth2 start`, _device_url for `oauth2 device`

   A provider that cannot be used keeps the reason in error, naming the
   setting ("fetchmail_oauth2_google_client_id: not set"); the others are
   not affected, nor are password accounts. */
struct OAuth2Provider {
	std::string name;            /* [a-z0-9][a-z0-9-]*, at most 32 */
	OAuth2Preset preset = OAuth2Preset::Generic;
	std::string label;
	std::string client_id;
	std::string client_secret;   /* empty: a public client */
	std::string tenant;          /* microsoft only */
	std::string authorize_url;   /* empty: no authorization code flow */
	std::string token_url;
	std::string device_url;      /* empty: no device flow */
	std::string scope;
	SaslMech mechanism = SaslMech::XOAuth2;
	std::string imap_host;
	uint16_t imap_port = 993;
	std::string pop3_host;
	uint16_t pop3_port = 995;
	/* extra query parameters of the authorization URL */
	std::vector<std::pair<std::string, std::string>> authorize_params;
	/* why there is no device flow when the preset knows (Google) */
	std::string device_note;
	/* empty when usable, else one line naming the setting */
	std::string error;
};

struct OAuth2Providers {
	std::vector<OAuth2Provider> list;   /* in configuration order */

	/* The provider called name, or nullptr. */
	const OAuth2Provider *find(std::string_view name) const;
	/* "google microsoft", or "none" */
	std::string names() const;
};

/* Returns the value of a setting ("" when unset), e.g. of
   "fetchmail_oauth2_google_client_id". The glue passes the mail user's
   plugin settings or the service's. */
using OAuth2SettingLookup =
	std::function<std::string(std::string_view name)>;

/* Read fetchmail_oauth2_providers and each listed provider's settings.
   Names are separated by spaces or commas; duplicates are listed once.
   Never fails as a whole: problems end up in each provider's error (an
   invalid name too, as a provider with that name quoted). */
void oauth2_providers_parse(const OAuth2SettingLookup &lookup,
			    OAuth2Providers &providers_r);

/* [a-z0-9][a-z0-9-]{0,31}: valid for names in the list and for the
   account field oauth2-provider. */
bool oauth2_provider_name_valid(std::string_view name);

const char *oauth2_preset_name(OAuth2Preset preset); /* google, ... */
const char *oauth2_mechanism_name(SaslMech mech);    /* xoauth2, oauthbearer */

/* ------------------------------------------------------------- requests */

/* A POST to url with an application/x-www-form-urlencoded body. The body
   carries secrets: never log it. */
struct OAuth2Request {
	std::string url;
	std::string body;
};

/* Percent-encoding of everything but RFC 3986 unreserved characters. */
std::string oauth2_url_encode(std::string_view value);
/* name=value pairs joined with '&', both sides url-encoded. */
std::string oauth2_form_encode(
	const std::vector<std::pair<std::string_view, std::string_view>> &pairs);

/* Token endpoint requests (RFC 6749 4.1.3, 6; RFC 8628 3.4). Each carries
   client_id, and client_secret only when one is configured:

     refresh   grant_type=refresh_token&refresh_token=R&client_id=C
               [&client_secret=S][&scope=SCOPE]
     code      grant_type=authorization_code&code=X&redirect_uri=U
               &code_verifier=V&client_id=C[&client_secret=S]
     device    grant_type=urn:ietf:params:oauth:grant-type:device_code
               &device_code=D&client_id=C[&client_secret=S]

   and the device authorization request (RFC 8628 3.1) to device_url:

               client_id=C[&client_secret=S][&scope=SCOPE] */
OAuth2Request oauth2_refresh_request(const OAuth2Provider &provider,
				     std::string_view refresh_token);
OAuth2Request oauth2_code_request(const OAuth2Provider &provider,
				  std::string_view code,
				  std::string_view redirect_uri,
				  std::string_view code_verifier);
OAuth2Request oauth2_device_token_request(const OAuth2Provider &provider,
					  std::string_view device_code);
OAuth2Request oauth2_device_authorization_request(
	const OAuth2Provider &provider);

/* The URL the person's browser goes to (RFC 6749 4.1.1 with RFC 7636):
   authorize_url ('?' or '&') response_type=code&client_id=C
   &redirect_uri=U&scope=SCOPE&state=S&code_challenge=CH
   &code_challenge_method=S256[&login_hint=H] then the provider's
   authorize_params. scope and login_hint are left out when empty. */
std::string oauth2_authorize_url(const OAuth2Provider &provider,
				 std::string_view redirect_uri,
				 std::string_view state,
				 std::string_view code_challenge,
				 std::string_view login_hint);

/* An https URL: "https://" (any case) and a host, at most 2048 bytes, no
   spaces, control characters or fragment. */
bool oauth2_https_url_valid(std::string_view url);
/* A redirect URI a panel may give: an https URL, or http:// on a loopback
   host (localhost, 127.0.0.1, [::1]; RFC 8252 7.3). -1 with error_r
   "redirect-uri: ..." otherwise. */
int oauth2_redirect_uri_check(std::string_view uri, std::string &error_r);

/* ------------------------------------------------------------ responses */

/* What a response means for the grant that was sent. */
enum class OAuth2Outcome {
	Ok,
	/* invalid_grant: the refresh token, code or device code is dead
	   (revoked, expired, already used, password changed): only a new
	   consent helps */
	ConsentNeeded,
	/* invalid_client, unauthorized_client, invalid_scope,
	   invalid_request, unsupported_grant_type: the provider's settings
	   (client id or secret, scope, URLs) are wrong */
	Config,
	/* temporarily_unavailable, server_error, any other error code,
	   HTTP 5xx or 429, a malformed body, a transport failure: try again
	   later */
	Temporary,
	/* device flow (RFC 8628 3.5) */
	Pending,    /* authorization_pending */
	SlowDown,   /* slow_down: poll 5 seconds less often */
	Expired,    /* expired_token: the user code timed out */
	Denied,     /* access_denied: the person said no */
};

/* A successful token response (RFC 6749 5.1). */
struct OAuth2TokenResponse {
	std::string access_token;
	std::string refresh_token;   /* empty: not rotated, keep the old one */
	int64_t expires_in = 0;      /* seconds, 1..31536000 */
	std::string scope;
};

/* A successful device authorization response (RFC 8628 3.2). */
struct OAuth2DeviceAuthorization {
	std::string device_code;          /* secret */
	std::string user_code;            /* shown to the person */
	std::string verification_uri;     /* also read as verification_url */
	std::string verification_uri_complete; /* optional */
	int64_t expires_in = 0;           /* 1..86400 */
	int64_t interval = 5;             /* 1..3600 */
};

/* Largest response body the parsers look at (the HTTP client stops
   reading at the same size). */
const size_t OAUTH2_MAX_RESPONSE = 64 * 1024;
/* Bounds of values taken from responses. */
const size_t OAUTH2_MAX_TOKEN = 16 * 1024;
const size_t OAUTH2_MAX_ERROR_DESCRIPTION = 256;
/* Lifetime assumed when a token response has no expires_in. */
const int64_t OAUTH2_DEFAULT_EXPIRES_IN = 3600;

/* Parse a token endpoint response: http_status and body as received.
   secrets: everything the request carried that must never show (refresh
   token, code, verifier, device code, client secret); they are replaced
   by "***" in error_r.

   Ok: 2xx and a JSON object with access_token (1..16 KiB of visible ASCII,
   no spaces), token_type "Bearer" (any case) when present, expires_in an
   integer or a string of digits (missing: 3600; clamped to one year),
   refresh_token (same rules as access_token) when present, scope a string
   when present. Anything else in a 2xx is Temporary ("malformed token
   response: access_token: missing").

   Errors (RFC 6749 5.2): {"error": code, "error_description": text}: the
   code picks the outcome (see OAuth2Outcome); error_r is "code: text"
   with text sanitized (non-printable bytes replaced) and cut at 256
   bytes, or "HTTP 503" when there is no usable error object. A 5xx or 429
   is Temporary whatever the body says. Bodies over OAUTH2_MAX_RESPONSE
   are Temporary. */
OAuth2Outcome oauth2_parse_token_response(long http_status,
					  std::string_view body,
					  const std::vector<std::string> &secrets,
					  OAuth2TokenResponse &token_r,
					  std::string &error_r);

/* Parse a device authorization response: Ok with device_code (1..4096
   visible ASCII), user_code (1..64 visible ASCII or spaces),
   verification_uri (an https URL; Google's verification_url is read too),
   verification_uri_complete (an https URL, optional), expires_in
   (required, 1..86400) and interval (default 5, 1..3600); errors as for
   token responses. */
OAuth2Outcome oauth2_parse_device_response(long http_status,
					   std::string_view body,
					   const std::vector<std::string> &secrets,
					   OAuth2DeviceAuthorization &auth_r,
					   std::string &error_r);

/* "consent needed", "configuration error", ... for messages. */
const char *oauth2_outcome_name(OAuth2Outcome outcome);

/* -------------------------------------------------------- access tokens */

/* Safety margin before an access token's expiry: a token is replaced
   min(60 s, a quarter of its lifetime) before it expires, so that it does
   not expire between the check and the login, and short-lived tokens are
   still used for most of their life. */
const int64_t OAUTH2_EXPIRY_MARGIN = 60;

/* The moment from which the access token issued at issued and expiring
   at expires should be replaced. */
int64_t oauth2_refresh_due(int64_t issued, int64_t expires);

/* ----------------------------------------------------------------- PKCE */

/* Fills size bytes with random data (the glue passes Dovecot's
   random_fill(), tests a fixed sequence). */
using RandomFill = std::function<void(void *data, size_t size)>;

/* base64url without padding (RFC 4648 5). */
std::string base64url_encode(std::string_view data);

/* A code verifier (RFC 7636 4.1): 48 random bytes as base64url, 64
   characters of the unreserved set. */
std::string oauth2_pkce_verifier(const RandomFill &random);
/* 43..128 characters of [A-Za-z0-9-._~]. */
bool oauth2_pkce_verifier_valid(std::string_view verifier);
/* The S256 challenge: base64url(SHA-256(verifier)), 43 characters. Empty
   when OpenSSL fails. */
std::string oauth2_pkce_challenge(std::string_view verifier);

/* ------------------------------------------------------- consent states */

/* How long a consent started with `oauth2 start` may be finished. */
const int64_t OAUTH2_STATE_LIFETIME = 600;

/* An opaque state: 32 random bytes as base64url, 43 characters. */
std::string oauth2_state_generate(const RandomFill &random);
/* Exactly 43 characters of [A-Za-z0-9_-]. */
bool oauth2_state_valid(std::string_view state);
/* Where a state is stored: lowercase hex SHA-256 of it (64 digits), so
   that the stored key does not give the state away. */
std::string oauth2_state_key(std::string_view state);

enum class OAuth2StateKind { Code, Device };

/* A consent in progress, bound to one user and one account. Its secret
   (the PKCE verifier, or the device code) is stored separately as an
   encrypted blob.

     {"v":1,"kind":"code","user":"u@example.org","account":"fm-abcdefgh",
      "provider":"google","remote-user":"bob@gmail.com",
      "redirect-uri":"https://panel/cb","created":1795405200,
      "expires":1795405800,"secret":"v1:1a2b3c4d:..."}

   Device states also hold "interval" and "next-poll" (unix seconds). */
struct OAuth2ConsentState {
	OAuth2StateKind kind = OAuth2StateKind::Code;
	std::string user;
	std::string account_id;
	std::string provider;
	std::string remote_user;
	std::string redirect_uri;   /* code */
	int64_t created = 0;
	int64_t expires = 0;
	int64_t interval = 0;       /* device */
	int64_t next_poll = 0;      /* device */
};

std::string oauth2_state_encode(const OAuth2ConsentState &state,
				std::string_view secret_blob);
/* -1 with error_r on anything malformed (wrong types, unknown kind,
   missing keys, newer version). */
int oauth2_state_decode(std::string_view json, OAuth2ConsentState &state_r,
			std::string &secret_blob_r, std::string &error_r);
/* Whether user may finish the consent now:
     another user          "state: unknown, expired or already used"
     now >= expires, or created in the future (more than 60 s)
                           "state: expired (consent must be finished within
                            10 minutes)" (device: "... before the code expires")
   0 when good. */
int oauth2_state_check(const OAuth2ConsentState &state, std::string_view user,
		       int64_t now, std::string &error_r);

/* ---------------------------------------------------------- device flow */

/* The polling policy of RFC 8628 3.5 for one device authorization. */
class OAuth2DevicePoll {
public:
	/* A device authorization received at now: the first poll is due
	   one interval later. */
	static OAuth2DevicePoll start(int64_t now, int64_t expires_in,
				      int64_t interval);
	/* The state kept between `oauth2 finish` calls (HTTP API). */
	static OAuth2DevicePoll resume(int64_t expires, int64_t interval,
				       int64_t next_poll);

	/* Whether the device code has expired at now. */
	bool expired(int64_t now) const { return now >= expires_; }
	/* When the next token request may be made. */
	int64_t next_poll() const { return next_poll_; }
	/* A poll was sent at now with this outcome: schedules the next one
	   (slow_down adds 5 seconds to the interval for good). Returns true
	   while polling should go on (Pending, SlowDown, Temporary). */
	bool polled(int64_t now, OAuth2Outcome outcome);

	int64_t expires() const { return expires_; }
	int64_t interval() const { return interval_; }

private:
	OAuth2DevicePoll(int64_t expires, int64_t interval, int64_t next_poll)
		: expires_(expires), interval_(interval), next_poll_(next_poll) {}

	int64_t expires_;
	int64_t interval_;
	int64_t next_poll_;
};

/* ------------------------------------------------------- stored tokens */

/* The OAuth2 state of one account: what the store keeps in
   fetchmail/tokens/<id>, the tokens encrypted (see fetchmail-store.hh):

     {"v":1,"refresh":"v1:...","access":"v1:...","access-issued":N,
      "access-expires":N,"consent-error":"","updated":N}

   Plaintext tokens live only in memory. */
struct OAuth2Tokens {
	std::string refresh_token;
	std::string access_token;
	int64_t access_issued = 0;
	int64_t access_expires = 0;
	/* set when the provider answered invalid_grant: why a new consent is
	   needed; the tokens are dropped at the same time */
	std::string consent_error;
	int64_t updated = 0;

	/* A refresh token is held and no consent is pending. */
	bool connected() const { return !refresh_token.empty() &&
					 consent_error.empty(); }
	/* The access token can be used at now (not within the margin). */
	bool access_usable(int64_t now) const;
};

/* The token record with the blobs made by the store. Record decoding
   leaves the plaintext fields empty and returns the blobs; "refresh"
   present means connected (for list/show, which never decrypt). */
std::string oauth2_tokens_encode(const OAuth2Tokens &tokens,
				 std::string_view refresh_blob,
				 std::string_view access_blob);
int oauth2_tokens_decode(std::string_view json, OAuth2Tokens &tokens_r,
			 std::string &refresh_blob_r,
			 std::string &access_blob_r, std::string &error_r);

/* A successful token response received at now: new access token and
   expiry, the rotated refresh token when there is one (the old one is
   kept otherwise), consent_error cleared. */
void oauth2_tokens_apply(OAuth2Tokens &tokens,
			 const OAuth2TokenResponse &response, int64_t now);
/* The provider answered invalid_grant: tokens dropped, reason kept. */
void oauth2_tokens_consent_needed(OAuth2Tokens &tokens,
				  std::string_view reason, int64_t now);

/* An OAuth2 account without consent (never given, or refused by the
   provider: invalid_grant) is held: not polled until consent is given
   (AccountStatus::held, see account_due_time()). */
void oauth2_status_hold(AccountStatus &status);
/* Consent was given: a held account is polled again, the first time at
   now; an account that was not held keeps its schedule. */
void oauth2_status_release(AccountStatus &status, int64_t now);

/* What list and show print in the oauth2 column:
     no record, or no refresh token and no error   "never connected"
     consent_error set                "consent needed: <consent_error>"
     refresh token (blob) held        "connected"
   has_refresh: the record holds a refresh token (blob or plaintext). */
std::string oauth2_consent_text(bool has_record, bool has_refresh,
				std::string_view consent_error);

} // namespace fetchmail

#endif
