#include "fetchmail-notice.hh"

#include "fetchmail-strings.hh"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>

namespace fetchmail {

namespace {

/* the bounds of the texts taken into the message (see the header) */
const size_t NOTICE_MAX_ERROR = 300;
const size_t NOTICE_MAX_REMOTE_USER = 100;
const size_t NOTICE_MAX_USER = 256;
const size_t NOTICE_MAX_FROM = 256;
/* header lines are folded at spaces to this width; RFC 2047 allows 76 on
   lines that carry encoded words */
const size_t HEADER_WIDTH = 76;
/* an encoded word's payload: with "=?UTF-8?Q?" and "?=" 64 characters,
   so that "Subject: " and a word fit on one line */
const size_t ENCODED_WORD_PAYLOAD = 52;
/* quoted-printable: characters before a soft line break ("=") */
const size_t QP_WIDTH = 75;

const char *const WEEKDAYS[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
				 "Sat" };
const char *const MONTHS[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
			       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Code points that must not reach the message as they are: C0, DEL, C1,
   the Unicode line and paragraph separators, and the marks and controls
   that change the direction of text. */
bool unsafe_code_point(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		cp == 0x200e || cp == 0x200f || cp == 0x2028 ||
		cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
		(cp >= 0x2066 && cp <= 0x2069);
}

/* text as safe UTF-8 on one line: unsafe characters and bytes that are
   not UTF-8 become '?'; cut at a character with "..." after max bytes. */
std::string clean_text(std::string_view text, size_t max)
{
	std::string out;
	uint32_t cp;

	for (size_t i = 0, len; i < text.size(); i += len) {
		len = utf8_char(text, i, cp);
		bool keep = len > 0 && !unsafe_code_point(cp);
		if (len == 0)
			len = 1;
		if (out.size() + (keep ? len : 1) > max) {
			out += "...";
			break;
		}
		if (keep)
			out.append(text, i, len);
		else
			out += '?';
	}
	return out;
}

bool is_ascii(std::string_view s)
{
	for (char c : s) {
		if (static_cast<unsigned char>(c) >= 0x80)
			return false;
	}
	return true;
}

bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9');
}

/* RFC 5322 atext */
bool is_atext(char c)
{
	return is_alnum(c) ||
		std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) !=
		std::string_view::npos;
}

/* RFC 5322 dot-atom-text: atext runs joined by single dots */
bool is_dot_atom(std::string_view s)
{
	if (s.empty() || s.front() == '.' || s.back() == '.' ||
	    s.find("..") != std::string_view::npos)
		return false;
	for (char c : s) {
		if (c != '.' && !is_atext(c))
			return false;
	}
	return true;
}

/* A host name as the user's or the server's domain: letters, digits,
   '-' and dots between labels. */
bool is_domain(std::string_view s)
{
	if (s.empty() || s.size() > 253 || s.front() == '.' ||
	    s.back() == '.' || s.find("..") != std::string_view::npos)
		return false;
	for (char c : s) {
		if (!is_alnum(c) && c != '-' && c != '.')
			return false;
	}
	return true;
}

/* The parts of a fetchmail_notify_from value; false when it is not one
   (see notice_from_check()). */
bool from_parse(std::string_view value, std::string_view &display_r,
		std::string_view &address_r)
{
	value = trim(value, " \t");
	if (value.empty() || value.size() > NOTICE_MAX_FROM ||
	    has_ctrl_chars(value) || !utf8_valid(value))
		return false;
	display_r = {};
	address_r = value;
	if (value.back() == '>') {
		size_t lt = value.rfind('<');
		if (lt == std::string_view::npos)
			return false;
		address_r = value.substr(lt + 1, value.size() - lt - 2);
		display_r = trim(value.substr(0, lt), " \t");
		if (display_r.size() >= 2 && display_r.front() == '"' &&
		    display_r.back() == '"')
			display_r = display_r.substr(1, display_r.size() - 2);
		if (display_r.find_first_of("<>\"\\") != std::string_view::npos)
			return false;
	}
	size_t at = address_r.rfind('@');
	if (at == std::string_view::npos)
		return is_dot_atom(address_r);
	return is_dot_atom(address_r.substr(0, at)) &&
		is_dot_atom(address_r.substr(at + 1));
}

/* "=XX": the escape of quoted-printable and of RFC 2047's Q */
void append_hex_escape(std::string &out, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	out += '=';
	out += hex[c >> 4];
	out += hex[c & 15];
}

/* RFC 2047 encoded words (UTF-8, Q) for text, separated by spaces: each
   character whole within one word. Only letters, digits and !*+-/ stay
   as they are (what a display name allows too), a space is '_'. */
std::string encoded_words(std::string_view text)
{
	std::string out, word;
	uint32_t cp;

	for (size_t i = 0, len; i < text.size(); i += len) {
		len = utf8_char(text, i, cp);
		if (len == 0)
			len = 1;
		std::string enc;
		for (size_t k = i; k < i + len; k++) {
			char c = text[k];
			if (is_alnum(c) || std::string_view("!*+-/").find(c) !=
			    std::string_view::npos) {
				enc += c;
			} else if (c == ' ') {
				enc += '_';
			} else {
				append_hex_escape(enc,
					static_cast<unsigned char>(c));
			}
		}
		if (!word.empty() &&
		    word.size() + enc.size() > ENCODED_WORD_PAYLOAD) {
			out += (out.empty() ? "" : " ") +
				("=?UTF-8?Q?" + word + "?=");
			word.clear();
		}
		word += enc;
	}
	if (!word.empty())
		out += (out.empty() ? "" : " ") + ("=?UTF-8?Q?" + word + "?=");
	return out;
}

/* Text that a reader would decode as it is: not ASCII, or holding
   what looks like an encoded word ("=?") that would otherwise be
   decoded into something else. */
bool needs_encoding(std::string_view text)
{
	return !is_ascii(text) || text.find("=?") != std::string_view::npos;
}

/* Unstructured text for a header field: as it is when it can be, else
   encoded words. */
std::string header_text(std::string_view text)
{
	return needs_encoding(text) ? encoded_words(text) : std::string(text);
}

/* A display name: atoms as they are, other ASCII as a quoted string
   (from_parse() keeps '"' and '\' out), anything else encoded. */
std::string display_phrase(std::string_view display)
{
	bool atoms = true;

	if (needs_encoding(display))
		return encoded_words(display);
	for (char c : display) {
		if (c != ' ' && !is_atext(c))
			atoms = false;
	}
	return atoms ? std::string(display) : "\"" + std::string(display) + "\"";
}

/* "Name: value" and CRLF, folded before a space where the line would
   grow past HEADER_WIDTH. value has no CR or LF (everything in it went
   through clean_text() or is our own). */
std::string header_field(std::string_view name, std::string_view value)
{
	std::string out, line(name);
	std::string_view rest = value;

	line += ':';
	while (!rest.empty()) {
		size_t sp = rest.find(' ', 1);
		std::string_view token = rest.substr(0, sp);
		rest = sp == std::string_view::npos ? std::string_view() :
			rest.substr(sp);
		/* token starts with its space, except the first */
		if (token.front() != ' ')
			line += ' ';
		else if (line.size() + token.size() > HEADER_WIDTH &&
			 token.size() > 1) {
			out += line + "\r\n";
			line.clear();
		}
		line += token;
	}
	return out + line + "\r\n";
}

/* "Wed, 2 Dec 2026 03:40:00 +0000" */
std::string rfc5322_date(int64_t secs)
{
	UtcTime t = utc_time(secs);
	char buf[64];
	snprintf(buf, sizeof(buf), "%s, %u %s %04d %02u:%02u:%02u +0000",
		 WEEKDAYS[t.weekday], t.day, MONTHS[t.month - 1], t.year,
		 t.hour, t.minute, t.second);
	return buf;
}

/* "Wed, 2 Dec 2026 03:40 UTC" */
std::string readable_time(int64_t secs)
{
	UtcTime t = utc_time(secs);
	char buf[64];
	snprintf(buf, sizeof(buf), "%s, %u %s %04d %02u:%02u UTC",
		 WEEKDAYS[t.weekday], t.day, MONTHS[t.month - 1], t.year,
		 t.hour, t.minute);
	return buf;
}

/* "2 Dec 2026" */
std::string readable_day(int64_t secs)
{
	UtcTime t = utc_time(secs);
	char buf[32];
	snprintf(buf, sizeof(buf), "%u %s %04d", t.day, MONTHS[t.month - 1],
		 t.year);
	return buf;
}

/* The domain for addresses without one: the user's, the server's host
   name, or localhost. */
std::string local_domain(const NoticeContext &ctx)
{
	size_t at = ctx.user.rfind('@');
	if (at != std::string::npos) {
		std::string_view domain = std::string_view(ctx.user).substr(at + 1);
		if (is_domain(domain))
			return std::string(domain);
	}
	return is_domain(ctx.hostname) ? ctx.hostname : "localhost";
}

/* The user's address: local@domain, the local part a dot-atom or a
   quoted string; "" when the user name cannot be one. */
std::string user_address(std::string_view user, const std::string &domain)
{
	size_t at = user.rfind('@');
	std::string_view local = user;
	if (at != std::string_view::npos && is_domain(user.substr(at + 1)))
		local = user.substr(0, at);
	if (local.empty() || local.size() > NOTICE_MAX_USER ||
	    !is_ascii(local) || has_ctrl_chars(local))
		return "";
	if (is_dot_atom(local))
		return std::string(local) + "@" + domain;
	std::string quoted = "\"";
	for (char c : local) {
		if (c == '"' || c == '\\')
			quoted += '\\';
		quoted += c;
	}
	return quoted + "\"@" + domain;
}

/* The From header's value. */
std::string from_value(const NoticeContext &ctx, const std::string &domain)
{
	std::string_view display, address;
	if (!from_parse(ctx.from, display, address))
		from_parse(NOTICE_FROM_DEFAULT, display, address);
	std::string addr(address);
	if (addr.find('@') == std::string::npos)
		addr += "@" + domain;
	if (display.empty())
		return addr;
	/* C1 and Unicode controls pass from_parse() (they are not bytes
	   below 0x20): out with them too */
	return display_phrase(clean_text(display, NOTICE_MAX_FROM)) + " <" +
		addr + ">";
}

/* A word for a shell command line: as it is when it is plain, else in
   single quotes. */
std::string shell_word(std::string_view s)
{
	bool plain = !s.empty();
	for (char c : s) {
		if (!is_alnum(c) && std::string_view("@._+-=%:,/").find(c) ==
		    std::string_view::npos)
			plain = false;
	}
	if (plain)
		return std::string(s);
	std::string out = "'";
	for (char c : s) {
		if (c == '\'')
			out += "'\\''";
		else
			out += c;
	}
	return out + "'";
}

/* [a-z0-9-] of an account id, for the Message-ID */
std::string id_part(std::string_view id)
{
	std::string out;
	for (char c : id) {
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
			out += c;
	}
	return out.empty() ? "account" : out.substr(0, 32);
}

std::string hex16(uint64_t n)
{
	char buf[17];
	snprintf(buf, sizeof(buf), "%016" PRIx64, n);
	return buf;
}

/* text ('\n' line ends) as quoted-printable with CRLF line ends: lines
   of at most QP_WIDTH characters and a soft break, spaces and tabs at
   a line's end encoded. */
std::string quoted_printable(std::string_view text)
{
	std::string out;
	size_t col = 0;

	for (size_t i = 0; i < text.size(); i++) {
		unsigned char c = static_cast<unsigned char>(text[i]);
		if (c == '\n') {
			out += "\r\n";
			col = 0;
			continue;
		}
		bool line_end = i + 1 == text.size() || text[i + 1] == '\n';
		std::string enc;
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !line_end))
			enc = static_cast<char>(c);
		else
			append_hex_escape(enc, c);
		if (col + enc.size() > QP_WIDTH) {
			out += "=\r\n";
			col = 0;
		}
		out += enc;
		col += enc.size();
	}
	return out;
}

