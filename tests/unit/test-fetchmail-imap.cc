/* Unit tests for the IMAP session (fetchmail-imap.hh): scripted server
   transcripts, each re-run with the server's bytes split at every byte
   position and fed byte by byte (test-transcript.hh), which must give the
   same events, the same reassembled bodies and the same client output. */

#include "fetchmail-imap.hh"

#include "test-transcript.hh"

#include <algorithm>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

using namespace fetchmail;
using namespace fetchmail_test;

namespace {

const char *const password = "hunter2pass";

/* ---- the harness ---- */

struct Step {
	bool server = false;
	std::string bytes;                           /* server: what it sends */
	std::function<void(ImapSession &)> action;   /* else: the driver acts */
};

Step S(std::string bytes)
{
	Step step;
	step.server = true;
	step.bytes = std::move(bytes);
	return step;
}

Step A(std::function<void(ImapSession &)> action)
{
	Step step;
	step.action = std::move(action);
	return step;
}

/* "{n}\r\n" + body */
std::string lit(const std::string &body)
{
	return "{" + std::to_string(body.size()) + "}\r\n" + body;
}

const char *const type_names[] = {
	"NeedTls", "LoggedIn", "FolderSelected", "Listing", "Begin", "Data",
	"End", "Removed", "Done", "Error", "Log", "Failed", "FolderFailed",
	"Idling", "MailboxChanged", "IdleDone", "IdleFailed",
};
static_assert(std::size(type_names) == (size_t)EventType::IdleFailed + 1);

std::string describe(const Event &ev)
{
	std::string out = type_names[(int)ev.type];
	const RemoteMessage &msg = ev.message;
	switch (ev.type) {
	case EventType::FolderSelected:
		return out + " " + ev.folder + " " +
			std::to_string(ev.uidvalidity) + " " +
			std::to_string(ev.count) + " next=" +
			std::to_string(ev.uidnext);
	case EventType::FolderFailed:
		return out + " " + ev.folder + ": " + ev.text;
	case EventType::Listing:
		for (const RemoteMessage &m : ev.messages) {
			out += " " + m.uid + ":" + std::to_string(m.size);
			if (!m.internal_date.empty() || !m.message_id.empty())
				out += ":" + m.internal_date + ":" + m.message_id;
			assert_int_equal(m.number, std::stoul(m.uid));
		}
		return out;
	case EventType::MessageBegin:
	case EventType::MessageEnd:
		return out + " " + msg.uid + " " + std::to_string(msg.size) +
			" [" + ev.internal_date + "] [" + join(ev.flags, ",") + "]";
	case EventType::MessageFailed:
		return out + " " + msg.uid + ": " + ev.text;
	case EventType::Removed:
		return out + (ev.uids.empty() ? "" : " " + join(ev.uids, ","));
	case EventType::IdleDone:
		return out + " " + std::to_string(ev.count);
	case EventType::MailboxChanged:
		return out + " " + ev.text + " " + std::to_string(ev.count) +
			(ev.text == "RECENT" ?
			 " recent=" + std::to_string(ev.recent) : "");
	case EventType::Error:
	case EventType::IdleFailed:
		return out + " " + error_kind_name(ev.error_kind) + ": " + ev.text;
	case EventType::Log:
		return (ev.outgoing ? "C: " : "S: ") + ev.text;
	default:
		return out;
	}
}

void add_event(Transcript &t, const Event &ev)
{
	for (const std::string &text : { ev.text, describe(ev) }) {
		if (text.find(password) != std::string::npos)
			t.problem("password leaked: " + text);
	}
	if (ev.type != EventType::MessageData) {
		t.add(describe(ev));
		return;
	}
	std::string prefix = "Data " + ev.message.uid + " ";
	if (t.lines.empty() || t.lines.back().rfind(prefix, 0) != 0)
		t.add(prefix);
	t.lines.back().append(ev.data);
}

SessionConfig config(SessionConfig::Tls tls = SessionConfig::Tls::Implicit)
{
	SessionConfig cfg;
	cfg.tls = tls;
	cfg.user = "bob";
	cfg.password = password;
	return cfg;
}

/* Runs the steps: the driver's actions, and the server's steps each cut
   by chunk (a chunk never spans two steps) until the session takes less
   than a chunk. */
Transcript run(const SessionConfig &cfg, const std::vector<Step> &steps,
	       const Chunker &chunk)
{
	ImapSession session(cfg);
	Transcript t;
	auto feed = [&](std::string_view bytes) { return session.feed(bytes); };
	auto drain = [&](const char *, size_t) {
		Event ev;
		while (session.next_event(ev))
			add_event(t, ev);
		t.output += session.take_output();
	};
	drain(nullptr, 0);
	for (const Step &step : steps) {
		if (!step.server) {
			t.output += "|";
			step.action(session);
			drain(nullptr, 0);
			continue;
		}
		std::string_view bytes = step.bytes;
		size_t pos = 0, n = 0, used = 0;
		while (pos < bytes.size() && used == n) {
			n = chunk(pos, bytes.size());
			used = feed_copy(bytes.substr(pos, n), feed, drain, t);
			pos += used;
		}
		t.consumed.push_back(session.finished() ? -1 : (long)pos);
	}
	return t;
}

/* Runs the script whole, split at every position and byte by byte;
   returns the whole run's transcript. */
Transcript check_splits(const SessionConfig &cfg, const std::vector<Step> &steps)
{
	size_t longest = 0;
	for (const Step &step : steps)
		longest = std::max(longest, step.bytes.size());
	return fetchmail_test::check_splits(
		[&](const Chunker &chunk) { return run(cfg, steps, chunk); },
		longest);
}

std::vector<std::string> without_logs(const Transcript &t)
{
	std::vector<std::string> out;
	for (const std::string &ev : t.lines) {
		if (ev.rfind("C: ", 0) != 0 && ev.rfind("S: ", 0) != 0)
			out.push_back(ev);
	}
	return out;
}

void expect_events(const Transcript &t, const std::vector<std::string> &expected)
{
	expect_lines(without_logs(t), expected);
}

void expect_output(const Transcript &t, const std::string &expected)
{
	if (t.output != expected)
		fail_msg("output:\n%s\nexpected:\n%s", t.output.c_str(),
			 expected.c_str());
}

/* ---- canned server text (as Dovecot 2.3 answers) ---- */

const std::string greeting =
	"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	"LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n";
const std::string login_ok =
	"a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	"SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
	"THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT "
	"CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE "
	"QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS "
	"BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE "
	"LITERAL+ NOTIFY SPECIAL-USE] Logged in\r\n";

std::string select_reply(const std::string &tag, uint32_t exists,
			 const std::string &rw = "READ-WRITE")
{
	return "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
		"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
		"\\Draft \\*)] Flags permitted.\r\n"
		"* " + std::to_string(exists) + " EXISTS\r\n"
		"* 0 RECENT\r\n"
		"* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
		"* OK [UIDNEXT 4] Predicted next UID\r\n" +
		tag + " OK [" + rw + "] Select completed (0.001 + 0.000 secs).\r\n";
}

/* Logged in and INBOX selected with `exists` messages: tags a1, a2. */
std::vector<Step> logged_in_selected(uint32_t exists)
{
	return {
		S(greeting + login_ok),
		A([](ImapSession &s) { s.select_folder("INBOX", false); }),
		S(select_reply("a2", exists)),
	};
}

const std::string prefix_output =
	"a1 LOGIN \"bob\" \"hunter2pass\"\r\n|a2 SELECT \"INBOX\"\r\n";

template <typename T>
std::vector<T> operator+(std::vector<T> a, const std::vector<T> &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

/* ---- tests ---- */

const std::string body1 = "From: a@example.com\r\nSubject: one\r\n\r\n"
	"* BYE not really\r\na4 OK neither\r\n)\r\n{5}\r\n";
const std::string body2 = "Subject: two\r\n\r\nline\r\n";

void test_full_session(void **)
{
	std::vector<Step> steps = logged_in_selected(3) + std::vector<Step>{
		A([](ImapSession &s) { s.list(1, false); }),
		S("* 1 FETCH (UID 1 RFC822.SIZE " + std::to_string(body1.size()) +
		  ")\r\n* 2 FETCH (UID 2 RFC822.SIZE " +
		  std::to_string(body2.size()) + ")\r\n"
		  "* 3 FETCH (UID 3 RFC822.SIZE 0)\r\n"
		  "a3 OK Fetch completed (0.001 + 0.000 secs).\r\n"),
		A([](ImapSession &s) {
			std::vector<RemoteMessage> msgs(3);
			for (uint32_t i = 0; i < 3; i++) {
				msgs[i].uid = std::to_string(i + 1);
				msgs[i].number = i + 1;
			}
			s.fetch(msgs);
		}),
		/* INTERNALDATE and FLAGS before the literal, after it, and a
		   zero-length body; unsolicited data in between */
		S("* 1 FETCH (UID 1 FLAGS (\\Seen) INTERNALDATE "
		  "\"17-Jul-2023 02:44:25 +0200\" BODY[] " + lit(body1) + ")\r\n"
		  "* 4 EXISTS\r\n"
		  "* 3 FETCH (FLAGS (\\Seen \\Flagged))\r\n"
		  "a4 OK Fetch completed (0.001 + 0.000 secs).\r\n"
		  "* 2 FETCH (UID 2 BODY[] " + lit(body2) +
		  " INTERNALDATE \"18-Jul-2023 10:00:00 +0000\" "
		  "FLAGS (\\Answered \\Recent $Label1))\r\n"
		  "a5 OK Fetch completed.\r\n"
		  "* 3 FETCH (UID 3 BODY[] {0}\r\n FLAGS ())\r\n"
		  "a6 OK Fetch completed.\r\n"),
		A([](ImapSession &s) { s.remove({ "3", "1", "2" }); }),
		S("a7 OK Store completed.\r\n"),
		S("* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n* 1 EXPUNGE\r\n"
		  "a8 OK Expunge completed.\r\n"),
		A([](ImapSession &s) { s.quit(); }),
		S("* BYE Logging out\r\na9 OK Logout completed (0.001 + 0.000 secs).\r\n"),
	};
	Transcript t = check_splits(config(), steps);
	expect_output(t, prefix_output +
		"|a3 UID FETCH 1:* (UID RFC822.SIZE)\r\n"
		"|a4 UID FETCH 1 (BODY.PEEK[] INTERNALDATE FLAGS)\r\n"
		"a5 UID FETCH 2 (BODY.PEEK[] INTERNALDATE FLAGS)\r\n"
		"a6 UID FETCH 3 (BODY.PEEK[] INTERNALDATE FLAGS)\r\n"
		"|a7 UID STORE 1:3 +FLAGS.SILENT (\\Deleted)\r\n"
		"a8 UID EXPUNGE 1:3\r\n"
		"|a9 LOGOUT\r\n");
	expect_events(t, {
		"LoggedIn",
		"FolderSelected INBOX 1700000000 3 next=4",
		"Listing 1:" + std::to_string(body1.size()) + " 2:" +
			std::to_string(body2.size()) + " 3:0",
		"Begin 1 " + std::to_string(body1.size()) +
			" [17-Jul-2023 02:44:25 +0200] [\\Seen]",
		"Data 1 " + body1,
		"End 1 " + std::to_string(body1.size()) +
			" [17-Jul-2023 02:44:25 +0200] [\\Seen]",
		"Begin 2 " + std::to_string(body2.size()) + " [] []",
		"Data 2 " + body2,
		"End 2 " + std::to_string(body2.size()) +
			" [18-Jul-2023 10:00:00 +0000] [\\Answered]",
		"Begin 3 0 [] []",
		"End 3 0 [] []",
		"Removed 1,2,3",
		"Done",
	});
	/* the run log: commands, status lines, summaries, no bodies */
	assert_true(has_line(t, "C: a1 LOGIN \"bob\" ***"));
	assert_true(has_line(t, "S: * OK [UIDVALIDITY 1700000000] UIDs valid"));
	assert_true(has_line(t, "S: (3 FETCH lines not logged)"));
	assert_true(has_line(t, "S: * 1 FETCH (UID 1 FLAGS (\\Seen) INTERNALDATE "
			      "\"17-Jul-2023 02:44:25 +0200\" BODY[] {" +
			      std::to_string(body1.size()) + "} ...)"));
	assert_true(has_line(t, "S: * 3 FETCH (FLAGS (\\Seen \\Flagged))"));
	assert_true(has_line(t, "S: a9 OK Logout completed (0.001 + 0.000 secs)."));
	for (const std::string &ev : t.lines) {
		assert_true(ev.find("Subject") == std::string::npos ||
			    ev.rfind("Data ", 0) == 0);
	}
}

void test_greeting_without_capabilities(void **)
{
	Transcript t = check_splits(config(), {
		S("* OK Dovecot ready.\r\n"),
		S("* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN\r\n"
		  "a1 OK Pre-login capabilities listed, post-login capabilities "
		  "have more.\r\n"),
		S("a2 OK Logged in\r\n"),
		S("* CAPABILITY IMAP4rev1 UIDPLUS\r\na3 OK Capability completed.\r\n"),
		A([](ImapSession &s) { s.quit(); }),
		S("* BYE Logging out\r\n"),
		A([](ImapSession &s) { s.eof(); }),
	});
	expect_output(t, "a1 CAPABILITY\r\na2 LOGIN \"bob\" \"hunter2pass\"\r\n"
		      "a3 CAPABILITY\r\n|a4 LOGOUT\r\n|");
	expect_events(t, { "LoggedIn", "Done" });
}

void test_preauth(void **)
{
	Transcript t = check_splits(config(), {
		S("* PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] Logged in as bob\r\n"),
	});
	expect_output(t, "");
	expect_events(t, { "LoggedIn" });

	t = check_splits(config(SessionConfig::Tls::StartTls), {
		S("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] Logged in as bob\r\n"),
	});
	expect_events(t, { "Error TlsUnavailable: server sent PREAUTH: "
			   "STARTTLS is impossible" });
}

void test_greeting_bye(void **)
{
	Transcript t = check_splits(config(), {
		S("* BYE Too many connections from your IP\r\n"),
	});
	expect_events(t, { "Error Closed: server refused the connection: "
			   "Too many connections from your IP" });
	t = check_splits(config(), { S("HTTP/1.1 400 Bad Request\r\n") });
	expect_events(t, { "Error Protocol: unexpected greeting: "
			   "HTTP/1.1 400 Bad Request" });
}

void test_starttls(void **)
{
	const std::string ok_line = "a1 OK Begin TLS negotiation now.\r\n";
	Transcript t = check_splits(config(SessionConfig::Tls::StartTls), {
		S("* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED "
		  "AUTH=PLAIN] Dovecot ready.\r\n"),
		/* what follows the OK came in plaintext: not consumed */
		S(ok_line + "* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED\r\n"),
		A([](ImapSession &s) {
			assert_int_equal(s.feed("* OK more\r\n"), 0);
			s.tls_started();
		}),
		S("* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN\r\n"
		  "a2 OK Pre-login capabilities listed.\r\n"),
		S("a3 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n"),
	});
	/* LOGINDISABLED was only said before TLS: LOGIN after it */
	expect_output(t, "a1 STARTTLS\r\n|a2 CAPABILITY\r\n"
		      "a3 LOGIN \"bob\" \"hunter2pass\"\r\n");
	expect_events(t, { "NeedTls", "LoggedIn" });
	assert_int_equal(t.consumed[1], ok_line.size());
}

void test_starttls_unavailable(void **)
{
	Transcript t = check_splits(config(SessionConfig::Tls::StartTls), {
		S(greeting),
	});
	expect_output(t, "");
	expect_events(t, { "Error TlsUnavailable: server does not offer STARTTLS" });

	t = check_splits(config(SessionConfig::Tls::StartTls), {
		S("* OK Dovecot ready.\r\n"),
		S("* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n"),
		S("a2 NO [UNAVAILABLE] TLS not configured\r\n"),
	});
	expect_output(t, "a1 CAPABILITY\r\na2 STARTTLS\r\n");
	expect_events(t, { "Error TlsUnavailable: STARTTLS failed: "
			   "[UNAVAILABLE] TLS not configured" });
}

void test_logindisabled(void **)
{
	Transcript t = check_splits(config(), {
		S("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN] ready.\r\n"),
		S("+ \r\n"),
		S("a1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n"),
	});
	/* no SASL-IR: the initial response after "+" */
	expect_output(t, "a1 AUTHENTICATE PLAIN\r\n"
		      "AGJvYgBodW50ZXIycGFzcw==\r\n");
	expect_events(t, { "LoggedIn" });
	assert_true(has_line(t, "C: ***"));
	assert_true(has_line(t, "C: a1 AUTHENTICATE PLAIN"));

	t = check_splits(config(), {
		S("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED STARTTLS] ready.\r\n"),
	});
	expect_output(t, "");
	expect_events(t, { "Error Auth: server disabled LOGIN (LOGINDISABLED) "
			   "and offers no AUTH=PLAIN" });
}

void test_authenticate_plain_sasl_ir(void **)
{
	SessionConfig cfg = config();
	cfg.sasl_mech = "plain";
	Transcript t = check_splits(cfg, {
		S(greeting),
		S("a1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n"),
	});
	expect_output(t, "a1 AUTHENTICATE PLAIN AGJvYgBodW50ZXIycGFzcw==\r\n");
	expect_events(t, { "LoggedIn" });
	assert_true(has_line(t, "C: a1 AUTHENTICATE PLAIN ***"));
	/* the encoded credentials are never logged */
	for (const std::string &ev : t.lines)
		assert_true(ev.find("AGJvYgBo") == std::string::npos);
}

void test_authenticate_login(void **)
{
	SessionConfig cfg = config();
	cfg.sasl_mech = "LOGIN";
	Transcript t = check_splits(cfg, {
		S(greeting),
		S("+ VXNlcm5hbWU6\r\n"),
		S("+ UGFzc3dvcmQ6\r\n"),
		S("a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
	});
	expect_output(t, "a1 AUTHENTICATE LOGIN\r\nYm9i\r\naHVudGVyMnBhc3M=\r\n");
	expect_events(t, { "LoggedIn" });
}

void test_authenticate_oauth(void **)
{
	SessionConfig cfg = config();
	cfg.sasl_mech = "XOAUTH2";
	Transcript t = check_splits(cfg, {
		S("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n"),
		S("+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=\r\n"),
		S("a1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n"),
	});
	/* user=bob^Aauth=Bearer hunter2pass^A^A, then the empty reply */
	expect_output(t, "a1 AUTHENTICATE XOAUTH2 dXNlcj1ib2IBYXV0aD1CZWFyZXIg"
		      "aHVudGVyMnBhc3MBAQ==\r\n\r\n");
	expect_events(t, { "Error Auth: "
			   "[AUTHENTICATIONFAILED] Invalid credentials (Failure)" });
	assert_true(has_line(t, "C: (empty response)"));

	cfg.sasl_mech = "OAUTHBEARER";
	cfg.user = "b,o=b";
	t = check_splits(cfg, {
		S("* OK [CAPABILITY IMAP4rev1 AUTH=OAUTHBEARER] ready\r\n"),
		S("+ \r\n"),
		S("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
		S("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
	});
	/* n,a=b=2Co=3Db,^Aauth=Bearer hunter2pass^A^A; then %x01 */
	expect_output(t, "a1 AUTHENTICATE OAUTHBEARER\r\n"
		      "bixhPWI9MkNvPTNEYiwBYXV0aD1CZWFyZXIgaHVudGVyMnBhc3MBAQ==\r\n"
		      "AQ==\r\n");
	expect_events(t, { "Error Auth: "
			   "[AUTHENTICATIONFAILED] Authentication failed." });

	cfg.sasl_mech = "CRAM-MD5";
	t = check_splits(cfg, { S(greeting) });
	expect_events(t, { "Error Auth: unsupported SASL mechanism CRAM-MD5" });
}

void test_wrong_password(void **)
{
	Transcript t = check_splits(config(), {
		S(greeting),
		S("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
	});
	expect_events(t, { "Error Auth: [AUTHENTICATIONFAILED] "
			   "Authentication failed." });
	assert_true(has_line(t, "S: a1 NO [AUTHENTICATIONFAILED] "
			      "Authentication failed."));

	/* a server that echoes the password gets it redacted */
	t = check_splits(config(), {
		S(greeting),
		S("* OK hunter2pass? really?\r\n"
		  "a1 NO [AUTHENTICATIONFAILED] bad password hunter2pass\r\n"),
	});
	expect_events(t, { "Error Auth: [AUTHENTICATIONFAILED] "
			   "bad password ***" });
	assert_true(has_line(t, "S: * OK ***? really?"));

	/* RFC 5530 server-side failures are not a bad password */
	t = check_splits(config(), {
		S(greeting),
		S("a1 NO [UNAVAILABLE] Temporary authentication failure.\r\n"),
	});
	expect_events(t, { "Error Server: LOGIN failed: [UNAVAILABLE] "
			   "Temporary authentication failure." });
}

void test_password_quoted(void **)
{
	SessionConfig cfg = config();
	cfg.user = "bob\"o'";
	cfg.password = "a\"b\\c d";
	Transcript t = check_splits(cfg, {
		S(greeting),
		S("a1 OK Logged in\r\n"),
	});
	expect_output(t, "a1 LOGIN \"bob\\\"o'\" \"a\\\"b\\\\c d\"\r\n"
		      "a2 CAPABILITY\r\n");
	for (const std::string &ev : t.lines)
		assert_true(ev.find("b\\\\c") == std::string::npos);
}

void test_password_literal(void **)
{
	SessionConfig cfg = config();
	const std::string pass = "p\xc3\xa4sswort-hunter2pass";
	cfg.password = pass;
	/* LITERAL+: inline */
	Transcript t = check_splits(cfg, {
		S(greeting),
		S("a1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n"),
	});
	expect_output(t, "a1 LOGIN \"bob\" {" + std::to_string(pass.size()) +
		      "+}\r\n" + pass + "\r\n");
	expect_events(t, { "LoggedIn" });
	for (const std::string &ev : t.lines)
		assert_true(ev.find("p\xc3\xa4ss") == std::string::npos);

	/* synchronizing: the password only after "+" */
	cfg.user = "b\xc3\xb6" "b";
	t = check_splits(cfg, {
		S("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		A([](ImapSession &) {}),
		S("+ OK\r\n"),
		A([](ImapSession &) {}),
		S("+ OK\r\n"),
		A([](ImapSession &) {}),
		S("a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
	});
	expect_output(t, "a1 LOGIN {4}\r\n|b\xc3\xb6" "b {" +
		      std::to_string(pass.size()) + "}\r\n|" + pass + "\r\n|");
	expect_events(t, { "LoggedIn" });
	assert_true(has_line(t, "C: a1 LOGIN \"b\xc3\xb6" "b\" ***"));

	/* refused before the literal is sent */
	t = check_splits(cfg, {
		S("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		S("+ OK\r\n"),
		S("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
	});
	assert_true(t.output.find("p\xc3\xa4ss") == std::string::npos);
	expect_events(t, { "Error Auth: [AUTHENTICATIONFAILED] "
			   "Authentication failed." });
}

void test_examine(void **)
{
	Transcript t = check_splits(config(), {
		S(greeting + login_ok),
		A([](ImapSession &s) {
			s.select_folder("Entw\xc3\xbc" "rfe & \xe2\x82\xac", true);
		}),
		S(select_reply("a2", 0, "READ-ONLY")),
		A([](ImapSession &s) {
			s.select_folder("Sent", false);
			s.select_folder("bad \xff", false);
			s.select_folder("", false);
			s.select_folder("\xe2\x82\xac\xf0\x9d\x84\x9e", true);
		}),
		S(select_reply("a3", 2)),
		S(select_reply("a4", 1, "READ-ONLY")),
	});
	expect_output(t, "a1 LOGIN \"bob\" \"hunter2pass\"\r\n"
		      "|a2 EXAMINE \"Entw&APw-rfe &- &IKw-\"\r\n"
		      "|a3 SELECT \"Sent\"\r\na4 EXAMINE \"&IKzYNN0e-\"\r\n");
	expect_events(t, {
		"LoggedIn",
		"FolderSelected Entw\xc3\xbcrfe & \xe2\x82\xac 1700000000 0 next=4",
		"FolderSelected Sent 1700000000 2 next=4",
		"FolderFailed bad \xff: invalid folder name",
		"FolderFailed : invalid folder name",
		"FolderSelected \xe2\x82\xac\xf0\x9d\x84\x9e 1700000000 1 next=4",
	});
}

void test_listing_fingerprints(void **)
{
	const std::string h2 = "Message-ID: <two@example.com>\r\n\r\n";
	const std::string h3 = "Message-Id:\r\n <three@example.com>\r\n\r\n";
	Transcript t = check_splits(config(), logged_in_selected(3) +
				    std::vector<Step>{
		A([](ImapSession &s) { s.list(2, true); }),
		S("* 2 FETCH (UID 2 RFC822.SIZE 120 INTERNALDATE "
		  "\"17-Jul-2023 02:44:25 +0200\" "
		  "BODY[HEADER.FIELDS (MESSAGE-ID)] " + lit(h2) + ")\r\n"
		  "* 3 FETCH (UID 3 RFC822.SIZE 4000 INTERNALDATE "
		  "\"18-Jul-2023 02:44:25 +0200\" "
		  "BODY[HEADER.FIELDS (\"MESSAGE-ID\")] " + lit(h3) + ")\r\n"
		  "* 4 FETCH (UID 4 RFC822.SIZE 5 INTERNALDATE "
		  "\"19-Jul-2023 02:44:25 +0200\" "
		  "BODY[HEADER.FIELDS (MESSAGE-ID)] {2}\r\n\r\n)\r\n"
		  "a3 OK Fetch completed.\r\n"),
		/* "5:*" returns the last message even when its UID is lower */
		A([](ImapSession &s) { s.list(5, true); }),
		S("* 3 FETCH (UID 4 RFC822.SIZE 5 INTERNALDATE "
		  "\"19-Jul-2023 02:44:25 +0200\" "
		  "BODY[HEADER.FIELDS (MESSAGE-ID)] {2}\r\n\r\n)\r\n"
		  "a4 OK Fetch completed.\r\n"),
		A([](ImapSession &s) { s.list(0, false); }),
		S("* 3 FETCH (UID 4 RFC822.SIZE 5)\r\n"
		  "* 1 FETCH (UID 2 RFC822.SIZE 120)\r\n"
		  "* 1 FETCH (FLAGS (\\Seen))\r\n"
		  "* 2 FETCH (UID 3 RFC822.SIZE 4000)\r\n"
		  "a5 OK Fetch completed.\r\n"),
	});
	expect_output(t, prefix_output +
		"|a3 UID FETCH 2:* (UID RFC822.SIZE INTERNALDATE "
		"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])\r\n"
		"|a4 UID FETCH 5:* (UID RFC822.SIZE INTERNALDATE "
		"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])\r\n"
		"|a5 UID FETCH 1:* (UID RFC822.SIZE)\r\n");
	expect_events(t, {
		"LoggedIn",
		"FolderSelected INBOX 1700000000 3 next=4",
		"Listing 2:120:17-Jul-2023 02:44:25 +0200:<two@example.com> "
		"3:4000:18-Jul-2023 02:44:25 +0200:<three@example.com> "
		"4:5:19-Jul-2023 02:44:25 +0200:",
		"Listing",
		"Listing 2:120 3:4000 4:5",
	});
	for (const std::string &ev : t.lines)
		assert_true(ev.find("S: * 2 FETCH") == std::string::npos);
}

void test_empty_folder(void **)
{
	Transcript t = check_splits(config(), logged_in_selected(0) +
				    std::vector<Step>{
		A([](ImapSession &s) { s.list(1, false); s.quit(); }),
		S("a3 OK Logout completed.\r\n"),
	});
	expect_output(t, prefix_output + "|a3 LOGOUT\r\n");
	expect_events(t, { "LoggedIn", "FolderSelected INBOX 1700000000 0 next=4",
			   "Listing", "Done" });
}

void test_expunge_without_uidplus(void **)
{
	std::vector<Step> steps = {
		S("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		S("a1 OK [CAPABILITY IMAP4rev1 LITERAL+] Logged in\r\n"),
		A([](ImapSession &s) {
			s.select_folder("INBOX", false);
			s.remove({ "7", "5", "6", "9", "x", "0", "11", "12" });
			s.remove({});
		}),
		S(select_reply("a2", 12)),
		S("a3 OK Store completed.\r\n"),
		S("* 3 EXPUNGE\r\n* 3 EXPUNGE\r\na4 OK Expunge completed.\r\n"),
	};
	Transcript t = check_splits(config(), steps);
	expect_output(t, "a1 LOGIN \"bob\" \"hunter2pass\"\r\n"
		      "|a2 SELECT \"INBOX\"\r\n"
		      "a3 UID STORE 5:7,9,11:12 +FLAGS.SILENT (\\Deleted)\r\n"
		      "a4 EXPUNGE\r\n");
	expect_events(t, { "LoggedIn", "FolderSelected INBOX 1700000000 12 next=4",
			   "Removed 5,6,7,9,11,12", "Removed" });
}

void test_remove_failures(void **)
{
	Transcript t = check_splits(config(), logged_in_selected(3) +
				    std::vector<Step>{
		A([](ImapSession &s) { s.remove({ "1", "2" }); s.remove({ "3" }); }),
		S("a3 NO [NOPERM] Permission denied\r\n"),
		S("a4 OK Store completed.\r\n"),
		S("a5 NO [EXPUNGEISSUED] Some messages were also expunged\r\n"),
	});
	expect_output(t, prefix_output +
		"|a3 UID STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\n"
		"a4 UID STORE 3 +FLAGS.SILENT (\\Deleted)\r\n"
		"a5 UID EXPUNGE 3\r\n");
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"FolderFailed INBOX: UID STORE failed: [NOPERM] Permission denied",
		"FolderFailed INBOX: EXPUNGE failed: [EXPUNGEISSUED] Some "
		"messages were also expunged",
	});
}

void test_large_remove_sets(void **)
{
	std::vector<std::string> uids;
	for (uint32_t uid = 1; uid <= 4000; uid += 2)
		uids.push_back(std::to_string(uid));
	ImapSession s(config());
	s.feed(greeting + login_ok);
	s.select_folder("INBOX", false);
	s.feed(select_reply("a2", 4000));
	s.take_output();
	s.remove(uids);
	std::string out = s.take_output();
	size_t commands = 0;
	for (size_t pos = 0; (pos = out.find("\r\n", pos)) != std::string::npos; pos += 2)
		commands++;
	assert_true(commands > 1);
	for (size_t pos = 0, eol; (eol = out.find("\r\n", pos)) != std::string::npos;
	     pos = eol + 2)
		assert_true(eol - pos < ImapSession::remove_set_max + 100);
	std::string replies;
	for (size_t i = 0; i < commands; i++)
		replies += "a" + std::to_string(3 + i) + " OK Store completed.\r\n";
	s.feed(replies);
	out = s.take_output();
	assert_true(out.rfind("a" + std::to_string(3 + commands) +
			      " UID EXPUNGE 1,3,5,", 0) == 0);
	replies.clear();
	for (size_t i = 0; i < commands; i++)
		replies += "a" + std::to_string(3 + commands + i) + " OK done\r\n";
	s.feed(replies);
	Event ev;
	bool removed = false;
	while (s.next_event(ev)) {
		if (ev.type == EventType::Removed) {
			assert_int_equal(ev.uids.size(), 2000);
			removed = true;
		}
	}
	assert_true(removed);
}

void test_missing_folder(void **)
{
	Transcript t = check_splits(config(), {
		S(greeting + login_ok),
		A([](ImapSession &s) {
			s.select_folder("Nope", false);
			s.list(1, false);
			s.fetch({ RemoteMessage{ "4", 4, 0, "", "" } });
			s.remove({ "4" });
			s.select_folder("INBOX", false);
		}),
		S("a2 NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n"),
		S(select_reply("a3", 3)),
	});
	expect_output(t, "a1 LOGIN \"bob\" \"hunter2pass\"\r\n"
		      "|a2 SELECT \"Nope\"\r\na3 SELECT \"INBOX\"\r\n");
	expect_events(t, {
		"LoggedIn",
		"FolderFailed Nope: SELECT failed: [NONEXISTENT] Mailbox "
		"doesn't exist: Nope",
		"FolderFailed Nope: no folder selected",
		"Failed 4: no folder selected",
		"FolderFailed Nope: no folder selected",
		"FolderSelected INBOX 1700000000 3 next=4",
	});

	/* a SELECT without UIDVALIDITY cannot be tracked */
	t = check_splits(config(), {
		S(greeting + login_ok),
		A([](ImapSession &s) { s.select_folder("Odd", false); }),
		S("* 3 EXISTS\r\na2 OK Select done\r\n"),
	});
	expect_events(t, { "LoggedIn",
			   "FolderFailed Odd: server sent no UIDVALIDITY" });
}

void test_fetch_vanished_and_unsolicited(void **)
{
	const std::string body = "Subject: x\r\n\r\nbody\r\n";
	Transcript t = check_splits(config(), logged_in_selected(3) +
				    std::vector<Step>{
		A([](ImapSession &s) {
			std::vector<RemoteMessage> msgs(2);
			msgs[0].uid = "1";
			msgs[1].uid = "2";
			s.fetch(msgs);
			msgs.resize(1);
			msgs[0].uid = "3";
			msgs[0].number = 3;
			s.fetch(msgs);
			msgs[0].uid = "bogus";
			msgs[0].number = 0;
			s.fetch(msgs);
		}),
		S("* 1 EXPUNGE\r\n"
		  "* 2 EXISTS\r\n"
		  "a3 OK Fetch completed.\r\n"
		  "* 1 FETCH (FLAGS (\\Seen) UID 2)\r\n"
		  "* 1 FETCH (UID 2 BODY[] " + lit(body) + " FLAGS (\\Seen))\r\n"
		  "* 3 EXISTS\r\n"
		  "* 3 RECENT\r\n"
		  "* 1 FETCH (UID 2 MODSEQ (12) FLAGS (\\Seen \\Flagged))\r\n"
		  "a4 OK Fetch completed.\r\n"
		  "a5 NO [SERVERBUG] Internal error occurred.\r\n"),
	});
	expect_output(t, prefix_output +
		"|a3 UID FETCH 1 (BODY.PEEK[] INTERNALDATE FLAGS)\r\n"
		"a4 UID FETCH 2 (BODY.PEEK[] INTERNALDATE FLAGS)\r\n"
		"a5 UID FETCH 3 (BODY.PEEK[] INTERNALDATE FLAGS)\r\n");
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"Failed bogus: invalid IMAP UID",
		"Failed 1: message not returned by the server (expunged?)",
		"Begin 2 " + std::to_string(body.size()) + " [] []",
		"Data 2 " + body,
		"End 2 " + std::to_string(body.size()) + " [] [\\Seen]",
		"Failed 3: UID FETCH failed: [SERVERBUG] Internal error occurred.",
	});
}

void test_fetch_window(void **)
{
	ImapSession s(config());
	s.feed(greeting + login_ok);
	s.select_folder("INBOX", false);
	s.feed(select_reply("a2", 100));
	s.take_output();
	std::vector<RemoteMessage> msgs(100);
	for (uint32_t i = 0; i < 100; i++)
		msgs[i].number = i + 1;
	s.fetch(msgs);
	std::string out = s.take_output();
	auto lines = [](const std::string &text) {
		size_t n = 0;
		for (size_t pos = 0; (pos = text.find("\r\n", pos)) !=
			     std::string::npos; pos += 2)
			n++;
		return n;
	};
	assert_int_equal(lines(out), ImapSession::fetch_window);
	/* bodies that arrive out of order still land in their message */
	std::string in = "* 2 FETCH (UID 2 BODY[] {2}\r\nb2)\r\n"
		"* 1 FETCH (UID 1 BODY[] {2}\r\nb1)\r\n"
		"a4 OK done\r\na3 OK done\r\n";
	assert_int_equal(s.feed(in), in.size());
	out = s.take_output();
	assert_int_equal(lines(out), 2);
	assert_true(out.find("a35 UID FETCH 33 ") == 0);
	Event ev;
	std::vector<std::string> seen;
	while (s.next_event(ev)) {
		if (ev.type == EventType::MessageData)
			seen.push_back(ev.message.uid + "=" + std::string(ev.data));
	}
	assert_int_equal(seen.size(), 2);
	assert_string_equal(seen[0].c_str(), "2=b2");
	assert_string_equal(seen[1].c_str(), "1=b1");
}

void test_body_uid_after_literal(void **)
{
	auto steps = [](const std::string &reply) {
		return logged_in_selected(3) + std::vector<Step>{
			A([](ImapSession &s) {
				std::vector<RemoteMessage> msgs(2);
				msgs[0].number = 7;
				msgs[1].number = 8;
				s.fetch(msgs);
			}),
			S(reply),
		};
	};
	Transcript t = check_splits(config(), steps(
		"* 1 FETCH (BODY[] {5}\r\nhello UID 7)\r\n"
		"* 2 FETCH (FLAGS () BODY[] \"hi \\\"there\\\"\" UID 8)\r\n"
		"a3 OK done\r\na4 OK done\r\n"));
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"Begin 7 5 [] []", "Data 7 hello", "End 7 5 [] []",
		"Begin 8 10 [] []", "Data 8 hi \"there\"", "End 8 10 [] []",
	});
	/* a body that turns out to be another message's: no MessageEnd */
	t = check_splits(config(), steps(
		"* 1 FETCH (BODY[] {5}\r\nhello UID 8)\r\na3 OK done\r\n"));
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"Begin 7 5 [] []", "Data 7 hello",
		"Error Protocol: FETCH response for UID 8 while expecting UID 7",
	});
	/* a body nobody asked for is read and dropped */
	t = check_splits(config(), steps(
		"* 9 FETCH (UID 99 BODY[] {5}\r\nhello)\r\n"
		"* 1 FETCH (UID 7 BODY[] NIL)\r\n"
		"a3 OK done\r\na4 BAD Error in IMAP command\r\n"));
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"Failed 7: message not returned by the server (expunged?)",
		"Failed 8: UID FETCH failed: Error in IMAP command",
	});
	assert_true(has_line(t, "S: * 9 FETCH (UID 99 BODY[] {5} ...) "
			      "ignored: not requested"));
}

void test_bye_mid_session(void **)
{
	Transcript t = check_splits(config(), logged_in_selected(3) +
				    std::vector<Step>{
		A([](ImapSession &s) { s.list(1, false); }),
		S("* 1 FETCH (UID 1 RFC822.SIZE 5)\r\n"
		  "* BYE Server shutting down.\r\n"
		  "a3 OK Fetch completed.\r\n"),
		A([](ImapSession &s) {
			assert_int_equal(s.feed("a3 OK\r\n"), 0);
			s.quit();
			s.select_folder("x", true);
		}),
	});
	expect_events(t, { "LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
			   "Error Closed: server closed the connection: "
			   "Server shutting down." });
	expect_output(t, prefix_output + "|a3 UID FETCH 1:* (UID RFC822.SIZE)\r\n|");
}

void expect_protocol_error(const std::vector<Step> &steps, const char *text,
			   SessionConfig cfg = config())
{
	Transcript t = check_splits(cfg, steps);
	std::vector<std::string> got = without_logs(t);
	std::string expected = std::string("Error Protocol: ") + text;
	if (got.empty() || got.back() != expected)
		fail_msg("expected %s, got %s", expected.c_str(),
			 got.empty() ? "nothing" : got.back().c_str());
}

std::vector<Step> fetching(const std::string &reply)
{
	return logged_in_selected(3) + std::vector<Step>{
		A([](ImapSession &s) {
			std::vector<RemoteMessage> msgs(1);
			msgs[0].number = 1;
			s.fetch(msgs);
		}),
		S(reply),
	};
}

void test_garbage(void **)
{
	const std::vector<Step> start = { S(greeting + login_ok) };
	expect_protocol_error(start + std::vector<Step>{ S("hello world\r\n") },
			      "unexpected tag: hello world");
	expect_protocol_error(start + std::vector<Step>{ S("a99 OK done\r\n") },
			      "unexpected tag: a99 OK done");
	expect_protocol_error(start + std::vector<Step>{ S("+ go ahead\r\n") },
			      "unexpected continuation request");
	expect_protocol_error(start + std::vector<Step>{ S("\r\n") },
			      "empty line from the server");
	expect_protocol_error({ S(greeting), S("a1 MAYBE\r\n") },
			      "invalid tagged response: a1 MAYBE");
	expect_protocol_error(start + std::vector<Step>{ S("* PREAUTH x\r\n") },
			      "unexpected PREAUTH");
	expect_protocol_error(start + std::vector<Step>{
			      S("* LIST () \"/ x\r\n") },
			      "malformed response: unterminated quoted string");
	expect_protocol_error(start + std::vector<Step>{
			      S("* 1 FETCH (UID 1 \x01)\r\n") },
			      "malformed response: control character in response");
	expect_protocol_error(start + std::vector<Step>{
			      S("* 1 FETCH (" + std::string(100, '(') + "\r\n") },
			      "malformed response: lists nested too deeply");
	expect_protocol_error(fetching("* 1 FETCH (UID 1 BODY[] {5}x\r\n"),
			      "malformed response: invalid literal");
	expect_protocol_error(fetching("* 1 FETCH (UID)\r\n"),
			      "malformed FETCH response");
	expect_protocol_error(fetching("* 1 FETCH UID 1\r\n"),
			      "malformed FETCH response");
	expect_protocol_error(fetching("* 1 FETCH (UID 1) extra\r\n"),
			      "malformed FETCH response");
	expect_protocol_error(fetching("* 1 FETCH (UID 1 BODY[] {3}\r\nabc\r\n"),
			      "malformed response: unbalanced parentheses");
	expect_protocol_error(fetching("* 1 FETCH (UID x BODY[] {3}\r\nabc)\r\n"),
			      "invalid UID in FETCH");
	expect_protocol_error(fetching("* 1 FETCH (UID 0)\r\n"),
			      "invalid UID in FETCH");
	expect_protocol_error(fetching("* 1 FETCH (UID 1 FLAGS \\Seen)\r\n"),
			      "invalid FLAGS in FETCH");
	expect_protocol_error(fetching("* 1 FETCH (UID 1 RFC822.SIZE -1)\r\n"),
			      "invalid RFC822.SIZE in FETCH");
	expect_protocol_error(start + std::vector<Step>{ S("* \r\n") },
			      "malformed untagged response");
	expect_protocol_error(fetching("* 1 FETCH (UID 1 BODY[] {1}\r\na "
				       "BODY[] {1}\r\nb)\r\n"),
			      "FETCH response with two BODY[]");
	expect_protocol_error(fetching("* 1 FETCH (UID 1 BODY[] {1}\r\na "
				       "BODY[] \"b\")\r\n"),
			      "FETCH response with two BODY[]");
	Transcript t = check_splits(config(), { S("* OK ready\r\n"),
						S("a1 NO go away\r\n") });
	expect_events(t, { "Error Server: CAPABILITY failed: go away" });
}

void test_unknown_responses(void **)
{
	Transcript t = check_splits(config(), logged_in_selected(3) +
				    std::vector<Step>{
		A([](ImapSession &s) { s.list(1, false); }),
		S("* 5 XFOO (a {3}\r\nabc) {0}\r\n\r\n"
		  "* LIST (\\HasNoChildren) \"/\" {5}\r\nINBOX\r\n"
		  "* ID (\"name\" \"Dovecot\")\r\n"
		  "* ENABLED\r\n"
		  "* NO [ALERT] Quota warning\r\n"
		  "* 1 FETCH (UID 1 RFC822.SIZE 5 BODY[] \"quoted\")\r\n"
		  "a3 NO [SERVERBUG] Internal error\r\n"),
		A([](ImapSession &s) { s.list(1, false); }),
		S("* 1 FETCH (UID 1 RFC822.SIZE 5)\r\na4 OK done\r\n"),
	});
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"FolderFailed INBOX: UID FETCH failed: [SERVERBUG] Internal error",
		"Listing 1:5",
	});
	assert_true(has_line(t, "S: * 5 XFOO (a {3}"));
	assert_true(has_line(t, "S: * NO [ALERT] Quota warning"));
	for (const std::string &ev : t.lines)
		assert_true(ev.find("abc") == std::string::npos);
}

