/* Unit tests for the POP3 session state machine.

   Most tests run a scripted server (test-transcript.hh): a list of
   (client command, server reply) steps answered as the session sends the
   commands, and a driver that reacts to events like the Dovecot glue does
   (tls_started() on NeedTls, fetch() on Listing, remove() when everything
   is fetched, quit()). Every transcript is run with the server bytes fed
   whole, split in two at every byte position, and byte by byte: the
   events and the reassembled bodies must be identical each time. */

#include "fetchmail-pop3.hh"

#include "test-transcript.hh"
#include "test-wire.hh"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace fetchmail;
using namespace fetchmail_test;

namespace {

const char *const user = "alice";
const char *const password = "s3cret-Pa55";
const char *const token = "ya29.secret-token";

struct Scenario {
	SessionConfig config;
	std::string greeting = "+OK POP3 ready\r\n";
	ScriptedServer::Steps steps;
	bool fetch = true;
	std::vector<std::string> remove;
	bool quit = true;
	bool eof_at_end = false;
};

/* A run: its transcript (events as lines, a "Data <size>" line for each
   body), the session's take_output() chunks and the server as the run
   left it. */
struct Run : Transcript {
	explicit Run(const Scenario &sc) : server(sc.greeting, sc.steps) {}

	std::vector<std::string> outputs;
	ScriptedServer server;
};

SessionConfig config(SessionConfig::Tls tls = SessionConfig::Tls::Implicit,
		     std::string mech = "", std::string pass = password)
{
	SessionConfig c;
	c.tls = tls;
	c.user = user;
	c.password = std::move(pass);
	c.sasl_mech = std::move(mech);
	return c;
}

std::string describe(const Event &ev)
{
	const RemoteMessage &m = ev.message;
	std::string msg = std::to_string(m.number) + " " + m.uid;
	switch (ev.type) {
	case EventType::NeedTls: return "NeedTls";
	case EventType::LoggedIn: return "LoggedIn";
	case EventType::Listing: {
		std::string s = "Listing " + std::to_string(ev.count) + ":";
		for (const RemoteMessage &l : ev.messages) {
			s += " " + std::to_string(l.number) + "/" + l.uid + "/" +
				std::to_string(l.size);
		}
		return s;
	}
	case EventType::MessageBegin:
		return "Begin " + msg + " " + std::to_string(m.size);
	case EventType::MessageData: return "Data";
	case EventType::MessageEnd: return "End " + msg;
	case EventType::MessageFailed: return "Failed " + msg + ": " + ev.text;
	case EventType::Removed: {
		std::string s = "Removed";
		for (const std::string &uid : ev.uids)
			s += " " + uid;
		return s;
	}
	case EventType::Done: return "Done" + (ev.text.empty() ? "" : " " + ev.text);
	case EventType::Error:
		return std::string("Error ") + error_kind_name(ev.error_kind) +
			": " + ev.text;
	case EventType::Log:
		return (ev.outgoing ? "C: " : "S: ") + ev.text;
	default:
		break;
	}
	return "other " + std::to_string(static_cast<int>(ev.type));
}

class Harness {
public:
	explicit Harness(const Scenario &sc)
		: sc(sc), session(sc.config), r(sc) {}

	Run run(const Chunker &chunk)
	{
		for (int guard = 0; guard < 100000000; guard++) {
			if (!step(chunk))
				break;
		}
		if (sc.eof_at_end && !session.finished()) {
			session.eof();
			drain(nullptr, 0);
		}
		flush_body();
		if (!session.finished())
			r.problem("the session did not finish");
		else if (!session.take_output().empty())
			r.problem("output after finish");
		return std::move(r);
	}

private:
	bool step(const Chunker &chunk)
	{
		std::string out = r.server.take_output(session, r);
		bool progress = !out.empty();
		if (progress)
			r.outputs.push_back(out);
		if (r.server.unread() && !session.finished()) {
			bool events = false;
			progress |= r.server.feed(session, chunk,
				[&](const char *buf, size_t size) {
					events = drain(buf, size);
				}, r) > 0;
			progress |= events;
		} else {
			progress |= drain(nullptr, 0);
		}
		return progress;
	}

	bool drain(const char *buf, size_t size)
	{
		Event ev;
		bool any = false;
		while (session.next_event(ev)) {
			any = true;
			if (ev.type == EventType::MessageData) {
				check_view(ev.data, buf, size);
				body.append(ev.data);
				in_data = true;
				continue;
			}
			flush_body();
			r.add(describe(ev));
			react(ev);
		}
		return any;
	}

	void check_view(std::string_view data, const char *buf, size_t size)
	{
		if (data.empty())
			r.problem("empty data chunk");
		if (!in_buffer(data, buf, size))
			r.problem("data view outside the fed buffer");
	}

