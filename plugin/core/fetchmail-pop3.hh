#ifndef FETCHMAIL_POP3_HH
#define FETCHMAIL_POP3_HH

/* The POP3 client session (RFC 1939; CAPA, PIPELINING and RESP-CODES from
   RFC 2449; STLS from RFC 2595; AUTH from RFC 5034) as a pure state
   machine: no I/O, no Dovecot types. See fetchmail-proto.hh for the
   feed() / take_output() / next_event() loop.

   What the session does on its own:

     greeting +OK -> CAPA (a -ERR means no capabilities)
       -> tls = StartTls: STLS (must be in CAPA, else
          Error(TlsUnavailable)); on +OK it emits NeedTls and stops
          consuming at the end of that line; after tls_started(): CAPA
          again (what the server said before TLS is forgotten)
       -> authentication:
          sasl_mech set: AUTH <mech> (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER;
            anything else is Error(Auth)); the initial response goes on
            the AUTH line when the server lists SASL in CAPA and the line
            stays within 255 octets (RFC 5034), else after the first "+"
            challenge. A challenge after the last response is answered
            with the mechanism's error reply (XOAUTH2: an empty line,
            OAUTHBEARER: AQ== i.e. %x01, others: "*" = cancel), and the
            server's -ERR that follows ends the session.
          sasl_mech empty: USER/PASS, or AUTH PLAIN when CAPA has
            "SASL ... PLAIN" and no USER.
          A -ERR to USER/PASS/AUTH is Error(Auth, server text); with the
          RESP-CODES [IN-USE] or [SYS/...] it is Error(Server) instead
          (the mailbox is locked / the server failed: not a bad password).
       -> LoggedIn -> UIDL and LIST (pipelined with PIPELINING)
       -> Listing: messages in LIST order with number, size and uid (the
          UIDL; "" for all when UIDL was answered -ERR).

   Then the driver acts; actions called before the Listing are queued
   and sent once it has been emitted:

     fetch(msgs): RETR each, in order. Per message: MessageBegin
       (message = the RemoteMessage given), MessageData chunks, MessageEnd;
       or MessageFailed (message, text) when the server answered -ERR,
       and the session goes on with the next one. The chunks are the
       message exactly as the server holds it: dot-stuffing undone, the
       terminating "." line dropped, line endings passed through as sent
       (CRLF, bare LF tolerated). data views point into the buffer given
       to feed() (or to a static "\r"), never into session memory that
       grows: the session does not hold message bodies.
     remove(uids): DELE each, by the number from the Listing (when UIDL
       was not supported, pass the message number in decimal). A uid not
       in the Listing gets MessageFailed at once. When every DELE of the
       call is answered: one Removed with the uids that got +OK (possibly
       none); each -ERR is a MessageFailed.
       POP3 deletes only when QUIT succeeds: the driver must treat the
       Removed uids as gone from the server only after Done. (If the
       server drops the connection while QUIT is outstanding, Done still
       comes, with text saying so: the deletions may or may not have been
       made; nothing is lost either way, since they were requested only
       after the local saves were committed.)
     quit(): QUIT after everything queued; Done on +OK, or on eof()
       while the QUIT reply is outstanding. A -ERR to QUIT is
       Error(Server): the deletions were not committed. fetch() and
       remove() after quit() are ignored. To give up before the Listing,
       just close the connection.

   With PIPELINING the session keeps up to max_pipelined_commands (or
   max_pipelined_bytes of command text) outstanding and refills the window
   as replies come in; without it, one command at a time.

   Untrusted input: a status line longer than config.max_line is
   Error(Protocol, "line too long"); a status line that is not +OK / -ERR
   (or a "+" challenge during AUTH) is Error(Protocol); a message longer
   than config.max_message is Error(Protocol); bytes arriving while no
   command is outstanding are Error(Protocol); a listing longer than
   config.max_listing entries (or 64 MiB of UIDLs) is Error(Protocol). Lines
   may be split at any byte across feed() calls. After Done or an Error
   the session is finished (fetchmail-session.hh): feed() consumes
   nothing, nothing more is queued for sending, actions are ignored; the
   driver closes the connection.

   Run log: one Log event per command sent (outgoing = true) and per
   status line received (outgoing = false), without CRLF and without a
   "C:"/"S:" prefix. Secrets are replaced: "PASS ***", "AUTH PLAIN ***",
   SASL responses "***". Body lines are never logged; CAPA is summarized
   as one "(capabilities: ...)" line and each UIDL/LIST listing as
   "(N UIDL lines not logged)". All event text goes through the session's
   one redaction rule (SessionBase::server_text(): the password and
   every SASL response in any form become "***", control characters
   '?').

   Nothing throws out of the API (std::bad_alloc aside). */