void test_line_too_long(void **)
{
	SessionConfig cfg = config();
	cfg.max_line = 200;
	expect_protocol_error({ S(greeting + login_ok) }, "line too long", cfg);
	cfg.max_line = 1000;
	expect_protocol_error({ S(greeting), S("* OK " + std::string(2000, 'x')) },
			      "line too long", cfg);
	expect_protocol_error({ S(greeting),
			      S("* OK " + std::string(996, 'x') + "\r\n") },
			      "line too long", cfg);
	Transcript t = check_splits(cfg, { S(greeting),
			      S("* OK " + std::string(995, 'x') + "\r"),
			      A([](ImapSession &s) { s.feed("\n"); }) });
	assert_false(has_line(t, "Error Protocol: line too long"));
	/* a response with many literals is bounded as a whole */
	std::string list = "* LIST () \"/\" (";
	for (int i = 0; i < 20; i++)
		list += lit(std::string(60, 'x')) + " ";
	expect_protocol_error({ S(greeting), S(list + ")\r\n") },
			      "response too long", cfg);
}

void test_literal_too_big(void **)
{
	SessionConfig cfg = config();
	cfg.max_message = 100;
	expect_protocol_error(fetching("* 1 FETCH (UID 1 BODY[] {101}\r\n"),
			      "message too big (101 bytes)", cfg);
	expect_protocol_error({ S(greeting),
			      S("* LIST () \"/\" {101}\r\n") },
			      "literal too big (101 bytes)", cfg);
	cfg = config();
	expect_protocol_error({ S(greeting),
			      S("* LIST () \"/\" {100000}\r\n") },
			      "response too long", cfg);
	expect_protocol_error({ S(greeting),
			      S("* LIST () \"/\" {18446744073709551615}\r\n") },
			      "literal too big (18446744073709551615 bytes)", cfg);
	/* a body exactly at the limit passes */
	cfg.max_message = 5;
	Transcript t = check_splits(cfg, fetching(
		"* 1 FETCH (UID 1 BODY[] {5}\r\nhello)\r\na3 OK\r\n"));
	assert_true(has_line(t, "End 1 5 [] []"));
}

