/* Unit tests for fetchmail-import: user matching, the same-account check,
   labels, .fetchids, the CSV / tab-separated table reader and field
   errors. */

#include "fetchmail-import.hh"
#include "test-common.hh"

using namespace fetchmail;

static void test_sources(void **)
{
	ImportSource s;
	assert_int_equal(import_source_parse("PostfixAdmin", s), 0);
	assert_true(s == ImportSource::PostfixAdmin);
	assert_int_equal(import_source_parse("mailu", s), 0);
	assert_str(import_source_name(s), "mailu");
	assert_int_equal(import_source_parse("getmail", s), -1);
	assert_str(import_note_kind_name(ImportNoteKind::Refused), "refused");
}

static void test_belongs_to(void **)
{
	ImportedAccount imp;
	assert_true(import_belongs_to(imp, "anyone@example.org", "", true));
	assert_false(import_belongs_to(imp, "anyone@example.org", "", false));

	imp.local_names = { "Joe@Example.org" };
	assert_true(import_belongs_to(imp, "joe@example.org", "", false));
	assert_true(import_belongs_to(imp, "joe@example.org", "", true));
	assert_false(import_belongs_to(imp, "jim@example.org", "", true));

	imp.local_names = { "joe" };
	assert_true(import_belongs_to(imp, "joe", "", false));
	assert_false(import_belongs_to(imp, "joe@example.org", "", false));
	assert_true(import_belongs_to(imp, "joe@example.org", "example.org",
				      false));
	assert_false(import_belongs_to(imp, "joe@example.net", "example.org",
				       false));
	assert_false(import_belongs_to(imp, "joey@example.org", "example.org",
				       false));
}

static void test_same_account(void **)
{
	Account a, b;
	a.protocol = b.protocol = Protocol::Pop3;
	a.host = "Pop.Example.net";
	b.host = "pop.example.net";
	a.remote_user = b.remote_user = "bob";
	assert_true(import_same_account(a, b));
	b.remote_user = "Bob";
	assert_false(import_same_account(a, b));
	b.remote_user = "bob";
	b.protocol = Protocol::Imap;
	assert_false(import_same_account(a, b));
	a.protocol = Protocol::Imap;
	a.folders = { "INBOX", "Archive" };
	b.folders = { "Archive", "INBOX" };
	assert_true(import_same_account(a, b));
	b.folders = { "INBOX" };
	assert_false(import_same_account(a, b));
	/* port and TLS do not make another mailbox */
	b.folders = a.folders;
	b.port = 1143;
	b.tls = TlsMode::None;
	assert_true(import_same_account(a, b));
}

static void test_label(void **)
{
	Account a;
	a.protocol = Protocol::Imap;
	a.host = "::1";
	a.remote_user = "bob\n";
	a.password = "secret";
	a.folders = { "INBOX", "Sent" };
	assert_str(import_account_label(a), "imap://bob\\x0a@[::1]:993/INBOX,Sent");
	a.protocol = Protocol::Pop3;
	a.host = "pop.example.net";
	a.tls = TlsMode::StartTls;
	assert_str(import_account_label(a), "pop3://bob\\x0a@pop.example.net:110");
}

static void test_fetchids(void **)
{
	FetchIds ids;
	std::string error;
	assert_int_equal(fetchids_parse(
		"jsmith@pop.provider.net <20010612.123@mail>\n"
		"jsmith@pop.provider.net 0000000155b8f1e2\n"
		"\n"
		"jsmith@pop.provider.net 0000000155b8f1e2\n"
		"john@example.com@Mail.Example.COM   UID@with@ats  \r\n"
		"  lotus user@notes.example.net abc\n", ids, error), 0);
	assert_int_equal(ids.size(), 4);
	std::vector<std::string> v = ids.find("JSmith", "POP.provider.net");
	assert_int_equal(v.size(), 2);
	assert_str(v[0], "<20010612.123@mail>");
	assert_str(v[1], "0000000155b8f1e2");
	v = ids.find("john@example.com", "mail.example.com");
	assert_int_equal(v.size(), 1);
	assert_str(v[0], "UID@with@ats");
	assert_int_equal(ids.find("lotus user", "notes.example.net").size(), 1);
	assert_true(ids.find("jsmith", "other.net").empty());

	assert_int_equal(fetchids_parse("a@b c\nno-at-sign uid\n", ids, error), -1);
	assert_str(error, "line 2: expected '<user>@<server> <UIDL>'");
	assert_int_equal(ids.size(), 4);   /* unchanged on error */
	assert_int_equal(fetchids_parse("a@b\n", ids, error), -1);
	assert_str(error, "line 1: expected '<user>@<server> <UIDL>'");
	assert_int_equal(fetchids_parse("@b uid\n", ids, error), -1);
	assert_int_equal(fetchids_parse("a@b uid\x01x\n", ids, error), -1);
	assert_str(error, "line 1: UIDL: must be 1 to 512 printable characters "
		   "without spaces");
	assert_int_equal(fetchids_parse("a@b " + std::string(513, 'x') + "\n",
					ids, error), -1);
	assert_int_equal(fetchids_parse("", ids, error), 0);
	assert_true(ids.empty());
}

