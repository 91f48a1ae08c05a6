#include "fetchmail-import.hh"

#include "fetchmail-strings.hh"

#include <algorithm>
#include <new>
#include <set>

namespace fetchmail {

namespace {

const size_t UIDL_MAX = 512;

/* Split text into lines (LF or CRLF); the last line may lack its LF. */
std::vector<std::string_view> split_lines(std::string_view text)
{
	std::vector<std::string_view> lines;
	size_t pos = 0;
	while (pos < text.size()) {
		size_t end = text.find('\n', pos);
		if (end == text.npos)
			end = text.size();
		std::string_view line = text.substr(pos, end - pos);
		if (!line.empty() && line.back() == '\r')
			line.remove_suffix(1);
		lines.push_back(line);
		pos = end + 1;
	}
	return lines;
}

int fetchids_read(std::string_view text,
		  std::map<std::pair<std::string, std::string>,
			   std::vector<std::string>> &map, size_t &count,
		  std::string &error_r)
{
	std::vector<std::string_view> lines = split_lines(text);
	std::map<std::pair<std::string, std::string>,
		 std::set<std::string, std::less<>>> seen;

	for (size_t i = 0; i < lines.size(); i++) {
		std::string_view line = trim(lines[i], " \t");
		size_t n = i + 1;
		if (line.empty())
			continue;
		/* the first '@', then the first space after it ends user@server */
		size_t at = line.find('@');
		size_t space = at == line.npos ? line.npos : line.find(' ', at);
		if (space == line.npos) {
			error_r = import_at_line(n) +
				"expected '<user>@<server> <UIDL>'";
			return -1;
		}
		std::string_view userhost = line.substr(0, space);
		std::string_view uidl = line.substr(space);
		while (!uidl.empty() && uidl.front() == ' ')
			uidl.remove_prefix(1);
		size_t last_at = userhost.rfind('@');
		std::string_view user = userhost.substr(0, last_at);
		std::string_view server = userhost.substr(last_at + 1);
		if (user.empty() || server.empty() || uidl.empty()) {
			error_r = import_at_line(n) +
				"expected '<user>@<server> <UIDL>'";
			return -1;
		}
		if (uidl.size() > UIDL_MAX ||
		    std::any_of(uidl.begin(), uidl.end(), [](char c) {
			    return (unsigned char)c <= 0x20 ||
				    (unsigned char)c == 0x7f;
		    })) {
			error_r = import_at_line(n) + "UIDL: must be 1 to 512 "
				"printable characters without spaces";
			return -1;
		}
		if (has_ctrl_chars(userhost)) {
			error_r = import_at_line(n) +
				"user@server: control characters";
			return -1;
		}
		auto key = std::make_pair(ascii_lower(user), ascii_lower(server));
		if (!seen[key].insert(std::string(uidl)).second)
			continue;
		map[key].emplace_back(uidl);
		count++;
	}
	return 0;
}

/* ------------------------------------------------------------ tables */

enum class TableFormat { Tab, Csv };

/* One field of a tab-separated line, backslash escapes decoded. */
std::string tsv_unescape(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	for (size_t i = 0; i < s.size(); i++) {
		if (s[i] != '\\' || i + 1 == s.size()) {
			out += s[i];
			continue;
		}
		char c = s[++i];
		switch (c) {
		case 't': out += '\t'; break;
		case 'n': out += '\n'; break;
		case 'r': out += '\r'; break;
		case '0': out += '\0'; break;
		case '\\': out += '\\'; break;
		default:
			out += '\\';
			out += c;
			break;
		}
	}
	return out;
}

bool is_null_token(std::string_view s)
{
	return s == "NULL" || s == "\\N";
}

/* Read one record of a tab-separated table starting at pos. */
void tsv_record(std::string_view text, size_t &pos, size_t &line,
		TableRow &row)
{
	size_t end = text.find('\n', pos);
	if (end == text.npos)
		end = text.size();
	std::string_view rec = text.substr(pos, end - pos);
	if (!rec.empty() && rec.back() == '\r')
		rec.remove_suffix(1);
	pos = end + 1;
	row.line = line++;
	size_t start = 0;
	for (;;) {
		size_t tab = rec.find('\t', start);
		std::string_view field = rec.substr(start, tab == rec.npos ?
						    rec.npos : tab - start);
		row.null.push_back(is_null_token(field));
		row.fields.push_back(tsv_unescape(field));
		if (tab == rec.npos)
			break;
		start = tab + 1;
	}
}

/* Read one CSV record starting at pos; -1 on an unterminated quote or
   text after a closing quote. */
int csv_record(std::string_view text, size_t &pos, size_t &line,
	       TableRow &row, std::string &error_r)
{
	row.line = line;
	for (;;) {
		std::string field;
		bool quoted = false;
		if (pos < text.size() && text[pos] == '"') {
			quoted = true;
			size_t start_line = line;
			pos++;
			for (;;) {
				if (pos >= text.size()) {
					error_r = import_at_line(start_line) +
						"a quoted field is not closed";
					return -1;
				}
				char c = text[pos++];
				if (c == '"') {
					if (pos < text.size() && text[pos] == '"') {
						field += '"';
						pos++;
						continue;
					}
					break;
				}
				if (c == '\n')
					line++;
				field += c;
			}
			if (pos < text.size() && text[pos] == '\r' &&
			    pos + 1 < text.size() && text[pos + 1] == '\n')
				pos++;
			if (pos < text.size() && text[pos] != ',' &&
			    text[pos] != '\n') {
				error_r = import_at_line(line) +
					"text after a closing quote";
				return -1;
			}
		} else {
			size_t end = text.find_first_of(",\n", pos);
			if (end == text.npos)
				end = text.size();
			std::string_view raw = text.substr(pos, end - pos);
			if (!raw.empty() && raw.back() == '\r' &&
			    (end == text.size() || text[end] == '\n'))
				raw.remove_suffix(1);
			field = std::string(raw);
			pos = end;
		}
		row.null.push_back(!quoted && is_null_token(field));
		row.fields.push_back(std::move(field));
		if (pos >= text.size()) {
			line++;
			return 0;
		}
		if (text[pos++] == '\n') {
			line++;
			return 0;
		}
	}
}

bool blank(std::string_view s)
{
	return std::all_of(s.begin(), s.end(), [](char c) {
		return c == ' ' || c == '\t' || c == '\r';
	});
}

std::string unquote_column(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.back() == ' ')) {
		if (s.front() == ' ')
			s.remove_prefix(1);
		else
			s.remove_suffix(1);
	}
	if (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') ||
			      (s.front() == '`' && s.back() == '`')))
		s = s.substr(1, s.size() - 2);
	return ascii_lower(s);
}

