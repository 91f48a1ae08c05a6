/* libFuzzer entry point for the IMAP session (fetchmail-imap.hh).

   Not built by CMake. Build and run by hand from the source tree:

     clang++ -std=gnu++20 -g -O1 -fsanitize=fuzzer,address,undefined \
       -I plugin/core plugin/core/fetchmail-proto.cc \
       plugin/core/fetchmail-imap-parser.cc plugin/core/fetchmail-imap.cc \
       plugin/core/fetchmail-sasl.cc plugin/core/fetchmail-crypto.cc \
       tests/fuzz/fuzz-fetchmail-imap.cc -lcrypto -o /tmp/fuzz-fetchmail-imap
     mkdir -p /tmp/fuzz-imap-corpus
     /tmp/fuzz-fetchmail-imap -max_total_time=60 -max_len=4096 \
       -dict=tests/fuzz/fuzz-fetchmail-imap.dict /tmp/fuzz-imap-corpus

   Input: byte 0 picks the starting state and configuration, byte 1 the
   feed() chunk size and the driver's choices; the rest is what the
   server sends. The session is first driven with canned Dovecot replies
   into one of several states (greeting, handshake, STARTTLS, SASL,
   selected, listing, fetching, removing, logging out, IDLE sent,
   idling); then the fuzz bytes are fed, while a small driver answers
   events the way the real one does (select, list, fetch, remove, quit,
   tls_started; in push mode idle() after the select and after each
   fetch, idle_done() or quit() on MailboxChanged, list() after the IDLE
   ended). Invariants are checked after every event and on the client's
   bytes (never more DONE lines than "+" to IDLE and idle_done() or
   quit() calls); a violation traps. */

#include "fetchmail-imap.hh"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace fetchmail;

namespace {

const char *const secret = "s3cr3t-Pa55";

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

struct Driver {
	ImapSession &session;
	bool fingerprints;
	uint8_t flags;
	bool in_message = false;
	uint64_t message_size = 0, message_data = 0;
	std::vector<std::string> fetched;
	unsigned actions = 0;
	/* push mode: at most one idle() outstanding */
	bool push = false;
	bool idle_sent = false;      /* idle() called, not yet ended */
	bool idling = false;         /* Idling came for it */
	bool idle_ending = false;    /* idle_done() or quit() called */
	bool ending_fed = false;     /* ... before the last feed() */
	unsigned idlings = 0, endings = 0, dones = 0;
	std::string out_line;        /* the client's partial last line */

	Driver(ImapSession &s, bool fp, uint8_t f)
		: session(s), fingerprints(fp), flags(f) {}

	void check_text(const std::string &text)
	{
		CHECK(text.find(secret) == std::string::npos);
		for (unsigned char c : text)
			CHECK(c >= 0x20 && c != 0x7f);
	}

	void on_event(const Event &ev)
	{
		check_text(ev.text);
		switch (ev.type) {
		case EventType::MessageBegin:
			CHECK(!in_message);
			in_message = true;
			message_size = ev.message.size;
			message_data = 0;
			break;
		case EventType::MessageData:
			CHECK(in_message);
			CHECK(!ev.data.empty());
			message_data += ev.data.size();
			CHECK(message_data <= message_size);
			break;
		case EventType::MessageEnd:
			CHECK(in_message && message_data == message_size);
			in_message = false;
			fetched.push_back(ev.message.uid);
			break;
		case EventType::Error:
			CHECK(session.finished());
			in_message = false;  /* a partial message is dropped */
			break;
		case EventType::Done:
			CHECK(session.finished() && !in_message);
			break;
		case EventType::Idling:
			CHECK(idle_sent && !idling && !in_message);
			idling = true;
			idlings++;
			break;
		case EventType::MailboxChanged:
			CHECK(idle_sent && !ending_fed && !in_message);
			CHECK(ev.text == "EXISTS" || ev.text == "RECENT" ||
			      ev.text == "EXPUNGE" || ev.text == "FETCH");
			break;
		case EventType::IdleDone:
		case EventType::IdleFailed:
			CHECK(idle_sent && !in_message);
			CHECK(ev.type == EventType::IdleDone ||
			      ev.error_kind == ErrorKind::Server ||
			      ev.error_kind == ErrorKind::Unsupported);
			idle_sent = idling = idle_ending = false;
			break;
		default:
			CHECK(!in_message || ev.type == EventType::Log);
			break;
		}
		if (actions++ > 64)
			return;
		act(ev);
	}