void test_uint32_overflow(void **)
{
	const std::vector<Step> start = { S(greeting + login_ok) };
	expect_protocol_error(start + std::vector<Step>{
			      S("* 4294967296 EXISTS\r\n") },
			      "invalid number: * 4294967296 EXISTS");
	expect_protocol_error(fetching("* 1 FETCH (UID 4294967296)\r\n"),
			      "invalid UID in FETCH");
	expect_protocol_error({ S(greeting + login_ok),
			      A([](ImapSession &s) { s.select_folder("INBOX", false); }),
			      S("* OK [UIDVALIDITY 4294967296] x\r\n") },
			      "invalid UIDVALIDITY");
	expect_protocol_error({ S(greeting + login_ok),
			      S("* OK [UIDNEXT 99999999999] x\r\n") },
			      "invalid UIDNEXT");
	Transcript t = check_splits(config(), {
		S(greeting + login_ok),
		A([](ImapSession &s) { s.select_folder("INBOX", false); }),
		S("* 4294967295 EXISTS\r\n* OK [UIDVALIDITY 4294967295] x\r\n"
		  "a2 OK done\r\n"),
	});
	expect_events(t, { "LoggedIn",
			   "FolderSelected INBOX 4294967295 4294967295 next=0" });
}

void test_eof_in_literal(void **)
{
	std::vector<Step> steps = fetching("* 1 FETCH (UID 1 BODY[] {100}\r\n"
					   "Subject: partial\r\n");
	steps.push_back(A([](ImapSession &s) { s.eof(); }));
	Transcript t = check_splits(config(), steps);
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"Begin 1 100 [] []", "Data 1 Subject: partial\r\n",
		"Error Closed: connection closed in the middle of a message",
	});
	/* eof elsewhere */
	t = check_splits(config(), { S("* OK [CAPABI"),
				     A([](ImapSession &s) { s.eof(); }) });
	expect_events(t, { "Error Closed: connection closed before the greeting" });
	t = check_splits(config(), { S(greeting + "* 1 EXI"),
				     A([](ImapSession &s) { s.eof(); }) });
	expect_events(t, { "Error Closed: connection closed unexpectedly" });
}

