/* libFuzzer target: the import parsers (plugin/core/fetchmail-import*.hh:
   fetchmailrc, PostfixAdmin and Mailu tables, fetchmail's .fetchids).

   Input: byte 0 picks the source (0 fetchmailrc, 1 PostfixAdmin, 2 Mailu,
   3 .fetchids); byte 1 says whether and how the harness plants a canary
   password (below); then, with a canary, the password's tail up to a NUL
   byte; the rest is the file.

   The canary: a password that only the harness writes, in a position
   where it can only be a password, so that finding it anywhere else is a
   leak however the rest of the file looks:
     fetchmailrc   a first statement `poll canary.example.net proto pop3
                   user canary-user pass "<canary>"` (escaped as fetchmail
                   reads strings), then the fuzzed text on the same line
                   (it may go on with the statement) or the next;
     tables        a row right after the fuzzed header line (when that
                   line is a header on its own) with the canary in the
                   password column (base64-encoded for PostfixAdmin, or
                   raw, which is not base64), the required columns valid
                   and every other column NULL.
   The canary is "Kq7-CANARY-pw" plus the tail, optionally repeated past
   the 1024 bytes a password may have. An input whose file already holds
   one of the canary's forms (libFuzzer learns them from the comparisons)
   is parsed without one.

   Checked: no crash, overread or undefined behaviour; parsing is
   deterministic (twice the same accounts, notes and skips); a failed
   parse leaves the result untouched and gives one printable line
   "line N: ..." with N inside the file; on success every account that is
   not skipped passes account_validate(), is import_same_account() as
   itself and has a printable import_account_label(), and every note and skip is one printable line with a line number
   inside the file; the canary (and its base64 form) never appears in an
   error, a note, a skip, a local name or a label; a table row with a
   valid canary imports with exactly that password. .fetchids: parsing is
   deterministic, an error is one printable "line N: " line and leaves
   the result alone.

   With FUZZ_TRACE set in the environment the outcome of each input is
   printed (to see what a seed does). */

#include "fuzz-common.hh"

#include "fetchmail-crypto.hh"
#include "fetchmail-import-fetchmailrc.hh"
#include "fetchmail-import-mailu.hh"
#include "fetchmail-import-postfixadmin.hh"
#include "fetchmail-import.hh"

#include <algorithm>
#include <string>
#include <vector>

using namespace fetchmail;

namespace {

const std::string canary_core = "Kq7-CANARY-pw";

enum Source { Rc, PostfixAdmin, Mailu, Ids };

int parse(Source source, std::string_view text, ImportFile &file,
	  std::string &error)
{
	switch (source) {
	case Rc: return import_fetchmailrc(text, file, error);
	case PostfixAdmin: return import_postfixadmin(text, file, error);
	default: return import_mailu(text, file, error);
	}
}

auto note_fields(const ImportNote &n)
{
	return std::tie(n.line, n.option, n.kind, n.reason);
}

bool same_notes(const std::vector<ImportNote> &a,
		const std::vector<ImportNote> &b)
{
	if (a.size() != b.size())
		return false;
	for (size_t i = 0; i < a.size(); i++) {
		if (note_fields(a[i]) != note_fields(b[i]))
			return false;
	}
	return true;
}

bool same_file(const ImportFile &a, const ImportFile &b)
{
	if (a.accounts.size() != b.accounts.size() ||
	    !same_notes(a.notes, b.notes))
		return false;
	for (size_t i = 0; i < a.accounts.size(); i++) {
		const ImportedAccount &x = a.accounts[i], &y = b.accounts[i];
		if (x.line != y.line || x.local_names != y.local_names ||
		    x.skip != y.skip || !same_notes(x.notes, y.notes) ||
		    fuzz_account_fields(x.account) !=
		    fuzz_account_fields(y.account))
			return false;
	}
	return true;
}

/* The forms of the canary that must never show. */
struct Canary {
	bool planted = false;
	std::string password;          /* as the account should get it */
	std::vector<std::string> forms;