/* The body in plain text ('\n' line ends); every text in it is clean. */
std::string notice_body(const Account &account, const AccountStatus &status,
			const NoticeContext &ctx, int64_t since,
			const std::string &user)
{
	std::string remote_user = clean_text(account.remote_user,
					     NOTICE_MAX_REMOTE_USER);
	std::string error = clean_text(status.last_error, NOTICE_MAX_ERROR);
	std::string id = clean_text(account.id, 64);
	std::string url = clean_text(ctx.url, 1024);
	std::string protocol = ascii_upper(protocol_name(account.protocol));
	std::string body;

	body += "Fetching mail from one of your accounts has been failing "
		"since\n" + readable_time(since) + ". Until it is fixed, no "
		"mail from that\naccount arrives here.\n\n";
	body += "Account:     " + id + "\n";
	body += "Remote user: " + remote_user + "\n";
	body += "Server:      " + clean_text(account.host, 253) + " (" +
		protocol + ", port " +
		std::to_string(account.effective_port()) + ")\n";
	body += "Last error:  " + (error.empty() ? "unknown" : error) +
		"\n\n";
	if (status.held) {
		body += "The provider (" +
			clean_text(account.oauth2_provider, 64) +
			") no longer accepts the account's sign-in: sign\n"
			"in there again and allow access (OAuth2 consent). "
			"Until then the\naccount is not polled.\n\n";
	}
	if (!url.empty()) {
		body += status.held ? "To sign in again, go to:\n" :
			"To fix it (a changed password is the most common "
			"cause), go to:\n";
		body += url + "\n\n";
	} else {
		body += "Please ask your administrator to fix it. The "
			"administrator can see\nthe details with:\n\n"
			"  doveadm fetchmail show -u " + shell_word(user) +
			" " + shell_word(id) + "\n\n";
	}
	body += "This is the only message about this failure: none follows "
		"while the\naccount keeps failing, and a new one only if it "
		"works again and then\nfails anew.\n";
	return body;
}

} // namespace