#include "fetchmail-session.hh"

#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fetchmail {

class Pop3Session : public SessionBase {
public:
	static constexpr size_t max_pipelined_commands = 32;
	static constexpr size_t max_pipelined_bytes = 64 * 1024;

	explicit Pop3Session(SessionConfig config);

	/* Bytes from the server; returns how many were consumed. Less than
	   in.size() only after NeedTls (the rest must be read through TLS),
	   Done or an Error. Partial lines are kept by the session. */
	size_t feed(std::string_view in);
	/* The server closed the connection. */
	void eof();

	/* After NeedTls: TLS is up. Sends CAPA again, then authenticates. */
	void tls_started();
	/* RETR each message, in order (number from the Listing). */
	void fetch(const std::vector<RemoteMessage> &messages);
	/* DELE each uid (UIDL from the Listing). */
	void remove(const std::vector<std::string> &uids);
	/* QUIT after everything queued so far. */
	void quit();

private:
	enum class Cmd {
		Greeting, Capa, Stls, User, Pass, Auth, Uidl, List, Retr, Dele, Quit
	};
	enum class Phase { Negotiating, AwaitTls, Listing, Ready, Finished };
	enum class Reader { Status, Lines, Body, Stopped };
	enum class BodyState { LineStart, MidLine, Dot, DotCr };
	enum class Status { Ok, Err, Cont, Bad };

	struct Command {
		Cmd kind;
		std::string line;       /* wire text without CRLF */
		std::string log;        /* its run log form */
		RemoteMessage message;  /* Retr, Dele */
		bool batch_end = false; /* Dele: the last one of a remove() */
	};

	/* input */
	const char *feed_line(const char *p, const char *end);
	const char *feed_body(const char *p, const char *end);
	bool read_line(const char *&p, const char *end, std::string_view &line_r);
	void handle_status(std::string_view line);
	void handle_list_line(std::string_view line);
	void end_lines();
	void emit_data(const char *p, size_t size);
	void end_body();

	/* replies, one handler per command */
	void on_greeting(Status st, std::string_view text);
	void on_capa(Status st, std::string_view text);
	void on_stls(Status st, std::string_view text);
	void on_user(Status st, std::string_view text);
	void on_pass(Status st, std::string_view text);
	void on_auth(Status st, std::string_view text);
	void on_uidl(Status st, std::string_view text);
	void on_list(Status st, std::string_view text);
	void on_retr(Status st, std::string_view text);
	void on_dele(Status st, std::string_view text);
	void on_quit(Status st, std::string_view text);

	/* multi-line reply contents */
	void add_capability(std::string_view line);
	void add_uidl(std::string_view line);
	void add_list(std::string_view line);
	void listing_too_long();

	/* steps */
	void send_capa();
	void after_capa();
	void authenticate();
	void send_sasl(const std::string &mech);
	void logged_in();
	void make_listing();
	void fail_auth(std::string_view text);

	/* commands */
	void send(Cmd kind, std::string line, std::string log);
	void transmit(Command cmd);
	void enqueue(Command cmd);
	void pump();
	void complete();

	/* events */
	void message_failed(const RemoteMessage &message,
			    std::string_view text);
	void stopped() override;

	bool has_cap(std::string_view name) const;
	bool sasl_offers(std::string_view mech) const;

	Phase phase_ = Phase::Negotiating;
	Reader reader_ = Reader::Status;
	BodyState body_state_ = BodyState::LineStart;
	bool tls_done_ = false;
	bool pipelining_ = false;
	bool quit_queued_ = false;

	std::string line_;          /* a partial line across feed() calls */
	std::deque<Command> queue_;    /* driver commands not yet sent */
	std::deque<Command> inflight_; /* sent, reply not complete */
	size_t inflight_bytes_ = 0;

	std::vector<std::string> caps_;

	bool uidl_ok_ = false;
	size_t lines_seen_ = 0;
	size_t uidl_bytes_ = 0;
	std::vector<std::pair<uint32_t, std::string>> uidl_;
	std::vector<RemoteMessage> listing_;
	std::unordered_map<std::string, size_t> uid_index_;

	uint64_t body_bytes_ = 0;
	std::vector<std::string> removed_;
};

} // namespace fetchmail

#endif
