/* Unit tests for fetchmail-record: account and status JSON records. */

#include "fetchmail-record.hh"
#include "test-common.hh"

using namespace fetchmail;

static const char BLOB[] = "v1:630dcd29:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

static void test_account_round_trip(void **)
{
	Account a;
	std::string error;
	a.id = "fm-abcdefgh";
	const char *fields[][2] = {
		{ "host", "imap.example.org" }, { "port", "10993" },
		{ "protocol", "imap" }, { "remote-user", "bob@example.org" },
		{ "password", "plaintext-secret" }, { "tls", "starttls" },
		{ "tls-verify", "no" }, { "keep", "no" },
		{ "folders", "INBOX,Sent Items,Ünïcode" },
		{ "mailbox", "Remote/Bob" }, { "max-size", "10M" },
		{ "active", "no" },
	};
	for (const auto &f : fields)
		assert_int_equal(account_set_field(a, f[0], f[1], error), 0);

	std::string json = account_record_encode(a, BLOB);
	assert_null(strstr(json.c_str(), "plaintext-secret"));
	assert_non_null(strstr(json.c_str(), BLOB));
	assert_non_null(strstr(json.c_str(), "\"v\":1"));
	assert_null(strchr(json.c_str(), '\n'));

	Account b;
	b.password = "stale";
	std::string blob;
	assert_int_equal(account_record_decode(json, b, blob, error), 0);
	assert_str(blob, BLOB);
	assert_str(b.id, "fm-abcdefgh");
	assert_str(b.host, "imap.example.org");
	assert_int_equal(b.port, 10993);
	assert_true(b.protocol == Protocol::Imap);
	assert_true(b.protocol_set);
	assert_str(b.remote_user, "bob@example.org");
	assert_str(b.password, "");
	assert_true(b.tls == TlsMode::StartTls);
	assert_false(b.tls_verify);
	assert_false(b.keep);
	assert_int_equal(b.folders.size(), 3);
	assert_str(b.folders[1], "Sent Items");
	assert_str(b.folders[2], "Ünïcode");
	assert_str(b.mailbox, "Remote/Bob");
	assert_int_equal(b.max_size, 10 * 1024 * 1024);
	assert_false(b.active);

	/* encoding is stable */
	assert_str(account_record_encode(b, blob), json);
}

static void test_account_oauth2(void **)
{
	Account a;
	std::string error;
	a.id = "fm-oauth2ab";
	const char *fields[][2] = {
		{ "host", "imap.gmail.com" }, { "protocol", "imap" },
		{ "remote-user", "bob@gmail.com" }, { "auth", "oauth2" },
		{ "oauth2-provider", "google" },
	};
	for (const auto &f : fields)
		assert_int_equal(account_set_field(a, f[0], f[1], error), 0);
	assert_int_equal(account_validate(a, error), 0);

	/* v2, with auth and provider, without a password */
	std::string json = account_record_encode(a, "");
	assert_str(json, "{\"active\":true,\"auth\":\"oauth2\",\"folders\":[\"INBOX\"],"
		   "\"host\":\"imap.gmail.com\",\"id\":\"fm-oauth2ab\",\"keep\":true,"
		   "\"mailbox\":\"INBOX\",\"max-size\":0,\"oauth2-provider\":\"google\","
		   "\"port\":0,\"protocol\":\"imap\",\"remote-user\":\"bob@gmail.com\",\"rev\":0,"
		   "\"tls\":\"implicit\",\"tls-verify\":true,\"v\":2}");
	Account b;
	std::string blob = "stale";
	assert_int_equal(account_record_decode(json, b, blob, error), 0);
	assert_true(b.auth == AuthMethod::OAuth2);
	assert_str(b.oauth2_provider, "google");
	assert_str(blob, "");
	assert_str(account_record_encode(b, ""), json);

	/* a password account stays a v1 record that older builds read */
	Account p;
	p.id = "fm-passwd12";
	for (const auto &f : fields) {
		if (strcmp(f[0], "auth") != 0 && strcmp(f[0], "oauth2-provider") != 0)
			assert_int_equal(account_set_field(p, f[0], f[1], error), 0);
	}
	json = account_record_encode(p, BLOB);
	assert_non_null(strstr(json.c_str(), "\"v\":1"));
	assert_null(strstr(json.c_str(), "auth"));
	assert_null(strstr(json.c_str(), "oauth2"));
	assert_int_equal(account_record_decode(json, b, blob, error), 0);
	assert_true(b.auth == AuthMethod::Password);
	assert_str(blob, BLOB);
}