	bool in(std::string_view text) const
	{
		for (const std::string &f : forms) {
			if (fuzz_contains(text, f))
				return true;
		}
		return false;
	}
};

/* "line N: " with 1 <= N <= lines */
bool line_error(const std::string &error, size_t lines)
{
	if (error.compare(0, 5, "line ") != 0)
		return false;
	size_t pos = 5, n = 0;
	while (pos < error.size() && error[pos] >= '0' && error[pos] <= '9' &&
	       pos < 15)
		n = n * 10 + (error[pos++] - '0');
	return pos > 5 && error.compare(pos, 2, ": ") == 0 && n >= 1 &&
		n <= lines;
}

size_t count_lines(std::string_view text)
{
	return 1 + std::count(text.begin(), text.end(), '\n');
}

void check_note(const ImportNote &n, size_t lines, const Canary &canary)
{
	FUZZ_CHECK(n.line >= 1 && n.line <= lines);
	FUZZ_CHECK(fuzz_printable(n.option) && fuzz_printable(n.reason));
	FUZZ_CHECK(!canary.in(n.option) && !canary.in(n.reason));
}

void check_file(const ImportFile &file, size_t lines, const Canary &canary)
{
	for (const ImportNote &n : file.notes)
		check_note(n, lines, canary);
	for (const ImportedAccount &imp : file.accounts) {
		const Account &a = imp.account;
		FUZZ_CHECK(imp.line >= 1 && imp.line <= lines);
		for (const ImportNote &n : imp.notes)
			check_note(n, lines, canary);
		for (const std::string &name : imp.local_names)
			FUZZ_CHECK(!canary.in(name));
		FUZZ_CHECK(fuzz_printable(imp.skip) && !canary.in(imp.skip));
		std::string label = import_account_label(a);
		FUZZ_CHECK(fuzz_printable(label) && !canary.in(label));
		FUZZ_CHECK(import_same_account(a, a));
		if (!imp.skip.empty())
			continue;
		std::string error;
		FUZZ_CHECK(account_validate(a, error) == 0);
		FUZZ_CHECK(!a.password.empty());
	}
}

/* fetchmail's string syntax: every byte that is not a plain letter or
   digit as \xHH (exactly two digits, so nothing after it is taken in) */
std::string rc_string(std::string_view value)
{
	static const char hex[] = "0123456789abcdef";
	std::string out = "\"";
	for (unsigned char c : value) {
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') {
			out += static_cast<char>(c);
		} else {
			out += "\\x";
			out += hex[c >> 4];
			out += hex[c & 15];
		}
	}
	return out + "\"";
}

std::string csv_field(std::string_view value)
{
	std::string out = "\"";
	for (char c : value) {
		if (c == '"')
			out += '"';
		out += c;
	}
	return out + "\"";
}

std::string tsv_field(std::string_view value)
{
	std::string out;
	for (char c : value) {
		switch (c) {
		case '\\': out += "\\\\"; break;
		case '\t': out += "\\t"; break;
		case '\n': out += "\\n"; break;
		case '\r': out += "\\r"; break;
		case '\0': out += "\\0"; break;
		default: out += c;
		}
	}
	return out;
}

/* The canary row for the header line of text; false when the first line
   is not a header of its own. */
bool table_canary_row(Source source, std::string_view text,
		      std::string_view field, std::string &row_r)
{
	size_t nl = text.find('\n');
	if (nl == text.npos)
		return false;
	std::string_view first = text.substr(0, nl);
	Table table;
	std::string error;
	if (table_parse(std::string(first) + "\n", table, error) < 0)
		return false;
	bool tab = first.find('\t') != first.npos ||
		first.find(',') == first.npos;
	std::string row;
	for (size_t i = 0; i < table.columns.size(); i++) {
		const std::string &col = table.columns[i];
		std::string value;
		bool null = false;
		if (source == PostfixAdmin) {
			if (col == "mailbox") value = "canary@example.org";
			else if (col == "src_server") value = "canary.example.net";
			else if (col == "src_user") value = "canary-user";
			else if (col == "protocol") value = "POP3";
			else if (col == "src_password") value = std::string(field);
			else null = true;
		} else {
			if (col == "user_email") value = "canary@example.org";
			else if (col == "host") value = "canary.example.net";
			else if (col == "username") value = "canary-user";
			else if (col == "protocol") value = "pop3";
			else if (col == "port") value = "995";
			else if (col == "password") value = std::string(field);
			else null = true;
		}
		if (i > 0)
			row += tab ? "\t" : ",";
		if (null)
			row += "NULL";
		else
			row += tab ? tsv_field(value) : csv_field(value);
	}
	row_r = row + "\n";
	return true;
}

