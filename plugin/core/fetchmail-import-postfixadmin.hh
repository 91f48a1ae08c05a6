#ifndef FETCHMAIL_IMPORT_POSTFIXADMIN_HH
#define FETCHMAIL_IMPORT_POSTFIXADMIN_HH

/* PostfixAdmin's `fetchmail` table (the one its fetchmail.pl and the
   Roundcube fetchmail plugins use), exported with a header row as CSV or
   tab-separated text (see table_parse() in fetchmail-import.hh), read into
   imported accounts.

   Columns, as PostfixAdmin's upgrade.php defines them (names are matched
   case-insensitively; the order does not matter; columns that an older
   schema lacks take their defaults):

     id, domain, mailbox, src_server, src_port, src_auth, src_user,
     src_password, src_folder, poll_time, fetchall, keep, protocol,
     usessl, sslcertck, sslcertpath, sslfingerprint, extra_options,
     returned_text, mda, date, created, modified, active

   Required: mailbox, src_server, src_user, src_password, protocol.

   Mapping (docs/migration.md):
     mailbox -> the local user (its only local name)
     src_server -> host; src_port (0, empty or null = default) -> port
     src_user -> remote-user; src_password (base64, as PostfixAdmin
       stores it) -> password
     protocol POP3|IMAP -> protocol (POP2, ETRN, AUTO: skipped)
     src_folder -> folders (IMAP; empty = INBOX; ignored for POP3)
     keep -> keep; active -> active
     usessl 1 -> tls implicit; 0 -> tls starttls (changed: fetchmail
       used STARTTLS when the server offered it)
     sslcertck -> tls-verify yes either way (0: changed, fetchmail 6.4
       verifies by default too)
     src_auth other than password/any: changed (logs in with the password)
     mda, extra_options: refused (never run or interpreted)
     poll_time other than 10, sslcertpath, sslfingerprint: ignored
     fetchall, id, domain, returned_text, date, created, modified: not
       needed, no note.

   Errors: "line N: <column>: <what>" (a row that is not well-formed, a
   value that fails validation, a password that is not base64). Nothing
   throws. */

#include "fetchmail-import.hh"

#include <string>
#include <string_view>

namespace fetchmail {

int import_postfixadmin(std::string_view text, ImportFile &file_r,
			std::string &error_r);

} // namespace fetchmail

#endif
