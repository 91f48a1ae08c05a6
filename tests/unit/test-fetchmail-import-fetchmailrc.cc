/* Unit tests for fetchmail-import-fetchmailrc: fetchmail 6.4's run control
   syntax (the manual's examples, defaults, multi-line poll statements,
   quoting and escapes, skip, several users per server), the mapping to
   accounts, what is refused or noted, and errors. */

#include "fetchmail-import-fetchmailrc.hh"
#include "test-common.hh"

using namespace fetchmail;

static ImportFile parse_ok(const std::string &text)
{
	ImportFile file;
	std::string error;
	if (import_fetchmailrc(text, file, error) < 0)
		fail_msg("parse failed: %s", error.c_str());
	return file;
}

static std::string parse_error(const std::string &text)
{
	ImportFile file;
	std::string error;
	if (import_fetchmailrc(text, file, error) == 0)
		fail_msg("parse of '%s' succeeded", text.c_str());
	return error;
}

static const ImportNote *find_note(const ImportedAccount &imp,
				   const std::string &option)
{
	for (const ImportNote &n : imp.notes)
		if (n.option == option)
			return &n;
	return nullptr;
}

/* the manual's first examples, one line and several lines */
static void test_manual_examples(void **)
{
	ImportFile f = parse_ok(
		"# the manual's examples\n"
		"poll pop.provider.net proto pop3 user \"jsmith\" with pass "
		"\"secret1\" is \"smith\" here\n"
		"poll mail.provider.net with proto imap:\n"
		"    user \"jsmith\" there has password \"secret2\" is "
		"\"smith\" here;\n"
		"poll other.provider.net proto pop2 user \"John.Smith\" with "
		"pass \"My^Hat\" is \"John.Smith\" here\n");
	assert_int_equal(f.accounts.size(), 3);

	const ImportedAccount &a = f.accounts[0];
	assert_int_equal(a.line, 2);
	assert_str(a.skip, "");
	assert_str(a.account.host, "pop.provider.net");
	assert_true(a.account.protocol == Protocol::Pop3);
	assert_str(a.account.remote_user, "jsmith");
	assert_str(a.account.password, "secret1");
	assert_int_equal(a.local_names.size(), 1);
	assert_str(a.local_names[0], "smith");
	/* fetchmail's defaults: no keep, TLS required (STARTTLS), verified */
	assert_false(a.account.keep);
	assert_true(a.account.tls == TlsMode::StartTls);
	assert_true(a.account.tls_verify);
	assert_int_equal(a.account.effective_port(), 110);
	assert_true(a.account.active);
	assert_true(a.notes.empty());
	std::string error;
	assert_int_equal(account_validate(a.account, error), 0);

	const ImportedAccount &b = f.accounts[1];
	assert_int_equal(b.line, 3);
	assert_true(b.account.protocol == Protocol::Imap);
	assert_str(b.account.remote_user, "jsmith");
	assert_str(b.account.password, "secret2");
	assert_int_equal(b.account.effective_port(), 143);

	assert_str(f.accounts[2].skip, "protocol: pop2 is not supported");
}

static void test_defaults(void **)
{
	ImportFile f = parse_ok(
		"defaults proto pop3\n"
		"    user \"jsmith\" keep ssl\n"
		"poll pop.provider.net\n"
		"    pass \"secret1\"\n"
		"poll mail.provider.net proto imap\n"
		"    user \"jjsmith\" there has password \"secret2\" no keep\n"
		"    folder INBOX Archive\n");
	assert_int_equal(f.accounts.size(), 2);
	const ImportedAccount &a = f.accounts[0];
	assert_str(a.skip, "");
	assert_true(a.account.protocol == Protocol::Pop3);
	assert_str(a.account.remote_user, "jsmith");
	assert_true(a.account.keep);
	assert_true(a.account.tls == TlsMode::Implicit);
	assert_int_equal(a.account.effective_port(), 995);
	assert_int_equal(a.line, 3);

	const ImportedAccount &b = f.accounts[1];
	assert_true(b.account.protocol == Protocol::Imap);
	assert_str(b.account.remote_user, "jjsmith");
	assert_false(b.account.keep);   /* `no keep` beats the default */
	assert_int_equal(b.account.folders.size(), 2);
	assert_str(b.account.folders[1], "Archive");

	/* a defaults statement anywhere but first is an error */
	assert_str(parse_error("poll a.example proto pop3 user u pass p\n"
			       "defaults keep\n"),
		   "line 2: defaults: only once, as the first statement "
		   "(one user clause at most)");
}