/* psql's "(3 rows)" footer */
bool psql_footer(std::string_view s)
{
	if (s.size() < 7 || s.front() != '(' || s.back() != ')')
		return false;
	s = s.substr(1, s.size() - 2);
	size_t digits = 0;
	while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	s.remove_prefix(digits);
	return digits > 0 && (s == " row" || s == " rows");
}

int table_read(std::string_view text, Table &table, std::string &error_r)
{
	size_t first_end = text.find('\n');
	std::string_view header = text.substr(0, first_end);
	if (!header.empty() && header.back() == '\r')
		header.remove_suffix(1);
	/* a UTF-8 byte order mark from a spreadsheet export */
	if (header.substr(0, 3) == "\xef\xbb\xbf") {
		text.remove_prefix(3);
		header.remove_prefix(3);
	}
	if (blank(header)) {
		error_r = "line 1: no header row naming the columns";
		return -1;
	}
	if (header.find(" | ") != header.npos ||
	    header.find('|') != header.npos) {
		error_r = "line 1: looks like psql's aligned output; export "
			"with psql -A -F $'\\t', psql --csv or mysql -B";
		return -1;
	}
	TableFormat format = header.find('\t') != header.npos ||
		header.find(',') == header.npos ? TableFormat::Tab :
		TableFormat::Csv;

	size_t pos = 0, line = 1;
	TableRow head;
	if (format == TableFormat::Tab)
		tsv_record(text, pos, line, head);
	else if (csv_record(text, pos, line, head, error_r) < 0)
		return -1;
	for (const std::string &name : head.fields) {
		std::string col = unquote_column(name);
		if (col.empty()) {
			error_r = "line 1: a column without a name";
			return -1;
		}
		if (table.column(col) >= 0) {
			error_r = "line 1: column '" +
				account_quote_value(col) + "' twice";
			return -1;
		}
		table.columns.push_back(std::move(col));
	}

	while (pos < text.size()) {
		size_t end = text.find('\n', pos);
		std::string_view raw = text.substr(pos, end == text.npos ?
						   text.npos : end - pos);
		if (blank(raw) || psql_footer(raw)) {
			pos = end == text.npos ? text.size() : end + 1;
			line++;
			continue;
		}
		if (table.rows.size() >= IMPORT_MAX_ACCOUNTS) {
			error_r = import_at_line(line) + "more than " +
				std::to_string(IMPORT_MAX_ACCOUNTS) + " rows";
			return -1;
		}
		TableRow row;
		if (format == TableFormat::Tab)
			tsv_record(text, pos, line, row);
		else if (csv_record(text, pos, line, row, error_r) < 0)
			return -1;
		if (row.fields.size() != table.columns.size()) {
			error_r = import_at_line(row.line) +
				std::to_string(row.fields.size()) +
				" fields, the header has " +
				std::to_string(table.columns.size());
			return -1;
		}
		table.rows.push_back(std::move(row));
	}
	return 0;
}

} // namespace

