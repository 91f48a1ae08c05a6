/* Unit tests for fetchmail-account: field parsing and validation, whole
   record checks, formatting, ids. */

#include "fetchmail-account.hh"
#include "test-common.hh"

using namespace fetchmail;

struct BadCase {
	const char *field;
	std::string value;
	const char *error_prefix;
};

static void test_bad_values(void **)
{
	const BadCase cases[] = {
		{ "protocol", "smtp", "protocol: must be pop3 or imap" },
		{ "protocol", "", "protocol:" },
		{ "port", "0", "port: must be a number from 1 to 65535 (got '0')" },
		{ "port", "70000", "port: must be a number from 1 to 65535 (got '70000')" },
		{ "port", "abc", "port: must be a number from 1 to 65535 (got 'abc')" },
		{ "port", "", "port:" },
		{ "port", "-1", "port:" },
		{ "port", "+80", "port:" },
		{ "port", " 80", "port:" },
		{ "port", "99999999999999999999999", "port:" },
		{ "host", "mail example.com", "host: must not contain spaces or control characters" },
		{ "host", "mail\r.example.com", "host: must not contain spaces or control characters" },
		{ "host", "mail\n.example.com", "host: must not contain spaces or control characters" },
		{ "host", std::string("mail\0.example.com", 17), "host: must not contain spaces or control characters" },
		{ "host", std::string(254, 'a'), "host: longer than 253 bytes" },
		{ "host", "", "host: must not be empty" },
		{ "host", "-bad.example.com", "host:" },
		{ "host", "bad..example.com", "host:" },
		{ "host", "bad/example.com", "host:" },
		{ "host", "999.1.1.1", "host: not a valid IPv4 address" },
		{ "host", "[192.0.2.1]", "host: not a valid IPv6 address" },
		{ "host", "[::1", "host:" },
		{ "host", "::g", "host: not a valid IPv6 address" },
		{ "host", std::string(64, 'a') + ".example.com", "host:" },
		{ "remote-user", "", "remote-user: must not be empty" },
		{ "remote-user", "bob\r", "remote-user: must not contain control characters" },
		{ "remote-user", "bob\x1b[31m", "remote-user: must not contain control characters" },
		{ "remote-user", "bob\tx", "remote-user: must not contain control characters" },
		{ "remote-user", "bob\nx", "remote-user:" },
		{ "remote-user", std::string("b\0b", 3), "remote-user:" },
		{ "remote-user", std::string(257, 'u'), "remote-user: longer than 256 bytes" },
		{ "password", "", "password: must not be empty" },
		{ "password", "topsecret\rvalue", "password: must not contain CR, LF or NUL" },
		{ "password", "topsecret\nvalue", "password: must not contain CR, LF or NUL" },
		{ "password", std::string("topsecret\0value", 15), "password:" },
		{ "password", std::string(1025, 'p'), "password: longer than 1024 bytes" },
		{ "tls", "ssl", "tls: must be implicit, starttls or none (got 'ssl')" },
		{ "tls", "", "tls:" },
		{ "tls-verify", "maybe", "tls-verify: must be yes or no" },
		{ "keep", "2", "keep: must be yes or no" },
		{ "active", "", "active: must be yes or no" },
		{ "folders", "", "folders: folder names must not be empty" },
		{ "folders", "INBOX,,Sent", "folders: folder names must not be empty" },
		{ "folders", "INBOX,", "folders:" },
		{ "folders", "IN\rBOX", "folders: must not contain control characters" },
		{ "folders", "IN\nBOX", "folders:" },
		{ "mailbox", "", "mailbox: must not be empty" },
		{ "mailbox", "Fetched\nMail", "mailbox: must not contain control characters" },
		{ "mailbox", std::string("a\0b", 3), "mailbox:" },
		{ "mailbox", std::string(256, 'm'), "mailbox: longer than 255 bytes" },
		{ "mailbox", "Box\xff", "mailbox: must be valid UTF-8" },
		{ "mailbox", "Box\xc0\xaf", "mailbox: must be valid UTF-8" },
		{ "mailbox", "Box\tTab", "mailbox: must not contain control characters" },
		{ "folders", "Sent\xff", "folders: must be valid UTF-8" },
		{ "max-size", "10X", "max-size:" },
		{ "max-size", "k", "max-size:" },
		{ "max-size", "-1", "max-size:" },
		{ "max-size", "", "max-size:" },
		{ "max-size", "1.5M", "max-size:" },
		{ "max-size", "99999999999999999999", "max-size:" },
		{ "max-size", "18014398509481984G", "max-size:" },
		{ "colour", "blue", "unknown field 'colour'" },
		{ "Host", "example.com", "unknown field 'Host'" },
		{ "id", "fm-aaaaaaaa", "unknown field 'id'" },
	};
	for (const auto &c : cases) {
		Account account;
		Account orig;
		std::string error;
		int ret = account_set_field(account, c.field, c.value, error);
		if (ret != -1)
			fail_msg("%s='%s' was accepted", c.field, c.value.c_str());
		assert_prefix(error, c.error_prefix);
		assert_null(strchr(error.c_str(), '\n'));
		assert_null(strchr(error.c_str(), '\r'));
		assert_int_equal(error.size(), strlen(error.c_str()));
		/* the password never shows up in an error */
		assert_null(strstr(error.c_str(), "topsecret"));
		assert_null(strstr(error.c_str(), "pppppppp"));
		/* nothing changed */
		assert_str(account.host, orig.host);
		assert_int_equal(account.port, 0);
		assert_str(account.password, "");
		assert_int_equal(account.max_size, 0);
		assert_int_equal(account.folders.size(), 1);
		assert_str(account.mailbox, "INBOX");
		assert_false(account.protocol_set);
	}
}

