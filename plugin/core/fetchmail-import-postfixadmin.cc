#include "fetchmail-import-postfixadmin.hh"

#include "fetchmail-crypto.hh"
#include "fetchmail-strings.hh"

namespace fetchmail {

namespace {

int row_map(const Table &t, const TableRow &row, ImportedAccount &imp,
	    std::string &error_r)
{
	size_t line = row.line;
	std::vector<ImportNote> &notes = imp.notes;
	bool b;

	imp.line = line;
	std::string mailbox = t.text(row, "mailbox");
	if (mailbox.empty()) {
		error_r = import_at_line(line) + "mailbox: empty";
		return -1;
	}
	imp.local_names.push_back(mailbox);
	if (import_set_field(imp, line, "src_server", "host",
			     t.text(row, "src_server"), error_r) < 0)
		return -1;
	std::string port = t.text(row, "src_port");
	if (!port.empty() && port != "0" &&
	    import_set_field(imp, line, "src_port", "port", port, error_r) < 0)
		return -1;
	if (import_set_field(imp, line, "src_user", "remote-user",
			     t.text(row, "src_user"), error_r) < 0)
		return -1;
	std::string password;
	if (base64_decode(t.text(row, "src_password"), password) < 0) {
		error_r = import_at_line(line) + "src_password: not base64 "
			"(PostfixAdmin stores it base64-encoded)";
		return -1;
	}
	if (import_set_field(imp, line, "src_password", "password", password,
			     error_r) < 0)
		return -1;

	std::string proto = ascii_upper(t.text(row, "protocol"));
	if (proto == "POP3" || proto == "IMAP") {
		import_set_field(imp, line, "protocol", "protocol", proto,
				 error_r);
	} else if (proto == "POP2" || proto == "ETRN" || proto == "AUTO") {
		imp.skip = "protocol: " + proto + (proto == "AUTO" ?
			" lets fetchmail probe the server; set POP3 or IMAP" :
			" is not supported");
	} else {
		error_r = import_at_line(line) + "protocol: must be POP3, IMAP, "
			"POP2, ETRN or AUTO, got '" +
			account_quote_value(proto) + "'";
		return -1;
	}
	std::string folder = t.text(row, "src_folder");
	if (!folder.empty()) {
		if (imp.account.protocol == Protocol::Imap) {
			if (import_set_field(imp, line, "src_folder",
					     "folders", folder, error_r) < 0)
				return -1;
			/* one folder: a comma is part of its name */
			imp.account.folders = { folder };
		} else {
			import_note(notes, line, "src_folder",
				    ImportNoteKind::Ignored,
				    "POP3 has no folders");
		}
	}
	if (table_bool(t, row, "keep", false, imp.account.keep, error_r) < 0 ||
	    table_bool(t, row, "active", true, imp.account.active,
		       error_r) < 0 ||
	    table_bool(t, row, "fetchall", false, b, error_r) < 0)
		return -1;

	bool usessl, certck;
	if (table_bool(t, row, "usessl", false, usessl, error_r) < 0 ||
	    table_bool(t, row, "sslcertck", false, certck, error_r) < 0)
		return -1;
	imp.account.tls = usessl ? TlsMode::Implicit : TlsMode::StartTls;
	imp.account.tls_verify = true;
	if (!usessl)
		import_note(notes, line, "usessl", ImportNoteKind::Changed,
			    "0: the account requires STARTTLS (fetchmail used "
			    "it when offered): set tls none for a server "
			    "without TLS");
	if (!certck)
		import_note(notes, line, "sslcertck", ImportNoteKind::Changed,
			    "0: the certificate is verified anyway (as "
			    "fetchmail 6.4 does): set tls-verify no for a "
			    "server without a trusted certificate");
	std::string auth = t.text(row, "src_auth");
	if (!auth.empty() && auth != "password" && auth != "any")
		import_note(notes, line, "src_auth", ImportNoteKind::Changed,
			    account_quote_value(auth) + ": the account logs "
			    "in with its password (USER/PASS, LOGIN or SASL "
			    "PLAIN)");
	std::string poll = t.text(row, "poll_time");
	if (!poll.empty() && poll != "10")
		import_note(notes, line, "poll_time", ImportNoteKind::Ignored,
			    "polling follows fetchmail_interval");
	if (!t.text(row, "sslcertpath").empty())
		import_note(notes, line, "sslcertpath",
			    ImportNoteKind::Ignored, "trusted CAs come from "
			    "Dovecot's ssl_client_ca_file / ssl_client_ca_dir");
	if (!t.text(row, "sslfingerprint").empty())
		import_note(notes, line, "sslfingerprint",
			    ImportNoteKind::Ignored, "certificate pinning is "
			    "not supported: the certificate is checked "
			    "against the trusted CAs");
	if (!t.text(row, "mda").empty())
		import_note(notes, line, "mda", ImportNoteKind::Refused,
			    "commands from the table are never run: the "
			    "plugin delivers into the mailbox itself");
	if (!t.text(row, "extra_options").empty())
		import_note(notes, line, "extra_options",
			    ImportNoteKind::Refused, "fetchmailrc text from "
			    "the table is neither run nor interpreted: set "
			    "what it did with doveadm fetchmail edit");
	return 0;
}

} // namespace

int import_postfixadmin(std::string_view text, ImportFile &file_r,
			std::string &error_r)
{
	return import_table(text, { "mailbox", "src_server", "src_user",
				    "src_password", "protocol" },
			    row_map, file_r, error_r);
}

} // namespace fetchmail