void test_quit_before_login(void **)
{
	Transcript t = check_splits(config(), {
		S("* OK ready\r\n"),
		A([](ImapSession &s) { s.quit(); s.quit(); }),
		S("* CAPABILITY IMAP4rev1\r\na1 OK done\r\n"
		  "* BYE Logging out\r\na2 OK Logout completed.\r\n"),
	});
	expect_output(t, "a1 CAPABILITY\r\n|a2 LOGOUT\r\n");
	expect_events(t, { "Done" });

	t = check_splits(config(), { A([](ImapSession &s) { s.quit(); }) });
	expect_events(t, { "Done" });
}

void test_actions_before_login(void **)
{
	Transcript t = check_splits(config(), {
		A([](ImapSession &s) {
			s.select_folder("INBOX", true);
			s.list(1, false);
			s.quit();
		}),
		S(greeting),
		S(login_ok),
		S(select_reply("a2", 1, "READ-ONLY")),
		S("* 1 FETCH (UID 1 RFC822.SIZE 10)\r\na3 OK done\r\n"),
		S("a4 OK bye\r\n"),
	});
	expect_output(t, "|a1 LOGIN \"bob\" \"hunter2pass\"\r\n"
		      "a2 EXAMINE \"INBOX\"\r\na3 UID FETCH 1:* (UID RFC822.SIZE)\r\n"
		      "a4 LOGOUT\r\n");
	expect_events(t, { "LoggedIn", "FolderSelected INBOX 1700000000 1 next=4",
			   "Listing 1:10", "Done" });
}