	void flush_body()
	{
		if (!in_data)
			return;
		r.add("Data " + std::to_string(body.size()));
		r.bodies.push_back(std::move(body));
		body.clear();
		in_data = false;
	}

	void react(const Event &ev)
	{
		switch (ev.type) {
		case EventType::NeedTls:
			session.tls_started();
			break;
		case EventType::Listing:
			if (sc.fetch && !ev.messages.empty()) {
				fetching = ev.messages.size();
				session.fetch(ev.messages);
			} else {
				after_fetch();
			}
			break;
		case EventType::MessageEnd:
		case EventType::MessageFailed:
			if (fetching > 0 && --fetching == 0)
				after_fetch();
			break;
		case EventType::Removed:
			if (sc.quit)
				session.quit();
			break;
		default:
			break;
		}
	}

	void after_fetch()
	{
		if (!sc.remove.empty())
			session.remove(sc.remove);
		else if (sc.quit)
			session.quit();
	}

	const Scenario &sc;
	Pop3Session session;
	Run r;
	std::string body;
	bool in_data = false;
	size_t fetching = 0;
};

/* Runs sc whole, split at every byte of the server's stream, and byte by
   byte; returns the whole run after checking that all agree. */
Run check_splits(const Scenario &sc)
{
	return fetchmail_test::check_splits(
		[&](const Chunker &chunk) { return Harness(sc).run(chunk); },
		ScriptedServer::script_size(sc.greeting, sc.steps));
}

void assert_event(const Run &r, const std::string &ev)
{
	if (has_line(r, ev))
		return;
	print_error("missing event [%s] in:\n  %s\n", ev.c_str(),
		    join(r.lines).c_str());
	fail();
}

void assert_no_secret(const Run &r, const std::string &secret)
{
	for (const std::string &e : r.lines) {
		if (e.find(secret) != std::string::npos) {
			print_error("secret in event [%s]\n", e.c_str());
			fail();
		}
	}
}

std::string last_event(const Run &r)
{
	return r.lines.empty() ? std::string() : r.lines.back();
}

const std::string m1 =
	"From: bob@example.org\r\nSubject: one\r\n\r\nHello\r\n"
	".hidden dot\r\n..two dots\r\n.\r\n\r\nend\r\n";
const std::string m3 =
	"Subject: bare LF\n\n.dot after LF\nline\r\n.";
/* m3 does not end with a line break: the wire form needs one */
const std::string m3_raw = m3 + "\r\n";

std::string capa(std::string caps)
{
	return "+OK Capability list follows\r\n" + caps + ".\r\n";
}

/* The standard transcript: USER/PASS, three messages (one empty), QUIT. */
Scenario standard(std::string caps)
{
	Scenario sc;
	sc.config = config();
	sc.steps = {
		{"CAPA", capa(caps)},
		{"USER alice", "+OK\r\n"},
		{"PASS s3cret-Pa55", "+OK Logged in.\r\n"},
		{"UIDL", "+OK\r\n1 uid-a\r\n2 uid-b\r\n3 uid-c\r\n.\r\n"},
		{"LIST", "+OK 3 messages:\r\n1 " + std::to_string(m1.size()) +
			 "\r\n2 0\r\n3 " + std::to_string(m3_raw.size()) +
			 " extra\r\n.\r\n"},
		{"RETR 1", "+OK message follows\r\n" + pop3_stuffed(m1)},
		{"RETR 2", "+OK\r\n.\r\n"},
		{"RETR 3", "+OK\r\n" + pop3_stuffed(m3_raw)},
		{"QUIT", "+OK Logging out.\r\n"},
	};
	return sc;
}

std::vector<std::string> standard_events(const std::string &caps_summary)
{
	std::string n1 = std::to_string(m1.size());
	std::string n3 = std::to_string(m3_raw.size());
	return {
		"S: +OK POP3 ready",
		"C: CAPA",
		"S: +OK Capability list follows",
		"S: (capabilities:" + caps_summary + ")",
		"C: USER alice",
		"S: +OK",
		"C: PASS ***",
		"S: +OK Logged in.",
		"LoggedIn",
		"C: UIDL",
		"S: +OK",
		"S: (3 UIDL lines not logged)",
		"C: LIST",
		"S: +OK 3 messages:",
		"S: (3 LIST lines not logged)",
		"Listing 3: 1/uid-a/" + n1 + " 2/uid-b/0 3/uid-c/" + n3,
		"C: RETR 1",
		"S: +OK message follows",
		"Begin 1 uid-a " + n1,
		"Data " + n1,
		"End 1 uid-a",
		"C: RETR 2",
		"S: +OK",
		"Begin 2 uid-b 0",
		"End 2 uid-b",
		"C: RETR 3",
		"S: +OK",
		"Begin 3 uid-c " + n3,
		"Data " + n3,
		"End 3 uid-c",
		"C: QUIT",
		"S: +OK Logging out.",
		"Done",
	};
}

/* ---- tests ---- */

void test_user_pass_retr(void **)
{
	Run r = check_splits(standard("TOP\r\nUIDL\r\nUSER\r\n"));
	expect_lines(r.lines, standard_events(" TOP UIDL USER"));
	assert_int_equal(r.bodies.size(), 2);
	assert_true(r.bodies[0] == m1);
	assert_true(r.bodies[1] == m3_raw);
	assert_no_secret(r, password);
	/* one command at a time */
	for (const std::string &out : r.outputs)
		assert_int_equal(out.find("\r\n"), out.size() - 2);
}

void test_pipelining(void **)
{
	Run r = check_splits(standard("PIPELINING\r\nUIDL\r\nUSER\r\n"));
	std::vector<std::string> expected =
		standard_events(" PIPELINING UIDL USER");
	/* UIDL and LIST go out together, so do the RETRs */
	auto move_after = [&](const std::string &what, const std::string &after) {
		auto it = std::find(expected.begin(), expected.end(), what);
		expected.erase(it);
		it = std::find(expected.begin(), expected.end(), after);
		expected.insert(it + 1, what);
	};
	move_after("C: LIST", "C: UIDL");
	move_after("C: RETR 2", "C: RETR 1");
	move_after("C: RETR 3", "C: RETR 2");
	move_after("C: QUIT", "End 3 uid-c");
	expect_lines(r.lines, expected);
	assert_true(r.bodies[0] == m1);
	assert_true(r.bodies[1] == m3_raw);
	bool together = false;
	for (const std::string &out : r.outputs) {
		if (out == "UIDL\r\nLIST\r\n")
			together = true;
	}
	assert_true(together);
	together = false;
	for (const std::string &out : r.outputs) {
		if (out == "RETR 1\r\nRETR 2\r\nRETR 3\r\n")
			together = true;
	}
	assert_true(together);
}

void test_pipelining_window(void **)
{
	Scenario sc;
	sc.config = config();
	std::string uidl = "+OK\r\n", list = "+OK\r\n";
	const unsigned n = 40;
	for (unsigned i = 1; i <= n; i++) {
		uidl += std::to_string(i) + " u" + std::to_string(i) + "\r\n";
		list += std::to_string(i) + " 9\r\n";
	}
	sc.steps = {
		{"CAPA", capa("PIPELINING\r\nUSER\r\n")},
		{"USER alice", "+OK\r\n"},
		{"PASS s3cret-Pa55", "+OK\r\n"},
		{"UIDL", uidl + ".\r\n"},
		{"LIST", list + ".\r\n"},
	};
	for (unsigned i = 1; i <= n; i++) {
		sc.steps.push_back({"RETR " + std::to_string(i),
				    "+OK\r\nline " + std::to_string(i % 10) +
				    "\r\n.\r\n"});
	}
	sc.steps.push_back({"QUIT", "+OK\r\n"});
	Run r = check_splits(sc);
	assert_int_equal(r.bodies.size(), n);
	assert_string_equal(last_event(r).c_str(), "Done");
	size_t retr_chunk = 0;
	for (const std::string &out : r.outputs) {
		if (out.starts_with("RETR 1\r\n")) {
			size_t count = 0;
			for (size_t p = 0; (p = out.find("RETR", p)) !=
				     std::string::npos; p++)
				count++;
			retr_chunk = count;
		}
	}
	assert_int_equal(retr_chunk, Pop3Session::max_pipelined_commands);
}

void test_dot_stuffing_edge_cases(void **)
{
	/* a server that does not stuff properly: ".X" loses the dot, ".\rX"
	   keeps the CR; ".." on its own is "." */
	Scenario sc = standard("USER\r\n");
	sc.steps[5].second = "+OK\r\n.\rX\r\n.Y\r\n..\r\n...\r\nZ.\r\n.\n";
	sc.steps[7].second = "+OK\r\n\r\n.\r\n";
	Run r = check_splits(sc);
	assert_int_equal(r.bodies.size(), 2);
	assert_string_equal(r.bodies[0].c_str(), "\rX\r\nY\r\n.\r\n..\r\nZ.\r\n");
	assert_string_equal(r.bodies[1].c_str(), "\r\n");
	assert_string_equal(last_event(r).c_str(), "Done");
}

void test_stls(void **)
{
	Scenario sc;
	sc.config = config(SessionConfig::Tls::StartTls);
	sc.fetch = false;
	sc.steps = {
		{"CAPA", capa("STLS\r\nPIPELINING\r\nUSER\r\n")},
		{"STLS", "+OK Begin TLS negotiation now.\r\n"},
		{"CAPA", capa("USER\r\nSASL PLAIN\r\n")},
		{"USER alice", "+OK\r\n"},
		{"PASS s3cret-Pa55", "+OK\r\n"},
		{"UIDL", "+OK\r\n.\r\n"},
		{"LIST", "+OK\r\n.\r\n"},
		{"QUIT", "+OK\r\n"},
	};
	Run r = check_splits(sc);
	assert_event(r, "NeedTls");
	assert_event(r, "Listing 0:");
	assert_string_equal(last_event(r).c_str(), "Done");
	assert_int_equal(r.server.used(), sc.steps.size());
	/* PIPELINING was only offered before TLS: not used */
	for (const std::string &out : r.outputs)
		assert_true(out != "UIDL\r\nLIST\r\n");
}

void test_stls_stops_feed(void **)
{
	Pop3Session s(config(SessionConfig::Tls::StartTls));
	std::string first = "+OK hi\r\n+OK\r\nSTLS\r\n.\r\n+OK go\r\n";
	std::string all = first + "-ERR injected\r\n";
	assert_int_equal(s.feed(all), first.size());
	assert_string_equal(s.take_output().c_str(), "CAPA\r\nSTLS\r\n");
	Event ev;
	bool need_tls = false;
	while (s.next_event(ev))
		need_tls = ev.type == EventType::NeedTls;
	assert_true(need_tls);
	/* nothing is read before TLS is up */
	assert_int_equal(s.feed("-ERR injected\r\n"), 0);
	s.tls_started();
	assert_string_equal(s.take_output().c_str(), "CAPA\r\n");
	assert_false(s.finished());
}

void test_stls_not_offered(void **)
{
	Scenario sc;
	sc.config = config(SessionConfig::Tls::StartTls);
	sc.steps = {{"CAPA", capa("USER\r\nTOP\r\n")}};
	Run r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
			    "Error TlsUnavailable: server does not offer STLS");

