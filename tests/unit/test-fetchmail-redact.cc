/* Unit tests for the one redaction rule (fetchmail-redact): secrets in
   every form, sanitizing and bounding server text. */

#include "fetchmail-redact.hh"
#include "fetchmail-crypto.hh"

#include "test-common.hh"

#include <vector>

using namespace fetchmail;

static void test_forms(void **)
{
	static const struct {
		const char *text;
		std::vector<std::string> secrets;
		const char *redacted;
	} cases[] = {
		{ "PASS hunter2secret", { "hunter2secret" }, "PASS ***" },
		{ "x pw y pw", { "pw" }, "x *** y ***" },
		{ "an empty secret", { "" }, "an empty secret" },
		{ "nothing", {}, "nothing" },
		/* the longer form first, whatever the order of registration */
		{ "secret-token", { "secret", "secret-token" }, "***" },
		/* "***" put in is not searched again */
		{ "a*b", { "*" }, "a***b" },
		{ "***", { "**" }, "****" },
		{ "aaaa", { "aa" }, "******" },
	};
	for (const auto &c : cases) {
		Redactor r;
		for (const std::string &secret : c.secrets)
			r.add_exact(secret);
		assert_str(r.redacted(c.text), c.redacted);
	}
}

/* A server that echoes the password base64-encoded, in every alignment
   (issue: the base64 of the password landed in last-error). */
static void test_base64(void **)
{
	const std::string secret = "hunter2secret";
	Redactor r;
	r.add_secret(secret);

	const std::string prefixes[] = { "", std::string("\0", 1),
					 std::string("\0b", 2),
					 std::string("\0bob\0", 5),
					 "user=bob\001auth=Bearer " };
	for (const std::string &prefix : prefixes) {
		for (const std::string &suffix : { std::string(), std::string("\001\001") }) {
			std::string b64 = base64_encode(prefix + secret + suffix);
			std::string red = r.server_text("-ERR [AUTH] " + b64 +
							" rejected");
			assert_non_null(strstr(red.c_str(), "***"));
			assert_null(strstr(red.c_str(), b64.c_str()));
			std::string rest = red.substr(strlen("-ERR [AUTH] "));
			rest = rest.substr(0, rest.find(' '));
			std::string decoded;
			if (base64_decode(rest, decoded) == 0)
				assert_null(strstr(decoded.c_str(), "hunter2"));
		}
	}
	/* short secrets: only the plain text */
	Redactor short_secret;
	short_secret.add_secret("abc");
	assert_str(short_secret.redacted("xabcx YWJj"), "x***x YWJj");
}

static void test_server_text(void **)
{
	Redactor r;
	r.add_secret("pw\tsecret");

	/* secrets out before control characters are replaced */
	assert_str(r.server_text("-ERR pw\tsecret\r\x1b[31m"), "-ERR ***??[31m");
	/* bounded */
	std::string long_text(2000, 'x');
	std::string s = r.server_text(long_text, 100);
	assert_int_equal(s.size(), 103);
	assert_str(s.substr(100), "...");
	/* sanitizing can make a secret appear: it is redacted then */
	Redactor q;
	q.add_secret("a?b?c?d?e");
	assert_str(q.server_text("a\x01" "b\x02" "c\x03" "d\x04" "e"), "***");
	/* a secret that redaction itself cannot hide drops the text */
	Redactor stars;
	stars.add_secret("**");
	assert_str(stars.server_text("x ** y"), "");
	/* 8-bit bytes pass */
	assert_str(sanitize_server_text("K\xc3\xa4se\x7f"), "K\xc3\xa4se?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_server_text),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
