/* Unit tests for fetchmail-import-mailu: Mailu's `fetch` table (the
   columns of core/admin/mailu/models.py, class Fetch, with Base's
   created_at/updated_at/comment), as `sqlite3 -header -csv` and
   tab-separated exports. */

#include "fetchmail-import-mailu.hh"
#include "test-common.hh"

using namespace fetchmail;

static void test_sqlite_csv(void **)
{
	ImportFile f;
	std::string error;
	std::string text =
		"created_at,updated_at,comment,id,user_email,protocol,host,port,"
		"tls,username,password,keep,scan,invisible,folders,last_check,"
		"error\n"
		"2024-01-01,,,1,joe@example.org,imap,imap.example.net,993,1,"
		"joe,\"pw, with comma\",1,0,0,\"Archive,INBOX\","
		"\"2024-01-02 03:04:05.000000\",\n"
		"2024-01-01,2024-01-03,\"old account\",2,jim@example.org,pop3,"
		"pop.example.net,110,0,jim,secret,0,1,1,,,"
		"\"Authentication failed\"\n";
	assert_int_equal(import_mailu(text, f, error), 0);
	assert_int_equal(f.accounts.size(), 2);

	const ImportedAccount &a = f.accounts[0];
	assert_int_equal(a.line, 2);
	assert_str(a.skip, "");
	assert_str(a.local_names[0], "joe@example.org");
	assert_true(a.account.protocol == Protocol::Imap);
	assert_str(a.account.host, "imap.example.net");
	assert_int_equal(a.account.port, 993);
	assert_true(a.account.tls == TlsMode::Implicit);
	assert_true(a.account.tls_verify);
	assert_str(a.account.remote_user, "joe");
	assert_str(a.account.password, "pw, with comma");
	assert_true(a.account.keep);
	assert_int_equal(a.account.folders.size(), 2);
	assert_str(a.account.folders[0], "Archive");
	assert_true(a.notes.empty());
	assert_int_equal(account_validate(a.account, error), 0);

	const ImportedAccount &b = f.accounts[1];
	assert_true(b.account.protocol == Protocol::Pop3);
	assert_true(b.account.tls == TlsMode::None);
	assert_false(b.account.keep);
	assert_int_equal(b.notes.size(), 3);
	assert_str(b.notes[0].option, "tls");
	assert_true(b.notes[0].kind == ImportNoteKind::Changed);
	assert_str(b.notes[1].option, "scan");
	assert_str(b.notes[2].option, "invisible");
	for (const ImportNote &n : b.notes)
		assert_true(n.reason.find("secret") == std::string::npos);
}

static void test_tab_and_errors(void **)
{
	ImportFile f;
	std::string error;
	assert_int_equal(import_mailu(
		"user_email\tprotocol\thost\tport\ttls\tusername\tpassword\t"
		"keep\tfolders\n"
		"joe@example.org\tpop3\tpop.example.net\t995\t1\tjoe\tpw\t1\t"
		"INBOX\n", f, error), 0);
	/* POP3 with folders: noted, INBOX */
	assert_int_equal(f.accounts[0].notes.size(), 1);
	assert_str(f.accounts[0].notes[0].option, "folders");

	std::string head = "user_email,protocol,host,port,username,password\n";
	assert_int_equal(import_mailu(head +
		"joe@example.org,smtp,h.example,25,u,p\n", f, error), -1);
	assert_str(error, "line 2: protocol: must be imap or pop3, got 'smtp'");
	assert_int_equal(import_mailu(head +
		"joe@example.org,imap,h.example,,u,p\n", f, error), -1);
	assert_str(error, "line 2: port: must be a number from 1 to 65535 (got '')");
	assert_int_equal(import_mailu(head +
		"joe@example.org,imap,h.example,993,,p\n", f, error), -1);
	assert_str(error, "line 2: username: must not be empty");
	assert_int_equal(import_mailu(head +
		"joe@example.org,imap,h.example,993,u,\n", f, error), -1);
	assert_str(error, "line 2: password: must not be empty");
	assert_int_equal(import_mailu(
		"user_email,protocol,host,port,username,password,tls\n"
		"joe@example.org,imap,h.example,993,u,p,perhaps\n", f, error), -1);
	assert_str(error, "line 2: tls: must be 1 or 0 (or t/f, true/false), "
		   "got 'perhaps'");
	assert_int_equal(import_mailu("user_email,host\n", f, error), -1);
	assert_str(error, "line 1: column 'protocol' is missing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqlite_csv),
		cmocka_unit_test(test_tab_and_errors),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