	sc.steps = {{"CAPA", "-ERR what?\r\n"}};
	r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
			    "Error TlsUnavailable: server does not offer STLS");

	sc.steps = {{"CAPA", capa("STLS\r\n")},
		    {"STLS", "-ERR not now\r\n"}};
	r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
			    "Error TlsUnavailable: STLS failed: not now");
	for (const std::string &out : r.outputs)
		assert_true(out.find("USER") == std::string::npos);
}

/* An authentication exchange; ok: it succeeds, then UIDL/LIST/QUIT. */
Scenario auth_scenario(std::string mech, std::string caps,
		       std::vector<std::pair<std::string, std::string>> auth,
		       bool ok, std::string pass = password)
{
	Scenario sc;
	sc.config = config(SessionConfig::Tls::Implicit, mech, pass);
	sc.fetch = false;
	sc.steps = {{"CAPA", capa(caps)}};
	for (auto &st : auth)
		sc.steps.push_back(st);
	if (ok) {
		sc.steps.push_back({"UIDL", "+OK\r\n1 u1\r\n.\r\n"});
		sc.steps.push_back({"LIST", "+OK\r\n1 10\r\n.\r\n"});
		sc.steps.push_back({"QUIT", "+OK\r\n"});
	}
	return sc;
}

void assert_logged_in(const Run &r, const Scenario &sc)
{
	assert_event(r, "LoggedIn");
	assert_event(r, "Listing 1: 1/u1/10");
	assert_string_equal(last_event(r).c_str(), "Done");
	assert_int_equal(r.server.used(), sc.steps.size());
}

