#ifndef FETCHMAIL_IMPORT_FETCHMAILRC_HH
#define FETCHMAIL_IMPORT_FETCHMAILRC_HH

/* fetchmail's run control file (the syntax of fetchmail 6.4's manual and
   of its lexer and grammar), read into imported accounts (see
   fetchmail-import.hh for the model).

   The syntax as fetchmail reads it:
   - `#` starts a comment that runs to the end of the line (only where a
     word starts: inside a word it is part of the word); a backslash
     before a newline is ignored;
   - words are separated by spaces, tabs, newlines and the characters
     `, ; :` (which are otherwise ignored); `=` is a separator of its own;
   - "double" or 'single' quoted strings may hold spaces and newlines;
     fetchmail takes a quoted string only where it is at least as long as
     the unquoted word that starts at the same place (so "abc"def is one
     word with its quotes);
   - C escapes in strings and words: \n \t \r \b \\, \xHH (up to two hex
     digits), \0ooo (octal, up to three digits with the 0), \ddd
     (decimal, up to three digits: \34 is a double quote); any other \c is
     c;
   - keywords are case-sensitive, except the protocol names (pop3 or
     POP3); the noise words with, and, has, wants, options are ignored;
     after `user`, `pass`, `is`, `to` and `=` the next word is a name even
     if it is a keyword; `nokeep`, `nofetchall` and the other no-words of
     fetchmail's lexer are `no keep` and so on.

   Statements: `set ...` (global settings: noted, not carried over),
   `poll HOST` / `skip HOST` / `defaults`, each followed by server options
   and then user options; each `user` clause starts another account on the
   same server; a server option after user options is an error, as in
   fetchmail. A first statement `defaults` supplies every option that the
   following statements leave unset (lists only when the statement has
   none); a `defaults` anywhere else is an error.

   Mapping (docs/migration.md has the full table):
     poll/via HOST -> host; skip HOST -> the same, active no;
     protocol pop3|imap -> protocol (auto, apop, pop2, rpop, kpop, sdps,
       etrn, odmr: skipped);
     port / service -> port; user / is NAME there -> remote-user;
     pass -> password; is / to names -> local names (more than one name,
       '*' or a = b mapping is multidrop: skipped);
     keep / no keep -> keep (fetchmail's default is no keep);
     folder -> folders (IMAP); limit -> max-size;
     ssl -> tls implicit; without ssl: sslproto '' -> tls none, otherwise
       tls starttls (fetchmail 6.4 requires TLS unless sslproto is '' or
       no sslcertck allows plaintext: noted as changed);
     sslcertck / no sslcertck -> tls-verify;
     mda, preconnect, postconnect, plugin, plugout: refused (never run);
     everything else that is set: ignored or changed, with the reason.

   Errors: "line N: <what>", never quoting a value that could be a
   password. Nothing throws. */

#include "fetchmail-import.hh"

#include <string>
#include <string_view>

namespace fetchmail {

int import_fetchmailrc(std::string_view text, ImportFile &file_r,
		       std::string &error_r);

} // namespace fetchmail

#endif
