/* Unit tests for fetchmail-notice: the failure episode and the notice
   message to the user. */
#include "fetchmail-notice.hh"

#include "fetchmail-message.hh"
#include "fetchmail-record.hh"
#include "fetchmail-schedule.hh"
#include "fetchmail-strings.hh"

#include "test-common.hh"

#include <vector>

using namespace fetchmail;

namespace {

const int64_t DAY = 24 * 60 * 60;
/* Tue, 1 Dec 2026 03:40:00 UTC */
const int64_t T0 = 1796096400;

uint32_t no_jitter(uint32_t) { return 0; }

/* A run as the core records it, and the status stored and read back as
   the next run finds it. */
AccountStatus run(const AccountStatus &before, int64_t started, bool ok,
		  bool consent_needed = false)
{
	AccountStatus st = status_after_run(before, started, started + 10, ok,
					    ok ? "" : "login failed", 0,
					    consent_needed, 300, no_jitter);
	AccountStatus stored;
	std::string error;
	assert_int_equal(status_record_decode(status_record_encode(st),
					      stored, error), 0);
	return stored;
}

/* ---- reading the message back, as a mail client would ---- */

/* Header and body at the first empty line. */
void split_message(const std::string &msg, std::string &header_r,
		   std::string &body_r)
{
	size_t end = msg.find("\r\n\r\n");
	assert_true(end != std::string::npos);
	header_r = msg.substr(0, end + 2);
	body_r = msg.substr(end + 4);
}

std::vector<std::string> lines_of(const std::string &text)
{
	std::vector<std::string> lines;
	size_t pos = 0;
	while (pos < text.size()) {
		size_t eol = text.find("\r\n", pos);
		if (eol == std::string::npos) {
			lines.push_back(text.substr(pos));
			break;
		}
		lines.push_back(text.substr(pos, eol - pos));
		pos = eol + 2;
	}
	return lines;
}

/* The names of the header's fields in order; fails on a line that is
   neither a field nor a continuation, on a bare CR or LF, on anything
   but printable ASCII, on lines longer than 998 characters, and on lines
   with encoded words longer than 76 (RFC 2047). */
std::string field_names(const std::string &header)
{
	std::string names;
	for (const std::string &line : lines_of(header)) {
		size_t max_line = line.find("=?UTF-8?Q?") == std::string::npos ?
			998 : 76;
		if (line.size() > max_line)
			fail_msg("header line of %zu: %s", line.size(),
				 line.c_str());
		for (char c : line) {
			if (c < 0x20 || c > 0x7e)
				fail_msg("byte 0x%02x in header line %s",
					 (unsigned char)c, line.c_str());
		}
		if (line.empty() || line[0] == ' ' || line[0] == '\t')
			continue;
		size_t colon = line.find(':');
		if (colon == std::string::npos || colon == 0)
			fail_msg("not a header field: %s", line.c_str());
		names += (names.empty() ? "" : ",") + line.substr(0, colon);
	}
	return names;
}

const char *const FIELDS = "From,To,Date,Subject,Message-ID,Auto-Submitted,"
	"MIME-Version,Content-Type,Content-Transfer-Encoding";

int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	fail_msg("not an upper-case hex digit: '%c'", c);
	return 0;
}

/* The quoted-printable body decoded, with '\n' line ends; fails on lines
   over 76 characters, on lines that end in white space (transports may
   strip it) and on anything but printable ASCII. */
std::string qp_decode(const std::string &body)
{
	std::string out;
	for (const std::string &line : lines_of(body)) {
		if (line.size() > 76)
			fail_msg("body line of %zu: %s", line.size(),
				 line.c_str());
		if (!line.empty() && (line.back() == ' ' || line.back() == '\t'))
			fail_msg("body line ends in white space: '%s'",
				 line.c_str());
		bool soft = false;
		for (size_t i = 0; i < line.size(); i++) {
			char c = line[i];
			if (c < 0x20 || c > 0x7e)
				fail_msg("byte 0x%02x in body line %s",
					 (unsigned char)c, line.c_str());
			if (c != '=') {
				out += c;
				continue;
			}
			if (i + 1 == line.size()) {
				soft = true;
				break;
			}
			assert_true(i + 2 < line.size());
			out += static_cast<char>(hex_value(line[i + 1]) * 16 +
						 hex_value(line[i + 2]));
			i += 2;
		}
		if (!soft)
			out += '\n';
	}
	return out;
}

