#ifndef FETCHMAIL_IMPORT_HH
#define FETCHMAIL_IMPORT_HH

/* Importing accounts from the fetchers an installation had before: the
   model the three source parsers share, and the pieces they share.

   Sources (one parser each, all with the same shape):
     fetchmailrc   fetchmail-import-fetchmailrc.hh
     postfixadmin  fetchmail-import-postfixadmin.hh (PostfixAdmin's
                   `fetchmail` table, exported as CSV or tab-separated)
     mailu         fetchmail-import-mailu.hh (Mailu's `fetch` table)

   A parser reads the whole file (every byte is untrusted) and returns an
   ImportFile: one ImportedAccount per account found, each with
     - the line it starts on and the local names it belongs to;
     - the Account it maps to (the password in plaintext, in memory only),
       built with account_set_field(), so every value passed the same
       validation as `doveadm fetchmail add`;
     - or, when it cannot be imported (protocol etrn, multidrop, no
       password...), skip: one line naming the field and why;
     - notes: every option of the source that is not carried over as it
       was, with its line, its name as the source spells it, a kind and the
       reason.
   Malformed input (a syntax error, a value that fails validation, a broken
   row) fails the whole file with one error "line N: <option>: <what>" and
   nothing is imported; an account that is well-formed but cannot be
   carried over is skipped and the others are imported.

   Notes and errors never contain a password, and never the text of a
   command (mda, plugin, preconnect...: such commands may hold secrets).

   Also here: matching imported accounts to Dovecot users, finding an
   account imported before (import_same_account), fetchmail's .fetchids
   file (POP3 UIDLs seen by fetchmail), and the CSV / tab-separated table
   reader that the PostfixAdmin and Mailu parsers share.

   Everything here is pure: no I/O, no Dovecot types, nothing throws out
   of the public functions (allocation failures are caught and returned as
   errors). */