static void test_bad_value_keeps_old(void **)
{
	Account account;
	std::string error;
	assert_int_equal(account_set_field(account, "host", "pop.example.com", error), 0);
	assert_int_equal(account_set_field(account, "port", "1110", error), 0);
	assert_int_equal(account_set_field(account, "host", "a b", error), -1);
	assert_int_equal(account_set_field(account, "port", "0", error), -1);
	assert_str(account.host, "pop.example.com");
	assert_int_equal(account.port, 1110);
}

struct GoodCase {
	const char *field;
	std::string value;
	std::string shown;   /* account_show_fields() value afterwards */
};

static std::string shown(const Account &account, const char *field)
{
	for (const auto &[k, v] : account_show_fields(account, AccountStatus()))
		if (k == field)
			return v;
	fail_msg("field %s not shown", field);
	return "";
}

static void test_good_values(void **)
{
	const GoodCase cases[] = {
		{ "host", "pop.example.com", "pop.example.com" },
		{ "host", "Mail_01.Example.COM.", "Mail_01.Example.COM." },
		{ "host", "localhost", "localhost" },
		{ "host", "192.0.2.1", "192.0.2.1" },
		{ "host", "::1", "::1" },
		{ "host", "[2001:db8::1]", "2001:db8::1" },
		{ "host", "xn--bcher-kva.example", "xn--bcher-kva.example" },
		{ "host", std::string(63, 'a') + "." + std::string(63, 'b') + "." +
		  std::string(63, 'c') + "." + std::string(61, 'd'),
		  std::string(63, 'a') + "." + std::string(63, 'b') + "." +
		  std::string(63, 'c') + "." + std::string(61, 'd') },
		{ "port", "1", "1" },
		{ "port", "65535", "65535" },
		{ "port", "0995", "995" },
		{ "protocol", "pop3", "pop3" },
		{ "protocol", "IMAP", "imap" },
		{ "remote-user", "bob@remote.example", "bob@remote.example" },
		{ "remote-user", std::string(256, 'u'), std::string(256, 'u') },
		{ "tls", "implicit", "implicit" },
		{ "tls", "starttls", "starttls" },
		{ "tls", "NONE", "none" },
		{ "tls-verify", "no", "no" },
		{ "tls-verify", "false", "no" },
		{ "tls-verify", "0", "no" },
		{ "tls-verify", "yes", "yes" },
		{ "tls-verify", "True", "yes" },
		{ "tls-verify", "1", "yes" },
		{ "keep", "no", "no" },
		{ "active", "No", "no" },
		{ "folders", "INBOX", "INBOX" },
		{ "folders", "INBOX, Sent Items ,Archive/2024,INBOX", "INBOX,Sent Items,Archive/2024" },
		{ "mailbox", "Fetched/Remote Mail", "Fetched/Remote Mail" },
		{ "mailbox", std::string(255, 'm'), std::string(255, 'm') },
		{ "max-size", "0", "0" },
		{ "max-size", "123", "123" },
		{ "max-size", "10k", "10240" },
		{ "max-size", "10K", "10240" },
		{ "max-size", "2M", "2097152" },
		{ "max-size", "1g", "1073741824" },
		{ "max-size", "18446744073709551615", "18446744073709551615" },
	};
	for (const auto &c : cases) {
		Account account;
		std::string error;
		if (account_set_field(account, c.field, c.value, error) != 0)
			fail_msg("%s='%s' rejected: %s", c.field,
				 c.value.c_str(), error.c_str());
		assert_str(shown(account, c.field), c.shown);
	}

	Account account;
	std::string error;
	assert_int_equal(account_set_field(account, "password", std::string(1024, 'p'), error), 0);
	assert_int_equal(account.password.size(), 1024);
	assert_int_equal(account_set_field(account, "password", "pa ss\tword", error), 0);
	assert_str(account.password, "pa ss\tword");
	assert_int_equal(account_set_field(account, "folders", "INBOX,Sent", error), 0);
	assert_int_equal(account.folders.size(), 2);
	assert_str(account.folders[1], "Sent");
	assert_int_equal(account_set_field(account, "protocol", "imap", error), 0);
	assert_true(account.protocol_set);
	assert_true(account.protocol == Protocol::Imap);
}

