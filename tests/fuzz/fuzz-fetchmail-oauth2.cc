/* libFuzzer target: what the OAuth2 core reads from token and device
   endpoints and from its own records (plugin/core/fetchmail-oauth2.hh).

   Input: byte 0 picks what is parsed (0 token response, 1 device
   authorization response, 2 consent state record, 3 token record);
   bytes 1-2 the HTTP status (100..599); byte 3 drives the device flow's
   polling (below); the rest is the body.

   The secrets a request carries (the refresh token, the client secret,
   a device code) are passed as the parsers' secrets; the fuzzer may put
   them anywhere in the body (the dictionary has them).

   Checked, besides no crash, overread or undefined behaviour:
   - token response: Ok only for a 2xx, with a non-empty visible-ASCII
     access token (and refresh token when there is one) of at most 16 KiB
     and expires_in in 1..one year; applied to the account's tokens
     (oauth2_tokens_apply) the new access token is usable right away, is
     replaced before it expires, and the refresh token is rotated exactly
     when a new one came. Any other outcome leaves the result untouched
     (a refused response changes nothing) and gives an error of one
     printable line of at most 400 bytes, without a secret and without
     any token or device code of the body (a value of at least 8 bytes
     that occurs once in the body and is in the error must still be
     there when the body's value is changed: it came from the parser's
     own words); ConsentNeeded stored as the tokens
     record (oauth2_tokens_consent_needed, then encode) holds no secret
     and no token at all.
   - device response: the same for its fields (device code 1..4096
     visible ASCII, user code 1..64, https verification URIs, expires_in
     1..86400, interval 1..3600); then the RFC 8628 polling policy
     driven by byte 3 (outcomes and poll times): polls are never due
     before the interval, slow_down adds 5 seconds up to an hour,
     polling stops at the first final outcome and once the code expired.
   - consent state and token records: a failed decode leaves its outputs
     untouched and gives a printable error; a decoded record encodes to a
     form that decodes to the same values and encodes to the same bytes
     (canonical); oauth2_state_check() refuses another user and every
     time at or after expiry; a token record never yields a plaintext
     token. */

#include "fuzz-common.hh"

#include "fetchmail-json.hh"
#include "fetchmail-oauth2.hh"

#include <json/json.h>

#include <string>
#include <vector>

using namespace fetchmail;

