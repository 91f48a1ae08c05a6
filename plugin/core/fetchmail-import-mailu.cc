#include "fetchmail-import-mailu.hh"

namespace fetchmail {

namespace {

int row_map(const Table &t, const TableRow &row, ImportedAccount &imp,
	    std::string &error_r)
{
	size_t line = row.line;
	std::vector<ImportNote> &notes = imp.notes;

	imp.line = line;
	std::string email = t.text(row, "user_email");
	if (email.empty()) {
		error_r = import_at_line(line) + "user_email: empty";
		return -1;
	}
	imp.local_names.push_back(email);
	std::string proto = t.text(row, "protocol");
	if (proto != "imap" && proto != "pop3") {
		error_r = import_at_line(line) + "protocol: must be imap or pop3, "
			"got '" + account_quote_value(proto) + "'";
		return -1;
	}
	if (import_set_field(imp, line, "protocol", "protocol", proto,
			     error_r) < 0 ||
	    import_set_field(imp, line, "host", "host", t.text(row, "host"),
			     error_r) < 0 ||
	    import_set_field(imp, line, "port", "port", t.text(row, "port"),
			     error_r) < 0 ||
	    import_set_field(imp, line, "username", "remote-user",
			     t.text(row, "username"), error_r) < 0 ||
	    import_set_field(imp, line, "password", "password",
			     t.text(row, "password"), error_r) < 0)
		return -1;

	bool tls, scan, invisible;
	if (table_bool(t, row, "tls", false, tls, error_r) < 0 ||
	    table_bool(t, row, "keep", false, imp.account.keep, error_r) < 0 ||
	    table_bool(t, row, "scan", false, scan, error_r) < 0 ||
	    table_bool(t, row, "invisible", false, invisible, error_r) < 0)
		return -1;
	imp.account.tls = tls ? TlsMode::Implicit : TlsMode::None;
	imp.account.tls_verify = true;
	if (!tls)
		import_note(notes, line, "tls", ImportNoteKind::Changed,
			    "0: no TLS, as Mailu did (sslproto ''): the "
			    "password is sent in plaintext (tls none)");

	std::string folders = t.text(row, "folders");
	if (!folders.empty()) {
		if (imp.account.protocol == Protocol::Imap) {
			if (import_set_field(imp, line, "folders", "folders",
					     folders, error_r) < 0)
				return -1;
		} else {
			import_note(notes, line, "folders",
				    ImportNoteKind::Ignored,
				    "POP3 has no folders");
		}
	}
	if (scan)
		import_note(notes, line, "scan", ImportNoteKind::Ignored,
			    "1: messages do not pass Mailu's antispam; "
			    "fetchmail_delivery = lmtp runs Sieve and LMTP's "
			    "filters");
	if (invisible)
		import_note(notes, line, "invisible", ImportNoteKind::Ignored,
			    "1: messages are stored as received");
	return 0;
}

} // namespace

int import_mailu(std::string_view text, ImportFile &file_r,
		 std::string &error_r)
{
	return import_table(text, { "user_email", "protocol", "host",
				    "port", "username", "password" },
			    row_map, file_r, error_r);
}

} // namespace fetchmail
