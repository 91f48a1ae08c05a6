/* Unit tests for fetchmail-import-postfixadmin: PostfixAdmin's `fetchmail`
   table with the columns of its upgrade.php (MySQL after every upgrade
   step, in that order), exported by `mysql -B`, `psql -A -F '<TAB>'` and as
   CSV. */

#include "fetchmail-import-postfixadmin.hh"
#include "fetchmail-crypto.hh"
#include "test-common.hh"

using namespace fetchmail;

static const char header[] =
	"id\tdomain\tmailbox\tsrc_server\tsrc_port\tsrc_auth\tsrc_user\t"
	"src_password\tsrc_folder\tpoll_time\tfetchall\tkeep\tprotocol\t"
	"usessl\tsslcertck\tsslcertpath\tsslfingerprint\textra_options\t"
	"returned_text\tmda\tdate\tcreated\tmodified\tactive\n";

static std::string row(const std::string &fields)
{
	return fields + "\n";
}

static void test_mysql_b(void **)
{
	std::string pw = base64_encode("p@ss word\\\"1");
	std::string text = std::string(header) +
		row("1\texample.org\tjoe@example.org\tpop.example.net\t0\t"
		    "password\tjoe.remote\t" + pw + "\t\t10\t0\t1\tPOP3\t1\t1\t"
		    "\t\tNULL\tNULL\t\t2024-01-02 03:04:05\t2024-01-01 00:00:00\t"
		    "2024-01-02 03:04:05\t1") +
		row("2\texample.org\tjim@example.org\timap.example.net\t1143\t"
		    "cram-md5\tjim\t" + base64_encode("x") + "\tArchive\t5\t1\t0\t"
		    "IMAP\t0\t0\t/etc/ssl/certs\tAA:BB\tlimit 100 no rewrite\t"
		    "fetchmail: No mail\tdovecot\t2024-01-02 03:04:05\t"
		    "2024-01-01 00:00:00\t2024-01-02 03:04:05\t0") +
		row("3\texample.org\tkim@example.org\tetrn.example.net\t0\t"
		    "NULL\tkim\t" + base64_encode("y") + "\t\t10\t0\t0\tETRN\t0\t0\t"
		    "\t\tNULL\tNULL\t\t2024-01-02 03:04:05\t2024-01-01 00:00:00\t"
		    "2024-01-02 03:04:05\t1");
	ImportFile f;
	std::string error;
	assert_int_equal(import_postfixadmin(text, f, error), 0);
	assert_int_equal(f.accounts.size(), 3);

	const ImportedAccount &a = f.accounts[0];
	assert_int_equal(a.line, 2);
	assert_str(a.skip, "");
	assert_str(a.local_names[0], "joe@example.org");
	assert_str(a.account.host, "pop.example.net");
	assert_int_equal(a.account.port, 0);
	assert_str(a.account.remote_user, "joe.remote");
	assert_str(a.account.password, "p@ss word\\\"1");
	assert_true(a.account.protocol == Protocol::Pop3);
	assert_true(a.account.keep);
	assert_true(a.account.active);
	assert_true(a.account.tls == TlsMode::Implicit);
	assert_true(a.account.tls_verify);
	assert_true(a.notes.empty());
	assert_int_equal(account_validate(a.account, error), 0);

	const ImportedAccount &b = f.accounts[1];
	assert_true(b.account.protocol == Protocol::Imap);
	assert_int_equal(b.account.port, 1143);
	assert_int_equal(b.account.folders.size(), 1);
	assert_str(b.account.folders[0], "Archive");
	assert_false(b.account.keep);
	assert_false(b.account.active);
	assert_true(b.account.tls == TlsMode::StartTls);
	std::vector<std::string> options;
	for (const ImportNote &n : b.notes) {
		options.push_back(n.option);
		assert_int_equal(n.line, 3);
	}
	assert_int_equal(options.size(), 8);
	const char *want[] = { "usessl", "sslcertck", "src_auth", "poll_time",
			       "sslcertpath", "sslfingerprint", "mda",
			       "extra_options" };
	for (size_t i = 0; i < 8; i++)
		assert_str(options[i], want[i]);
	assert_true(b.notes[6].kind == ImportNoteKind::Refused);
	assert_true(b.notes[7].kind == ImportNoteKind::Refused);
	/* the refused text is never echoed */
	assert_true(b.notes[7].reason.find("limit 100") == std::string::npos);

	assert_str(f.accounts[2].skip, "protocol: ETRN is not supported");
}