void notice_after_run(AccountStatus &status, int64_t started, bool ok)
{
	if (ok) {
		status.failing_since = 0;
		status.notified = false;
		return;
	}
	if (status.failing_since > 0)
		return;
	/* failed runs recorded before episodes were */
	bool earlier = status.failures > 0 && status.last_run > 0;
	status.failing_since = std::max<int64_t>(earlier ? status.last_run :
						 started, 1);
	status.notified = false;
}

int64_t notice_due_time(const AccountStatus &status,
			uint32_t notify_after_secs)
{
	if (status.failing_since <= 0 || status.notified ||
	    notify_after_secs == 0)
		return 0;
	if (status.failing_since > std::numeric_limits<int64_t>::max() -
	    notify_after_secs)
		return std::numeric_limits<int64_t>::max();
	return status.failing_since + notify_after_secs;
}

bool notice_due(const AccountStatus &status, int64_t now,
		uint32_t notify_after_secs)
{
	int64_t due = notice_due_time(status, notify_after_secs);
	return due > 0 && due <= now;
}

void notice_sent(AccountStatus &status)
{
	if (status.failing_since > 0)
		status.notified = true;
}

int notice_from_check(std::string_view from, std::string &error_r)
{
	std::string_view display, address;

	if (trim(from, " \t").empty() || from_parse(from, display, address))
		return 0;
	error_r = "must be an address or Name <address> (got '" +
		clean_text(from, 64) + "')";
	return -1;
}