	/* what the retrieval driver would do next */
	void act(const Event &ev)
	{
		switch (ev.type) {
		case EventType::NeedTls:
			session.tls_started();
			break;
		case EventType::LoggedIn:
			session.select_folder((flags & 0x80) ?
				"Entw\xc3\xbc" "rfe \xe2\x82\xac\xf0\x9d\x84\x9e &" :
				"INBOX", fingerprints);
			break;
		case EventType::FolderSelected:
			if (push)
				idle();
			else
				session.list(ev.uidvalidity % 3, fingerprints);
			break;
		case EventType::MailboxChanged:
			if (flags & 0x20)
				quit();
			else
				end_idle();
			break;
		case EventType::IdleDone:
			session.list(1 + fetched.size() % 3, fingerprints);
			break;
		case EventType::IdleFailed:
			quit();
			break;
		case EventType::FolderFailed:
			quit();
			break;
		case EventType::Listing: {
			/* every message, or every other one (gaps in UID sets) */
			std::vector<RemoteMessage> msgs;
			size_t step = (flags & 0x40) ? 2 : 1;
			for (size_t i = 0; i < ev.messages.size() && i < 80; i += step)
				msgs.push_back(ev.messages[i]);
			session.fetch(msgs);
			if (push)
				idle();
			else if (msgs.empty())
				quit();
			break;
		}
		case EventType::MessageEnd:
			if (fetched.size() % 3 == 0)
				session.remove(fetched);
			break;
		case EventType::Removed:
			quit();
			break;
		default:
			break;
		}
	}

	void idle()
	{
		if (idle_sent)
			return;
		idle_sent = true;
		session.idle();
	}

	void end_idle()
	{
		if (idle_sent && !idle_ending)
			endings++;
		idle_ending = idle_sent;
		session.idle_done();
	}

	void quit()
	{
		end_idle();
		session.quit();
	}

	/* A DONE only after a "+" to IDLE and an idle_done() or quit(). */
	void check_output(const std::string &out)
	{
		out_line += out;
		size_t eol;
		while ((eol = out_line.find("\r\n")) != std::string::npos) {
			dones += out_line.compare(0, eol, "DONE") == 0;
			out_line.erase(0, eol + 2);
		}
		CHECK(dones <= idlings && dones <= endings);
	}

	void drain()
	{
		Event ev;
		while (session.next_event(ev))
			on_event(ev);
		check_output(session.take_output());
	}

	void feed(std::string_view in, size_t chunk)
	{
		while (!in.empty() && !session.finished()) {
			std::string_view part = in.substr(0, chunk);
			ending_fed = idle_ending;
			size_t n = session.feed(part);
			CHECK(n <= part.size());
			drain();
			if (n == 0) {
				/* paused for TLS: drain() may have resumed it */
				ending_fed = idle_ending;
				n = session.feed(part);
				CHECK(n <= part.size());
				drain();
				if (n == 0)
					return;
			}
			in.remove_prefix(n);
		}
	}
};

const char *const greeting =
	"* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ STARTTLS AUTH=PLAIN "
	"AUTH=XOAUTH2] Dovecot ready.\r\n";
const char *const login_ok =
	"a1 OK [CAPABILITY IMAP4rev1 UIDPLUS LITERAL+ IDLE] Logged in\r\n";
const char *const selected =
	"* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\na2 OK [READ-WRITE] done\r\n";
const char *const listed =
	"* 1 FETCH (UID 1 RFC822.SIZE 3)\r\n* 2 FETCH (UID 2 RFC822.SIZE 4)\r\n"
	"* 3 FETCH (UID 3 RFC822.SIZE 5)\r\na3 OK done\r\n";
const char *const idle_plus = "+ idling\r\n";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t mode = data[0];
	size_t chunk = data[1] % 17 == 0 ? 65536 : data[1] % 17;
	std::string_view in(reinterpret_cast<const char *>(data) + 2, size - 2);

	SessionConfig cfg;
	cfg.user = mode & 0x80 ? "b\xc3\xb6" "b" : "bob";
	cfg.password = secret;
	cfg.tls = (mode & 0x40) ? SessionConfig::Tls::StartTls :
		SessionConfig::Tls::Implicit;
	static const char *const mechs[] = { "", "PLAIN", "LOGIN", "XOAUTH2",
					     "OAUTHBEARER", "" };
	cfg.sasl_mech = mechs[(mode >> 3) % 6];
	if (mode & 0x20) {
		cfg.max_line = 300;
		cfg.max_message = 200;
	}
	ImapSession session(cfg);
	Driver driver(session, (mode & 1) != 0, data[1]);

	/* canned prefix: how far the session gets before the fuzz bytes;
	   push mode idles after the select (state 3: IDLE sent; 7: idling) */
	unsigned state = mode & 7;
	driver.push = state == 7 || (data[1] & 0x20) != 0;
	if (cfg.tls == SessionConfig::Tls::Implicit && cfg.sasl_mech.empty()) {
		const char *const prefix[] = { greeting, login_ok, selected,
					       listed };
		for (unsigned i = 0; i < state && i < 4; i++) {
			if (state == 7 && i == 3)
				driver.feed(idle_plus, 65536);
			else
				driver.feed(prefix[i], 65536);
		}
		if (state == 5)
			session.remove({ "1", "2" });
		if (state == 6)
			driver.quit();
		driver.drain();
	} else if (state > 0) {
		driver.feed(greeting, 65536);
	}

	driver.feed(in, chunk);
	CHECK(!session.finished() || session.feed("* OK x\r\n") == 0);
	session.eof();
	driver.drain();
	CHECK(session.finished());
	CHECK(!driver.in_message);
	return 0;
}