static void test_set_folders(void **)
{
	Account account;
	std::string error;
	assert_int_equal(account_set_folders(account, { "A,B", "C" }, error), 0);
	assert_int_equal(account.folders.size(), 2);
	assert_str(account.folders[0], "A,B");
	assert_int_equal(account_set_folders(account, {}, error), -1);
	assert_prefix(error, "folders:");
	assert_int_equal(account_set_folders(account, { "X", "" }, error), -1);
	assert_prefix(error, "folders:");
	std::vector<std::string> many;
	for (int i = 0; i < 257; i++)
		many.push_back("F" + std::to_string(i));
	assert_int_equal(account_set_folders(account, many, error), -1);
	assert_prefix(error, "folders: more than 256");
	assert_int_equal(account.folders.size(), 2);
}

static Account complete_account(const char *protocol)
{
	Account account;
	std::string error;
	assert_int_equal(account_set_field(account, "host", "mail.example.com", error), 0);
	assert_int_equal(account_set_field(account, "protocol", protocol, error), 0);
	assert_int_equal(account_set_field(account, "remote-user", "bob", error), 0);
	assert_int_equal(account_set_field(account, "password", "hunter2", error), 0);
	return account;
}

static void test_validate(void **)
{
	std::string error;
	Account account = complete_account("pop3");
	assert_int_equal(account_validate(account, error), 0);

	Account a = account;
	a.host.clear();
	assert_int_equal(account_validate(a, error), -1);
	assert_str(error, "host: missing");
	a = account;
	a.protocol_set = false;
	assert_int_equal(account_validate(a, error), -1);
	assert_prefix(error, "protocol: missing");
	a = account;
	a.remote_user.clear();
	assert_int_equal(account_validate(a, error), -1);
	assert_str(error, "remote-user: missing");
	a = account;
	a.password.clear();
	assert_int_equal(account_validate(a, error), -1);
	assert_str(error, "password: missing");

	/* folders only for imap */
	a = account;
	assert_int_equal(account_set_field(a, "folders", "INBOX", error), 0);
	assert_int_equal(account_validate(a, error), 0);
	assert_int_equal(account_set_field(a, "folders", "INBOX,Sent", error), 0);
	assert_int_equal(account_validate(a, error), -1);
	assert_str(error, "folders: only for protocol imap");
	assert_int_equal(account_set_field(a, "folders", "Other", error), 0);
	assert_int_equal(account_validate(a, error), -1);
	assert_str(error, "folders: only for protocol imap");
	assert_int_equal(account_set_field(a, "protocol", "imap", error), 0);
	assert_int_equal(account_validate(a, error), 0);
}