/* An unfolded header value with its RFC 2047 words (UTF-8, Q) decoded;
   the space between two encoded words goes, as RFC 2047 says. */
std::string decode_words(const std::string &value)
{
	std::string out;
	size_t pos = 0;
	bool after_word = false;
	while (pos < value.size()) {
		size_t start = value.find("=?UTF-8?Q?", pos);
		size_t text_end = start == std::string::npos ? value.size() :
			start;
		std::string between = value.substr(pos, text_end - pos);
		if (!(after_word && between == " "))
			out += between;
		if (start == std::string::npos)
			break;
		size_t end = value.find("?=", start + 10);
		assert_true(end != std::string::npos);
		if (end - start + 2 > 75)
			fail_msg("encoded word of %zu", end - start + 2);
		std::string word = value.substr(start + 10, end - start - 10);
		for (size_t i = 0; i < word.size(); i++) {
			if (word[i] == '_')
				out += ' ';
			else if (word[i] == '=') {
				out += static_cast<char>(
					hex_value(word[i + 1]) * 16 +
					hex_value(word[i + 2]));
				i += 2;
			} else
				out += word[i];
		}
		pos = end + 2;
		after_word = true;
	}
	return out;
}

Account pop3_account()
{
	Account a;
	a.id = "fm-abcdefgh";
	a.host = "pop.example.net";
	a.protocol = Protocol::Pop3;
	a.protocol_set = true;
	a.remote_user = "bob";
	return a;
}

AccountStatus failing_status()
{
	AccountStatus st;
	st.last_run = T0 + DAY - 300;
	st.last_status = RunStatus::Error;
	st.last_error = "login failed: -ERR [AUTH] invalid password";
	st.failures = 9;
	st.failing_since = T0;
	return st;
}

NoticeContext context()
{
	NoticeContext ctx;
	ctx.user = "alice@example.org";
	ctx.hostname = "mail.example.org";
	ctx.now = T0 + DAY;      /* Wed, 2 Dec 2026 03:40:00 UTC */
	ctx.random = 0xdeadbeef;
	return ctx;
}

} // namespace

/* ---- the episode ---- */

static void test_episode_life(void **)
{
	AccountStatus st;

	st = run(st, T0 - 3600, true);
	assert_int_equal(st.failing_since, 0);
	assert_false(notice_due(st, T0 + 100 * DAY, DAY));

	/* it fails: the episode begins with that run's start */
	st = run(st, T0, false);
	assert_int_equal(st.failing_since, T0);
	assert_false(st.notified);
	assert_int_equal(notice_due_time(st, DAY), T0 + DAY);
	assert_false(notice_due(st, T0 + 10, DAY));

	/* still failing, before the threshold: same episode, not due */
	st = run(st, T0 + 6 * 3600, false);
	assert_int_equal(st.failing_since, T0);
	assert_int_equal(st.failures, 2);
	assert_false(notice_due(st, T0 + 6 * 3600 + 10, DAY));
	assert_false(notice_due(st, T0 + DAY - 1, DAY));

	/* a day later: due */
	st = run(st, T0 + DAY + 100, false);
	assert_int_equal(st.failing_since, T0);
	assert_true(notice_due(st, T0 + DAY + 110, DAY));
	assert_true(notice_due(st, T0 + DAY, DAY));

	/* sent: not due again while it keeps failing */
	notice_sent(st);
	assert_true(st.notified);
	assert_int_equal(notice_due_time(st, DAY), 0);
	assert_false(notice_due(st, T0 + DAY + 110, DAY));
	for (int64_t day = 2; day <= 30; day += 7) {
		st = run(st, T0 + day * DAY, false);
		assert_int_equal(st.failing_since, T0);
		assert_true(st.notified);
		assert_false(notice_due(st, T0 + day * DAY + 10, DAY));
	}

	/* recovered: the episode is over */
	st = run(st, T0 + 31 * DAY, true);
	assert_int_equal(st.failing_since, 0);
	assert_false(st.notified);
	assert_int_equal(st.failures, 0);
	assert_false(notice_due(st, T0 + 100 * DAY, DAY));

	/* failing anew: a new episode, a new notice when it is old enough */
	int64_t t1 = T0 + 40 * DAY;
	st = run(st, t1, false);
	assert_int_equal(st.failing_since, t1);
	assert_false(st.notified);
	assert_false(notice_due(st, t1 + DAY - 1, DAY));
	assert_true(notice_due(st, t1 + DAY, DAY));
	notice_sent(st);
	assert_false(notice_due(st, t1 + 2 * DAY, DAY));
}