static void test_account_defaults(void **)
{
	const char *json = "{\"v\":1,\"id\":\"fm-x\",\"host\":\"pop.example.com\","
		"\"protocol\":\"pop3\",\"remote-user\":\"bob\",\"password\":\"v1:x\"}";
	Account a;
	a.keep = false;
	a.max_size = 5;
	std::string blob, error;
	assert_int_equal(account_record_decode(json, a, blob, error), 0);
	assert_str(a.id, "fm-x");
	assert_int_equal(a.port, 0);
	assert_int_equal(a.effective_port(), 995);
	assert_true(a.protocol == Protocol::Pop3);
	assert_true(a.tls == TlsMode::Implicit);
	assert_true(a.tls_verify);
	assert_true(a.keep);
	assert_true(a.active);
	assert_int_equal(a.folders.size(), 1);
	assert_str(a.folders[0], "INBOX");
	assert_str(a.mailbox, "INBOX");
	assert_int_equal(a.max_size, 0);
	assert_str(blob, "v1:x");
	a.password = "x";
	assert_int_equal(account_validate(a, error), 0);

	/* unknown keys are ignored */
	const char *extra = "{\"v\":1,\"id\":\"fm-x\",\"host\":\"h\",\"protocol\":\"imap\","
		"\"remote-user\":\"u\",\"password\":\"v1:x\",\"future\":[1,2]}";
	assert_int_equal(account_record_decode(extra, a, blob, error), 0);
	assert_true(a.protocol == Protocol::Imap);
}

static void test_account_v0_upgrade(void **)
{
	/* v0: no "v", keys with '_' */
	const char *json = "{\"id\":\"fm-old\",\"host\":\"pop.example.com\","
		"\"protocol\":\"pop3\",\"remote_user\":\"bob\",\"password\":\"v1:x\","
		"\"tls_verify\":false,\"max_size\":2048}";
	Account a;
	std::string blob, error;
	assert_int_equal(account_record_decode(json, a, blob, error), 0);
	assert_str(a.remote_user, "bob");
	assert_false(a.tls_verify);
	assert_int_equal(a.max_size, 2048);
	/* re-encoded as v1 with '-' keys */
	std::string out = account_record_encode(a, blob);
	assert_non_null(strstr(out.c_str(), "\"v\":1"));
	assert_non_null(strstr(out.c_str(), "\"remote-user\":\"bob\""));
	assert_null(strstr(out.c_str(), "remote_user"));

	/* a v1 record does not get the v0 renames */
	const char *v1 = "{\"v\":1,\"id\":\"fm-x\",\"host\":\"h\",\"protocol\":\"pop3\","
		"\"remote_user\":\"bob\",\"password\":\"v1:x\"}";
	assert_int_equal(account_record_decode(v1, a, blob, error), -1);
	assert_str(error, "remote-user: missing");
}

struct BadRecord {
	const char *json;
	const char *error_prefix;
};