std::string import_at_line(size_t line)
{
	return "line " + std::to_string(line) + ": ";
}

const char *import_source_name(ImportSource source)
{
	switch (source) {
	case ImportSource::Fetchmailrc: return "fetchmailrc";
	case ImportSource::PostfixAdmin: return "postfixadmin";
	case ImportSource::Mailu: return "mailu";
	}
	return "fetchmailrc";
}

int import_source_parse(std::string_view name, ImportSource &source_r)
{
	for (ImportSource s : { ImportSource::Fetchmailrc,
				ImportSource::PostfixAdmin,
				ImportSource::Mailu }) {
		if (ascii_iequals(name, import_source_name(s))) {
			source_r = s;
			return 0;
		}
	}
	return -1;
}

const char *import_note_kind_name(ImportNoteKind kind)
{
	switch (kind) {
	case ImportNoteKind::Refused: return "refused";
	case ImportNoteKind::Ignored: return "ignored";
	case ImportNoteKind::Changed: return "changed";
	}
	return "ignored";
}

void import_note(std::vector<ImportNote> &notes, size_t line,
		 std::string_view option, ImportNoteKind kind,
		 std::string reason)
{
	notes.push_back(ImportNote{ line, std::string(option), kind,
				    std::move(reason) });
}

bool import_belongs_to(const ImportedAccount &imp, std::string_view user,
		       std::string_view domain, bool own_file)
{
	if (imp.local_names.empty())
		return own_file;
	for (const std::string &name : imp.local_names) {
		if (ascii_iequals(name, user))
			return true;
		if (!domain.empty() && name.find('@') == name.npos &&
		    user.size() == name.size() + 1 + domain.size() &&
		    ascii_iequals(user.substr(0, name.size()), name) &&
		    user[name.size()] == '@' &&
		    ascii_iequals(user.substr(name.size() + 1), domain))
			return true;
	}
	return false;
}

bool import_same_account(const Account &a, const Account &b)
{
	if (a.protocol != b.protocol || !ascii_iequals(a.host, b.host) ||
	    a.remote_user != b.remote_user)
		return false;
	if (a.protocol != Protocol::Imap)
		return true;
	std::vector<std::string> fa = a.folders, fb = b.folders;
	std::sort(fa.begin(), fa.end());
	std::sort(fb.begin(), fb.end());
	return fa == fb;
}

std::string import_account_label(const Account &account)
{
	std::string host = account.host.find(':') != account.host.npos ?
		"[" + account.host + "]" : account.host;
	std::string s = std::string(protocol_name(account.protocol)) + "://" +
		account_quote_value(account.remote_user) + "@" +
		account_quote_value(host) + ":" +
		std::to_string(account.effective_port());
	if (account.protocol == Protocol::Imap) {
		std::string folders;
		for (const std::string &f : account.folders) {
			if (!folders.empty())
				folders += ',';
			folders += account_quote_value(f);
		}
		s += "/" + folders;
	}
	return s;
}

std::vector<std::string> FetchIds::find(std::string_view remote_user,
					std::string_view server) const
{
	auto it = ids_.find(std::make_pair(ascii_lower(remote_user),
					   ascii_lower(server)));
	return it == ids_.end() ? std::vector<std::string>() : it->second;
}

int fetchids_parse(std::string_view text, FetchIds &ids_r,
		   std::string &error_r)
{
	try {
		FetchIds ids;
		if (text.size() > IMPORT_MAX_FILE_SIZE) {
			error_r = "larger than 32 MiB";
			return -1;
		}
		if (fetchids_read(text, ids.ids_, ids.count_, error_r) < 0)
			return -1;
		ids_r = std::move(ids);
		return 0;
	} catch (const std::bad_alloc &) {
		error_r = "out of memory";
		return -1;
	}
}