static void test_psql_and_csv(void **)
{
	ImportFile f;
	std::string error;
	/* psql -A -F '\t' of a PostgreSQL schema: t/f booleans, NULL as an
	   empty field, a footer */
	std::string text =
		"id\tmailbox\tsrc_server\tsrc_auth\tsrc_user\tsrc_password\t"
		"src_folder\tpoll_time\tfetchall\tkeep\tprotocol\textra_options\t"
		"mda\tdate\tusessl\tsslcertck\tactive\n"
		"5\tjoe@example.org\tpop.example.net\tpassword\tjoe\t" +
		base64_encode("pw") + "\t\t10\tf\tt\tPOP3\t\t\t"
		"2024-01-02 03:04:05+00\tt\tt\tt\n(1 row)\n";
	assert_int_equal(import_postfixadmin(text, f, error), 0);
	assert_int_equal(f.accounts.size(), 1);
	assert_true(f.accounts[0].account.keep);
	assert_true(f.accounts[0].notes.empty());

	/* psql --csv */
	text = "id,mailbox,src_server,src_user,src_password,protocol,keep\n"
		"7,joe@example.org,pop.example.net,\"joe, jr\"," +
		base64_encode("pw") + ",pop3,true\n";
	assert_int_equal(import_postfixadmin(text, f, error), 0);
	assert_str(f.accounts[0].account.remote_user, "joe, jr");
	assert_true(f.accounts[0].account.protocol == Protocol::Pop3);
}

static void test_errors(void **)
{
	ImportFile f;
	std::string error;
	std::string pw = base64_encode("pw");
	std::string head = "mailbox,src_server,src_user,src_password,protocol";

	assert_int_equal(import_postfixadmin(
		"mailbox,src_server,src_user,protocol\n", f, error), -1);
	assert_str(error, "line 1: column 'src_password' is missing");
	assert_int_equal(import_postfixadmin(head + "\n"
		"joe@example.org,pop.example.net,joe,not*base64,POP3\n", f,
		error), -1);
	assert_str(error, "line 2: src_password: not base64 (PostfixAdmin "
		   "stores it base64-encoded)");
	assert_int_equal(import_postfixadmin(head + "\n"
		"joe@example.org,pop.example.net,joe," + pw + ",SMTP\n", f,
		error), -1);
	assert_str(error, "line 2: protocol: must be POP3, IMAP, POP2, ETRN or "
		   "AUTO, got 'SMTP'");
	assert_int_equal(import_postfixadmin(head + ",src_port\n"
		"joe@example.org,pop.example.net,joe," + pw + ",POP3,99999\n",
		f, error), -1);
	assert_str(error, "line 2: src_port: must be a number from 1 to 65535 "
		   "(got '99999')");
	assert_int_equal(import_postfixadmin(head + "\n"
		"joe@example.org,bad host,joe," + pw + ",POP3\n", f, error), -1);
	assert_prefix(error, "line 2: src_server: must not contain spaces");
	assert_int_equal(import_postfixadmin(head + "\n"
		",pop.example.net,joe," + pw + ",POP3\n", f, error), -1);
	assert_str(error, "line 2: mailbox: empty");
	/* the password's value is never in an error */
	assert_int_equal(import_postfixadmin(head + "\n"
		"joe@example.org,pop.example.net,joe," +
		base64_encode("sec\nret") + ",POP3\n", f, error), -1);
	assert_str(error, "line 2: src_password: must not contain CR, LF or NUL");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mysql_b),
		cmocka_unit_test(test_psql_and_csv),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