static void test_account_bad(void **)
{
#define REST "\"id\":\"fm-x\",\"host\":\"h.example\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"password\":\"v1:x\""
	const BadRecord cases[] = {
		{ "", "record is not valid JSON" },
		{ "{", "record is not valid JSON" },
		{ "{\"v\":1,}", "record is not valid JSON" },
		{ "{\"v\":1} x", "record is not valid JSON" },
		{ "{\"v\":1,\"v\":1}", "record is not valid JSON" },
		{ "{'v':1}", "record is not valid JSON" },
		{ "[]", "record is not a JSON object" },
		{ "null", "record is not valid JSON" },
		{ "{\"v\":7," REST "}", "record version 7 is newer than this plugin supports" },
		{ "{\"v\":\"1\"," REST "}", "record version: expected" },
		{ "{\"v\":-1," REST "}", "record version: expected" },
		{ "{\"v\":1,\"port\":\"995\"," REST "}", "port: expected a number" },
		{ "{\"v\":1,\"port\":-1," REST "}", "port: expected a number" },
		{ "{\"v\":1,\"port\":70000," REST "}", "port: must be a number from 1 to 65535" },
		{ "{\"v\":1,\"keep\":\"yes\"," REST "}", "keep: expected true or false" },
		{ "{\"v\":1,\"active\":1," REST "}", "active: expected true or false" },
		{ "{\"v\":1,\"folders\":\"INBOX\"," REST "}", "folders: expected a list of strings" },
		{ "{\"v\":1,\"folders\":[1]," REST "}", "folders: expected a list of strings" },
		{ "{\"v\":1,\"folders\":[]," REST "}", "folders:" },
		{ "{\"v\":1,\"max-size\":\"1k\"," REST "}", "max-size: expected a number" },
		{ "{\"v\":1,\"max-size\":-5," REST "}", "max-size: expected a number" },
		{ "{\"v\":1,\"tls\":\"ssl\"," REST "}", "tls: must be implicit, starttls or none" },
		{ "{\"v\":1,\"mailbox\":\"\"," REST "}", "mailbox: must not be empty" },
		{ "{\"v\":1,\"id\":\"fm-x\",\"host\":\"a b\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"password\":\"v1:x\"}", "host: must not contain spaces" },
		{ "{\"v\":1,\"id\":\"fm-x\",\"host\":5,\"protocol\":\"pop3\",\"remote-user\":\"u\",\"password\":\"v1:x\"}", "host: expected a string" },
		{ "{\"v\":1,\"id\":\"fm-x\",\"host\":\"h\",\"protocol\":\"smtp\",\"remote-user\":\"u\",\"password\":\"v1:x\"}", "protocol: must be pop3 or imap" },
		{ "{\"v\":1,\"id\":\"FM X\",\"host\":\"h\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"password\":\"v1:x\"}", "id: not a valid account id" },
		{ "{\"v\":1,\"id\":7,\"host\":\"h\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"password\":\"v1:x\"}", "id: expected a string" },
		{ "{\"v\":1,\"host\":\"h\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"password\":\"v1:x\"}", "id: missing" },
		{ "{\"v\":1,\"id\":\"fm-x\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"password\":\"v1:x\"}", "host: missing" },
		{ "{\"v\":1,\"id\":\"fm-x\",\"host\":\"h\",\"remote-user\":\"u\",\"password\":\"v1:x\"}", "protocol: missing" },
		{ "{\"v\":1,\"id\":\"fm-x\",\"host\":\"h\",\"protocol\":\"pop3\",\"password\":\"v1:x\"}", "remote-user: missing" },
		{ "{\"v\":1,\"id\":\"fm-x\",\"host\":\"h\",\"protocol\":\"pop3\",\"remote-user\":\"u\"}", "password: missing" },
		{ "{\"v\":1,\"id\":\"fm-x\",\"host\":\"h\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"password\":\"\"}", "password: missing" },
		{ "{\"v\":1,\"id\":\"fm-x\",\"host\":\"h\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"password\":[]}", "password: expected a string" },
		{ "{\"v\":3," REST "}", "record version 3 is newer than this plugin supports" },
		{ "{\"v\":2,\"auth\":\"oauth2\"," REST ",\"oauth2-provider\":\"google\"}", "password: not used with auth oauth2" },
		{ "{\"v\":2,\"id\":\"fm-x\",\"host\":\"h\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"auth\":\"oauth2\"}", "oauth2-provider: missing" },
		{ "{\"v\":2,\"id\":\"fm-x\",\"host\":\"h\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"auth\":\"oauth2\",\"oauth2-provider\":\"\"}", "oauth2-provider: missing" },
		{ "{\"v\":2,\"id\":\"fm-x\",\"host\":\"h\",\"protocol\":\"pop3\",\"remote-user\":\"u\",\"auth\":\"oauth2\",\"oauth2-provider\":\"Bad!\"}", "oauth2-provider: must be a provider name" },
		{ "{\"v\":2,\"auth\":\"kerberos\"," REST "}", "auth: must be password or oauth2" },
		{ "{\"v\":2,\"auth\":1," REST "}", "auth: expected a string" },
		{ "{\"v\":2,\"oauth2-provider\":\"google\"," REST "}", "oauth2-provider: only with auth oauth2" },
	};
#undef REST
	for (const auto &c : cases) {
		Account a;
		a.host = "untouched";
		std::string blob = "untouched", error;
		if (account_record_decode(c.json, a, blob, error) != -1)
			fail_msg("accepted: %s", c.json);
		assert_prefix(error, c.error_prefix);
		assert_null(strchr(error.c_str(), '\n'));
		assert_str(a.host, "untouched");
		assert_str(blob, "untouched");
	}

	Account a;
	std::string blob, error;
	assert_int_equal(account_record_decode("{\"v\":1,}", a, blob, error), -1);
	assert_str(error, "record is not valid JSON: line 1, column 8: "
		   "Missing '}' or object member name");
}

/* The failure episode's keys: written only while set, so that a healthy
   account's record stays what earlier builds wrote and read. */