static void test_quoting(void **)
{
	ImportFile f = parse_ok(
		"poll pop.example.com proto pop3\n"
		"  user 'joe@example.com' there\n"
		"  password \"my secret with spaces\" is joe here\n"
		"poll pop2.example.com proto pop3 user keep pass 'single # no "
		"comment' is joe # a comment\n"
		"poll pop3.example.com proto pop3 user joe pass \"a\\x41\\34\\tb\"\n"
		"poll pop4.example.com proto pop3 user joe pass se#cret\n"
		"set postmaster \"two\nlines\"\n"
		"poll pop5.example.com proto pop3 user joe \\\n"
		"  pass \"two words\"\n"
		"poll pop6.example.com proto pop3 user joe pass \"abc\"def\n"
		"poll pop7.example.com proto pop3 user joe pass 12345\n");
	assert_int_equal(f.accounts.size(), 7);
	assert_str(f.accounts[0].account.remote_user, "joe@example.com");
	assert_str(f.accounts[0].account.password, "my secret with spaces");
	/* after `user` a keyword is a name */
	assert_str(f.accounts[1].account.remote_user, "keep");
	assert_false(f.accounts[1].account.keep);
	assert_str(f.accounts[1].account.password, "single # no comment");
	assert_str(f.accounts[2].account.password, "aA\"\tb");
	/* '#' inside a word is part of it */
	assert_str(f.accounts[3].account.password, "se#cret");
	/* lines are counted inside quoted strings, and a backslash
	   continues a line */
	assert_int_equal(f.accounts[4].line, 9);
	assert_str(f.accounts[4].account.password, "two words");
	assert_str(f.accounts[5].account.password, "\"abc\"def");
	assert_str(f.accounts[6].account.password, "12345");
}

static void test_several_users(void **)
{
	ImportFile f = parse_ok(
		"poll mail.example.net proto imap\n"
		"  user alice pass a-pass is alice@example.org here keep ssl\n"
		"  user bob pass b-pass is bob@example.org here fetchall ssl\n");
	assert_int_equal(f.accounts.size(), 2);
	assert_str(f.accounts[0].account.remote_user, "alice");
	assert_true(f.accounts[0].account.keep);
	assert_str(f.accounts[1].account.remote_user, "bob");
	assert_false(f.accounts[1].account.keep);
	assert_str(f.accounts[1].local_names[0], "bob@example.org");
	/* both share the server options; ssl is a user option */
	assert_true(f.accounts[1].account.tls == TlsMode::Implicit);
	assert_true(f.accounts[1].account.protocol == Protocol::Imap);
}

static void test_skip_and_via(void **)
{
	ImportFile f = parse_ok(
		"skip old.example.com via 192.0.2.7 protocol pop3 port 1110 "
		"user u password p limit 1048576\n");
	assert_int_equal(f.accounts.size(), 1);
	const ImportedAccount &a = f.accounts[0];
	assert_str(a.skip, "");
	assert_false(a.account.active);
	assert_str(a.account.host, "192.0.2.7");
	assert_int_equal(a.account.port, 1110);
	assert_int_equal(a.account.max_size, 1048576);
	const ImportNote *n = find_note(a, "skip");
	assert_non_null(n);
	assert_true(n->kind == ImportNoteKind::Changed);
}

static void test_tls(void **)
{
	ImportFile f = parse_ok(
		"poll a.example proto imap user u pass p sslproto ''\n"
		"poll b.example proto imap user u pass p ssl sslproto TLS1.2\n"
		"poll c.example proto imap user u pass p no sslcertck\n"
		"poll d.example proto imap user u pass p sslproto 'auto'\n"
		"poll e.example proto imap service imaps user u pass p ssl\n");
	assert_true(f.accounts[0].account.tls == TlsMode::None);
	assert_true(find_note(f.accounts[0], "sslproto")->kind ==
		    ImportNoteKind::Changed);
	assert_true(f.accounts[1].account.tls == TlsMode::Implicit);
	assert_non_null(find_note(f.accounts[1], "sslproto"));
	assert_true(f.accounts[2].account.tls == TlsMode::StartTls);
	assert_false(f.accounts[2].account.tls_verify);
	assert_non_null(find_note(f.accounts[2], "no sslcertck"));
	assert_true(f.accounts[3].account.tls == TlsMode::StartTls);
	assert_true(f.accounts[3].notes.empty());
	assert_int_equal(f.accounts[4].account.port, 993);
}