static void test_auth(void **)
{
	std::string error;
	Account a = complete_account("imap");
	assert_true(a.auth == AuthMethod::Password);

	/* a password account has no provider */
	assert_int_equal(account_set_field(a, "oauth2-provider", "google", error), 0);
	assert_int_equal(account_validate(a, error), -1);
	assert_str(error, "oauth2-provider: only with auth oauth2");

	/* an OAuth2 account has a provider and no password */
	assert_int_equal(account_set_field(a, "auth", "OAuth2", error), 0);
	assert_true(a.auth == AuthMethod::OAuth2);
	assert_int_equal(account_validate(a, error), -1);
	assert_str(error, "password: not used with auth oauth2");
	a.password.clear();
	assert_int_equal(account_validate(a, error), 0);
	assert_int_equal(account_set_field(a, "oauth2-provider", "", error), 0);
	assert_int_equal(account_validate(a, error), -1);
	assert_str(error, "oauth2-provider: missing (required with auth oauth2)");

	/* bad values change nothing */
	assert_int_equal(account_set_field(a, "auth", "kerberos", error), -1);
	assert_str(error, "auth: must be password or oauth2 (got 'kerberos')");
	assert_true(a.auth == AuthMethod::OAuth2);
	assert_int_equal(account_set_field(a, "oauth2-provider", "my-corp", error), 0);
	assert_int_equal(account_set_field(a, "oauth2-provider", "Bad Name", error), -1);
	assert_str(error, "oauth2-provider: must be a provider name (a-z, 0-9 and '-') (got 'Bad Name')");
	assert_str(a.oauth2_provider, "my-corp");
	assert_int_equal(account_set_field(a, "auth", "password", error), 0);
	assert_str(auth_method_name(a.auth), "password");
	assert_str(auth_method_name(AuthMethod::OAuth2), "oauth2");
}

static void test_effective_port(void **)
{
	const struct {
		Protocol protocol;
		TlsMode tls;
		uint16_t port;
		uint16_t expected;
	} cases[] = {
		{ Protocol::Pop3, TlsMode::Implicit, 0, 995 },
		{ Protocol::Pop3, TlsMode::StartTls, 0, 110 },
		{ Protocol::Pop3, TlsMode::None, 0, 110 },
		{ Protocol::Imap, TlsMode::Implicit, 0, 993 },
		{ Protocol::Imap, TlsMode::StartTls, 0, 143 },
		{ Protocol::Imap, TlsMode::None, 0, 143 },
		{ Protocol::Imap, TlsMode::Implicit, 10993, 10993 },
		{ Protocol::Pop3, TlsMode::None, 2110, 2110 },
	};
	for (const auto &c : cases) {
		Account a;
		a.protocol = c.protocol;
		a.tls = c.tls;
		a.port = c.port;
		assert_int_equal(a.effective_port(), c.expected);
	}
}

static void test_show_fields(void **)
{
	Account account = complete_account("imap");
	std::string error;
	account.id = "fm-abcdefgh";
	assert_int_equal(account_set_field(account, "tls", "starttls", error), 0);
	assert_int_equal(account_set_field(account, "folders", "INBOX,Sent", error), 0);
	AccountStatus status;
	auto fields = account_show_fields(account, status);
	const char *keys[] = {
		"id", "host", "port", "protocol", "remote-user", "tls",
		"tls-verify", "keep", "folders", "mailbox", "max-size",
		"active", "auth", "oauth2-provider", "oauth2", "push", "last-run",
		"last-status", "last-error", "last-fetched", "next-run",
	};
	assert_int_equal(fields.size(), sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < fields.size(); i++) {
		assert_str(fields[i].first, keys[i]);
		assert_null(strstr(fields[i].second.c_str(), "hunter2"));
	}
	assert_str(fields[2].second, "143");
	assert_str(fields[8].second, "INBOX,Sent");
	assert_str(fields[12].second, "password");
	assert_str(fields[13].second, "");
	assert_str(fields[14].second, "");
	assert_str(fields[15].second, "no");
	assert_str(fields[16].second, "");
	assert_str(fields[17].second, "never");
	assert_str(fields[20].second, "");

	status.last_run = 1795318800;
	status.last_status = RunStatus::Error;
	status.last_error = "login failed";
	status.last_fetched = 42;
	status.next_run = 1795318800 + 300;
	fields = account_show_fields(account, status);
	assert_str(fields[16].second, "2026-11-22T03:40:00Z");
	assert_str(fields[17].second, "error");
	assert_str(fields[18].second, "login failed");
	assert_str(fields[19].second, "42");
	assert_str(fields[20].second, "2026-11-22T03:45:00Z");

	/* an OAuth2 account: the caller's consent state */
	account.password.clear();
	assert_int_equal(account_set_field(account, "auth", "oauth2", error), 0);
	assert_int_equal(account_set_field(account, "oauth2-provider", "google", error), 0);
	fields = account_show_fields(account, status, "consent needed: invalid_grant");
	assert_str(fields[12].second, "oauth2");
	assert_str(fields[13].second, "google");
	assert_str(fields[14].second, "consent needed: invalid_grant");
}

