#include "fetchmail-import-fetchmailrc.hh"

#include <algorithm>
#include <cstring>
#include <map>
#include <new>

namespace fetchmail {

namespace {

/* ------------------------------------------------------------ lexer */

enum class Tok { String, Number, Keyword, Proto, AuthType, Map, End };

struct Token {
	Tok kind;
	std::string text;   /* keyword/protocol/auth name, or the string */
	long number = 0;
	size_t line = 0;
};

enum class LexState { Initial, Name, Auth };

struct Keyword {
	const char *word;
	const char *name;   /* canonical */
	int state;          /* 0 keep, 1 -> Name, 2 -> Auth */
};

const Keyword keywords[] = {
	{ "set", "set", 0 }, { "logfile", "logfile", 0 },
	{ "idfile", "idfile", 0 }, { "pidfile", "pidfile", 0 },
	{ "daemon", "daemon", 0 }, { "syslog", "syslog", 0 },
	{ "invisible", "invisible", 0 }, { "showdots", "showdots", 0 },
	{ "postmaster", "postmaster", 0 }, { "bouncemail", "bouncemail", 0 },
	{ "spambounce", "spambounce", 0 }, { "softbounce", "softbounce", 0 },
	{ "warnings", "warnings", 0 }, { "tracepolls", "tracepolls", 0 },
	{ "defaults", "defaults", 0 }, { "server", "poll", 0 },
	{ "poll", "poll", 0 }, { "skip", "skip", 0 }, { "via", "via", 0 },
	{ "aka", "aka", 0 }, { "local", "localdomains", 0 },
	{ "localdomains", "localdomains", 0 }, { "proto", "protocol", 0 },
	{ "protocol", "protocol", 0 }, { "service", "service", 0 },
	{ "port", "port", 0 }, { "interval", "interval", 0 },
	{ "preauth", "authenticate", 2 },
	{ "preauthenticate", "authenticate", 2 },
	{ "auth", "authenticate", 2 }, { "authenticate", "authenticate", 2 },
	{ "timeout", "timeout", 0 }, { "envelope", "envelope", 0 },
	{ "qvirtual", "qvirtual", 0 }, { "principal", "principal", 0 },
	{ "esmtpname", "esmtpname", 0 },
	{ "esmtppassword", "esmtppassword", 0 },
	{ "bad-header", "bad-header", 0 }, { "accept", "accept", 0 },
	{ "reject", "reject", 0 }, { "user", "user", 1 },
	{ "username", "user", 1 }, { "pass", "pass", 1 },
	{ "password", "pass", 1 }, { "folder", "folder", 0 },
	{ "folders", "folder", 0 }, { "smtp", "smtphost", 0 },
	{ "smtphost", "smtphost", 0 }, { "fetchdomains", "fetchdomains", 0 },
	{ "smtpaddress", "smtpaddress", 0 }, { "smtpname", "smtpname", 0 },
	{ "antispam", "antispam", 0 }, { "mda", "mda", 0 },
	{ "bsmtp", "bsmtp", 0 }, { "lmtp", "lmtp", 0 },
	{ "pre", "preconnect", 0 }, { "preconnect", "preconnect", 0 },
	{ "post", "postconnect", 0 }, { "postconnect", "postconnect", 0 },
	{ "interface", "interface", 0 }, { "monitor", "monitor", 0 },
	{ "plugin", "plugin", 0 }, { "plugout", "plugout", 0 },
	{ "batchlimit", "batchlimit", 0 }, { "fetchlimit", "fetchlimit", 0 },
	{ "fetchsizelimit", "fetchsizelimit", 0 },
	{ "fastuidl", "fastuidl", 0 }, { "expunge", "expunge", 0 },
	{ "properties", "properties", 0 }, { "is", "is", 1 },
	{ "here", "here", 0 }, { "there", "there", 0 }, { "to", "to", 1 },
	{ "no", "no", 0 }, { "keep", "keep", 0 }, { "flush", "flush", 0 },
	{ "limitflush", "limitflush", 0 }, { "fetchall", "fetchall", 0 },
	{ "rewrite", "rewrite", 0 }, { "forcecr", "forcecr", 0 },
	{ "stripcr", "stripcr", 0 }, { "pass8", "pass8bits", 0 },
	{ "pass8bits", "pass8bits", 0 }, { "dropstatus", "dropstatus", 0 },
	{ "dropdelivered", "dropdelivered", 0 },
	{ "mimedec", "mimedecode", 0 }, { "mimedecode", "mimedecode", 0 },
	{ "idle", "idle", 0 }, { "dns", "dns", 0 }, { "uidl", "uidl", 0 },
	{ "ssl", "ssl", 0 }, { "sslkey", "sslkey", 0 },
	{ "sslcert", "sslcert", 0 }, { "sslproto", "sslproto", 0 },
	{ "sslcertck", "sslcertck", 0 }, { "sslcertfile", "sslcertfile", 0 },
	{ "sslcertpath", "sslcertpath", 0 },
	{ "sslcommonname", "sslcommonname", 0 },
	{ "sslfingerprint", "sslfingerprint", 0 },
	{ "checkalias", "checkalias", 0 }, { "limit", "limit", 0 },
	{ "kpop", "kpop", 0 }, { "KPOP", "kpop", 0 },
	{ "sdps", "sdps", 0 }, { "SDPS", "sdps", 0 },
};

/* the words fetchmail's lexer splits into `no` and a keyword */
const char *const no_words[] = {
	"nobouncemail", "nouidl", "nocheckalias", "nodns", "noenvelope",
	"nokeep", "noflush", "nolimitflush", "nofetchall", "norewrite",
	"noforcecr", "nostripcr", "nopass8", "nopass8bits", "nodropstatus",
	"nodropdelivered", "nomimedec", "nomimedecode", "nospambounce",
	"noidle",
};

const char *const noise_words[] = { "with", "and", "has", "wants", "options" };

const char *const protocols[] = {
	"auto", "pop2", "pop3", "imap", "apop", "rpop", "etrn", "odmr",
};

struct AuthWord { const char *word; const char *name; };
const AuthWord auth_words[] = {
	{ "any", "any" }, { "gssapi", "gssapi" },
	{ "kerberos_v4", "kerberos_v4" }, { "kerberos4", "kerberos_v4" },
	{ "kerberos_v5", "kerberos_v5" }, { "kerberos5", "kerberos_v5" },
	{ "kerberos", "kerberos_v4" }, { "ssh", "ssh" },
	{ "external", "external" }, { "otp", "otp" }, { "opie", "otp" },
	{ "cram", "cram-md5" }, { "cram-md5", "cram-md5" }, { "msn", "msn" },
	{ "ntlm", "ntlm" },
};

bool is_separator(char c)
{
	return c == '=' || c == ';' || c == ':' || c == ',' || c == ' ' ||
		c == '\t' || c == '\r' || c == '\n';
}

/* fetchmail's escapes(): C escapes, \xHH, \0ooo, \ddd */
std::string unescape(std::string_view in)
{
	static const char hex[] = "00112233445566778899aAbBcCdDeEfF";
	std::string out;
	size_t i = 0;

	while (i < in.size()) {
		int cval = 0;
		if (in[i] == '\\' && i + 1 < in.size() &&
		    strchr("0123456789xX", in[i + 1]) != nullptr) {
			i++;
			int count = 0;
			const char *dp;
			if (in[i] == 'x' || in[i] == 'X') {
				for (i++; i < in.size() && count < 2 &&
				     (dp = strchr(hex, in[i])) != nullptr &&
				     in[i] != '\0'; i++, count++)
					cval = cval * 16 + (int)(dp - hex) / 2;
			} else if (in[i] == '0') {
				for (; i < in.size() && count < 3 &&
				     in[i] >= '0' && in[i] <= '7'; i++, count++)
					cval = cval * 8 + (in[i] - '0');
			} else {
				for (; i < in.size() && count < 3 &&
				     in[i] >= '0' && in[i] <= '9'; i++, count++)
					cval = cval * 10 + (in[i] - '0');
			}
		} else if (in[i] == '\\') {
			i++;
			if (i == in.size())
				break;  /* a backslash at the end is dropped */
			char c = in[i++];
			switch (c) {
			case '\n': continue;  /* joins lines */
			case 'n': cval = '\n'; break;
			case 't': cval = '\t'; break;
			case 'b': cval = '\b'; break;
			case 'r': cval = '\r'; break;
			default: cval = (unsigned char)c; break;
			}
		} else {
			cval = (unsigned char)in[i++];
		}
		out += (char)(unsigned char)cval;
	}
	return out;
}

bool is_number(std::string_view w)
{
	size_t i = w.size() > 1 && w[0] == '-' ? 1 : 0;
	if (i == w.size())
		return false;
	return std::all_of(w.begin() + (long)i, w.end(),
			   [](char c) { return c >= '0' && c <= '9'; });
}

void push(std::vector<Token> &out, Tok kind, std::string text, size_t line)
{
	Token t;
	t.kind = kind;
	t.text = std::move(text);
	t.line = line;
	out.push_back(std::move(t));
}

int lex(std::string_view text, std::vector<Token> &out, std::string &error_r)
{
	LexState st = LexState::Initial;
	size_t i = 0, line = 1, n = text.size();

	while (i < n) {
		char c = text[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == ';' ||
		    c == ':' || c == ',') {
			i++;
			continue;
		}
		if (c == '\n') {
			line++;
			i++;
			continue;
		}
		if (c == '\\' && i + 1 < n && text[i + 1] == '\n') {
			i += 2;
			line++;
			continue;
		}
		if (c == '#') {
			while (i < n && text[i] != '\n')
				i++;
			continue;
		}
		if (c == '=') {
			push(out, Tok::Map, "=", line);
			st = LexState::Name;
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !is_separator(text[j]))
			j++;
		if (c == '"' || c == '\'') {
			size_t close = text.find(c, i + 1);
			if (close == text.npos) {
				error_r = import_at_line(line) +
					"a quoted string is not closed";
				return -1;
			}
			if (close + 1 - i >= j - i) {
				std::string_view body =
					text.substr(i + 1, close - i - 1);
				push(out, Tok::String, unescape(body), line);
				line += (size_t)std::count(body.begin(),
							   body.end(), '\n');
				st = LexState::Initial;
				i = close + 1;
				continue;
			}
		}
		std::string_view word = text.substr(i, j - i);
		i = j;
		if (st == LexState::Name) {
			push(out, Tok::String, unescape(word), line);
			st = LexState::Initial;
			continue;
		}
		if (is_number(word)) {
			if (word.size() > 9) {
				error_r = import_at_line(line) +
					"number out of range";
				return -1;
			}
			push(out, Tok::Number, std::string(word), line);
			out.back().number = std::stol(std::string(word));
			continue;
		}
		if (st == LexState::Auth && word == "password") {
			push(out, Tok::AuthType, "password", line);
			st = LexState::Initial;
			continue;
		}
		if (std::find(std::begin(noise_words), std::end(noise_words),
			      word) != std::end(noise_words))
			continue;
		if (std::find(std::begin(no_words), std::end(no_words),
			      word) != std::end(no_words)) {
			push(out, Tok::Keyword, "no", line);
			word.remove_prefix(2);
		}
		bool done = false;
		for (const char *p : protocols) {
			std::string upper(p);
			for (char &u : upper)
				u = (char)(u - 'a' + 'A');
			if (word == p || word == upper) {
				push(out, Tok::Proto, p, line);
				done = true;
				break;
			}
		}
		for (const AuthWord &a : auth_words) {
			if (!done && word == a.word) {
				push(out, Tok::AuthType, a.name, line);
				st = LexState::Initial;
				done = true;
			}
		}
		for (const Keyword &k : keywords) {
			if (done || word != k.word)
				continue;
			/* `pass` is no keyword right after `auth` */
			if (st == LexState::Auth && k.state == 1 &&
			    strcmp(k.name, "pass") == 0)
				break;
			push(out, Tok::Keyword, k.name, line);
			if (k.state == 1)
				st = LexState::Name;
			else if (k.state == 2)
				st = LexState::Auth;
			done = true;
		}
		if (!done)
			push(out, Tok::String, unescape(word), line);
	}
	push(out, Tok::End, "", line);
	return 0;
}

/* ------------------------------------------------------------ parser */

/* One option as set in a statement: where, on or off, its values. */
struct Opt {
	size_t line = 0;
	bool on = true;
	std::vector<std::string> values;
	long number = 0;
};

struct Record {
	size_t line = 0;
	std::string pollname;
	bool skip = false;
	bool defaults = false;
	std::map<std::string, Opt> opts;
};

/* options whose values add up (fetchmail's string lists) */
const char *const list_options[] = {
	"aka", "localdomains", "folder", "smtphost", "fetchdomains",
	"antispam", "is",
};

bool is_list_option(const std::string &name)
{
	return std::find(std::begin(list_options), std::end(list_options),
			 name) != std::end(list_options);
}

class Parser {
public:
	explicit Parser(std::vector<Token> tokens) : toks(std::move(tokens)) {}
	int parse(std::vector<Record> &records, std::vector<ImportNote> &notes,
		  std::string &error_r);

private:
	const Token &peek(size_t k = 0) const
	{
		size_t i = std::min(pos + k, toks.size() - 1);
		return toks[i];
	}
	bool kw(const char *name, size_t k = 0) const
	{
		return peek(k).kind == Tok::Keyword && peek(k).text == name;
	}
	bool kw_in(const std::vector<const char *> &names, size_t k = 0) const
	{
		for (const char *n : names)
			if (kw(n, k))
				return true;
		return false;
	}
	int syntax_error(const std::string &context = "");
	int expect_string(Record &r, const std::string &option);
	int expect_number(Record &r, const std::string &option);
	int string_list(Record &r, const std::string &option);
	void set_flag(Record &r, const std::string &option, bool on,
		      size_t line);
	int mapping_list(Record &r, size_t line);
	int server_option(Record &r);
	int user_option(Record &r);
	int userdef(Record &r);
	int set_statement(std::vector<ImportNote> &notes);
	int statement(std::vector<Record> &records);