static void test_table_tsv(void **)
{
	Table t;
	std::string error;
	/* mysql -B: tab-separated, escapes, NULL */
	assert_int_equal(table_parse(
		"id\tmailbox\tsrc_folder\textra_options\n"
		"1\tjoe@example.org\tIN\\tBOX\\\\x\tNULL\n"
		"2\tjim@example.org\t\t\\N\n", t, error), 0);
	assert_int_equal(t.columns.size(), 4);
	assert_int_equal(t.rows.size(), 2);
	assert_int_equal(t.rows[1].line, 3);
	assert_str(*t.get(t.rows[0], "src_folder"), "IN\tBOX\\x");
	assert_null(t.get(t.rows[0], "extra_options"));
	assert_null(t.get(t.rows[1], "extra_options"));
	assert_str(t.text(t.rows[1], "src_folder"), "");
	assert_null(t.get(t.rows[0], "no_such_column"));

	/* psql -A -F '\t': footer, upper-case and quoted names */
	assert_int_equal(table_parse(
		"ID\t\"Mailbox\"\n1\tjoe@example.org\n(1 row)\n", t, error), 0);
	assert_int_equal(t.rows.size(), 1);
	assert_str(t.columns[1], "mailbox");
	assert_int_equal(t.column("mailbox"), 1);

	assert_int_equal(table_parse("a\tb\n1\t2\t3\n", t, error), -1);
	assert_str(error, "line 2: 3 fields, the header has 2");
	assert_int_equal(table_parse("\n1\t2\n", t, error), -1);
	assert_str(error, "line 1: no header row naming the columns");
	assert_int_equal(table_parse(" id | mailbox\n----+----\n", t, error), -1);
	assert_prefix(error, "line 1: looks like psql's aligned output");
	assert_int_equal(table_parse("a\ta\n", t, error), -1);
	assert_str(error, "line 1: column 'a' twice");
	assert_int_equal(table_parse(std::string("a\n\0\n", 4), t, error), -1);
	assert_str(error, "line 2: a NUL byte: not a text export");
}

static void test_table_csv(void **)
{
	Table t;
	std::string error;
	assert_int_equal(table_parse(
		"\xef\xbb\xbf" "id,user_email,password,folders\r\n"
		"1,joe@example.org,\"pa,ss \"\"word\"\"\",\"INBOX,Sent\"\r\n"
		"2,jim@example.org,\"multi\nline\",\n"
		"3,NULL,\"NULL\",\n", t, error), 0);
	assert_int_equal(t.rows.size(), 3);
	assert_str(*t.get(t.rows[0], "password"), "pa,ss \"word\"");
	assert_str(*t.get(t.rows[0], "folders"), "INBOX,Sent");
	assert_str(*t.get(t.rows[1], "password"), "multi\nline");
	assert_str(*t.get(t.rows[1], "folders"), "");
	assert_int_equal(t.rows[2].line, 5);
	assert_null(t.get(t.rows[2], "user_email"));
	assert_str(*t.get(t.rows[2], "password"), "NULL");

	assert_int_equal(table_parse("a,b\n1,\"open\n", t, error), -1);
	assert_str(error, "line 2: a quoted field is not closed");
	assert_int_equal(table_parse("a,b\n1,\"x\"y\n", t, error), -1);
	assert_str(error, "line 2: text after a closing quote");
	assert_int_equal(table_parse("a,b\n1\n", t, error), -1);
	assert_str(error, "line 2: 1 fields, the header has 2");

	/* failed parses left t alone */
	assert_int_equal(t.rows.size(), 3);
	assert_int_equal(table_parse("a,b\n", t, error), 0);
	assert_int_equal(table_require(t, { "a", "b" }, error), 0);
	assert_int_equal(table_require(t, { "a", "z" }, error), -1);
	assert_str(error, "line 1: column 'z' is missing");
}

static void test_bools_and_fields(void **)
{
	bool b = false;
	for (const char *t : { "1", "t", "TRUE", "y", "Yes" }) {
		assert_int_equal(import_parse_bool(t, b), 0);
		assert_true(b);
	}
	for (const char *f : { "0", "f", "false", "N", "no" }) {
		assert_int_equal(import_parse_bool(f, b), 0);
		assert_false(b);
	}
	assert_int_equal(import_parse_bool("2", b), -1);

	Table t;
	std::string error;
	assert_int_equal(table_parse("keep,active\nmaybe,\n", t, error), 0);
	assert_int_equal(table_bool(t, t.rows[0], "active", true, b, error), 0);
	assert_true(b);
	assert_int_equal(table_bool(t, t.rows[0], "missing", false, b, error), 0);
	assert_false(b);
	assert_int_equal(table_bool(t, t.rows[0], "keep", false, b, error), -1);
	assert_str(error, "line 2: keep: must be 1 or 0 (or t/f, true/false), "
		   "got 'maybe'");

	ImportedAccount imp;
	assert_int_equal(import_set_field(imp, 7, "src_port", "port", "0",
					  error), -1);
	assert_str(error, "line 7: src_port: must be a number from 1 to 65535 "
		   "(got '0')");
	assert_int_equal(import_set_field(imp, 8, "src_password", "password",
					  "sec\nret", error), -1);
	assert_str(error, "line 8: src_password: must not contain CR, LF or NUL");
	assert_int_equal(import_set_field(imp, 9, "host", "host", "pop.x",
					  error), 0);
	assert_str(imp.account.host, "pop.x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_belongs_to),
		cmocka_unit_test(test_same_account),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_fetchids),
		cmocka_unit_test(test_table_tsv),
		cmocka_unit_test(test_table_csv),
		cmocka_unit_test(test_bools_and_fields),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
