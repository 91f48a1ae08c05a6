#ifndef FETCHMAIL_FUZZ_SESSION_HH
#define FETCHMAIL_FUZZ_SESSION_HH

/* The driver shared by the protocol session targets (POP3 and IMAP): it
   feeds what the fuzzed server sends, reacts to events the way the
   retrieval driver does, and checks what fetchmail-proto.hh promises.

   Each input runs twice: once fed line by line (the server's bytes cut
   after every LF) and once with every line cut again into chunks of 1 to
   64 bytes.
   The driver reacts only at line ends (and when the session pauses for
   TLS), so both runs must give the same events (MessageData merged per
   message) and the same client output: a session must not depend on how
   the network splits the stream. Checked on every event of both runs:

   - no event after Done or Error, finished() agrees with them, and a
     finished session stays inert (feed() consumes nothing, actions send
     nothing and emit nothing);
   - feed() never consumes more than it was given;
   - MessageBegin, MessageData..., MessageEnd never nest or interleave
     with other events (Log aside), data is never empty, and only
     messages that were asked for are begun;
   - text (Log, Error, MessageFailed, FolderFailed) is sanitized (no
     control characters) and never contains the password, nor a SASL
     response carrying it once the session has sent that response;
   - the client output is CRLF-terminated lines without NUL or bare CR
     or LF (nothing from the server is injected into commands);
   - at Done every message asked for got a MessageEnd or MessageFailed.

   With FUZZ_TRACE set in the environment, the events and the output of
   the line-by-line run are printed (to see what a seed does).

   A target derives from SessionDriver<Session> and implements react()
   (its answer to LoggedIn, Listing, ...), check_event() and check_data()
   for what only its protocol promises. */

#include "fuzz-common.hh"

#include "fetchmail-proto.hh"
#include "fetchmail-sasl.hh"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fuzz_session {

using namespace fetchmail;

const char *const password = "s3cr3t-Pa55!word";

/* The SASL responses carrying the password that a session for config
   could send, for every mechanism (computed once per user). */
inline const std::vector<std::string> &
sasl_secrets(const SessionConfig &config)
{
	static std::map<std::string, std::vector<std::string>> cache;
	std::vector<std::string> &secrets = cache[config.user + '\0' +
						  config.password];
	if (!secrets.empty())
		return secrets;
	for (SaslMech mech : { SaslMech::Plain, SaslMech::Login,
			       SaslMech::XOAuth2, SaslMech::OAuthBearer }) {
		for (std::string &r : sasl_responses(mech, config.user,
						     config.password))
			secrets.push_back(std::move(r));
	}
	return secrets;
}

/* One event as a line of the run's trace. */
inline std::string describe(const Event &ev)
{
	std::string out = std::to_string(static_cast<int>(ev.type)) + "/" +
		std::to_string(static_cast<int>(ev.error_kind)) + " " +
		(ev.outgoing ? "C " : "S ") + ev.text + "|" + ev.folder + "|" +
		std::to_string(ev.uidvalidity) + "|" +
		std::to_string(ev.count) + "|" + ev.internal_date + "|";
	auto add_message = [&out](const RemoteMessage &m) {
		out += m.uid + ":" + std::to_string(m.number) + ":" +
			std::to_string(m.size) + ":" + m.message_id + ":" +
			m.internal_date + ";";
	};
	add_message(ev.message);
	for (const RemoteMessage &m : ev.messages)
		add_message(m);
	for (const std::string &f : ev.flags)
		out += f + ",";
	for (const std::string &u : ev.uids)
		out += u + ",";
	return out;
}

template <typename Session>
class SessionDriver {
public:
	explicit SessionDriver(const SessionConfig &config)
		: s(config), secrets_{ config.password },
		  sasl_(sasl_secrets(config)) {}
	virtual ~SessionDriver() = default;

	/* Feeds the server's bytes line by line, each line whole
	   (chunk_seed 0) or in chunks of 1 to 64 bytes drawn from
	   chunk_seed, reacting at line ends; then eof() and the checks
	   of the end. */
	void run(std::string_view server, uint32_t chunk_seed)
	{
		seed_ = chunk_seed;
		while (!server.empty() && !s.finished()) {
			size_t nl = server.find('\n');
			size_t len = nl == server.npos ? server.size() : nl + 1;
			feed_line(server.substr(0, len));
			server.remove_prefix(len);
		}
		s.eof();
		settle();
		FUZZ_CHECK(s.finished());
		FUZZ_CHECK(!in_message_);
		if (done_) {
			for (const std::string &uid : asked_)
				FUZZ_CHECK(answered_.count(uid) > 0);
		}
		check_inert();
	}

	Session s;
	std::vector<std::string> trace;  /* events, MessageData merged */
	std::string output;              /* everything sent */

protected:
	/* The driver's answer to one event (NeedTls is handled here). */
	virtual void react(const Event &ev) = 0;
	/* Protocol-specific promises about an event and message data. */
	virtual void check_event(const Event &) {}
	virtual void check_data(std::string_view, const char *, size_t) {}
	/* What the session sent (CRLF-terminated lines), checked after the
	   events of the same feed. */
	virtual void check_sent(std::string_view) {}

	/* Actions made by react(), recorded for the checks. */
	void fetch(const std::vector<RemoteMessage> &messages)
	{
		for (const RemoteMessage &m : messages)
			asked_.insert(m.uid);
		s.fetch(messages);
	}