static void test_names_and_time(void **)
{
	assert_str(protocol_name(Protocol::Pop3), "pop3");
	assert_str(protocol_name(Protocol::Imap), "imap");
	assert_str(tls_mode_name(TlsMode::Implicit), "implicit");
	assert_str(tls_mode_name(TlsMode::StartTls), "starttls");
	assert_str(tls_mode_name(TlsMode::None), "none");
	const RunStatus all[] = { RunStatus::Never, RunStatus::Ok,
				  RunStatus::Error, RunStatus::Running };
	const char *names[] = { "never", "ok", "error", "running" };
	for (size_t i = 0; i < 4; i++) {
		assert_str(run_status_name(all[i]), names[i]);
		RunStatus s = RunStatus::Never;
		assert_int_equal(run_status_parse(names[i], s), 0);
		assert_true(s == all[i]);
	}
	RunStatus s;
	assert_int_equal(run_status_parse("fine", s), -1);

	assert_str(iso8601_utc(0), "1970-01-01T00:00:00Z");
	assert_str(iso8601_utc(951868799), "2000-02-29T23:59:59Z");
	assert_str(iso8601_utc(1795318800), "2026-11-22T03:40:00Z");
	assert_str(iso8601_utc(-1), "1969-12-31T23:59:59Z");
	assert_str(iso8601_utc_ms(1795318800123LL), "2026-11-22T03:40:00.123Z");
	assert_str(iso8601_utc_ms(-1), "1969-12-31T23:59:59.999Z");
	assert_str(iso8601_utc(INT64_MAX), "9999-12-31T23:59:59Z");

	static const struct {
		int64_t secs;
		int year;
		unsigned month, day, hour, minute, second, weekday;
	} times[] = {
		{ 0, 1970, 1, 1, 0, 0, 0, 4 },               /* a Thursday */
		{ -1, 1969, 12, 31, 23, 59, 59, 3 },
		{ 951868799, 2000, 2, 29, 23, 59, 59, 2 },
		{ 1795318800, 2026, 11, 22, 3, 40, 0, 0 },   /* a Sunday */
		{ INT64_MAX, 9999, 12, 31, 23, 59, 59, 5 },  /* clamped */
		{ INT64_MIN, 0, 1, 1, 0, 0, 0, 6 },
	};
	for (const auto &c : times) {
		UtcTime t = utc_time(c.secs);
		assert_int_equal(t.year, c.year);
		assert_int_equal(t.month, c.month);
		assert_int_equal(t.day, c.day);
		assert_int_equal(t.hour, c.hour);
		assert_int_equal(t.minute, c.minute);
		assert_int_equal(t.second, c.second);
		assert_int_equal(t.weekday, c.weekday);
	}

	const auto &names2 = account_field_names();
	assert_int_equal(names2.size(), 15);
	assert_str(std::string(names2[3]), "remote-user");
	assert_str(std::string(names2[12]), "auth");
	assert_str(std::string(names2[13]), "oauth2-provider");
	assert_str(std::string(names2[14]), "push");
}

static void test_ids(void **)
{
	uint32_t values[] = { 0, 0, 0xffffffff, 0xff, 0x12345678, 0x9a };
	size_t i = 0;
	auto rand32 = [&]() { return values[i++]; };
	assert_str(account_generate_id(rand32), "fm-aaaaaaaa");
	assert_str(account_generate_id(rand32), "fm-77777777");
	std::string id = account_generate_id(rand32);
	assert_int_equal(i, 6);
	/* 0x123456789a in base32 (a-z2-7): 00010 01000 11010 00101 01100
	   11110 00100 11010 */
	assert_str(id, "fm-ci2fm6e2");
	assert_true(account_id_valid(id));

	const char *good[] = { "fm-abcdefgh", "a", "0", "my-account-1",
			       "abcdefghijklmnopqrstuvwxyz012345" };
	for (const char *g : good)
		assert_true(account_id_valid(g));
	const char *bad[] = { "", "FM-ABC", "fm_abc", "fm abc", "fm/abc",
			      "abcdefghijklmnopqrstuvwxyz0123456", "fm-\n" };
	for (const char *b : bad)
		assert_false(account_id_valid(b));
	assert_false(account_id_valid(std::string_view("fm\0x", 4)));
}

static void test_quote(void **)
{
	assert_str(account_quote_value("a\r\nb"), "a\\x0d\\x0ab");
	assert_str(account_quote_value("it's"), "it\\x27s");
	assert_str(account_quote_value(std::string(70, 'x')),
		   std::string(64, 'x') + "...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_value_keeps_old),
		cmocka_unit_test(test_good_values),
		cmocka_unit_test(test_set_folders),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_effective_port),
		cmocka_unit_test(test_show_fields),
		cmocka_unit_test(test_names_and_time),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_quote),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