void test_auth_plain(void **)
{
	/* initial response when SASL is announced */
	Scenario sc = auth_scenario("plain", "SASL PLAIN LOGIN\r\nUSER\r\n",
		{{"AUTH PLAIN AGFsaWNlAHMzY3JldC1QYTU1", "+OK welcome\r\n"}},
		true);
	Run r = check_splits(sc);
	assert_logged_in(r, sc);
	assert_event(r, "C: AUTH PLAIN ***");
	assert_no_secret(r, password);
	assert_no_secret(r, "AGFsaWNlAHMzY3JldC1QYTU1");

	/* no SASL capability: wait for the empty challenge */
	sc = auth_scenario("PLAIN", "USER\r\n",
		{{"AUTH PLAIN", "+ \r\n"},
		 {"AGFsaWNlAHMzY3JldC1QYTU1", "+OK\r\n"}}, true);
	r = check_splits(sc);
	assert_logged_in(r, sc);
	assert_event(r, "C: AUTH PLAIN");
	assert_event(r, "C: ***");
	assert_no_secret(r, password);

	/* no mechanism configured, SASL PLAIN but no USER: AUTH PLAIN */
	sc = auth_scenario("", "SASL PLAIN\r\n",
		{{"AUTH PLAIN AGFsaWNlAHMzY3JldC1QYTU1", "+OK\r\n"}}, true);
	r = check_splits(sc);
	assert_logged_in(r, sc);

	/* a bare "+" challenge works too */
	sc = auth_scenario("PLAIN", "",
		{{"AUTH PLAIN", "+\r\n"},
		 {"AGFsaWNlAHMzY3JldC1QYTU1", "+OK\r\n"}}, true);
	assert_logged_in(check_splits(sc), sc);
}