	unsigned actions = 0;   /* reactions so far; react() bounds them */
	bool done_ = false;

private:
	void feed_line(std::string_view line)
	{
		while (!line.empty() && !s.finished()) {
			size_t n = next_chunk(line.size());
			/* a private copy: data views must point into it */
			std::string buf(line.substr(0, n));
			size_t used = s.feed(buf);
			FUZZ_CHECK(used <= buf.size());
			drain(buf.data(), buf.size());
			line.remove_prefix(used);
			if (used < buf.size()) {
				/* paused (NeedTls) or finished: react now */
				size_t before = pending_.size();
				settle();
				if (used == 0 && before == 0)
					return;
			}
		}
		settle();
	}

	/* 0 splits nothing; otherwise 1..64 bytes from the seed */
	size_t next_chunk(size_t left)
	{
		if (seed_ == 0)
			return left;
		seed_ = seed_ * 1103515245u + 12345u;
		return std::min(left, static_cast<size_t>(1 + (seed_ >> 16) % 64));
	}

	/* React to every pending event, and to what the reactions cause. */
	void settle()
	{
		drain(nullptr, 0);
		while (!pending_.empty()) {
			std::vector<Event> events;
			events.swap(pending_);
			for (const Event &ev : events) {
				if (ev.type == EventType::NeedTls)
					s.tls_started();
				else
					react(ev);
				drain(nullptr, 0);
			}
		}
	}

	void drain(const char *buf, size_t size)
	{
		std::string out = s.take_output();
		if (!out.empty()) {
			check_output(out);
			output += out;
		}
		Event ev;
		while (s.next_event(ev)) {
			FUZZ_CHECK(!done_ && !failed_);
			check_common(ev, buf, size);
			check_event(ev);
			if (ev.type == EventType::MessageData)
				continue;
			trace.push_back(describe(ev));
			if (ev.type != EventType::Log)
				pending_.push_back(std::move(ev));
		}
		/* after this feed's events: what it sent may answer one of
		   them (IMAP's DONE follows the "+" that ends an IDLE) */
		if (!out.empty())
			check_sent(out);
		FUZZ_CHECK(s.finished() == (done_ || failed_));
		/* a SASL response is a secret once it was sent (events of
		   the same feed() may come from before it was sent) */
		if (out.empty())
			return;
		std::erase_if(sasl_, [&](const std::string &r) {
			if (!fuzz_contains(out, r))
				return false;
			secrets_.push_back(r);
			return true;
		});
	}

	void check_common(const Event &ev, const char *buf, size_t size)
	{
		FUZZ_CHECK(fuzz_printable(ev.text));
		for (const std::string &secret : secrets_)
			FUZZ_CHECK(!fuzz_contains(ev.text, secret));
		switch (ev.type) {
		case EventType::MessageBegin:
			FUZZ_CHECK(!in_message_);
			FUZZ_CHECK(asked_.count(ev.message.uid) > 0);
			in_message_ = true;
			message_uid_ = ev.message.uid;
			body_.clear();
			break;
		case EventType::MessageData:
			FUZZ_CHECK(in_message_ && !ev.data.empty());
			check_data(ev.data, buf, size);
			body_ += ev.data;
			break;
		case EventType::MessageEnd:
			FUZZ_CHECK(in_message_);
			FUZZ_CHECK(ev.message.uid == message_uid_);
			in_message_ = false;
			answered_.insert(message_uid_);
			trace.push_back("body " + body_);
			break;
		case EventType::MessageFailed:
			FUZZ_CHECK(!in_message_);
			answered_.insert(ev.message.uid);
			break;
		case EventType::Done:
			FUZZ_CHECK(!in_message_);
			done_ = true;
			break;
		case EventType::Error:
			in_message_ = false;   /* a partial message is dropped */
			failed_ = true;
			break;
		case EventType::Log:
			break;
		default:
			FUZZ_CHECK(!in_message_);
			break;
		}
	}

	/* CRLF-terminated lines, no NUL, no bare CR or LF */
	static void check_output(std::string_view out)
	{
		FUZZ_CHECK(out.empty() || (out.size() >= 2 &&
					   out.substr(out.size() - 2) == "\r\n"));
		for (size_t i = 0; i < out.size(); i++) {
			FUZZ_CHECK(out[i] != '\0');
			if (out[i] == '\r')
				FUZZ_CHECK(i + 1 < out.size() && out[i + 1] == '\n');
			if (out[i] == '\n')
				FUZZ_CHECK(i > 0 && out[i - 1] == '\r');
		}
	}

	/* finished: nothing is consumed, sent or emitted any more */
	void check_inert()
	{
		FUZZ_CHECK(s.feed("+OK\r\n* OK x\r\n") == 0);
		s.fetch({ RemoteMessage{} });
		s.remove({ "1" });
		s.quit();
		s.tls_started();
		FUZZ_CHECK(s.take_output().empty());
		Event ev;
		FUZZ_CHECK(!s.next_event(ev));
	}

	std::vector<std::string> secrets_, sasl_;
	uint32_t seed_ = 0;
	std::vector<Event> pending_;
	bool failed_ = false;
	bool in_message_ = false;
	std::string message_uid_;
	std::string body_;
	std::set<std::string> asked_, answered_;
};

/* Runs one input through two drivers, line by line and in small chunks,
   and compares what they saw. Driver is constructed from args. */
template <typename Driver, typename... Args>
void run_both(std::string_view server, uint8_t chunk_byte, Args &&...args)
{
	Driver lines(args...);
	lines.run(server, 0);
	Driver chunks(args...);
	chunks.run(server, chunk_byte | 0x100u);
	if (getenv("FUZZ_TRACE") != nullptr) {
		for (const std::string &line : lines.trace)
			fprintf(stderr, "event %s\n", line.c_str());
		fprintf(stderr, "output %s\n", lines.output.c_str());
	}
	FUZZ_CHECK(lines.trace == chunks.trace);
	FUZZ_CHECK(lines.output == chunks.output);
}

} // namespace fuzz_session

#endif
