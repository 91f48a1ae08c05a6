/* libFuzzer entry point for the OAuth2 response parsers
   (plugin/core/fetchmail-oauth2). Not part of the CMake build. Build and
   run by hand with clang:

     clang++ -std=gnu++20 -g -O1 -fsanitize=fuzzer,address,undefined \
       -I plugin/core -I /usr/include/jsoncpp plugin/core/fetchmail-oauth2.cc \
       plugin/core/fetchmail-account.cc plugin/core/fetchmail-json.cc \
       plugin/core/fetchmail-redact.cc plugin/core/fetchmail-strings.cc \
       plugin/core/fetchmail-sasl.cc plugin/core/fetchmail-crypto.cc \
       tests/fuzz/fuzz-fetchmail-oauth2.cc \
       -ljsoncpp -lcrypto -o /tmp/fuzz-oauth2
     mkdir -p /tmp/fuzz-oauth2-corpus
     /tmp/fuzz-oauth2 -max_total_time=60 -max_len=70000 /tmp/fuzz-oauth2-corpus

   (Any compiler can build a replay binary: add -DFUZZ_STANDALONE and drop
   -fsanitize=fuzzer; it runs the files given as arguments.)

   Input: byte 0 picks the parser (token response, device authorization
   response, consent state record, token record), bytes 1-2 the HTTP
   status (100..599), the rest is the body as a token endpoint would send
   it. Checked: no crash or overread (ASan); on Ok every token is
   non-empty, bounded and visible ASCII and the times are in range; every
   error text is one bounded line of printable characters that never
   contains a secret the request carried (the fuzzer may put those bytes
   anywhere in the body, also into error_description). */

#include "fetchmail-oauth2.hh"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace fetchmail;

namespace {

const std::vector<std::string> secrets = { "1//R-SeCrEt", "cl13nt-s3cret" };

void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "invariant failed: %s\n", what);
		abort();
	}
}

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

void check_error(const std::string &error)
{
	/* "malformed ...: " or "HTTP 503: " + code (64) + ": " + 256 + "..." */
	check(error.size() <= 400, "error text bounded");
	for (unsigned char c : error)
		check(c >= 0x20 && c != 0x7f, "error text printable");
	for (const std::string &s : secrets)
		check(error.find(s) == std::string::npos, "no secret in errors");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	long status = 100 + ((data[1] << 8 | data[2]) % 500);
	std::string_view body((const char *)data + 3, size - 3);
	std::string error, blob, blob2;

	switch (data[0] % 4) {
	case 0: {
		OAuth2TokenResponse t;
		OAuth2Outcome o = oauth2_parse_token_response(status, body,
							      secrets, t, error);
		if (o == OAuth2Outcome::Ok) {
			check(status >= 200 && status < 300, "Ok only for 2xx");
			check(visible_token(t.access_token), "access token");
			check(t.refresh_token.empty() ||
			      visible_token(t.refresh_token), "refresh token");
			check(t.expires_in >= 1 && t.expires_in <= 31536000,
			      "expires_in in range");
		} else {
			check(t.access_token.empty(), "no token on failure");
			check_error(error);
		}
		break;
	}
	case 1: {
		OAuth2DeviceAuthorization d;
		OAuth2Outcome o = oauth2_parse_device_response(status, body,
							       secrets, d, error);
		if (o == OAuth2Outcome::Ok) {
			check(!d.device_code.empty() && d.device_code.size() <= 4096,
			      "device code");
			check(!d.user_code.empty() && d.user_code.size() <= 64,
			      "user code");
			check(oauth2_https_url_valid(d.verification_uri),
			      "verification uri");
			check(d.expires_in >= 1 && d.expires_in <= 86400,
			      "expires_in in range");
			check(d.interval >= 1 && d.interval <= 3600,
			      "interval in range");
		} else {
			check_error(error);
		}
		break;
	}
	case 2: {
		OAuth2ConsentState s;
		if (oauth2_state_decode(body, s, blob, error) == 0) {
			/* what decodes, encodes and decodes the same */
			OAuth2ConsentState s2;
			check(oauth2_state_decode(oauth2_state_encode(s, blob),
						  s2, blob2, error) == 0,
			      "state round trip");
			check(s2.user == s.user && s2.expires == s.expires &&
			      blob2 == blob, "state round trip values");
		}
		break;
	}
	case 3: {
		OAuth2Tokens t;
		if (oauth2_tokens_decode(body, t, blob, blob2, error) == 0)
			check(t.refresh_token.empty() && t.access_token.empty(),
			      "no plaintext from a record");
		break;
	}
	}
	return 0;
}

#ifdef FUZZ_STANDALONE
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (f == nullptr) {
			perror(argv[i]);
			return 1;
		}
		std::string buf;
		char chunk[4096];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf.append(chunk, n);
		fclose(f);
		LLVMFuzzerTestOneInput((const uint8_t *)buf.data(), buf.size());
	}
	return 0;
}
#endif