int Table::column(std::string_view name) const
{
	for (size_t i = 0; i < columns.size(); i++) {
		if (columns[i] == name)
			return (int)i;
	}
	return -1;
}

const std::string *Table::get(const TableRow &row, std::string_view name) const
{
	int i = column(name);
	if (i < 0 || (size_t)i >= row.fields.size() || row.null[i])
		return nullptr;
	return &row.fields[i];
}

std::string Table::text(const TableRow &row, std::string_view name) const
{
	const std::string *v = get(row, name);
	return v == nullptr ? std::string() : *v;
}

int table_parse(std::string_view text, Table &table_r, std::string &error_r)
{
	try {
		Table table;
		if (text.size() > IMPORT_MAX_FILE_SIZE) {
			error_r = "larger than 32 MiB";
			return -1;
		}
		if (text.find('\0') != text.npos) {
			error_r = import_at_line(1 + (size_t)std::count(text.begin(),
				text.begin() + (long)text.find('\0'), '\n')) +
				"a NUL byte: not a text export";
			return -1;
		}
		if (table_read(text, table, error_r) < 0)
			return -1;
		table_r = std::move(table);
		return 0;
	} catch (const std::bad_alloc &) {
		error_r = "out of memory";
		return -1;
	}
}

int import_run(ImportFile &file_r, std::string &error_r,
	       const std::function<int(ImportFile &, std::string &)> &body)
{
	try {
		ImportFile file;
		if (body(file, error_r) < 0)
			return -1;
		file_r = std::move(file);
		return 0;
	} catch (const std::bad_alloc &) {
		error_r = "out of memory";
	} catch (const std::exception &e) {
		error_r = std::string("internal error: ") + e.what();
	}
	return -1;
}

int import_table(std::string_view text,
		 const std::vector<const char *> &required,
		 const import_row_fn &map_row, ImportFile &file_r,
		 std::string &error_r)
{
	return import_run(file_r, error_r, [&](ImportFile &file,
					       std::string &error) {
		Table table;
		if (table_parse(text, table, error) < 0 ||
		    table_require(table, required, error) < 0)
			return -1;
		for (const TableRow &row : table.rows) {
			ImportedAccount imp;
			if (map_row(table, row, imp, error) < 0)
				return -1;
			file.accounts.push_back(std::move(imp));
		}
		return 0;
	});
}

int table_require(const Table &table, const std::vector<const char *> &names,
		  std::string &error_r)
{
	for (const char *name : names) {
		if (table.column(name) < 0) {
			error_r = std::string("line 1: column '") + name +
				"' is missing";
			return -1;
		}
	}
	return 0;
}

int table_bool(const Table &table, const TableRow &row, const char *name,
	       bool def, bool &value_r, std::string &error_r)
{
	const std::string *v = table.get(row, name);
	if (v == nullptr || v->empty()) {
		value_r = def;
		return 0;
	}
	if (import_parse_bool(*v, value_r) < 0) {
		error_r = import_at_line(row.line) + name +
			": must be 1 or 0 (or t/f, true/false), got '" +
			account_quote_value(*v) + "'";
		return -1;
	}
	return 0;
}

int import_parse_bool(std::string_view value, bool &value_r)
{
	for (const char *t : { "1", "t", "true", "y", "yes" }) {
		if (ascii_iequals(value, t)) {
			value_r = true;
			return 0;
		}
	}
	for (const char *f : { "0", "f", "false", "n", "no" }) {
		if (ascii_iequals(value, f)) {
			value_r = false;
			return 0;
		}
	}
	return -1;
}

int import_set_field(ImportedAccount &imp, size_t line,
		     std::string_view option, std::string_view field,
		     std::string_view value, std::string &error_r)
{
	std::string error;
	if (account_set_field(imp.account, field, value, error) == 0)
		return 0;
	/* "port: must be ..." -> "line 3: src_port: must be ..." */
	std::string prefix = std::string(field) + ": ";
	if (error.compare(0, prefix.size(), prefix) == 0)
		error.erase(0, prefix.size());
	error_r = import_at_line(line) + std::string(option) + ": " + error;
	return -1;
}

} // namespace fetchmail