void test_auth_login(void **)
{
	Scenario sc = auth_scenario("LOGIN", "SASL LOGIN\r\n",
		{{"AUTH LOGIN", "+ VXNlcm5hbWU6\r\n"},
		 {"YWxpY2U=", "+ UGFzc3dvcmQ6\r\n"},
		 {"czNjcmV0LVBhNTU=", "+OK\r\n"}}, true);
	Run r = check_splits(sc);
	assert_logged_in(r, sc);
	assert_event(r, "S: + VXNlcm5hbWU6");
	assert_no_secret(r, password);
	assert_no_secret(r, "czNjcmV0LVBhNTU=");

	/* a third challenge is cancelled; the -ERR ends it */
	sc = auth_scenario("LOGIN", "SASL LOGIN\r\n",
		{{"AUTH LOGIN", "+ VXNlcm5hbWU6\r\n"},
		 {"YWxpY2U=", "+ UGFzc3dvcmQ6\r\n"},
		 {"czNjcmV0LVBhNTU=", "+ more?\r\n"},
		 {"*", "-ERR cancelled\r\n"}}, false);
	r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(), "Error Auth: cancelled");
}

void test_auth_xoauth2(void **)
{
	const char *ir = "dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5LnNlY3JldC10b2tlbgEB";
	Scenario sc = auth_scenario("XOAUTH2", "SASL XOAUTH2\r\n",
		{{std::string("AUTH XOAUTH2 ") + ir, "+OK\r\n"}}, true, token);
	Run r = check_splits(sc);
	assert_logged_in(r, sc);
	assert_event(r, "C: AUTH XOAUTH2 ***");
	assert_no_secret(r, token);
	assert_no_secret(r, ir);

	/* the error challenge is answered with an empty line */
	sc = auth_scenario("XOAUTH2", "SASL XOAUTH2\r\n",
		{{std::string("AUTH XOAUTH2 ") + ir,
		  "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"},
		 {"", "-ERR [AUTH] invalid credentials\r\n"}}, false, token);
	r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
			    "Error Auth: [AUTH] invalid credentials");
	assert_no_secret(r, token);

	/* a long token goes after the challenge (RFC 5034: 255 octets) */
	std::string long_token(300, 't');
	SessionConfig c = config(SessionConfig::Tls::Implicit, "XOAUTH2",
				 long_token);
	Pop3Session s(c);
	s.feed("+OK\r\n+OK\r\nSASL XOAUTH2\r\n.\r\n");
	std::string out = s.take_output();
	assert_string_equal(out.c_str(), "CAPA\r\nAUTH XOAUTH2\r\n");
	s.feed("+ \r\n");
	out = s.take_output();
	assert_true(out.size() > 400 && out.ends_with("\r\n"));
}

void test_auth_oauthbearer(void **)
{
	const char *ir = "bixhPWFsaWNlLAFhdXRoPUJlYXJlciB5YTI5LnNlY3JldC10b2tlbgEB";
	Scenario sc = auth_scenario("OAUTHBEARER", "SASL OAUTHBEARER\r\n",
		{{std::string("AUTH OAUTHBEARER ") + ir, "+OK\r\n"}}, true,
		token);
	assert_logged_in(check_splits(sc), sc);

	sc = auth_scenario("OAUTHBEARER", "SASL OAUTHBEARER\r\n",
		{{std::string("AUTH OAUTHBEARER ") + ir,
		  "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"},
		 {"AQ==", "-ERR nope\r\n"}}, false, token);
	assert_string_equal(last_event(check_splits(sc)).c_str(),
			    "Error Auth: nope");

	sc = auth_scenario("CRAM-MD5", "SASL CRAM-MD5\r\n", {}, false);
	assert_string_equal(last_event(check_splits(sc)).c_str(),
			    "Error Auth: unsupported SASL mechanism CRAM-MD5");
}