void test_big_literal_streams(void **)
{
	const size_t size = 20 * 1024 * 1024;
	ImapSession s(config());
	s.feed(greeting + login_ok);
	s.select_folder("INBOX", false);
	s.feed(select_reply("a2", 1));
	std::vector<RemoteMessage> msgs(1);
	msgs[0].number = 1;
	s.fetch(msgs);
	std::string head = "* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[] {" +
		std::to_string(size) + "}\r\n";
	std::string in = head + std::string(size, 'x') +
		" INTERNALDATE \"01-Jan-2024 00:00:00 +0000\")\r\na3 OK done\r\n";
	Event ev;
	uint64_t data = 0, chunks = 0;
	bool ended = false;
	for (size_t pos = 0; pos < in.size(); ) {
		size_t len = std::min<size_t>(65536, in.size() - pos);
		std::string_view chunk(in.data() + pos, len);
		assert_int_equal(s.feed(chunk), len);
		while (s.next_event(ev)) {
			if (ev.type == EventType::MessageData) {
				/* a view into the fed buffer, not a copy */
				assert_true(ev.data.data() >= chunk.data() &&
					    ev.data.data() + ev.data.size() <=
					    chunk.data() + chunk.size());
				data += ev.data.size();
				chunks++;
			} else if (ev.type == EventType::MessageEnd) {
				assert_int_equal(ev.message.size, size);
				assert_string_equal(ev.internal_date.c_str(),
						    "01-Jan-2024 00:00:00 +0000");
				ended = true;
			}
		}
		pos += len;
	}
	assert_int_equal(data, size);
	assert_true(chunks >= size / 65536);
	assert_true(ended);
}