static void test_episode_consent(void **)
{
	AccountStatus st;

	/* consent needed is a failed run: held and in an episode */
	st = run(st, T0, false, true);
	assert_true(st.held);
	assert_int_equal(st.next_run, 0);
	assert_int_equal(st.failing_since, T0);
	/* a held account is not polled: the caller wakes it for the notice */
	assert_int_equal(notice_due_time(st, 3600), T0 + 3600);
	assert_true(notice_due(st, T0 + 3600, 3600));
	notice_sent(st);
	assert_false(notice_due(st, T0 + 2 * 3600, 3600));

	/* consent given, the next run is good: over */
	st = run(st, T0 + DAY, true);
	assert_false(st.held);
	assert_int_equal(st.failing_since, 0);
	assert_false(st.notified);

	/* consent needed counts even when the run reports ok */
	st = run(st, T0 + 2 * DAY, true, true);
	assert_int_equal(st.failing_since, T0 + 2 * DAY);

	/* an episode that began with another error goes on when consent is
	   needed later */
	AccountStatus other;
	other = run(other, T0, false);
	other = run(other, T0 + 3600, false, true);
	assert_int_equal(other.failing_since, T0);
}

static void test_episode_off_and_edges(void **)
{
	AccountStatus st;

	/* notify_after 0: never due */
	st = run(st, T0, false);
	assert_int_equal(notice_due_time(st, 0), 0);
	assert_false(notice_due(st, T0 + 1000 * DAY, 0));
	assert_true(notice_due(st, T0 + 1000 * DAY, 1));

	/* no episode: nothing to mark */
	AccountStatus good;
	notice_sent(good);
	assert_false(good.notified);
	assert_false(notice_due(good, T0, 1));

	/* a status written before episodes were recorded, failing already:
	   dated from its last run */
	AccountStatus legacy;
	legacy.last_run = T0 - 5000;
	legacy.last_status = RunStatus::Error;
	legacy.failures = 3;
	legacy = run(legacy, T0, false);
	assert_int_equal(legacy.failing_since, T0 - 5000);
	AccountStatus legacy_ok;
	legacy_ok.last_run = T0 - 5000;
	legacy_ok = run(legacy_ok, T0, false);
	assert_int_equal(legacy_ok.failing_since, T0);

	/* a clock at 0 still starts an episode */
	AccountStatus zero;
	notice_after_run(zero, 0, false);
	assert_int_equal(zero.failing_since, 1);

	/* far in the future: the due time saturates */
	AccountStatus late;
	late.failing_since = INT64_MAX - 5;
	assert_true(notice_due_time(late, DAY) == INT64_MAX);
	assert_false(notice_due(late, INT64_MAX - 1, DAY));

	/* a negative failing-since from a damaged record is no episode; the
	   next failure starts one */
	AccountStatus bad;
	bad.failing_since = -7;
	assert_false(notice_due(bad, T0, 1));
	notice_after_run(bad, T0, false);
	assert_int_equal(bad.failing_since, T0);
}

/* ---- the message ---- */