	std::vector<Token> toks;
	size_t pos = 0;
	std::string error;
};

int Parser::syntax_error(const std::string &context)
{
	const Token &t = peek();
	error = import_at_line(t.line);
	switch (t.kind) {
	case Tok::End:
		error += "unexpected end of file";
		break;
	case Tok::Map:
		error += "unexpected '='";
		break;
	case Tok::String:
	case Tok::Number:
		/* never quote it: it may be part of a password */
		error += "unexpected value";
		break;
	default:
		error += "unexpected '" + t.text + "'";
		break;
	}
	if (!context.empty())
		error += " " + context;
	return -1;
}

int Parser::expect_string(Record &r, const std::string &option)
{
	size_t line = peek().line;
	pos++;  /* the keyword */
	if (peek().kind != Tok::String && peek().kind != Tok::Number) {
		error = import_at_line(line) + option + ": a value must follow";
		return -1;
	}
	Opt &o = r.opts[option];
	o = Opt();
	o.line = line;
	o.values.push_back(peek().text);
	pos++;
	return 0;
}

int Parser::expect_number(Record &r, const std::string &option)
{
	size_t line = peek().line;
	pos++;
	if (peek().kind != Tok::Number) {
		error = import_at_line(line) + option + ": a number must follow";
		return -1;
	}
	Opt &o = r.opts[option];
	o = Opt();
	o.line = line;
	o.number = peek().number;
	o.values.push_back(peek().text);
	pos++;
	return 0;
}

int Parser::string_list(Record &r, const std::string &option)
{
	size_t line = peek().line;
	pos++;
	if (peek().kind != Tok::String) {
		error = import_at_line(line) + option + ": a value must follow";
		return -1;
	}
	Opt &o = r.opts[option];
	if (o.line == 0)
		o.line = line;
	while (peek().kind == Tok::String)
		o.values.push_back(toks[pos++].text);
	return 0;
}

void Parser::set_flag(Record &r, const std::string &option, bool on,
		      size_t line)
{
	Opt &o = r.opts[option];
	o = Opt();
	o.line = line;
	o.on = on;
}

/* is/to/user ... names: STRING or STRING = STRING, one or more */
int Parser::mapping_list(Record &r, size_t line)
{
	if (peek().kind != Tok::String)
		return syntax_error("(a local name must follow)");
	Opt &names = r.opts["is"];
	if (names.line == 0)
		names.line = line;
	while (peek().kind == Tok::String) {
		std::string name = toks[pos++].text;
		if (peek().kind == Tok::Map) {
			pos++;
			if (peek().kind != Tok::String)
				return syntax_error("(a name must follow '=')");
			pos++;
			set_flag(r, "is-mapping", true, line);
		}
		if (name == "*")
			set_flag(r, "is-wildcard", true, line);
		names.values.push_back(std::move(name));
	}
	return 0;
}

/* 1: consumed a server option, 0: none here, -1: error */
int Parser::server_option(Record &r)
{
	const Token &t = peek();
	size_t line = t.line;
	if (t.kind != Tok::Keyword)
		return 0;
	const std::string &k = t.text;
	if (k == "aka" || k == "localdomains")
		return string_list(r, k) < 0 ? -1 : 1;
	if (k == "via" || k == "principal" || k == "esmtpname" ||
	    k == "esmtppassword" || k == "qvirtual" || k == "interface" ||
	    k == "monitor" || k == "plugin" || k == "plugout")
		return expect_string(r, k) < 0 ? -1 : 1;
	if (k == "protocol") {
		pos++;
		const Token &p = peek();
		if (p.kind == Tok::Proto ||
		    (p.kind == Tok::Keyword &&
		     (p.text == "kpop" || p.text == "sdps"))) {
			Opt &o = r.opts["protocol"];
			o = Opt();
			o.line = line;
			o.values.push_back(p.text);
			pos++;
			return 1;
		}
		return syntax_error("(protocol: pop3, imap, ... must follow)");
	}
	if (k == "uidl" || k == "checkalias" || k == "dns" ||
	    k == "tracepolls") {
		pos++;
		set_flag(r, k, true, line);
		return 1;
	}
	if (k == "no" && kw_in({ "uidl", "checkalias", "dns", "envelope",
				  "tracepolls" }, 1)) {
		std::string name = peek(1).text;
		pos += 2;
		set_flag(r, name, false, line);
		return 1;
	}
	if (k == "service") {
		size_t l = line;
		pos++;
		if (peek().kind != Tok::String && peek().kind != Tok::Number) {
			error = import_at_line(l) + "service: a value must follow";
			return -1;
		}
		Opt &o = r.opts["port"];
		o = Opt();
		o.line = l;
		o.values.push_back(toks[pos++].text);
		return 1;
	}
	if (k == "port") {
		if (expect_number(r, "port") < 0)
			return -1;
		return 1;
	}
	if (k == "interval" || k == "timeout")
		return expect_number(r, k) < 0 ? -1 : 1;
	if (k == "authenticate") {
		pos++;
		if (peek().kind != Tok::AuthType)
			return syntax_error("(authenticate: password, any, "
					    "ntlm, ... must follow)");
		Opt &o = r.opts["authenticate"];
		o = Opt();
		o.line = line;
		o.values.push_back(toks[pos++].text);
		return 1;
	}
	if (k == "envelope") {
		pos++;
		if (peek().kind == Tok::Number)
			pos++;
		if (peek().kind != Tok::String)
			return syntax_error("(envelope: a header name must follow)");
		pos++;
		set_flag(r, "envelope", true, line);
		return 1;
	}
	if (k == "bad-header") {
		pos++;
		if (!kw("accept") && !kw("reject"))
			return syntax_error("(bad-header: accept or reject must follow)");
		pos++;
		set_flag(r, "bad-header", true, line);
		return 1;
	}
	return 0;
}

const std::vector<const char *> user_flags = {
	"keep", "flush", "limitflush", "fetchall", "rewrite", "forcecr",
	"stripcr", "pass8bits", "dropstatus", "dropdelivered", "mimedecode",
	"idle", "ssl", "sslcertck",
};

/* 1: consumed a user option, 0: none here, -1: error */
int Parser::user_option(Record &r)
{
	const Token &t = peek();
	size_t line = t.line;
	if (t.kind != Tok::Keyword)
		return 0;
	const std::string &k = t.text;
	if (k == "to") {
		pos++;
		if (mapping_list(r, line) < 0)
			return -1;
		if (kw("here"))
			pos++;
		return 1;
	}
	if (k == "is") {
		pos++;
		if (peek().kind == Tok::String && kw("there", 1)) {
			Opt &o = r.opts["user"];
			o = Opt();
			o.line = line;
			o.values.push_back(peek().text);
			pos += 2;
			return 1;
		}
		if (mapping_list(r, line) < 0)
			return -1;
		if (kw("here"))
			pos++;
		return 1;
	}
	if (k == "pass" || k == "smtpaddress" || k == "smtpname" ||
	    k == "mda" || k == "bsmtp" || k == "preconnect" ||
	    k == "postconnect" || k == "sslkey" || k == "sslcert" ||
	    k == "sslproto" || k == "sslcertfile" || k == "sslcertpath" ||
	    k == "sslcommonname" || k == "sslfingerprint" ||
	    k == "properties")
		return expect_string(r, k) < 0 ? -1 : 1;
	if (k == "folder" || k == "smtphost" || k == "fetchdomains")
		return string_list(r, k) < 0 ? -1 : 1;
	if (k == "antispam") {
		pos++;
		if (peek().kind != Tok::Number) {
			error = import_at_line(line) +
				"antispam: a number must follow";
			return -1;
		}
		while (peek().kind == Tok::Number)
			pos++;
		set_flag(r, "antispam", true, line);
		return 1;
	}
	if (k == "lmtp") {
		pos++;
		set_flag(r, "lmtp", true, line);
		return 1;
	}
	if (kw_in(user_flags)) {
		pos++;
		set_flag(r, k, true, line);
		return 1;
	}
	if (k == "no" && kw_in(user_flags, 1)) {
		std::string name = peek(1).text;
		pos += 2;
		set_flag(r, name, false, line);
		return 1;
	}
	if (k == "limit" || k == "warnings" || k == "fetchlimit" ||
	    k == "fetchsizelimit" || k == "fastuidl" || k == "batchlimit" ||
	    k == "expunge")
		return expect_number(r, k) < 0 ? -1 : 1;
	return 0;
}

/* user NAME [there] | user NAME... here */
int Parser::userdef(Record &r)
{
	size_t line = peek().line;
	pos++;
	if (peek().kind != Tok::String)
		return syntax_error("(user: a name must follow)");
	size_t start = pos;
	while (peek().kind == Tok::String || peek().kind == Tok::Map)
		pos++;
	if (kw("here")) {
		pos = start;
		if (mapping_list(r, line) < 0)
			return -1;
		pos++;  /* here */
		return 0;
	}
	pos = start;
	Opt &o = r.opts["user"];
	o = Opt();
	o.line = line;
	o.values.push_back(toks[pos++].text);
	if (kw("there"))
		pos++;
	return 0;
}

int Parser::set_statement(std::vector<ImportNote> &notes)
{
	size_t line = peek().line;
	pos++;
	bool no = false;
	if (kw("no")) {
		no = true;
		pos++;
	}
	const Token &t = peek();
	if (t.kind != Tok::Keyword)
		return syntax_error("after 'set'");
	std::string name = t.text;
	pos++;
	std::string reason = "a global fetchmail setting: nothing to carry over";
	if (!no && (name == "logfile" || name == "idfile" ||
		    name == "pidfile" || name == "postmaster" ||
		    name == "properties" || name == "daemon")) {
		if (peek().kind == Tok::Map)
			pos++;
		Tok want = name == "daemon" ? Tok::Number : Tok::String;
		if (peek().kind != want && !(want == Tok::String &&
					     peek().kind == Tok::Number))
			return syntax_error("(set " + name + ": a value must follow)");
		if (name == "idfile") {
			reason = "fetchmail's UIDL file '" +
				account_quote_value(peek().text) +
				"': give it to --fetchids";
		} else if (name == "daemon") {
			reason = "polling follows fetchmail_interval";
		}
		pos++;
	} else if (!(name == "bouncemail" || name == "spambounce" ||
		     name == "softbounce" || name == "syslog" ||
		     name == "invisible" || name == "showdots")) {
		pos--;
		return syntax_error("after 'set'");
	}
	import_note(notes, line, "set " + std::string(no ? "no " : "") + name,
		    ImportNoteKind::Ignored, reason);
	return 0;
}

int Parser::statement(std::vector<Record> &records)
{
	Record server;
	server.line = peek().line;
	if (kw("defaults")) {
		server.defaults = true;
		server.pollname = "defaults";
		pos++;
	} else {
		server.skip = kw("skip");
		pos++;
		if (peek().kind != Tok::String && peek().kind != Tok::Number)
			return syntax_error(std::string("(") +
				(server.skip ? "skip" : "poll") +
				": a server name must follow)");
		server.pollname = toks[pos++].text;
	}
	int ret;
	while ((ret = server_option(server)) > 0)
		;
	if (ret < 0)
		return -1;

	if (kw("user")) {
		while (kw("user")) {
			Record r = server;
			if (userdef(r) < 0)
				return -1;
			while ((ret = user_option(r)) > 0)
				;
			if (ret < 0)
				return -1;
			records.push_back(std::move(r));
		}
	} else {
		Record r = server;
		while ((ret = user_option(r)) > 0)
			;
		if (ret < 0)
			return -1;
		records.push_back(std::move(r));
	}
	Record scratch;
	size_t before = pos;
	if (server_option(scratch) > 0) {
		pos = before;
		error = import_at_line(peek().line) +
			"server option after user options";
		return -1;
	}
	pos = before;
	return 0;
}

int Parser::parse(std::vector<Record> &records,
		  std::vector<ImportNote> &notes, std::string &error_r)
{
	while (peek().kind != Tok::End) {
		int ret;
		if (kw("set"))
			ret = set_statement(notes);
		else if (kw("poll") || kw("skip") || kw("defaults"))
			ret = statement(records);
		else
			ret = syntax_error("(a statement starts with poll, "
					   "skip, defaults or set)");
		if (ret < 0) {
			error_r = error;
			return -1;
		}
		if (records.size() > IMPORT_MAX_ACCOUNTS) {
			error_r = import_at_line(peek().line) + "more than " +
				std::to_string(IMPORT_MAX_ACCOUNTS) +
				" accounts";
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ defaults */

int merge_defaults(std::vector<Record> &records, std::string &error_r)
{
	for (size_t i = 0; i < records.size(); i++) {
		if (records[i].defaults && i != 0) {
			error_r = import_at_line(records[i].line) +
				"defaults: only once, as the first statement "
				"(one user clause at most)";
			return -1;
		}
	}
	if (records.empty() || !records[0].defaults)
		return 0;
	Record defaults = std::move(records[0]);
	records.erase(records.begin());
	for (Record &r : records) {
		for (const auto &[name, opt] : defaults.opts) {
			auto it = r.opts.find(name);
			if (it == r.opts.end() ||
			    (is_list_option(name) && it->second.values.empty()))
				r.opts[name] = opt;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ mapping */

const Opt *get(const Record &r, const char *name)
{
	auto it = r.opts.find(name);
	return it == r.opts.end() ? nullptr : &it->second;
}

bool on(const Record &r, const char *name)
{
	const Opt *o = get(r, name);
	return o != nullptr && o->on;
}

struct Drop {
	const char *option;
	ImportNoteKind kind;
	const char *reason;
};

/* options that are noted when set (on), in the order they are checked */
const Drop drops[] = {
	{ "mda", ImportNoteKind::Refused, "commands from the file are never "
	  "run: the plugin delivers into the user's mailbox itself" },
	{ "preconnect", ImportNoteKind::Refused,
	  "commands from the file are never run" },
	{ "postconnect", ImportNoteKind::Refused,
	  "commands from the file are never run" },
	{ "plugin", ImportNoteKind::Refused, "commands from the file are "
	  "never run: the account connects to host and port itself" },
	{ "plugout", ImportNoteKind::Refused,
	  "commands from the file are never run" },
	{ "bsmtp", ImportNoteKind::Ignored,
	  "messages go into the user's mailbox, not into a BSMTP file" },
	{ "smtphost", ImportNoteKind::Ignored, "messages go into the user's "
	  "mailbox (fetchmail_delivery = lmtp hands them to Dovecot's LMTP)" },
	{ "lmtp", ImportNoteKind::Ignored, "messages go into the user's "
	  "mailbox (fetchmail_delivery = lmtp hands them to Dovecot's LMTP)" },
	{ "smtpaddress", ImportNoteKind::Ignored, "no SMTP forwarding" },
	{ "smtpname", ImportNoteKind::Ignored, "no SMTP forwarding" },
	{ "fetchdomains", ImportNoteKind::Ignored, "no ETRN/ODMR" },
	{ "antispam", ImportNoteKind::Ignored, "no SMTP forwarding" },
	{ "esmtpname", ImportNoteKind::Ignored, "no SMTP forwarding" },
	{ "esmtppassword", ImportNoteKind::Ignored, "no SMTP forwarding" },
	{ "flush", ImportNoteKind::Ignored, "old messages are deleted only "
	  "with keep no, after they were fetched" },
	{ "limitflush", ImportNoteKind::Ignored, "messages over max-size stay "
	  "on the server" },
	{ "rewrite", ImportNoteKind::Ignored, "messages are stored as received" },
	{ "forcecr", ImportNoteKind::Ignored, "messages are stored as received" },
	{ "stripcr", ImportNoteKind::Ignored, "messages are stored as received" },
	{ "pass8bits", ImportNoteKind::Ignored, "messages are stored as received" },
	{ "dropstatus", ImportNoteKind::Ignored, "messages are stored as received" },
	{ "dropdelivered", ImportNoteKind::Ignored, "messages are stored as received" },
	{ "mimedecode", ImportNoteKind::Ignored, "messages are stored as received" },
	{ "idle", ImportNoteKind::Ignored, "the account is polled every "
	  "fetchmail_interval" },
	{ "interval", ImportNoteKind::Ignored, "polling follows "
	  "fetchmail_interval" },
	{ "timeout", ImportNoteKind::Ignored, "timeouts follow fetchmail_timeout" },
	{ "warnings", ImportNoteKind::Ignored, "over-size messages are "
	  "reported in the run log of every run" },
	{ "fetchlimit", ImportNoteKind::Ignored, "every new message is "
	  "fetched in one run" },
	{ "fetchsizelimit", ImportNoteKind::Ignored, "no equivalent" },
	{ "fastuidl", ImportNoteKind::Ignored, "the whole UIDL list is read" },
	{ "batchlimit", ImportNoteKind::Ignored, "no SMTP forwarding" },
	{ "expunge", ImportNoteKind::Ignored, "deletions are expunged at the "
	  "end of each folder" },
	{ "properties", ImportNoteKind::Ignored, "no equivalent" },
	{ "sslkey", ImportNoteKind::Ignored, "client certificates are not "
	  "supported" },
	{ "sslcert", ImportNoteKind::Ignored, "client certificates are not "
	  "supported" },
	{ "sslcertfile", ImportNoteKind::Ignored, "trusted CAs come from "
	  "Dovecot's ssl_client_ca_file / ssl_client_ca_dir" },
	{ "sslcertpath", ImportNoteKind::Ignored, "trusted CAs come from "
	  "Dovecot's ssl_client_ca_file / ssl_client_ca_dir" },
	{ "sslcommonname", ImportNoteKind::Ignored, "the certificate is "
	  "checked against the host name" },
	{ "sslfingerprint", ImportNoteKind::Ignored, "certificate pinning is "
	  "not supported: the certificate is checked against the trusted CAs" },
	{ "aka", ImportNoteKind::Ignored, "multidrop only" },
	{ "localdomains", ImportNoteKind::Ignored, "multidrop only" },
	{ "envelope", ImportNoteKind::Ignored, "multidrop only" },
	{ "qvirtual", ImportNoteKind::Ignored, "multidrop only" },
	{ "dns", ImportNoteKind::Ignored, "multidrop only" },
	{ "checkalias", ImportNoteKind::Ignored, "multidrop only" },
	{ "principal", ImportNoteKind::Ignored, "Kerberos is not supported" },
	{ "interface", ImportNoteKind::Ignored, "no equivalent" },
	{ "monitor", ImportNoteKind::Ignored, "no equivalent" },
	{ "tracepolls", ImportNoteKind::Ignored, "no equivalent" },
	{ "bad-header", ImportNoteKind::Ignored, "messages are stored as received" },
};

int port_of_service(const std::string &s, std::string &port_r)
{
	static const std::pair<const char *, const char *> names[] = {
		{ "pop3", "110" }, { "pop-3", "110" }, { "pop3s", "995" },
		{ "imap", "143" }, { "imap2", "143" }, { "imaps", "993" },
	};
	/* numbers, and negative ones for account_set_field() to refuse */
	if (!s.empty() && std::all_of(s.begin() + (s[0] == '-'), s.end(),
				      [](char c) { return c >= '0' && c <= '9'; })) {
		port_r = s;
		return 0;
	}
	for (const auto &[name, port] : names) {
		if (s == name) {
			port_r = port;
			return 0;
		}
	}
	return -1;
}

int map_record(const Record &r, ImportedAccount &imp, std::string &error_r)
{
	std::vector<ImportNote> &notes = imp.notes;
	imp.line = r.line;
	const Opt *via = get(r, "via");
	if (import_set_field(imp, via != nullptr ? via->line : r.line,
			     via != nullptr ? "via" : (r.skip ? "skip" : "poll"),
			     "host", via != nullptr ? via->values[0] :
			     r.pollname, error_r) < 0)
		return -1;

	if (const Opt *port = get(r, "port")) {
		std::string p;
		if (port_of_service(port->values[0], p) < 0) {
			imp.skip = "port: service '" +
				account_quote_value(port->values[0]) +
				"' is not a port number or a POP3/IMAP "
				"service name";
		} else if (import_set_field(imp, port->line, "port", "port", p,
					    error_r) < 0) {
			return -1;
		}
	}
	if (const Opt *limit = get(r, "limit")) {
		if (limit->number < 0) {
			error_r = import_at_line(limit->line) +
				"limit: must not be negative";
			return -1;
		}
		if (import_set_field(imp, limit->line, "limit", "max-size",
				     limit->values[0], error_r) < 0)
			return -1;
	}
	const Opt *user = get(r, "user");
	if (user != nullptr && import_set_field(imp, user->line, "user",
						"remote-user",
						user->values[0], error_r) < 0)
		return -1;
	const Opt *pass = get(r, "pass");
	if (pass != nullptr && import_set_field(imp, pass->line, "pass",
						"password", pass->values[0],
						error_r) < 0)
		return -1;
	if (const Opt *folder = get(r, "folder")) {
		std::string error;
		if (account_set_folders(imp.account, folder->values,
					error) < 0) {
			error_r = import_at_line(folder->line) + "folder: " +
				error.substr(std::string("folders: ").size());
			return -1;
		}
	}
	if (const Opt *is = get(r, "is"))
		imp.local_names = is->values;

	/* protocol */
	const Opt *proto = get(r, "protocol");
	std::string pname = proto != nullptr ? proto->values[0] : "auto";
	if (pname == "pop3" || pname == "imap") {
		import_set_field(imp, proto->line, "protocol", "protocol",
				 pname, error_r);
	} else if (imp.skip.empty()) {
		imp.skip = pname == "auto" ?
			"protocol: auto (or none) lets fetchmail probe the "
			"server; name pop3 or imap in the file" :
			pname == "apop" ?
			"protocol: apop (APOP login) is not supported; "
			"protocol pop3 logs in with the password" :
			"protocol: " + pname + " is not supported";
	}
	if (imp.account.protocol == Protocol::Pop3 && proto != nullptr &&
	    pname == "pop3" && get(r, "folder") != nullptr) {
		import_note(notes, get(r, "folder")->line, "folder",
			    ImportNoteKind::Ignored, "POP3 has no folders");
		imp.account.folders = { "INBOX" };
	}

	if (r.skip) {
		imp.account.active = false;
		import_note(notes, r.line, "skip", ImportNoteKind::Changed,
			    "imported inactive (fetchmail polled it only when "
			    "named on its command line)");
	}

	/* keep: fetchmail's default is to delete */
	imp.account.keep = on(r, "keep");

	/* TLS */
	const Opt *ssl = get(r, "ssl");
	const Opt *sslproto = get(r, "sslproto");
	const Opt *certck = get(r, "sslcertck");
	imp.account.tls_verify = certck == nullptr || certck->on;
	if (ssl != nullptr && ssl->on) {
		imp.account.tls = TlsMode::Implicit;
		if (sslproto != nullptr && sslproto->values[0].empty())
			import_note(notes, sslproto->line, "sslproto",
				    ImportNoteKind::Ignored, "'' with ssl: "
				    "fetchmail used TLS anyway");
	} else if (sslproto != nullptr && sslproto->values[0].empty()) {
		imp.account.tls = TlsMode::None;
		import_note(notes, sslproto->line, "sslproto",
			    ImportNoteKind::Changed, "'': no TLS, the "
			    "password is sent in plaintext (tls none)");
	} else {
		imp.account.tls = TlsMode::StartTls;
		if (sslproto == nullptr && certck != nullptr && !certck->on)
			import_note(notes, certck->line, "no sslcertck",
				    ImportNoteKind::Changed, "fetchmail used "
				    "STARTTLS when offered; the account "
				    "requires it (tls starttls): set tls none "
				    "for a server without TLS");
	}
	if (sslproto != nullptr && !sslproto->values[0].empty()) {
		static const char *const automatic[] = {
			"auto", "AUTO", "SSL23", "TLS1+", "TLS1.1+", "TLS1.2+",
		};
		const std::string &v = sslproto->values[0];
		if (std::find(std::begin(automatic), std::end(automatic), v) ==
		    std::end(automatic))
			import_note(notes, sslproto->line, "sslproto",
				    ImportNoteKind::Ignored, "'" +
				    account_quote_value(v) + "': TLS versions "
				    "follow Dovecot's and OpenSSL's settings");
	}
	if (certck != nullptr && !certck->on)
		import_note(notes, certck->line, "no sslcertck",
			    ImportNoteKind::Changed, "the certificate is not "
			    "verified (tls-verify no)");

	if (const Opt *auth = get(r, "authenticate")) {
		const std::string &a = auth->values[0];
		if (a != "password" && a != "any")
			import_note(notes, auth->line, "authenticate",
				    ImportNoteKind::Changed, a + ": the "
				    "account logs in with its password "
				    "(USER/PASS, LOGIN or SASL PLAIN)");
	}
	if (const Opt *uidl = get(r, "uidl"); uidl != nullptr && !uidl->on)
		import_note(notes, uidl->line, "no uidl",
			    ImportNoteKind::Changed, "POP3 always uses UIDL");
	for (const Drop &d : drops) {
		const Opt *o = get(r, d.option);
		if (o != nullptr && o->on)
			import_note(notes, o->line, d.option, d.kind,
				    d.reason);
	}

	/* what keeps the account from being imported */
	if (!imp.skip.empty()) {
		/* already decided */
	} else if (on(r, "is-wildcard") || on(r, "is-mapping") ||
		   imp.local_names.size() > 1) {
		imp.skip = "is: multidrop (several local names, '*' or "
			"name = name): the plugin fetches one remote mailbox "
			"into one local user";
	} else if (user == nullptr) {
		imp.skip = "user: missing (fetchmail uses the login name of "
			"whoever runs it)";
	} else if (pass == nullptr) {
		imp.skip = "pass: missing (fetchmail reads it from ~/.netrc "
			"or asks for it)";
	}
	std::sort(notes.begin(), notes.end(),
		  [](const ImportNote &a, const ImportNote &b) {
			  return a.line < b.line;
		  });
	return 0;
}

int fetchmailrc_read(std::string_view text, ImportFile &file,
		     std::string &error_r)
{
	std::vector<Token> tokens;
	std::vector<Record> records;

	if (text.size() > IMPORT_MAX_FILE_SIZE) {
		error_r = "larger than 32 MiB";
		return -1;
	}
	if (lex(text, tokens, error_r) < 0)
		return -1;
	Parser parser(std::move(tokens));
	if (parser.parse(records, file.notes, error_r) < 0 ||
	    merge_defaults(records, error_r) < 0)
		return -1;
	for (const Record &r : records) {
		ImportedAccount imp;
		if (map_record(r, imp, error_r) < 0)
			return -1;
		file.accounts.push_back(std::move(imp));
	}
	return 0;
}

} // namespace

int import_fetchmailrc(std::string_view text, ImportFile &file_r,
		       std::string &error_r)
{
	return import_run(file_r, error_r, [&](ImportFile &file,
					       std::string &error) {
		return fetchmailrc_read(text, file, error);
	});
}

} // namespace fetchmail