void test_listing_many(void **)
{
	ImapSession s(config());
	s.feed(greeting + login_ok);
	s.select_folder("INBOX", false);
	s.feed(select_reply("a2", 20000));
	s.list(1, false);
	std::string in;
	for (uint32_t uid = 20000; uid >= 1; uid--)
		in += "* " + std::to_string(uid) + " FETCH (UID " +
			std::to_string(uid) + " RFC822.SIZE 4096)\r\n";
	in += "a3 OK Fetch completed.\r\n";
	assert_int_equal(s.feed(in), in.size());
	Event ev;
	size_t logs = 0;
	bool listed = false;
	while (s.next_event(ev)) {
		if (ev.type == EventType::Log)
			logs++;
		if (ev.type == EventType::Listing) {
			assert_int_equal(ev.messages.size(), 20000);
			assert_int_equal(ev.messages[0].number, 1);
			assert_int_equal(ev.messages[19999].number, 20000);
			listed = true;
		}
	}
	assert_true(listed);
	assert_true(logs < 30);
}

/* ---- IDLE ---- */

/* Logged in, INBOX selected with 3 messages, idling: tags a1 to a3. */
std::vector<Step> idling(const std::string &plus = "+ idling\r\n")
{
	return logged_in_selected(3) + std::vector<Step>{
		A([](ImapSession &s) { s.idle(); }),
		S(plus),
	};
}