static void test_message_exact(void **)
{
	std::string msg = notice_message(pop3_account(), failing_status(),
					 context());
	assert_str(msg,
		"From: Mail fetching <postmaster@example.org>\r\n"
		"To: alice@example.org\r\n"
		"Date: Wed, 2 Dec 2026 03:40:00 +0000\r\n"
		"Subject: Fetching mail from bob@pop.example.net has been "
		"failing since 1 Dec\r\n"
		" 2026\r\n"
		"Message-ID: <fetchmail-notice.fm-abcdefgh.1796096400."
		"00000000deadbeef@example.org>\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=UTF-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"Fetching mail from one of your accounts has been failing "
		"since\r\n"
		"Tue, 1 Dec 2026 03:40 UTC. Until it is fixed, no mail from "
		"that\r\n"
		"account arrives here.\r\n"
		"\r\n"
		"Account:     fm-abcdefgh\r\n"
		"Remote user: bob\r\n"
		"Server:      pop.example.net (POP3, port 995)\r\n"
		"Last error:  login failed: -ERR [AUTH] invalid password\r\n"
		"\r\n"
		"Please ask your administrator to fix it. The administrator "
		"can see\r\n"
		"the details with:\r\n"
		"\r\n"
		"  doveadm fetchmail show -u alice@example.org fm-abcdefgh\r\n"
		"\r\n"
		"This is the only message about this failure: none follows "
		"while the\r\n"
		"account keeps failing, and a new one only if it works again "
		"and then\r\n"
		"fails anew.\r\n");
}

static void test_message_url_and_consent(void **)
{
	Account a = pop3_account();
	a.protocol = Protocol::Imap;
	a.host = "imap.gmail.com";
	a.remote_user = "bob@gmail.com";
	a.auth = AuthMethod::OAuth2;
	a.oauth2_provider = "google";
	AccountStatus st = failing_status();
	st.held = true;
	st.last_error = "consent needed: Token has been expired or revoked.";
	NoticeContext ctx = context();
	ctx.url = "https://mail.example.org/?_task=settings&_action=plugin.fetchmail";
	ctx.from = "\"Mail service (example.org)\" <noreply@example.org>";

	std::string header, body;
	split_message(notice_message(a, st, ctx), header, body);
	assert_str(field_names(header), FIELDS);
	assert_str(header_value(header, "From"),
		   "\"Mail service (example.org)\" <noreply@example.org>");
	assert_str(header_value(header, "Subject"),
		   "Fetching mail from bob@gmail.com (imap.gmail.com) has "
		   "been failing since 1 Dec 2026");
	assert_str(qp_decode(body),
		"Fetching mail from one of your accounts has been failing "
		"since\n"
		"Tue, 1 Dec 2026 03:40 UTC. Until it is fixed, no mail from "
		"that\n"
		"account arrives here.\n"
		"\n"
		"Account:     fm-abcdefgh\n"
		"Remote user: bob@gmail.com\n"
		"Server:      imap.gmail.com (IMAP, port 993)\n"
		"Last error:  consent needed: Token has been expired or "
		"revoked.\n"
		"\n"
		"The provider (google) no longer accepts the account's "
		"sign-in: sign\n"
		"in there again and allow access (OAuth2 consent). Until "
		"then the\n"
		"account is not polled.\n"
		"\n"
		"To sign in again, go to:\n"
		"https://mail.example.org/?_task=settings&_action="
		"plugin.fetchmail\n"
		"\n"
		"This is the only message about this failure: none follows "
		"while the\n"
		"account keeps failing, and a new one only if it works again "
		"and then\n"
		"fails anew.\n");
	/* the URL's '=' is encoded, and the long line is broken softly */
	assert_true(body.find("_action=3Dplugin") != std::string::npos);

	/* a password account with a URL: the usual cause */
	st.held = false;
	split_message(notice_message(pop3_account(), st, ctx), header, body);
	std::string text = qp_decode(body);
	assert_true(text.find("To fix it (a changed password is the most "
			      "common cause), go to:\nhttps://") !=
		    std::string::npos);
	assert_true(text.find("provider") == std::string::npos);
	assert_true(text.find("doveadm") == std::string::npos);
}

