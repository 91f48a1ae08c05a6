#ifndef FETCHMAIL_IMPORT_MAILU_HH
#define FETCHMAIL_IMPORT_MAILU_HH

/* Mailu's `fetch` table (core/admin/mailu/models.py, class Fetch),
   exported with a header row as CSV or tab-separated text (for example
   `sqlite3 -header -csv /data/main.db 'SELECT * FROM fetch'`; see
   table_parse() in fetchmail-import.hh), read into imported accounts.

   Columns (matched case-insensitively, in any order):

     id, user_email, protocol, host, port, tls, username, password, keep,
     scan, invisible, folders, last_check, error, created_at, updated_at,
     comment

   Required: user_email, protocol, host, port, username, password.

   Mapping (docs/migration.md):
     user_email -> the local user
     protocol imap|pop3 -> protocol; host -> host; port -> port
     tls 1 -> tls implicit; 0 -> tls none (Mailu runs fetchmail with
       sslproto '' then: noted as changed, the password goes in
       plaintext)
     tls-verify yes (Mailu runs fetchmail with --sslcertck)
     username -> remote-user; password (stored in plaintext) -> password
     keep -> keep (Mailu deletes with keep 0)
     folders (comma separated; empty = INBOX) -> folders (IMAP)
     scan 1: ignored (no antispam pass: use fetchmail_delivery = lmtp)
     invisible 1: ignored
     id, last_check, error, created_at, updated_at, comment: no note.

   Errors: "line N: <column>: <what>". Nothing throws. */

#include "fetchmail-import.hh"

#include <string>
#include <string_view>

namespace fetchmail {

int import_mailu(std::string_view text, ImportFile &file_r,
		 std::string &error_r);

} // namespace fetchmail

#endif