std::string notice_message(const Account &account,
			   const AccountStatus &status,
			   const NoticeContext &ctx)
{
	std::string domain = local_domain(ctx);
	std::string user = clean_text(ctx.user, NOTICE_MAX_USER);
	std::string to = user_address(ctx.user, domain);
	int64_t since = status.failing_since > 0 ? status.failing_since :
		ctx.now;
	std::string remote_user = clean_text(account.remote_user,
					     NOTICE_MAX_REMOTE_USER);
	std::string host = clean_text(account.host, 253);
	std::string label = remote_user.find('@') == std::string::npos ?
		remote_user + "@" + host : remote_user + " (" + host + ")";
	std::string msg;

	msg += header_field("From", from_value(ctx, domain));
	msg += header_field("To", to.empty() ? "undisclosed-recipients:;" :
			    to);
	msg += header_field("Date", rfc5322_date(ctx.now));
	msg += header_field("Subject", header_text(
		"Fetching mail from " + label + " has been failing since " +
		readable_day(since)));
	msg += header_field("Message-ID", "<fetchmail-notice." +
			    id_part(account.id) + "." +
			    std::to_string(since) + "." + hex16(ctx.random) +
			    "@" + domain + ">");
	msg += "Auto-Submitted: auto-generated\r\n";
	msg += "MIME-Version: 1.0\r\n";
	msg += "Content-Type: text/plain; charset=UTF-8\r\n";
	msg += "Content-Transfer-Encoding: quoted-printable\r\n";
	msg += "\r\n";
	msg += quoted_printable(notice_body(account, status, ctx, since,
					    user));
	return msg;
}

} // namespace fetchmail