#include "fetchmail-account.hh"

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fetchmail {

enum class ImportSource { Fetchmailrc, PostfixAdmin, Mailu };

/* "fetchmailrc", "postfixadmin", "mailu" */
const char *import_source_name(ImportSource source);
int import_source_parse(std::string_view name, ImportSource &source_r);

enum class ImportNoteKind {
	/* a command from the file (mda, plugin, preconnect, ...): never run */
	Refused,
	/* no equivalent here: dropped */
	Ignored,
	/* carried over with a different meaning (the reason says how) */
	Changed,
};
/* "refused", "ignored", "changed" */
const char *import_note_kind_name(ImportNoteKind kind);

struct ImportNote {
	size_t line = 0;          /* 1-based line of the option */
	std::string option;       /* as the source names it: "mda", "usessl" */
	ImportNoteKind kind = ImportNoteKind::Ignored;
	std::string reason;
};

struct ImportedAccount {
	size_t line = 0;          /* where the account starts */
	/* Whom it belongs to (fetchmailrc is/to names, PostfixAdmin's
	   mailbox, Mailu's user_email). Empty: whoever is importing a file
	   of their own (see import_belongs_to()). */
	std::vector<std::string> local_names;
	Account account;
	/* non-empty: not importable, "<field>: <why>" */
	std::string skip;
	std::vector<ImportNote> notes;
};

struct ImportFile {
	std::vector<ImportedAccount> accounts;
	/* notes that belong to no account (fetchmailrc `set` statements) */
	std::vector<ImportNote> notes;
};

/* Limits every parser enforces. */
const size_t IMPORT_MAX_FILE_SIZE = 32 * 1024 * 1024;
const size_t IMPORT_MAX_ACCOUNTS = 100000;

/* "line 12: ", the start of every error of the parsers */
std::string import_at_line(size_t line);

/* Add a note to account (or file-level notes). */
void import_note(std::vector<ImportNote> &notes, size_t line,
		 std::string_view option, ImportNoteKind kind,
		 std::string reason);

/* Whether imp belongs to the Dovecot user `user`: one of its local names
   equals user (ASCII case-insensitively), or a local name without '@'
   becomes equal when "@" + domain is appended (domain non-empty). An
   account without local names belongs to user only when own_file is true
   (a single user was named with -u: the file is theirs). */
bool import_belongs_to(const ImportedAccount &imp, std::string_view user,
		       std::string_view domain, bool own_file);

/* Whether a and b fetch the same remote mailbox: same protocol, host
   (case-insensitively), remote user (exactly) and, for IMAP, the same set
   of folders. Importing twice finds the account created the first time
   through this. */
bool import_same_account(const Account &a, const Account &b);

/* "pop3://bob@pop.example.net:995", "imap://bob@imap.example.net:993/
   INBOX,Archive": for output; no password, control characters quoted. */
std::string import_account_label(const Account &account);

/* fetchmail's .fetchids file (written by fetchmail 6.x, uid.c): one line
   per POP3 message that fetchmail saw and left on the server,

     <remote user>@<server> <UIDL>

   where <server> is the poll name (or `via` name) of the fetchmailrc and
   the remote user may itself contain '@' (split at the last '@' before
   the first space that follows an '@'). fetchmail matches both parts
   case-insensitively; so does fetchids_find(). IMAP state is not kept in
   .fetchids by fetchmail 6 (it uses the server's \Seen flags).

   Blank lines are allowed. Anything else that is not of this form fails
   the file: "line N: expected '<user>@<server> <UIDL>'". A UIDL is 1..512
   printable characters without spaces. */
class FetchIds {
public:
	/* UIDLs recorded for that remote user at that server, in file
	   order, without duplicates; empty when none. */
	std::vector<std::string> find(std::string_view remote_user,
				      std::string_view server) const;
	size_t size() const { return count_; }
	bool empty() const { return count_ == 0; }

private:
	friend int fetchids_parse(std::string_view, FetchIds &,
				  std::string &);
	/* (lowercased user, lowercased server) -> UIDLs */
	std::map<std::pair<std::string, std::string>,
		 std::vector<std::string>> ids_;
	size_t count_ = 0;
};

int fetchids_parse(std::string_view text, FetchIds &ids_r,
		   std::string &error_r);

/* A table exported from a database, with a header row naming the
   columns. Formats, detected from the header line:
     tab-separated: `mysql -B`, `psql -A -F '<TAB>'` (with or without its
       "(N rows)" footer), PostgreSQL's COPY text format with a header;
       backslash escapes \t \n \r \\ \0 are decoded; a field that is
       exactly NULL or \N is null.
     CSV (RFC 4180): `psql --csv`, `sqlite3 -header -csv`, COPY ... CSV
       HEADER, spreadsheet exports; fields may be quoted with "..." ("" is
       a quote), quoted fields may span lines; an unquoted field that is
       exactly NULL or \N is null.
   psql's aligned output (the default, with " | " and a "----+----"
   rule) is refused with a hint. Column names are matched
   case-insensitively and may be quoted. */
struct TableRow {
	size_t line = 0;          /* the line the row starts on */
	std::vector<std::string> fields;
	std::vector<bool> null;
};

class Table {
public:
	std::vector<std::string> columns;   /* lowercased */
	std::vector<TableRow> rows;

	/* column index, -1 when the table has no such column */
	int column(std::string_view name) const;
	/* the field of the named column in row; nullptr when the column
	   is missing or the field is null */
	const std::string *get(const TableRow &row, std::string_view name) const;
	/* the same, "" for a missing column or a null field */
	std::string text(const TableRow &row, std::string_view name) const;
};

/* Errors: "line N: <what>" (e.g. "line 3: 12 fields, the header has 25",
   "line 1: no header row"). */
int table_parse(std::string_view text, Table &table_r, std::string &error_r);

/* What every parser's entry point does around its work: body fills a
   fresh ImportFile, which replaces file_r only when body returns 0;
   exceptions (allocation failures) become errors. */
int import_run(ImportFile &file_r, std::string &error_r,
	       const std::function<int(ImportFile &, std::string &)> &body);

typedef std::function<int(const Table &, const TableRow &, ImportedAccount &,
			  std::string &)> import_row_fn;
/* The table sources: parse text as a table that has the required
   columns, map_row each row to an account. */
int import_table(std::string_view text,
		 const std::vector<const char *> &required,
		 const import_row_fn &map_row, ImportFile &file_r,
		 std::string &error_r);

/* For the table sources: "line 1: column 'x' is missing" unless the
   table has every column of names. */
int table_require(const Table &table, const std::vector<const char *> &names,
		  std::string &error_r);
/* The boolean in column name of row (def when the column is missing or
   null); -1 with "line N: <name>: must be 1 or 0 (or t/f, true/false)". */
int table_bool(const Table &table, const TableRow &row, const char *name,
	       bool def, bool &value_r, std::string &error_r);

/* Boolean fields of exported tables: 1/0, t/f, true/false, y/n, yes/no
   (case-insensitive). -1 otherwise. */
int import_parse_bool(std::string_view value, bool &value_r);

/* Set a field of the imported account with account_set_field(); on error
   error_r is "line N: <option>: <account_set_field's error without its
   field name>" (the password's value is never in it). */
int import_set_field(ImportedAccount &imp, size_t line,
		     std::string_view option, std::string_view field,
		     std::string_view value, std::string &error_r);

} // namespace fetchmail

#endif