const std::string idle_output = prefix_output + "|a3 IDLE\r\n";
const std::vector<std::string> idle_events = {
	"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4", "Idling",
};

void test_idle_changes(void **)
{
	Transcript t = check_splits(config(), idling(
		"+ idling\r\n"
		"* 4 EXISTS\r\n* 1 RECENT\r\n"
		"* 4 EXISTS\r\n* 1 RECENT\r\n"
		"* OK Still here\r\n"
		"* 2 FETCH (FLAGS (\\Seen))\r\n"
		"* 1 EXPUNGE\r\n") + std::vector<Step>{
		A([](ImapSession &s) { s.idle_done(); s.idle_done(); }),
		/* after DONE the changes are the next listing's business */
		S("* 5 EXISTS\r\n* 2 FETCH (FLAGS ())\r\n"
		  "a3 OK Idle completed (0.001 + 12.000 + 11.999 secs).\r\n"),
	});
	expect_output(t, idle_output + "|DONE\r\n");
	expect_events(t, idle_events + std::vector<std::string>{
		"MailboxChanged EXISTS 4",
		"MailboxChanged RECENT 4 recent=1",
		"MailboxChanged FETCH 4",
		"MailboxChanged EXPUNGE 3",
		"IdleDone 5",
	});
	assert_true(has_line(t, "C: a3 IDLE"));
	assert_true(has_line(t, "S: + idling"));
	assert_true(has_line(t, "C: DONE"));
	assert_true(has_line(t, "S: * OK Still here"));
	assert_true(has_line(t, "S: * 2 FETCH (FLAGS (\\Seen))"));
	assert_true(has_line(t, "S: a3 OK Idle completed "
			      "(0.001 + 12.000 + 11.999 secs)."));

	/* changes before the "+" count too */
	t = check_splits(config(), idling("* 3 EXPUNGE\r\n+ idling\r\n"));
	expect_events(t, { "LoggedIn",
			   "FolderSelected INBOX 1700000000 3 next=4",
			   "MailboxChanged EXPUNGE 2", "Idling" });
}

void test_idle_then_list(void **)
{
	const std::string body = "Subject: new\r\n\r\nhi\r\n";
	Transcript t = check_splits(config(), idling(
		"+ idling\r\n* 4 EXISTS\r\n") + std::vector<Step>{
		/* queued behind the IDLE: waits for it to end */
		A([](ImapSession &s) { s.list(4, false); }),
		S("* 1 RECENT\r\n"),
		A([](ImapSession &s) { s.idle_done(); }),
		S("a3 OK Idle completed.\r\n"
		  "* 4 FETCH (UID 4 RFC822.SIZE " + std::to_string(body.size()) +
		  ")\r\na4 OK Fetch completed.\r\n"),
		A([](ImapSession &s) {
			std::vector<RemoteMessage> msgs(1);
			msgs[0].number = 4;
			s.fetch(msgs);
			s.idle();
		}),
		S("* 4 FETCH (UID 4 BODY[] " + lit(body) + ")\r\n"
		  "a5 OK Fetch completed.\r\n+ idling\r\n* 5 EXISTS\r\n"),
		A([](ImapSession &s) { s.idle_done(); }),
		S("a6 OK Idle completed.\r\n"),
	});
	expect_output(t, idle_output + "||DONE\r\n"
		      "a4 UID FETCH 4:* (UID RFC822.SIZE)\r\n"
		      "|a5 UID FETCH 4 (BODY.PEEK[] INTERNALDATE FLAGS)\r\n"
		      "a6 IDLE\r\n|DONE\r\n");
	expect_events(t, idle_events + std::vector<std::string>{
		"MailboxChanged EXISTS 4",
		"MailboxChanged RECENT 4 recent=1",
		"IdleDone 4",
		"Listing 4:" + std::to_string(body.size()),
		"Begin 4 " + std::to_string(body.size()) + " [] []",
		"Data 4 " + body,
		"End 4 " + std::to_string(body.size()) + " [] []",
		"Idling",
		"MailboxChanged EXISTS 5",
		"IdleDone 5",
	});
}

void test_idle_refused(void **)
{
	Transcript t = check_splits(config(), logged_in_selected(3) +
				    std::vector<Step>{
		A([](ImapSession &s) { s.idle(); s.list(3, false); }),
		S("a3 NO [LIMIT] Too many IDLE connections\r\n"
		  "* 3 FETCH (UID 3 RFC822.SIZE 5)\r\na4 OK done\r\n"),
		A([](ImapSession &s) { s.idle(); }),
		S("a5 BAD Unknown command\r\n"),
	});
	expect_output(t, prefix_output + "|a3 IDLE\r\n"
		      "a4 UID FETCH 3:* (UID RFC822.SIZE)\r\n|a5 IDLE\r\n");
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"IdleFailed Server: IDLE failed: [LIMIT] Too many IDLE connections",
		"Listing 3:5",
		"IdleFailed Server: IDLE failed: Unknown command",
	});
}

void test_idle_unavailable(void **)
{
	/* no IDLE capability: nothing sent, the session goes on */
	Transcript t = check_splits(config(), {
		S("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"
		  "a1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n"),
		A([](ImapSession &s) { s.select_folder("INBOX", false); }),
		S(select_reply("a2", 0)),
		A([](ImapSession &s) { s.idle(); s.idle_done(); s.list(1, false); }),
	});
	expect_output(t, prefix_output + "|");
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 0 next=4",
		"IdleFailed Unsupported: server does not offer IDLE",
		"Listing",
	});

	/* no folder selected (it failed) */
	t = check_splits(config(), {
		S(greeting + login_ok),
		A([](ImapSession &s) {
			s.select_folder("Nope", false);
			s.idle();
		}),
		S("a2 NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n"),
	});
	expect_output(t, "a1 LOGIN \"bob\" \"hunter2pass\"\r\n"
		      "|a2 SELECT \"Nope\"\r\n");
	expect_events(t, {
		"LoggedIn",
		"FolderFailed Nope: SELECT failed: [NONEXISTENT] Mailbox "
		"doesn't exist: Nope",
		"IdleFailed Server: no folder selected",
	});
}

void test_idle_done_early(void **)
{
	/* idle_done() before the "+": DONE follows it */
	Transcript t = check_splits(config(), logged_in_selected(3) +
				    std::vector<Step>{
		A([](ImapSession &s) { s.idle(); s.idle_done(); s.idle(); }),
		S("+ idling\r\n* 4 EXISTS\r\n"),
		S("a3 OK Idle completed.\r\n+ idling\r\n* 5 EXISTS\r\n"),
	});
	expect_output(t, prefix_output + "|a3 IDLE\r\nDONE\r\na4 IDLE\r\n");
	expect_events(t, idle_events + std::vector<std::string>{
		"IdleDone 4", "Idling", "MailboxChanged EXISTS 5",
	});

	/* an IDLE ended before its turn is never sent; idle_done()
	   without an IDLE does nothing, else it ends the oldest */
	t = check_splits(config(), {
		A([](ImapSession &s) {
			s.idle_done();
			s.select_folder("INBOX", false);
			s.idle();
			s.idle();
			s.idle_done();
		}),
		S(greeting + login_ok),
		S(select_reply("a2", 3)),
		S("+ idling\r\n"),
		A([](ImapSession &s) { s.idle_done(); }),
		S("a3 OK Idle completed.\r\n"),
		A([](ImapSession &s) { s.idle_done(); }),
	});
	expect_output(t, "|a1 LOGIN \"bob\" \"hunter2pass\"\r\n"
		      "a2 SELECT \"INBOX\"\r\na3 IDLE\r\n|DONE\r\n|");
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"IdleDone 3", "Idling", "IdleDone 3",
	});
}