static void test_message_addresses(void **)
{
	static const struct {
		const char *user, *hostname, *from;
		const char *want_from, *want_to, *msgid_domain;
	} cases[] = {
		/* the user's domain */
		{ "alice@example.org", "mail.example.net", "",
		  "Mail fetching <postmaster@example.org>",
		  "alice@example.org", "@example.org>" },
		/* no domain: the host name's */
		{ "alice", "mail.example.net", "",
		  "Mail fetching <postmaster@mail.example.net>",
		  "alice@mail.example.net", "@mail.example.net>" },
		/* neither */
		{ "alice", "", "noreply",
		  "noreply@localhost", "alice@localhost", "@localhost>" },
		/* a local part that needs quoting */
		{ "john doe@example.org", "", "",
		  "Mail fetching <postmaster@example.org>",
		  "\"john doe\"@example.org", "@example.org>" },
		/* not an address at all */
		{ "j\xc3\xbcrgen@example.org", "", "",
		  "Mail fetching <postmaster@example.org>",
		  "undisclosed-recipients:;", "@example.org>" },
		{ "eve\r\nBcc: mallory@evil.example@example.org", "", "",
		  "Mail fetching <postmaster@example.org>",
		  "undisclosed-recipients:;", "@example.org>" },
		/* a domain that is not a host name is not taken */
		{ "bob@exa mple.org", "mail.example.net", "",
		  "Mail fetching <postmaster@mail.example.net>",
		  "\"bob@exa mple.org\"@mail.example.net",
		  "@mail.example.net>" },
		/* From: a non-ASCII display name is encoded */
		{ "alice@example.org", "", "Mailabruf f\xc3\xbcr Sie <postmaster>",
		  "=?UTF-8?Q?Mailabruf_f=C3=BCr_Sie?= <postmaster@example.org>",
		  "alice@example.org", "@example.org>" },
		/* a C1 control in the display name ('?' is an atom's) */
		{ "alice@example.org", "", "Mail\xc2\x85" "fetching <postmaster>",
		  "Mail?fetching <postmaster@example.org>",
		  "alice@example.org", "@example.org>" },
		/* specials are quoted */
		{ "alice@example.org", "", "Mail, fetching <x@example.com>",
		  "\"Mail, fetching\" <x@example.com>",
		  "alice@example.org", "@example.org>" },
		/* what looks like an encoded word is encoded */
		{ "alice@example.org", "", "=?UTF-8?Q?Admin?= <x@example.com>",
		  "=?UTF-8?Q?=3D=3FUTF-8=3FQ=3FAdmin=3F=3D?= <x@example.com>",
		  "alice@example.org", "@example.org>" },
		/* a From that notice_from_check() refuses: the default */
		{ "alice@example.org", "", "Evil <a@b>\r\nBcc: c@d",
		  "Mail fetching <postmaster@example.org>",
		  "alice@example.org", "@example.org>" },
		{ "alice@example.org", "", "Evil <a b@c>",
		  "Mail fetching <postmaster@example.org>",
		  "alice@example.org", "@example.org>" },
	};

	for (const auto &c : cases) {
		NoticeContext ctx = context();
		ctx.user = c.user;
		ctx.hostname = c.hostname;
		ctx.from = c.from;
		std::string header, body;
		split_message(notice_message(pop3_account(), failing_status(),
					     ctx), header, body);
		assert_str(field_names(header), FIELDS);
		assert_str(header_value(header, "From"), c.want_from);
		assert_str(header_value(header, "To"), c.want_to);
		std::string msgid = header_value(header, "Message-ID");
		size_t at = msgid.rfind('@');
		assert_true(at != std::string::npos);
		assert_str(msgid.substr(at), c.msgid_domain);
	}
}