void test_wrong_password(void **)
{
	Scenario sc = auth_scenario("", "USER\r\n",
		{{"USER alice", "+OK\r\n"},
		 {"PASS s3cret-Pa55", "-ERR [AUTH] Authentication failed.\r\n"}},
		false);
	Run r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
			    "Error Auth: [AUTH] Authentication failed.");
	assert_event(r, "C: PASS ***");
	assert_no_secret(r, password);
	/* finished: check_splits() fails a run that does not finish */

	/* a server that echoes the password does not get it into the log */
	sc.steps[2].second = "-ERR bad password s3cret-Pa55 for alice\r\n";
	r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
			    "Error Auth: bad password *** for alice");
	assert_event(r, "S: -ERR bad password *** for alice");
	assert_no_secret(r, password);

	/* a locked mailbox is not a wrong password */
	sc.steps[2].second = "-ERR [IN-USE] mailbox locked\r\n";
	assert_string_equal(last_event(check_splits(sc)).c_str(),
			    "Error Server: [IN-USE] mailbox locked");

	sc.steps = {{"CAPA", capa("USER\r\n")},
		    {"USER alice", "-ERR no such user\r\n"}};
	assert_string_equal(last_event(check_splits(sc)).c_str(),
			    "Error Auth: no such user");
}

void test_dele_quit(void **)
{
	Scenario sc = standard("USER\r\nPIPELINING\r\n");
	sc.remove = {"uid-a", "uid-b", "nope", "uid-c"};
	sc.steps.pop_back();
	sc.steps.push_back({"DELE 1", "+OK\r\n"});
	sc.steps.push_back({"DELE 2", "+OK message 2 deleted\r\n"});
	sc.steps.push_back({"DELE 3", "-ERR message 3 already deleted\r\n"});
	sc.steps.push_back({"QUIT", "+OK bye\r\n"});
	Run r = check_splits(sc);
	assert_event(r, "Failed 0 nope: not in the listing");
	assert_event(r, "Failed 3 uid-c: message 3 already deleted");
	assert_event(r, "Removed uid-a uid-b");
	assert_string_equal(last_event(r).c_str(), "Done");
	assert_int_equal(r.server.used(), sc.steps.size());
	bool together = false;
	for (const std::string &out : r.outputs) {
		if (out == "DELE 1\r\nDELE 2\r\nDELE 3\r\n")
			together = true;
	}
	assert_true(together);

	/* -ERR to QUIT: the deletions are not committed */
	sc.steps.back().second = "-ERR some deleted messages not removed\r\n";
	r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
		"Error Server: QUIT failed, deletions not committed: "
		"some deleted messages not removed");

	/* the server closes instead of answering QUIT */
	sc.steps.back().second = "";
	sc.eof_at_end = true;
	r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
		"Done connection closed before the reply to QUIT");
}

void test_uidl_unsupported(void **)
{
	Scenario sc;
	sc.config = config();
	sc.remove = {"2"};
	sc.steps = {
		{"CAPA", "-ERR unknown command\r\n"},
		{"USER alice", "+OK\r\n"},
		{"PASS s3cret-Pa55", "+OK\r\n"},
		{"UIDL", "-ERR unknown command\r\n"},
		{"LIST", "+OK\r\n1 5\r\n2 6\r\n.\r\n"},
		{"RETR 1", "+OK\r\nabc\r\n.\r\n"},
		{"RETR 2", "+OK\r\nabcd\r\n.\r\n"},
		{"DELE 2", "+OK\r\n"},
		{"QUIT", "+OK\r\n"},
	};
	Run r = check_splits(sc);
	assert_event(r, "Listing 2: 1//5 2//6");
	assert_event(r, "Removed 2");
	assert_string_equal(last_event(r).c_str(), "Done");
	assert_int_equal(r.bodies.size(), 2);
	assert_string_equal(r.bodies[1].c_str(), "abcd\r\n");
}

void test_retr_err(void **)
{
	Scenario sc = standard("USER\r\n");
	sc.steps[6].second = "-ERR message 2 is gone\r\n";
	Run r = check_splits(sc);
	assert_event(r, "Failed 2 uid-b: message 2 is gone");
	assert_string_equal(last_event(r).c_str(), "Done");
	assert_int_equal(r.bodies.size(), 2);
}