namespace {

const std::vector<std::string> secrets = { "1//R-SeCrEt-refresh",
					   "cl13nt-s3cret-XY",
					   "dev1ce-C0de-secret" };
const int64_t now = 1800000000;

bool visible_token(const std::string &t)
{
	if (t.empty() || t.size() > OAUTH2_MAX_TOKEN)
		return false;
	for (unsigned char c : t) {
		if (c <= 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

/* The string values of body's members named in keys (top level) that
   are long enough to be told apart and occur once in the body, with
   where they are. */
std::vector<std::pair<std::string, size_t>>
body_tokens(std::string_view body, const std::vector<const char *> &keys)
{
	std::vector<std::pair<std::string, size_t>> found;
	Json::Value root;
	std::string error;
	try {
		if (json_read_object(body, root, error) < 0)
			return found;
	} catch (const std::exception &) {
		return found;
	}
	for (const char *key : keys) {
		const Json::Value &v = root[key];
		if (!v.isString())
			continue;
		std::string s = v.asString();
		size_t first = body.find(s);
		if (s.size() >= 8 && first != body.npos &&
		    body.find(s, first + 1) == body.npos)
			found.emplace_back(s, first);
	}
	return found;
}

void check_error(const std::string &error)
{
	/* "malformed ...: " or "HTTP 503: " + code (64) + ": " + 256 + "..." */
	FUZZ_CHECK(!error.empty() && error.size() <= 400);
	FUZZ_CHECK(fuzz_printable(error));
	for (const std::string &s : secrets)
		FUZZ_CHECK(!fuzz_contains(error, s));
}

/* A token of the body is not in error: when error has the token's text,
   the same body with the token's letters and digits changed (same
   length, every byte of the same kind, so that the token is as valid or
   invalid as before) must give an error that still has it (it came from
   the parser's own words, not from the token). */
template <typename Parse>
void check_no_token(std::string_view body, const std::string &error,
		    const std::vector<const char *> &keys, Parse parse)
{
	for (const auto &[token, pos] : body_tokens(body, keys)) {
		if (!fuzz_contains(error, token))
			continue;
		std::string other(body);
		for (size_t i = pos; i < pos + token.size(); i++) {
			char &c = other[i];
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
				c = c == 'q' ? 'r' : 'q';
			else if (c >= '0' && c <= '9')
				c = c == '7' ? '8' : '7';
		}
		FUZZ_CHECK(fuzz_contains(parse(other), token));
	}
}

OAuth2Tokens stored_tokens()
{
	OAuth2Tokens t;
	t.refresh_token = secrets[0];
	t.access_token = "old-access-token";
	t.access_issued = now - 4000;
	t.access_expires = now - 400;
	t.updated = now - 4000;
	return t;
}

void fuzz_token(long status, std::string_view body)
{
	OAuth2TokenResponse r;
	r.access_token = "untouched";
	r.scope = "untouched";
	r.expires_in = 4242;
	std::string error;
	OAuth2Outcome o = oauth2_parse_token_response(status, body, secrets,
						      r, error);
	if (o != OAuth2Outcome::Ok) {
		FUZZ_CHECK(r.access_token == "untouched" && r.scope == "untouched" &&
			   r.refresh_token.empty() && r.expires_in == 4242);
		check_error(error);
		check_no_token(body, error, { "access_token", "refresh_token" },
			[status](std::string_view other) {
				OAuth2TokenResponse r2;
				std::string e;
				oauth2_parse_token_response(status, other,
							    secrets, r2, e);
				return e;
			});
		if (o != OAuth2Outcome::ConsentNeeded)
			return;
		/* what the refresh stores: the reason, no token */
		OAuth2Tokens t = stored_tokens();
		oauth2_tokens_consent_needed(t, error, now);
		FUZZ_CHECK(!t.connected());
		FUZZ_CHECK(t.refresh_token.empty() && t.access_token.empty());
		FUZZ_CHECK(!t.consent_error.empty());
		std::string record = oauth2_tokens_encode(t, "", "");
		FUZZ_CHECK(!record.empty());
		for (const std::string &s : secrets)
			FUZZ_CHECK(!fuzz_contains(record, s));
		return;
	}
	FUZZ_CHECK(status >= 200 && status < 300);
	FUZZ_CHECK(visible_token(r.access_token));
	FUZZ_CHECK(r.refresh_token.empty() || visible_token(r.refresh_token));
	FUZZ_CHECK(r.expires_in >= 1 && r.expires_in <= 31536000);

	OAuth2Tokens t = stored_tokens();
	t.consent_error = "earlier refusal";
	oauth2_tokens_apply(t, r, now);
	FUZZ_CHECK(t.access_token == r.access_token);
	FUZZ_CHECK(t.refresh_token == (r.refresh_token.empty() ? secrets[0] :
				       r.refresh_token));
	FUZZ_CHECK(t.consent_error.empty() && t.connected());
	FUZZ_CHECK(t.access_issued == now && t.updated == now &&
		   t.access_expires == now + r.expires_in);
	FUZZ_CHECK(t.access_usable(now));
	int64_t due = oauth2_refresh_due(t.access_issued, t.access_expires);
	FUZZ_CHECK(due > now && due <= t.access_expires);
	FUZZ_CHECK(!t.access_usable(t.access_expires));
}

/* RFC 8628 3.5 for a device authorization received at now. */
void fuzz_poll(const OAuth2DeviceAuthorization &d, uint8_t program)
{
	OAuth2DevicePoll poll = OAuth2DevicePoll::start(now, d.expires_in,
							d.interval);
	FUZZ_CHECK(poll.interval() == d.interval);
	FUZZ_CHECK(poll.next_poll() == now + d.interval);
	FUZZ_CHECK(poll.expires() == now + d.expires_in);
	int64_t t = now;
	static const OAuth2Outcome outcomes[] = {
		OAuth2Outcome::Pending, OAuth2Outcome::SlowDown,
		OAuth2Outcome::Temporary, OAuth2Outcome::Pending,
		OAuth2Outcome::Ok, OAuth2Outcome::Denied,
		OAuth2Outcome::Expired, OAuth2Outcome::ConsentNeeded,
	};
	uint32_t seed = program | 0x100u;
	for (int i = 0; i < 64; i++) {
		seed = seed * 1103515245u + 12345u;
		OAuth2Outcome o = outcomes[(seed >> 16) % 8];
		/* poll when due, sometimes later */
		t = std::max(t, poll.next_poll()) + ((seed >> 20) % 4) * 7;
		int64_t interval = poll.interval();
		bool go_on = poll.polled(t, o);
		bool polling = o == OAuth2Outcome::Pending ||
			o == OAuth2Outcome::SlowDown ||
			o == OAuth2Outcome::Temporary;
		FUZZ_CHECK(go_on == (polling && !poll.expired(t)));
		if (!polling)
			break;
		int64_t want = o == OAuth2Outcome::SlowDown ?
			std::min<int64_t>(interval + 5, 3600) : interval;
		FUZZ_CHECK(poll.interval() == want);
		FUZZ_CHECK(poll.next_poll() == t + want);
		if (!go_on)
			break;
	}
	/* a resumed poll (the HTTP API keeps it between calls) is the same */
	OAuth2DevicePoll back = OAuth2DevicePoll::resume(
		poll.expires(), poll.interval(), poll.next_poll());
	FUZZ_CHECK(back.expires() == poll.expires() &&
		   back.interval() == poll.interval() &&
		   back.next_poll() == poll.next_poll());
}

void fuzz_device(long status, std::string_view body, uint8_t program)
{
	OAuth2DeviceAuthorization d;
	d.device_code = "untouched";
	d.user_code = "untouched";
	std::string error;
	OAuth2Outcome o = oauth2_parse_device_response(status, body, secrets,
						       d, error);
	if (o != OAuth2Outcome::Ok) {
		FUZZ_CHECK(d.device_code == "untouched" &&
			   d.user_code == "untouched" &&
			   d.verification_uri.empty() && d.interval == 5);
		check_error(error);
		check_no_token(body, error, { "device_code" },
			[status](std::string_view other) {
				OAuth2DeviceAuthorization d2;
				std::string e;
				oauth2_parse_device_response(status, other,
							     secrets, d2, e);
				return e;
			});
		return;
	}
	FUZZ_CHECK(status >= 200 && status < 300);
	FUZZ_CHECK(visible_token(d.device_code) && d.device_code.size() <= 4096);
	FUZZ_CHECK(!d.user_code.empty() && d.user_code.size() <= 64 &&
		   fuzz_printable(d.user_code));
	FUZZ_CHECK(oauth2_https_url_valid(d.verification_uri));
	FUZZ_CHECK(d.verification_uri_complete.empty() ||
		   oauth2_https_url_valid(d.verification_uri_complete));
	FUZZ_CHECK(d.expires_in >= 1 && d.expires_in <= 86400);
	FUZZ_CHECK(d.interval >= 1 && d.interval <= 3600);
	fuzz_poll(d, program);
}

auto state_fields(const OAuth2ConsentState &s)
{
	return std::tie(s.kind, s.user, s.account_id, s.provider,
			s.remote_user, s.redirect_uri, s.created, s.expires,
			s.interval, s.next_poll);
}

void fuzz_state(std::string_view body)
{
	OAuth2ConsentState s, s2;
	s.user = "untouched";
	std::string blob = "untouched", blob2, error;
	if (oauth2_state_decode(body, s, blob, error) < 0) {
		FUZZ_CHECK(s.user == "untouched" && blob == "untouched");
		FUZZ_CHECK(!error.empty() && fuzz_printable(error));
		return;
	}
	/* encode keeps what its kind has: the redirect URI for code, the
	   polling times for device */
	if (s.kind == OAuth2StateKind::Code)
		s.interval = s.next_poll = 0;
	else
		s.redirect_uri.clear();
	std::string json = oauth2_state_encode(s, blob);
	FUZZ_CHECK(!json.empty());
	FUZZ_CHECK(oauth2_state_decode(json, s2, blob2, error) == 0);
	FUZZ_CHECK(state_fields(s2) == state_fields(s) && blob2 == blob);
	FUZZ_CHECK(oauth2_state_encode(s2, blob2) == json);

	FUZZ_CHECK(oauth2_state_check(s, s.user + "x", now, error) < 0);
	FUZZ_CHECK(oauth2_state_check(s, s.user, s.expires, error) < 0);
	if (s.expires < INT64_MAX)
		FUZZ_CHECK(oauth2_state_check(s, s.user, s.expires + 1, error) < 0);
	FUZZ_CHECK(fuzz_printable(error));
}

auto token_fields(const OAuth2Tokens &t)
{
	return std::tie(t.refresh_token, t.access_token, t.access_issued,
			t.access_expires, t.consent_error, t.updated);
}

void fuzz_tokens(std::string_view body)
{
	OAuth2Tokens t, t2;
	t.consent_error = "untouched";
	std::string refresh = "untouched", access, refresh2, access2, error;
	if (oauth2_tokens_decode(body, t, refresh, access, error) < 0) {
		FUZZ_CHECK(t.consent_error == "untouched" &&
			   refresh == "untouched");
		FUZZ_CHECK(!error.empty() && fuzz_printable(error));
		return;
	}
	FUZZ_CHECK(t.refresh_token.empty() && t.access_token.empty());
	/* the access times are kept with an access token only */
	if (access.empty())
		t.access_issued = t.access_expires = 0;
	std::string json = oauth2_tokens_encode(t, refresh, access);
	FUZZ_CHECK(!json.empty());
	FUZZ_CHECK(oauth2_tokens_decode(json, t2, refresh2, access2, error) == 0);
	FUZZ_CHECK(token_fields(t2) == token_fields(t) &&
		   refresh2 == refresh && access2 == access);
	FUZZ_CHECK(oauth2_tokens_encode(t2, refresh2, access2) == json);
	FUZZ_CHECK(oauth2_consent_text(true, !refresh.empty(), t.consent_error)
		   .size() > 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput in(data, size);
	uint8_t which = in.byte();
	uint8_t high = in.byte();
	long status = 100 + ((high << 8 | in.byte()) % 500);
	uint8_t program = in.byte();
	std::string_view body = in.rest();

	switch (which % 4) {
	case 0: fuzz_token(status, body); break;
	case 1: fuzz_device(status, body, program); break;
	case 2: fuzz_state(body); break;
	default: fuzz_tokens(body); break;
	}
	return 0;
}