static void test_refused_and_ignored(void **)
{
	const std::string secret = "S3cret-pw";
	ImportFile f = parse_ok(
		"set daemon 300\n"
		"set idfile \"/var/lib/fetchmail/.fetchids\"\n"
		"set no bouncemail\n"
		"poll pop.example.com proto pop3 plugin \"ssh -i k %h\" "
		"timeout 30 interval 2\n"
		"  user joe pass " + secret + " is joe here\n"
		"  mda \"/usr/bin/procmail -d %T " + secret + "\"\n"
		"  preconnect \"date >> /tmp/log\" postconnect \"rm -f x\"\n"
		"  smtphost localhost fetchlimit 10 mimedecode no rewrite\n"
		"  sslfingerprint \"AA:BB\" idle\n");
	assert_int_equal(f.notes.size(), 3);
	assert_str(f.notes[1].option, "set idfile");
	assert_str(f.notes[1].reason, "fetchmail's UIDL file "
		   "'/var/lib/fetchmail/.fetchids': give it to --fetchids");
	const ImportedAccount &a = f.accounts[0];
	assert_str(a.skip, "");
	for (const char *opt : { "mda", "preconnect", "postconnect",
				 "plugin" }) {
		const ImportNote *n = find_note(a, opt);
		if (n == nullptr)
			fail_msg("no note for %s", opt);
		assert_true(n->kind == ImportNoteKind::Refused);
	}
	assert_int_equal(find_note(a, "mda")->line, 6);
	for (const char *opt : { "timeout", "interval", "smtphost",
				 "fetchlimit", "mimedecode", "sslfingerprint",
				 "idle" }) {
		const ImportNote *n = find_note(a, opt);
		if (n == nullptr)
			fail_msg("no note for %s", opt);
		assert_true(n->kind == ImportNoteKind::Ignored);
	}
	/* `no rewrite` is what the plugin does anyway */
	assert_null(find_note(a, "rewrite"));
	/* notes are in file order and never hold secrets or commands */
	for (size_t i = 0; i < a.notes.size(); i++) {
		if (i > 0)
			assert_true(a.notes[i - 1].line <= a.notes[i].line);
		assert_true(a.notes[i].reason.find(secret) == std::string::npos);
		assert_true(a.notes[i].reason.find("procmail") ==
			    std::string::npos);
	}
}

static void test_not_importable(void **)
{
	ImportFile f = parse_ok(
		"poll a.example user u pass p\n"
		"poll b.example proto pop3 pass p\n"
		"poll c.example proto pop3 user u\n"
		"poll d.example proto pop3 user u pass p is joe jim here\n"
		"poll e.example proto pop3 user u pass p to * here\n"
		"poll f.example proto pop3 user u pass p is a = b\n"
		"poll g.example proto apop user u pass p\n"
		"poll h.example proto etrn\n"
		"poll i.example proto pop3 service pop3x user u pass p\n");
	assert_int_equal(f.accounts.size(), 9);
	assert_prefix(f.accounts[0].skip, "protocol: auto");
	assert_prefix(f.accounts[1].skip, "user: missing");
	assert_prefix(f.accounts[2].skip, "pass: missing");
	assert_prefix(f.accounts[3].skip, "is: multidrop");
	assert_prefix(f.accounts[4].skip, "is: multidrop");
	assert_prefix(f.accounts[5].skip, "is: multidrop");
	assert_prefix(f.accounts[6].skip, "protocol: apop");
	assert_str(f.accounts[7].skip, "protocol: etrn is not supported");
	assert_prefix(f.accounts[8].skip, "port: service 'pop3x'");
}

static void test_errors(void **)
{
	assert_str(parse_error("poll a.example proto pop3 user u pass \"open\n"),
		   "line 1: a quoted string is not closed");
	assert_str(parse_error("poll a.example proto pop3 user u pass p\n"
			       "  keep proto imap\n"),
		   "line 2: server option after user options");
	assert_str(parse_error("pop a.example\n"),
		   "line 1: unexpected value (a statement starts with poll, "
		   "skip, defaults or set)");
	assert_str(parse_error("poll a.example proto pop3 port 70000 user u pass p\n"),
		   "line 1: port: must be a number from 1 to 65535 (got '70000')");
	assert_str(parse_error("poll a.example proto pop3 user u pass p limit -1\n"),
		   "line 1: limit: must not be negative");
	assert_str(parse_error("poll \"bad host\" proto pop3 user u pass p\n"),
		   "line 1: poll: must not contain spaces or control characters "
		   "(got 'bad host')");
	assert_str(parse_error("poll a.example proto\n"),
		   "line 2: unexpected end of file (protocol: pop3, imap, ... "
		   "must follow)");
	assert_str(parse_error("poll a.example proto pop3 user u pass \"a\\nb\"\n"),
		   "line 1: pass: must not contain CR, LF or NUL");
	assert_str(parse_error("set frobnicate\n"),
		   "line 1: unexpected value after 'set'");
	/* a password that a bad grammar would split is never quoted */
	std::string e = parse_error(
		"poll a.example proto pop3 user u pass my secret word\n");
	assert_true(e.find("secret") == std::string::npos);
	assert_true(e.find("word") == std::string::npos);
}

static void test_empty(void **)
{
	ImportFile f = parse_ok("# nothing but a comment");
	assert_int_equal(f.accounts.size(), 0);
	f = parse_ok("");
	assert_int_equal(f.accounts.size(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manual_examples),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_several_users),
		cmocka_unit_test(test_skip_and_via),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_refused_and_ignored),
		cmocka_unit_test(test_not_importable),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