void test_garbage(void **)
{
	const struct {
		int step;           /* the reply replaced, -1: the greeting */
		std::string reply;
		const char *error;  /* the last event */
	} cases[] = {
		{ -1, "HELLO there\r\n",
		  "Error Protocol: unexpected reply from server: HELLO there" },
		{ -1, "-ERR go away\r\n",
		  "Error Server: server refused the connection: go away" },
		/* a challenge outside of AUTH, garbage after login */
		{ 1, "+ what\r\n",
		  "Error Protocol: unexpected reply from server: + what" },
		{ 6, "* OK \x01\xff\r\n",
		  "Error Protocol: unexpected reply from server: * OK ?\xff" },
		{ 3, "+OK\r\n1 uid-a\r\nx uid-b\r\n.\r\n",
		  "Error Protocol: malformed UIDL line: x uid-b" },
		{ 3, "+OK\r\n1 uid\x01" "a\r\n.\r\n",
		  "Error Protocol: malformed UIDL line: 1 uid?a" },
		{ 4, "+OK\r\n1 99999999999999999999999\r\n.\r\n",
		  "Error Protocol: malformed LIST line: 1 99999999999999999999999" },
	};
	for (const auto &c : cases) {
		Scenario sc;
		if (c.step < 0) {
			sc.config = config();
			sc.greeting = c.reply;
		} else {
			sc = standard("USER\r\n");
			sc.steps[c.step].second = c.reply;
		}
		Run r = check_splits(sc);
		assert_string_equal(last_event(r).c_str(), c.error);
	}
}

void test_line_too_long(void **)
{
	Scenario sc;
	sc.config = config();
	sc.config.max_line = 100;
	sc.greeting = "+OK " + std::string(96, 'x') + "\r\n";
	sc.steps = {{"CAPA", "+OK\r\n" + std::string(100, 'c') + "\r\n" +
				 std::string(101, 'd') + "\r\n.\r\n"}};
	Run r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
			    "Error Protocol: line too long");
	/* the 100-byte CAPA line was fine, the 101-byte one was not */
	assert_int_equal(r.server.used(), 1);
	assert_true(r.server.fed() < r.server.stream().size());

	sc.greeting = "+OK " + std::string(97, 'x') + "\n";
	sc.steps.clear();
	r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
			    "Error Protocol: line too long");
}

void test_message_too_long(void **)
{
	Scenario sc = standard("USER\r\n");
	sc.config.max_message = 20;
	sc.steps[5].second = "+OK\r\n" + std::string(15, 'a') + "\r\n" +
		std::string(15, 'b') + "\r\n.\r\n";
	Run r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(), "Error Protocol: "
		"message 1 is larger than the maximum message size");
	assert_false(has_line(r, "End 1 uid-a"));
	assert_int_equal(r.bodies.size(), 1);
	assert_int_equal(r.bodies[0].size(), 20);

	/* exactly max_message is fine */
	sc = standard("USER\r\n");
	sc.config.max_message = m1.size();
	r = check_splits(sc);
	assert_event(r, "End 1 uid-a");
	assert_string_equal(last_event(r).c_str(), "Done");
}

void test_eof_in_retr(void **)
{
	Scenario sc = standard("USER\r\n");
	sc.steps[5].second = "+OK\r\nSubject: partial\r\n\r\nbody";
	sc.eof_at_end = true;
	Run r = check_splits(sc);
	std::vector<std::string> tail(r.lines.end() - 4, r.lines.end());
	expect_lines(tail, {
		"S: +OK",
		"Begin 1 uid-a " + std::to_string(m1.size()),
		"Data 24",
		"Error Closed: connection closed by server",
	});
	assert_false(has_line(r, "End 1 uid-a"));

	/* EOF in the middle of a status line or the greeting */
	sc.greeting = "+OK hel";
	sc.steps.clear();
	r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(),
			    "Error Closed: connection closed by server");
}

void test_finished_is_inert(void **)
{
	Pop3Session s(config());
	assert_int_equal(s.feed("+OK\r\n"), 5);
	assert_string_equal(s.take_output().c_str(), "CAPA\r\n");
	assert_int_equal(s.feed("garbage\r\n+OK\r\n"), 9);
	assert_true(s.finished());
	assert_int_equal(s.feed("+OK\r\n"), 0);
	s.fetch({RemoteMessage{}});
	s.remove({"x"});
	s.quit();
	s.tls_started();
	s.eof();
	assert_true(s.take_output().empty());
	Event ev;
	int errors = 0;
	while (s.next_event(ev)) {
		assert_true(ev.type == EventType::Log ||
			    ev.type == EventType::Error);
		errors += ev.type == EventType::Error;
	}
	assert_int_equal(errors, 1);
}

void test_unexpected_data(void **)
{
	/* after the Listing nothing is outstanding until the driver acts */
	Pop3Session s(config());
	std::string in = "+OK\r\n+OK\r\nUSER\r\n.\r\n+OK\r\n+OK\r\n"
		"+OK\r\n.\r\n+OK\r\n.\r\n";
	assert_int_equal(s.feed(in), in.size());
	assert_int_equal(s.feed("+OK surprise\r\n"), 0);
	Event ev;
	std::string last;
	while (s.next_event(ev))
		last = describe(ev);
	assert_string_equal(last.c_str(),
			    "Error Protocol: unexpected data from server");
}

