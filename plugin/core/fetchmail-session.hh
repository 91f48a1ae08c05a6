#ifndef FETCHMAIL_SESSION_HH
#define FETCHMAIL_SESSION_HH

/* What the POP3 and IMAP sessions share: the output buffer, the event
   queue, the one failure model and the one redaction rule. See
   fetchmail-proto.hh for the feed() / take_output() / next_event() loop a
   driver runs around a session.

   Failure model: the first fail() or done() ends the session. It queues
   exactly one Error (or Done) event and calls stopped() so the protocol
   drops what it had queued; after that the session is inert: it reads
   nothing, queues no more output, emits nothing. (Output queued before
   the end is still handed out by take_output(), so what a session sends
   does not depend on how its input was split.)

   Redaction: every text that reaches an event (log lines in both
   directions, errors, message and folder failures) goes through
   server_text(): the session's Redactor knows the password or token and
   every SASL response sent with it, sanitizes control characters and
   bounds the length (fetchmail-redact.hh). A subclass never builds event
   text any other way. */

#include "fetchmail-proto.hh"
#include "fetchmail-redact.hh"
#include "fetchmail-sasl.hh"

#include <deque>
#include <string>
#include <string_view>

namespace fetchmail {

class SessionBase {
public:
	SessionBase(const SessionBase &) = delete;
	SessionBase &operator=(const SessionBase &) = delete;
	virtual ~SessionBase() = default;

	/* Bytes to send to the server now (may be empty). */
	std::string take_output();
	/* Pops the next queued event; false when there is none. */
	bool next_event(Event &event_r);
	/* Done or Error was emitted. */
	bool finished() const { return finished_; }

protected:
	explicit SessionBase(SessionConfig config);

	/* Queue bytes for the server (nothing once finished). */
	void write(std::string_view bytes);
	Event &emit(EventType type);
	/* An event whose text is server text (made safe here). */
	Event &emit_text(EventType type, std::string_view text);
	/* One run log line: a command as sent (its log form, with secrets
	   already written as ***) or a line the server sent. */
	void log(bool outgoing, std::string_view text);
	std::string server_text(std::string_view text) const;

	/* End the session with Error(kind, text) or Done(text). */
	void fail(ErrorKind kind, std::string_view text);
	void done(std::string_view text = {});
	/* Start a SASL exchange with the configured user and password (or
	   token); false (and Error(Auth)) for an unknown mechanism. */
	bool start_sasl(std::string_view mech);

	/* The session has ended: drop queued commands and input state. */
	virtual void stopped() {}

	SessionConfig config_;
	Redactor redactor_;
	SaslClient sasl_;

private:
	void finish();

	bool finished_ = false;
	std::string out_;
	std::deque<Event> events_;
};

} // namespace fetchmail

#endif