static void test_message_injection(void **)
{
	Account a = pop3_account();
	a.remote_user = "bob\r\nBcc: mallory@evil.example\r\n\r\nhello";
	a.host = "pop.example.net\nX-Evil: 1";
	a.id = "fm-x\r\nX-Id: 1";
	AccountStatus st = failing_status();
	st.last_error = "-ERR bad\r\nSubject: you won\r\n\r\n<html>\x1b[31m"
		"\xc2\x85" "next\xe2\x80\xa8line \xe2\x80\xae" "txt.exe";
	NoticeContext ctx = context();
	ctx.user = "alice@example.org\r\nX-User: 1";
	ctx.url = "https://x.example/\r\nX-Url: 1";

	std::string msg = notice_message(a, st, ctx);
	std::string header, body;
	split_message(msg, header, body);
	/* nothing but our fields, no line that isn't one of them */
	assert_str(field_names(header), FIELDS);
	assert_true(msg.find("\nX-") == std::string::npos);
	assert_true(msg.find("\nBcc") == std::string::npos);
	assert_str(header_value(header, "To"), "undisclosed-recipients:;");
	assert_str(header_value(header, "Subject"),
		   "Fetching mail from bob??Bcc: mallory@evil.example????hello "
		   "(pop.example.net?X-Evil: 1) has been failing since "
		   "1 Dec 2026");

	std::string text = qp_decode(body);
	assert_true(text.find("Remote user: bob??Bcc: mallory@evil.example"
			      "????hello\n") != std::string::npos);
	assert_true(text.find("Last error:  -ERR bad??Subject: you won????"
			      "<html>?[31m?next?line ?txt.exe\n") !=
		    std::string::npos);
	assert_true(text.find("https://x.example/??X-Url: 1\n") !=
		    std::string::npos);
	/* the shell sees one word each */
	assert_true(text.find("doveadm") == std::string::npos);
	ctx.url.clear();
	split_message(notice_message(a, st, ctx), header, body);
	text = qp_decode(body);
	assert_true(text.find("  doveadm fetchmail show -u "
			      "'alice@example.org??X-User: 1' "
			      "'fm-x??X-Id: 1'\n") != std::string::npos);
	ctx.user = "o'brien";
	split_message(notice_message(pop3_account(), st, ctx), header, body);
	assert_true(qp_decode(body).find("show -u 'o'\\''brien' fm-abcdefgh\n")
		    != std::string::npos);
}

static void test_message_non_ascii(void **)
{
	Account a = pop3_account();
	a.remote_user = "j\xc3\xbcrgen.m\xc3\xbcller";
	a.host = "pop.example.net";
	AccountStatus st = failing_status();
	st.last_error = "-ERR Anmeldung fehlgeschlagen: Passwort ung\xc3\xbcltig "
		"\xe2\x82\xac \xf0\x9f\x93\xa7 \xff\xfe end";

	std::string header, body;
	split_message(notice_message(a, st, context()), header, body);
	/* the Subject in encoded words, their lines within 76 */
	assert_str(field_names(header), FIELDS);
	std::string subject = header_value(header, "Subject");
	assert_prefix(subject, "=?UTF-8?Q?");
	assert_str(decode_words(subject),
		   "Fetching mail from j\xc3\xbcrgen.m\xc3\xbcller@pop.example.net "
		   "has been failing since 1 Dec 2026");
	/* UTF-8 kept, bytes that are not UTF-8 made '?' */
	std::string text = qp_decode(body);
	assert_true(text.find("Remote user: j\xc3\xbcrgen.m\xc3\xbcller\n") !=
		    std::string::npos);
	assert_true(text.find("Passwort ung\xc3\xbcltig \xe2\x82\xac "
			      "\xf0\x9f\x93\xa7 ?? end\n") !=
		    std::string::npos);
	assert_true(utf8_valid(text));

	/* many non-ASCII characters (90 bytes, within the remote user's
	   bound): several words, none split inside a character (the decoded
	   text is valid UTF-8 and complete) */
	std::string long_user;
	for (int i = 0; i < 30; i++)
		long_user += "\xe2\x82\xac";
	a.remote_user = long_user;
	split_message(notice_message(a, st, context()), header, body);
	assert_str(field_names(header), FIELDS);
	assert_str(decode_words(header_value(header, "Subject")),
		   "Fetching mail from " + long_user + "@pop.example.net has "
		   "been failing since 1 Dec 2026");
}

static void test_message_long(void **)
{
	Account a = pop3_account();
	std::string long_user(400, 'u');
	a.remote_user = long_user;
	AccountStatus st = failing_status();
	st.last_error = std::string(20000, 'e');
	/* a multi-byte character across the cut */
	st.last_error.replace(298, 3, "\xe2\x82\xac");

	std::string msg = notice_message(a, st, context());
	assert_true(msg.size() < 4096);
	std::string header, body;
	split_message(msg, header, body);
	assert_str(field_names(header), FIELDS);
	std::string text = qp_decode(body);
	/* cut at a character: 298 'e's and the euro sign would be 301 */
	assert_true(text.find("Last error:  " + std::string(298, 'e') +
			      "...\n") != std::string::npos);
	assert_true(text.find("Remote user: " + std::string(100, 'u') +
			      "...\n") != std::string::npos);
	assert_true(utf8_valid(text));

	/* white space at the end of a line survives */
	st.last_error = "bad password  ";
	split_message(notice_message(pop3_account(), st, context()), header,
		      body);
	assert_true(body.find("Last error:  bad password =20\r\n") !=
		    std::string::npos);
	assert_true(qp_decode(body).find("Last error:  bad password  \n") !=
		    std::string::npos);
}