void test_actions_before_listing(void **)
{
	/* fetch() and quit() before the Listing wait for it */
	Pop3Session s(config());
	RemoteMessage m;
	m.number = 1;
	m.uid = "u1";
	s.fetch({m});
	s.quit();
	s.feed("+OK\r\n+OK\r\nUSER\r\n.\r\n+OK\r\n+OK\r\n");
	assert_string_equal(s.take_output().c_str(),
			    "CAPA\r\nUSER alice\r\nPASS s3cret-Pa55\r\nUIDL\r\n");
	s.feed("+OK\r\n1 u1\r\n.\r\n");
	assert_string_equal(s.take_output().c_str(), "LIST\r\n");
	s.feed("+OK\r\n1 3\r\n.\r\n");
	assert_string_equal(s.take_output().c_str(), "RETR 1\r\n");
	s.feed("+OK\r\nx\r\n.\r\n");
	assert_string_equal(s.take_output().c_str(), "QUIT\r\n");
	s.feed("+OK\r\n");
	assert_true(s.finished());
}

void test_credentials_with_crlf(void **)
{
	Scenario sc;
	sc.config = config(SessionConfig::Tls::Implicit, "", "pw\r\nDELE 1");
	sc.steps = {{"CAPA", capa("USER\r\n")}};
	Run r = check_splits(sc);
	assert_string_equal(last_event(r).c_str(), "Error Auth: "
			    "user name or password contains CR, LF or NUL");
}

/* Not a strict benchmark: 2,000 x 4 KiB pipelined and one 20 MiB message,
   fed in 16 KiB reads; checks the bytes and that chunks are not per line. */
void test_throughput(void **)
{
	std::string line(78, 'x');
	line += "\r\n";
	std::string body4k;
	while (body4k.size() < 4096)
		body4k += line;
	std::string big;
	while (big.size() < 20u * 1024 * 1024)
		big += line;

	Pop3Session s(config());
	std::string login = "+OK\r\n+OK\r\nPIPELINING\r\nUSER\r\n.\r\n"
		"+OK\r\n+OK\r\n";
	std::string uidl = "+OK\r\n", list = "+OK\r\n";
	for (uint32_t i = 1; i <= 2001; i++) {
		uidl += std::to_string(i) + " u" + std::to_string(i) + "\r\n";
		list += std::to_string(i) + " 4096\r\n";
	}
	login += uidl + ".\r\n" + list + ".\r\n";
	assert_int_equal(s.feed(login), login.size());
	Event ev;
	while (s.next_event(ev)) {
		if (ev.type == EventType::Listing)
			s.fetch(ev.messages);
	}
	std::string in;
	for (uint32_t i = 1; i <= 2000; i++)
		in += "+OK\r\n" + body4k + ".\r\n";
	in += "+OK\r\n" + big + ".\r\n";

	auto t0 = std::chrono::steady_clock::now();
	size_t fed = 0, bytes = 0, chunks = 0, ends = 0;
	while (fed < in.size() && !s.finished()) {
		size_t n = std::min<size_t>(16384, in.size() - fed);
		fed += s.feed(std::string_view(in.data() + fed, n));
		s.take_output();
		while (s.next_event(ev)) {
			if (ev.type == EventType::MessageData) {
				bytes += ev.data.size();
				chunks++;
			} else if (ev.type == EventType::MessageEnd) {
				ends++;
			}
		}
	}
	double ms = std::chrono::duration<double, std::milli>(
		std::chrono::steady_clock::now() - t0).count();
	print_message("throughput: %zu bytes in %zu chunks, %.1f ms\n", bytes,
		      chunks, ms);
	assert_int_equal(ends, 2001);
	assert_int_equal(bytes, 2000 * body4k.size() + big.size());
	assert_true(chunks < 2 * (in.size() / 16384) + 2 * 2001);
	assert_false(s.finished());
}

} // namespace

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_pass_retr),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_pipelining_window),
		cmocka_unit_test(test_dot_stuffing_edge_cases),
		cmocka_unit_test(test_stls),
		cmocka_unit_test(test_stls_stops_feed),
		cmocka_unit_test(test_stls_not_offered),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_auth_login),
		cmocka_unit_test(test_auth_xoauth2),
		cmocka_unit_test(test_auth_oauthbearer),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_dele_quit),
		cmocka_unit_test(test_uidl_unsupported),
		cmocka_unit_test(test_retr_err),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_message_too_long),
		cmocka_unit_test(test_eof_in_retr),
		cmocka_unit_test(test_finished_is_inert),
		cmocka_unit_test(test_unexpected_data),
		cmocka_unit_test(test_actions_before_listing),
		cmocka_unit_test(test_credentials_with_crlf),
		cmocka_unit_test(test_throughput),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