static void test_status_episode(void **)
{
	AccountStatus s;
	std::string error;
	s.last_run = 1795318800;
	s.last_status = RunStatus::Ok;
	s.next_run = 1795319100;
	const std::string healthy = status_record_encode(s);
	assert_str(healthy, "{\"failures\":0,\"last-error\":\"\","
		   "\"last-fetched\":0,\"last-run\":1795318800,"
		   "\"last-status\":\"ok\",\"next-run\":1795319100,"
		   "\"v\":1}");

	s.last_status = RunStatus::Error;
	s.failures = 4;
	s.failing_since = 1795232400;
	std::string json = status_record_encode(s);
	assert_true(json.find("\"failing-since\":1795232400") !=
		    std::string::npos);
	assert_true(json.find("notified") == std::string::npos);
	AccountStatus t;
	assert_int_equal(status_record_decode(json, t, error), 0);
	assert_int_equal(t.failing_since, 1795232400);
	assert_false(t.notified);

	s.notified = true;
	s.held = true;
	json = status_record_encode(s);
	assert_true(json.find("\"notified\":true") != std::string::npos);
	AccountStatus u;
	assert_int_equal(status_record_decode(json, u, error), 0);
	assert_int_equal(u.failing_since, 1795232400);
	assert_true(u.notified);
	assert_true(u.held);
	assert_str(status_record_encode(u), json);

	/* a record of an earlier build: no episode keys */
	AccountStatus old;
	old.failing_since = 7;
	old.notified = true;
	assert_int_equal(status_record_decode(
		"{\"v\":1,\"last-run\":1795318800,\"last-status\":\"error\","
		"\"last-error\":\"x\",\"failures\":2}", old, error), 0);
	assert_int_equal(old.failures, 2);
	assert_int_equal(old.failing_since, 0);
	assert_false(old.notified);
}

static void test_status(void **)
{
	AccountStatus s;
	s.last_run = 1795318800;
	s.last_status = RunStatus::Error;
	s.last_error = "pop.example.com: -ERR [AUTH] invalid \"login\"";
	s.last_fetched = 12345678901ULL;
	s.next_run = -5;
	s.failures = 3;
	std::string json = status_record_encode(s);

	AccountStatus t;
	std::string error;
	assert_int_equal(status_record_decode(json, t, error), 0);
	assert_int_equal(t.last_run, 1795318800);
	assert_true(t.last_status == RunStatus::Error);
	assert_str(t.last_error, s.last_error);
	assert_true(t.last_fetched == 12345678901ULL);
	assert_int_equal(t.next_run, -5);
	assert_int_equal(t.failures, 3);
	assert_str(status_record_encode(t), json);

	/* all optional */
	AccountStatus u;
	u.failures = 9;
	u.failing_since = 5;
	u.notified = true;
	assert_int_equal(status_record_decode("{}", u, error), 0);
	assert_int_equal(u.failures, 0);
	assert_true(u.last_status == RunStatus::Never);
	assert_int_equal(u.failing_since, 0);
	assert_false(u.notified);

	const BadRecord cases[] = {
		{ "", "record is not valid JSON" },
		{ "[1]", "record is not a JSON object" },
		{ "{\"v\":2}", "record version 2 is newer than this plugin supports" },
		{ "{\"last-status\":\"fine\"}", "last-status: must be" },
		{ "{\"last-status\":1}", "last-status: expected a string" },
		{ "{\"last-run\":\"today\"}", "last-run: expected a number" },
		{ "{\"last-error\":false}", "last-error: expected a string" },
		{ "{\"last-fetched\":-1}", "last-fetched: expected a number" },
		{ "{\"next-run\":1.5}", "next-run: expected a number" },
		{ "{\"failures\":-1}", "failures: expected a number" },
		{ "{\"failing-since\":\"1\"}", "failing-since: expected a number" },
		{ "{\"notified\":1}", "notified: expected true or false" },
		{ "{\"held\":\"yes\"}", "held: expected true or false" },
	};
	for (const auto &c : cases) {
		AccountStatus v;
		v.failures = 7;
		if (status_record_decode(c.json, v, error) != -1)
			fail_msg("accepted: %s", c.json);
		assert_prefix(error, c.error_prefix);
		assert_int_equal(v.failures, 7);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_account_round_trip),
		cmocka_unit_test(test_account_oauth2),
		cmocka_unit_test(test_account_defaults),
		cmocka_unit_test(test_account_v0_upgrade),
		cmocka_unit_test(test_account_bad),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_episode),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