void fuzz_fetchids(std::string_view text)
{
	FetchIds ids, again;
	std::string error, error2;
	/* what a failed parse must leave alone */
	FUZZ_CHECK(fetchids_parse("Bob@pop.example.net UID-1\n", ids,
				  error) == 0);
	int ret = fetchids_parse(text, ids, error);
	FUZZ_CHECK(ret == fetchids_parse(text, again, error2));
	if (ret < 0) {
		FUZZ_CHECK(error == error2);
		FUZZ_CHECK(line_error(error, count_lines(text)));
		FUZZ_CHECK(fuzz_printable(error));
		FUZZ_CHECK(ids.size() == 1 &&
			   ids.find("bob", "POP.example.net") ==
			   std::vector<std::string>{ "UID-1" });
		return;
	}
	FUZZ_CHECK(ids.size() == again.size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput in(data, size);
	Source source = static_cast<Source>(in.byte() % 4);
	uint8_t plant = in.byte();

	if (source == Ids) {
		fuzz_fetchids(in.rest());
		return 0;
	}

	Canary canary;
	std::string text;
	std::string_view tail;
	if (plant & 0x80) {
		tail = in.until('\0');
		canary.password = canary_core + std::string(tail);
		if (plant & 0x40) {
			std::string once = canary.password;
			while (canary.password.size() <= 1100)
				canary.password += once;
		}
	}
	std::string_view file = in.rest();

	if (plant & 0x80) {
		canary.forms = { canary_core };
		if (source == Rc) {
			canary.planted = true;
			text = "poll canary.example.net proto pop3 user "
				"canary-user pass " + rc_string(canary.password) +
				((plant & 0x20) ? "\n" : " ") + std::string(file);
		} else {
			std::string field = canary.password;
			if (source == PostfixAdmin && !(plant & 0x20)) {
				field = base64_encode(canary.password);
				/* the first 12 characters depend only on the
				   canary's first 9 bytes */
				canary.forms.push_back(field.substr(0, 12));
			}
			std::string row;
			if (table_canary_row(source, file, field, row)) {
				canary.planted = true;
				size_t nl = file.find('\n');
				text = std::string(file.substr(0, nl + 1)) + row +
					std::string(file.substr(nl + 1));
			}
		}
	}
	/* the fuzzer learns the canary's forms from the comparisons and may
	   write them into the file itself: then they prove nothing */
	if (canary.planted && canary.in(file))
		canary.planted = false;
	if (!canary.planted) {
		canary.forms.clear();
		text = file;
	}

	size_t lines = count_lines(text);
	ImportFile result, again;
	ImportedAccount marker;
	marker.line = 4242;
	result.accounts.push_back(marker);
	std::string error, error2;

	int ret = parse(source, text, result, error);
	if (getenv("FUZZ_TRACE") != nullptr)
		fprintf(stderr, "canary %s; %s\n",
			canary.planted ? "planted" : "not planted",
			ret < 0 ? error.c_str() : (std::to_string(
			result.accounts.size()) + " accounts").c_str());
	FUZZ_CHECK(ret == parse(source, text, again, error2));
	if (ret < 0) {
		FUZZ_CHECK(error == error2);
		FUZZ_CHECK(result.accounts.size() == 1 &&
			   result.accounts[0].line == 4242);
		FUZZ_CHECK(line_error(error, lines));
		FUZZ_CHECK(fuzz_printable(error));
		FUZZ_CHECK(!canary.in(error));
		return 0;
	}
	FUZZ_CHECK(same_file(result, again));
	check_file(result, lines, canary);

	/* a table row with a password that is one imports with exactly it
	   (fetchmailrc: the fuzzed text may go on with the statement) */
	if (canary.planted && source != Rc && canary.password.size() <= 1024 &&
	    canary.password.find_first_of(std::string("\r\n\0", 3)) ==
	    std::string::npos && (source == Mailu || !(plant & 0x20))) {
		bool found = false;
		for (const ImportedAccount &imp : result.accounts) {
			if (imp.line == 2 && imp.skip.empty() &&
			    imp.account.password == canary.password)
				found = true;
		}
		FUZZ_CHECK(found);
	}
	return 0;
}