void test_idle_quit(void **)
{
	Transcript t = check_splits(config(), idling() + std::vector<Step>{
		A([](ImapSession &s) { s.quit(); }),
		S("a3 OK Idle completed.\r\n"),
		S("* BYE Logging out\r\na4 OK Logout completed.\r\n"),
	});
	expect_output(t, idle_output + "|DONE\r\na4 LOGOUT\r\n");
	expect_events(t, idle_events + std::vector<std::string>{
		"IdleDone 3", "Done" });

	/* before the "+": DONE when it comes; a queued IDLE is dropped */
	t = check_splits(config(), logged_in_selected(3) + std::vector<Step>{
		A([](ImapSession &s) { s.idle(); s.idle(); s.quit(); }),
		S("+ idling\r\na3 OK Idle completed.\r\n"),
		S("a4 OK Logout completed.\r\n"),
	});
	expect_output(t, prefix_output + "|a3 IDLE\r\nDONE\r\na4 LOGOUT\r\n");
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"Idling", "IdleDone 3", "IdleDone 3", "Done",
	});
}

void test_idle_bye(void **)
{
	Transcript t = check_splits(config(), idling(
		"+ idling\r\n* 4 EXISTS\r\n"
		"* BYE Disconnected for inactivity.\r\n"));
	expect_events(t, idle_events + std::vector<std::string>{
		"MailboxChanged EXISTS 4",
		"Error Closed: server closed the connection: "
		"Disconnected for inactivity.",
	});
	t = check_splits(config(), idling() + std::vector<Step>{
		A([](ImapSession &s) { s.eof(); s.idle_done(); }),
	});
	expect_output(t, idle_output + "|");
	expect_events(t, idle_events + std::vector<std::string>{
		"Error Closed: connection closed unexpectedly" });
}

void test_idle_ended_by_server(void **)
{
	/* a tagged OK without DONE: IdleDone, and idle() again */
	Transcript t = check_splits(config(), idling(
		"+ idling\r\n* 4 EXISTS\r\n"
		"a3 OK IDLE terminated (timeout)\r\n") + std::vector<Step>{
		A([](ImapSession &s) { s.idle(); }),
		S("+ idling\r\n"),
	});
	expect_output(t, idle_output + "|a4 IDLE\r\n");
	expect_events(t, idle_events + std::vector<std::string>{
		"MailboxChanged EXISTS 4", "IdleDone 4", "Idling" });

	/* it ended while our DONE was on its way: the server answers DONE
	   as a command, which is ignored once */
	const std::string stray = "DONE BAD Error in IMAP command "
		"received by server.\r\n";
	t = check_splits(config(), idling() + std::vector<Step>{
		A([](ImapSession &s) { s.idle_done(); s.list(1, false); }),
		S("a3 OK IDLE terminated (timeout)\r\n" + stray +
		  "* 1 FETCH (UID 1 RFC822.SIZE 5)\r\na4 OK done\r\n"),
	});
	expect_output(t, idle_output + "|DONE\r\n"
		      "a4 UID FETCH 1:* (UID RFC822.SIZE)\r\n");
	expect_events(t, idle_events + std::vector<std::string>{
		"IdleDone 3", "Listing 1:5" });
	assert_true(has_line(t, "S: DONE BAD Error in IMAP command "
			      "received by server."));

	/* but only right after an IDLE that DONE went out for */
	expect_protocol_error(idling() + std::vector<Step>{
		A([](ImapSession &s) { s.idle_done(); s.list(1, false); }),
		S("a3 OK done\r\n* 1 FETCH (UID 1 RFC822.SIZE 5)\r\n"
		  "a4 OK done\r\n" + stray) },
		"unexpected tag: DONE BAD Error in IMAP command received by "
		"server.");
	expect_protocol_error(idling("+ idling\r\na3 OK timeout\r\n" + stray),
		"unexpected tag: DONE BAD Error in IMAP command received by "
		"server.");
}

void test_idle_garbage(void **)
{
	expect_protocol_error(idling("+ idling\r\nhello world\r\n"),
			      "unexpected tag: hello world");
	expect_protocol_error(idling("+ idling\r\n+ idling\r\n"),
			      "unexpected continuation request");
	expect_protocol_error(idling("+ idling\r\n* 99999999999 EXISTS\r\n"),
			      "invalid number: * 99999999999 EXISTS");
	expect_protocol_error(idling("+ idling\r\n* 1 FETCH (FLAGS \\Seen)\r\n"),
			      "invalid FLAGS in FETCH");
	SessionConfig cfg = config();
	cfg.max_line = 1000;
	expect_protocol_error(idling("+ idling\r\n* OK " +
				     std::string(1000, 'x') + "\r\n"),
			      "line too long", cfg);
	/* the garbage ends the session: no DONE after it */
	Transcript t = check_splits(config(), idling(
		"+ idling\r\n\x01\r\n") + std::vector<Step>{
		A([](ImapSession &s) { s.idle_done(); s.quit(); }),
	});
	expect_output(t, idle_output + "|");
}

void test_folder_selected_uidnext(void **)
{
	Transcript t = check_splits(config(), {
		S(greeting + login_ok + "* OK [UIDNEXT 77] early\r\n"),
		A([](ImapSession &s) {
			s.select_folder("INBOX", false);
			s.select_folder("Other", true);
			s.select_folder("Third", true);
		}),
		S(select_reply("a2", 3)),
		S("* 0 EXISTS\r\n* OK [UIDVALIDITY 9] x\r\n"
		  "a3 OK [READ-ONLY] done\r\n"),
		S("* 2 EXISTS\r\n* OK [UIDNEXT 4294967295] x\r\n"
		  "* OK [UIDVALIDITY 10] x\r\na4 OK done\r\n"),
	});
	expect_events(t, {
		"LoggedIn", "FolderSelected INBOX 1700000000 3 next=4",
		"FolderSelected Other 9 0 next=0",
		"FolderSelected Third 10 2 next=4294967295",
	});
}

} // namespace

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_session),
		cmocka_unit_test(test_greeting_without_capabilities),
		cmocka_unit_test(test_preauth),
		cmocka_unit_test(test_greeting_bye),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_unavailable),
		cmocka_unit_test(test_logindisabled),
		cmocka_unit_test(test_authenticate_plain_sasl_ir),
		cmocka_unit_test(test_authenticate_login),
		cmocka_unit_test(test_authenticate_oauth),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_password_quoted),
		cmocka_unit_test(test_password_literal),
		cmocka_unit_test(test_examine),
		cmocka_unit_test(test_listing_fingerprints),
		cmocka_unit_test(test_empty_folder),
		cmocka_unit_test(test_expunge_without_uidplus),
		cmocka_unit_test(test_remove_failures),
		cmocka_unit_test(test_large_remove_sets),
		cmocka_unit_test(test_missing_folder),
		cmocka_unit_test(test_fetch_vanished_and_unsolicited),
		cmocka_unit_test(test_fetch_window),
		cmocka_unit_test(test_body_uid_after_literal),
		cmocka_unit_test(test_bye_mid_session),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_unknown_responses),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_literal_too_big),
		cmocka_unit_test(test_uint32_overflow),
		cmocka_unit_test(test_eof_in_literal),
		cmocka_unit_test(test_quit_before_login),
		cmocka_unit_test(test_actions_before_login),
		cmocka_unit_test(test_big_literal_streams),
		cmocka_unit_test(test_listing_many),
		cmocka_unit_test(test_idle_changes),
		cmocka_unit_test(test_idle_then_list),
		cmocka_unit_test(test_idle_refused),
		cmocka_unit_test(test_idle_unavailable),
		cmocka_unit_test(test_idle_done_early),
		cmocka_unit_test(test_idle_quit),
		cmocka_unit_test(test_idle_bye),
		cmocka_unit_test(test_idle_ended_by_server),
		cmocka_unit_test(test_idle_garbage),
		cmocka_unit_test(test_folder_selected_uidnext),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