static void test_message_ids(void **)
{
	NoticeContext ctx = context();
	AccountStatus st = failing_status();
	std::string a = header_value(notice_message(pop3_account(), st, ctx),
				     "Message-ID");
	ctx.random = 0xdeadbef0;
	std::string b = header_value(notice_message(pop3_account(), st, ctx),
				     "Message-ID");
	st.failing_since = T0 + 5;
	std::string c = header_value(notice_message(pop3_account(), st, ctx),
				     "Message-ID");
	Account other = pop3_account();
	other.id = "fm-zzzzzzzz";
	std::string d = header_value(notice_message(other, st, ctx),
				     "Message-ID");
	assert_str(b, "<fetchmail-notice.fm-abcdefgh.1796096400."
		   "00000000deadbef0@example.org>");
	assert_true(a != b && b != c && c != d && a != c && a != d);

	/* without an episode, the date is now's */
	AccountStatus none;
	std::string msg = notice_message(pop3_account(), none, ctx);
	assert_true(header_value(msg, "Subject").find("since 2 Dec 2026") !=
		    std::string::npos);
	assert_true(qp_decode(msg.substr(msg.find("\r\n\r\n") + 4))
		    .find("Last error:  unknown\n") != std::string::npos);
}

static void test_from_check(void **)
{
	static const struct {
		const char *from;
		bool ok;
	} cases[] = {
		{ "", true },
		{ NOTICE_FROM_DEFAULT, true },
		{ "postmaster", true },
		{ "postmaster@example.org", true },
		{ "<postmaster@example.org>", true },
		{ "Mail <noreply@example.org>", true },
		{ "\"Mail (example.org)\" <noreply@example.org>", true },
		{ "Mailabruf f\xc3\xbcr Sie <postmaster>", true },
		{ "Mail <postmaster@%d>", true },  /* before %-expansion */
		{ "Mail <>", false },
		{ "Mail <a b@example.org>", false },
		{ "Mail <a@example..org>", false },
		{ "Mail <.a@example.org>", false },
		{ "Mail noreply@example.org>", false },
		{ "Mail <noreply@example.org> x", false },
		{ "a@b@c", false },
		{ "Ma\"il <a@b>", false },
		{ "Mail\r\nBcc: x <a@b>", false },
		{ "Mail <a@b>\r\n", false },
		{ "Mail \xff <a@b>", false },
	};
	std::string error;

	for (const auto &c : cases) {
		error.clear();
		int ret = notice_from_check(c.from, error);
		if (ret != (c.ok ? 0 : -1))
			fail_msg("'%s': %d", c.from, ret);
		if (!c.ok)
			assert_prefix(error, "must be an address or Name "
				      "<address> (got '");
	}
	std::string long_from = "Mail <" + std::string(300, 'a') + ">";
	assert_int_equal(notice_from_check(long_from, error), -1);
	assert_int_equal(notice_from_check("Mail\r\nX <a@b>", error), -1);
	assert_true(error.find('\r') == std::string::npos &&
		    error.find('\n') == std::string::npos);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_episode_life),
		cmocka_unit_test(test_episode_consent),
		cmocka_unit_test(test_episode_off_and_edges),
		cmocka_unit_test(test_message_exact),
		cmocka_unit_test(test_message_url_and_consent),
		cmocka_unit_test(test_message_addresses),
		cmocka_unit_test(test_message_injection),
		cmocka_unit_test(test_message_non_ascii),
		cmocka_unit_test(test_message_long),
		cmocka_unit_test(test_message_ids),
		cmocka_unit_test(test_from_check),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
