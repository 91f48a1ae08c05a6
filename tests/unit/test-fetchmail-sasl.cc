/* Unit tests for fetchmail-sasl: mechanism names, client responses
   (known base64 vectors), abort responses, secret redaction. */

#include "fetchmail-sasl.hh"
#include "fetchmail-crypto.hh"
#include "test-common.hh"

#include <vector>

using namespace fetchmail;

static void test_mech_parse(void **)
{
	const struct {
		const char *name;
		bool ok;
		SaslMech mech;
		bool initial;
	} cases[] = {
		{ "PLAIN", true, SaslMech::Plain, true },
		{ "LOGIN", true, SaslMech::Login, false },
		{ "XOAUTH2", true, SaslMech::XOAuth2, true },
		{ "OAUTHBEARER", true, SaslMech::OAuthBearer, true },
		{ "plain", false, SaslMech::Plain, false },
		{ "CRAM-MD5", false, SaslMech::Plain, false },
		{ "SCRAM-SHA-256", false, SaslMech::Plain, false },
		{ "", false, SaslMech::Plain, false },
		{ "PLAIN ", false, SaslMech::Plain, false },
	};
	for (const auto &c : cases) {
		SaslMech mech = SaslMech::Plain;
		if (sasl_mech_parse(c.name, mech) != c.ok)
			fail_msg("sasl_mech_parse(%s) != %d", c.name, c.ok);
		if (!c.ok)
			continue;
		assert_true(mech == c.mech);
		assert_int_equal(sasl_has_initial_response(mech), c.initial);
	}
}

static void test_responses(void **)
{
	const struct {
		SaslMech mech;
		std::string user, pass;
		std::vector<std::string> responses;
	} cases[] = {
		/* "\0user\0pass" */
		{ SaslMech::Plain, "user", "pass", { "AHVzZXIAcGFzcw==" } },
		{ SaslMech::Plain, "", "", { "AAA=" } },
		/* UTF-8 as is: "\0bub\0pass" with u-umlaut and a-umlaut */
		{ SaslMech::Plain, "b\xc3\xbc" "b", "p\xc3\xa4ss",
		  { "AGLDvGIAcMOkc3M=" } },
		{ SaslMech::Login, "user", "pass", { "dXNlcg==", "cGFzcw==" } },
		{ SaslMech::Login, "", "pass", { "", "cGFzcw==" } },
		/* "user=bob@example.com\1auth=Bearer ya29.token\1\1" */
		{ SaslMech::XOAuth2, "bob@example.com", "ya29.token",
		  { "dXNlcj1ib2JAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgeWEyOS50b2tlbgEB" } },
		/* "n,a=bob@example.com,\1auth=Bearer ya29.token\1\1" */
		{ SaslMech::OAuthBearer, "bob@example.com", "ya29.token",
		  { "bixhPWJvYkBleGFtcGxlLmNvbSwBYXV0aD1CZWFyZXIgeWEyOS50b2tlbgEB" } },
		/* saslname: "n,a=a=2Cb=3Dc,\1auth=Bearer t\1\1" */
		{ SaslMech::OAuthBearer, "a,b=c", "t",
		  { "bixhPWE9MkNiPTNEYywBYXV0aD1CZWFyZXIgdAEB" } },
	};
	for (const auto &c : cases) {
		std::vector<std::string> got =
			sasl_responses(c.mech, c.user, c.pass);
		assert_int_equal(got.size(), c.responses.size());
		for (size_t i = 0; i < got.size(); i++)
			assert_str(got[i], c.responses[i]);
	}

	/* the decoded PLAIN response, byte for byte */
	std::string raw;
	assert_int_equal(base64_decode(sasl_responses(SaslMech::Plain, "user",
						      "pass")[0], raw), 0);
	assert_int_equal(raw.size(), 10);
	assert_memory_equal(raw.data(), "\0user\0pass", 10);
}

static void test_abort_response(void **)
{
	assert_str(sasl_abort_response(SaslMech::Plain), "*");
	assert_str(sasl_abort_response(SaslMech::Login), "*");
	assert_str(sasl_abort_response(SaslMech::XOAuth2), "");
	assert_str(sasl_abort_response(SaslMech::OAuthBearer), "AQ==");
}

static void test_client(void **)
{
	Redactor redactor;
	SaslClient sasl;
	bool secret;

	assert_false(sasl.start("CRAM-MD5", "bob", "pw-secret", redactor));
	assert_true(redactor.empty());

	/* PLAIN: the initial response, then the abort, then cancels */
	assert_true(sasl.start("PLAIN", "bob", "pw-secret", redactor));
	std::string first = sasl.initial_response();
	assert_str(first, base64_encode(std::string("\0bob\0pw-secret", 14)));
	assert_str(redactor.redacted("x " + first + " pw-secret"), "x *** ***");
	sasl.take_initial_response();
	assert_str(sasl.initial_response(), "");
	assert_str(sasl.answer(secret), "*");
	assert_false(secret);
	assert_str(sasl.answer(secret), "*");
	assert_false(secret);

	/* without the initial response on the command line: it answers the
	   first challenge */
	assert_true(sasl.start("XOAUTH2", "bob", "tok-secret", redactor));
	std::string response = sasl.answer(secret);
	assert_true(secret);
	assert_str(response, sasl_responses(SaslMech::XOAuth2, "bob",
					    "tok-secret")[0]);
	assert_str(sasl.answer(secret), "");      /* XOAUTH2's abort */
	assert_false(secret);
	assert_str(sasl.answer(secret), "*");

	/* LOGIN has no initial response: user, then password */
	assert_true(sasl.start("LOGIN", "bob", "pw-secret", redactor));
	assert_str(sasl.initial_response(), "");
	assert_str(sasl.answer(secret), base64_encode("bob"));
	assert_str(sasl.answer(secret), base64_encode("pw-secret"));
	assert_true(secret);
	assert_str(sasl.answer(secret), "*");
	assert_int_equal(sasl.mech(), SaslMech::Login);
	assert_str(sasl.name(), "LOGIN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mech_parse),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_abort_response),
		cmocka_unit_test(test_client),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
