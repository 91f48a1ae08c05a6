#ifndef FETCHMAIL_IMAP_HH
#define FETCHMAIL_IMAP_HH

/* The IMAP4rev1 client session (RFC 3501; STARTTLS, LOGINDISABLED,
   SASL-IR RFC 4959, LITERAL+/LITERAL- RFC 7888, UIDPLUS RFC 4315, IDLE
   RFC 2177) as a pure state machine: no I/O, no Dovecot types. See
   fetchmail-proto.hh for the feed() / take_output() / next_event() loop.
   Tags are "a1", "a2", ...

   What the session does on its own:

     greeting "* OK" (capabilities from a [CAPABILITY ...] code, else a
       CAPABILITY command), "* PREAUTH" (already authenticated), "* BYE"
       (Error(Closed)); anything else is Error(Protocol)
       -> tls = StartTls: STARTTLS must be advertised, else
          Error(TlsUnavailable); a NO/BAD to it is Error(TlsUnavailable);
          on its tagged OK the session emits NeedTls and stops consuming
          at the end of that line (bytes after it arrived in plaintext:
          the driver must drop them, never feed them after TLS); after
          tls_started() it forgets every capability and asks CAPABILITY
          again. PREAUTH with StartTls is Error(TlsUnavailable).
       -> authentication:
          sasl_mech set: AUTHENTICATE <mech>, mech one of PLAIN, LOGIN,
            XOAUTH2, OAUTHBEARER (anything else: Error(Auth)); the initial
            response goes on the command line with SASL-IR, else after the
            first "+". A challenge after that is the server's error report
            (XOAUTH2, OAUTHBEARER: base64 JSON) and is answered with an
            empty line (XOAUTH2), "AQ==" (OAUTHBEARER, RFC 7628) or "*"
            (cancel, any other); the server's NO follows.
          sasl_mech empty: LOGIN "user" "password" (quoted strings; a
            literal when a value has 8-bit or CR/LF/NUL: {n+} with
            LITERAL+ (or LITERAL- up to 4096 bytes), else a synchronizing
            {n} that waits for the server's "+"). With LOGINDISABLED:
            AUTHENTICATE PLAIN when AUTH=PLAIN is offered, else Error(Auth).
          A tagged NO/BAD is Error(Auth, the server's resp-text including
          its code, e.g. "[AUTHENTICATIONFAILED] Authentication failed.");
          with the RFC 5530 codes UNAVAILABLE, SERVERBUG or INUSE it is
          Error(Server, "LOGIN failed: " + resp-text) (not a bad
          password).
       -> capabilities after login: from [CAPABILITY ...] in the tagged OK
          or an untagged CAPABILITY meanwhile, else a CAPABILITY command
       -> LoggedIn.

   Then the driver acts. Actions are queued and run one after another in
   call order (each starts when the previous one has completed, so they may
   be called early, even before LoggedIn); each ends in exactly one of the
   events named here, or the session ends with Error:

     select_folder(folder, read_only): EXAMINE (read_only) or SELECT.
       The folder name is sent as given when it is ASCII (so modified
       UTF-7 names pass through), else it is UTF-8 and is encoded to
       modified UTF-7. -> FolderSelected(folder, uidvalidity, uidnext (0
       when the server sent none), count = EXISTS, recent = RECENT), or
       FolderFailed(folder, text) on NO/BAD, a missing
       UIDVALIDITY or an unusable name; then no folder is selected.
     list(first_uid, fingerprints): UID FETCH first_uid:* (UID RFC822.SIZE
       [INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]]) ->
       Listing(messages sorted by UID: uid in decimal, number = UID, size,
       and with fingerprints internal_date and message_id, "" when the
       server sent none). UIDs below first_uid ("N:*" always returns the
       last message) are dropped. An empty folder (EXISTS 0) is answered
       without a command. -> FolderFailed(folder, text) on NO/BAD or when
       no folder is selected.
     fetch(messages): UID FETCH <uid> (BODY.PEEK[] INTERNALDATE FLAGS),
       one command per message, up to fetch_window of them outstanding and
       refilled as they complete (consecutive fetch() calls share the
       window). Per message, in the server's order: MessageBegin (message
       with uid, number, size = the literal's size; internal_date and
       flags when they came before the body), MessageData chunks (views
       into the feed() buffer: the body is streamed, never held), then
       MessageEnd when the FETCH response is complete, with internal_date
       and flags (system flags as sent, without \Recent). A message the
       server does not return (tagged OK without its body, NO, BAD) gets
       MessageFailed(message, text) instead and the session goes on.
       Each message gets exactly one MessageEnd or MessageFailed. A body
       whose FETCH response names no UID before it is taken for the oldest
       outstanding UID FETCH (servers answer in order). A body that is not
       a literal (a quoted string) is passed on the same way, from session
       memory valid until the next feed().
     remove(uids): UID STORE <set> +FLAGS.SILENT (\Deleted) (the set
       split into commands of about remove_set_max bytes, pipelined),
       then, when all succeeded, UID EXPUNGE <set> with UIDPLUS, else
       EXPUNGE. -> Removed(uids, the valid ones in ascending order) or
       FolderFailed(folder, text) when any of them failed.
     idle(): IDLE in the selected folder. Without IDLE among the
       capabilities -> IdleFailed(Unsupported, "server does not offer
       IDLE") at once, nothing sent; with no folder selected ->
       IdleFailed(Server, "no folder selected"). Else IDLE is sent, and
       the server's "+" -> Idling. From sending IDLE until idle_done(),
       every untagged response that changes the folder ->
       MailboxChanged(text = EXISTS, RECENT, EXPUNGE or FETCH, count =
       EXISTS after it, recent = RECENT after it): an EXISTS with a count other than the current
       one (repeating it is no change), a RECENT with a count other than
       the last, any EXPUNGE, any FETCH (flags). One event per such
       response, not per feed(), so that events do not depend on how the
       input is split (Dovecot announces a new message with EXISTS and
       RECENT: two events). The IDLE's tagged OK -> IdleDone(count =
       EXISTS, recent = RECENT: changes that came after idle_done() made
       no MailboxChanged), after our
       DONE or when the server ends the IDLE by itself; NO/BAD ->
       IdleFailed(Server, "IDLE failed: " + resp-text). Either way the
       session stays usable. Actions called meanwhile wait until the
       IDLE has ended, except quit().
     idle_done(): ends the oldest IDLE not yet ended, running or queued
       (nothing without one): DONE (untagged) once the server's "+" has
       come; an IDLE not yet sent is not sent at all and its turn gives
       IdleDone at once (after the checks above). Then the next action
       runs: another idle(), list(), quit(), ... A tagged reply with the
       tag DONE right after the IDLE's (a server that ended the IDLE just
       before our DONE arrived reads DONE as a command) is ignored.
     quit(): ends every IDLE first (idle_done()), then LOGOUT -> Done on
       its tagged OK, or when the server closes the connection after it.
       Before LoggedIn, quit() sends LOGOUT at once (or, in the middle of
       an exchange, emits Done at once: the driver just closes).

   Untagged data is tracked throughout: EXISTS, RECENT, EXPUNGE, FLAGS,
   OK [UIDVALIDITY n] / [UIDNEXT n] / [CAPABILITY ...], CAPABILITY,
   unsolicited FETCH (flag updates: ignored but while idling; a body
   nobody asked for is read and dropped), anything else is parsed and
   ignored. BYE is Error(Closed) unless LOGOUT was sent; a tag the
   session did not send, an unexpected "+" or a malformed response is
   Error(Protocol).

   Untrusted input: a line longer than config.max_line, a response whose
   lines and (non-body) literals together exceed config.max_line, a
   literal longer than config.max_message (a body literal is streamed, but
   is bounded by max_message too), a listing of more than
   config.max_listing messages, lists nested deeper than
   ImapParser::default_max_depth and numbers that overflow (uint32 for
   sequence numbers, UIDs, UIDVALIDITY) are Error(Protocol), and so is a
   FETCH response with two BODY[] or whose UID (when it comes after the
   body) is not the one the body was taken for. Responses may
   be split at any byte across feed() calls. eof() in the middle of
   anything is Error(Closed) (a message that had MessageBegin gets no
   MessageEnd). After Done or an Error the session is finished: feed()
   consumes nothing, actions are ignored.

   Run log: a Log event for every command sent (outgoing = true, DONE
   included) and every response line received (outgoing = false, the
   "+" to IDLE included), without CRLF. Secrets are replaced:
   LOGIN "bob" ***, AUTHENTICATE PLAIN ***, SASL responses ***.
   Literal contents are never logged: a body FETCH is summarized as
   "* 12 FETCH (UID 5 BODY[] {4096} ...)", listing FETCH lines only as a
   count. All event text goes through the session's one redaction rule
   (SessionBase::server_text(): the password and every SASL response in
   any form become "***", control characters '?').

   Nothing throws out of the API (std::bad_alloc aside). */

#include "fetchmail-imap-parser.hh"
#include "fetchmail-session.hh"

#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

class ImapSession : public SessionBase {
public:
	static constexpr size_t fetch_window = 32;
	static constexpr size_t remove_set_max = 4000;

	explicit ImapSession(SessionConfig config);

	/* Bytes from the server; returns how many were consumed. Less than
	   in.size() only after NeedTls, Done or an Error. */
	size_t feed(std::string_view in);
	/* The server closed the connection. */
	void eof();
	/* After NeedTls: TLS is up. CAPABILITY again, then authenticate. */
	void tls_started();
	void select_folder(std::string_view folder, bool read_only);
	void list(uint32_t first_uid, bool with_fingerprints);
	void fetch(const std::vector<RemoteMessage> &messages);
	void remove(const std::vector<std::string> &uids);
	void idle();
	void idle_done();
	void quit();

private:
	enum class Phase { Greeting, Handshake, WaitTls, Ready, LoggingOut,
			   Finished };
	enum class Reader { Line, Literal, Body };
	enum class Cmd { Capability, StartTls, Login, Authenticate, Select,
			 List, Fetch, Store, Expunge, Idle, Logout };
	enum class Status { Ok, No, Bad };
	enum class Response { Fetch, Other };
	enum class JobKind { Select, List, Fetch, Remove, Idle, Quit };

	struct Command {
		uint32_t tag = 0;
		Cmd kind = Cmd::Capability;
		unsigned caps_gen = 0;   /* capability generation when sent */
		uint32_t uid = 0;        /* Fetch */
		bool body_seen = false;  /* Fetch: its BODY[] has started */
		bool body_done = false;  /* Fetch: MessageEnd emitted */
	};

	struct Job {
		JobKind kind = JobKind::Quit;
		std::string folder;          /* Select */
		bool flag = false;           /* Select: read_only; List:
						fingerprints; Idle: ended by
						idle_done() */
		uint32_t first_uid = 0;      /* List */
		std::vector<uint32_t> uids;  /* Fetch, Remove (sorted, unique) */
		std::vector<std::string> sets; /* Remove: UID sets */
		size_t next = 0;             /* Fetch: next uid to send */
		size_t outstanding = 0;      /* Fetch, Remove: commands in flight */
		std::string failure;         /* Remove */
	};

	/* What a FETCH response said (token indexes: 0 = absent). */
	struct FetchItems {
		bool has_uid = false;
		uint32_t uid = 0;
		bool has_size = false;
		uint64_t size = 0;
		std::string_view internal_date;
		size_t flags = 0;    /* the FLAGS list */
		size_t body = 0;     /* the BODY[] value */
		size_t header = 0;   /* the BODY[HEADER.FIELDS ...] value */
	};

	/* input */
	size_t read_line(std::string_view in);
	size_t read_literal(std::string_view in);
	size_t read_body(std::string_view in);
	void handle_line(std::string_view line);
	void handle_greeting(std::string_view line);
	void handle_continuation(std::string_view line);
	void handle_tagged(std::string_view line);
	void handle_untagged(std::string_view line);
	void handle_numbered(uint32_t num, std::string_view rest,
			     std::string_view line);

	/* responses with data: FETCH, and anything unknown */
	void begin_data(Response kind, uint32_t seq, std::string_view data,
			std::string_view line);
	void parse_data(std::string_view segment);
	void on_literal();
	bool at_body_literal() const;
	void start_body(uint64_t size);
	bool collect_items(FetchItems &items_r, bool complete);
	bool collect_item(FetchItems &items_r, std::string_view name,
			  size_t value);
	void copy_flags(const FetchItems &items,
			std::vector<std::string> &flags_r) const;
	void on_fetch();
	void on_listing_fetch(const FetchItems &items);
	void on_body_end(const FetchItems &items);
	void on_quoted_body(const FetchItems &items);

	/* untagged */
	void on_status(std::string_view word, std::string_view text,
		       std::string_view line);
	void on_resp_code(std::string_view code);
	void set_capabilities(std::string_view list);

	/* tagged, one handler per command */
	void dispatch(const Command &cmd, Status st, std::string_view text);
	void on_capability_done(Status st, std::string_view text);
	void on_starttls_done(Status st, std::string_view text);
	void on_auth_done(Status st, std::string_view text, unsigned caps_gen);
	void on_select_done(Status st, std::string_view text);
	void on_list_done(Status st, std::string_view text);
	void on_fetch_done(const Command &cmd, Status st,
			   std::string_view text);
	void on_store_done(Status st, std::string_view text);
	void on_expunge_done(Status st, std::string_view text);
	void on_idle_done(Status st, std::string_view text);
	Job *remove_reply(Status st, const char *what, std::string_view text);

	/* handshake */
	void advance();
	void logged_in();
	void start_tls();
	void authenticate();
	void send_login();
	void append_astring(std::string_view value,
			    std::vector<std::string> &parts) const;
	void send_authenticate(std::string_view mech);
	void sasl_continue();

	/* jobs: the driver's actions, one at a time */
	Job &enqueue(JobKind kind);
	void run_jobs();
	void start_job(Job &job);
	void job_done();
	void start_select(Job &job);
	void start_list(Job &job);
	void start_fetch(Job &job);
	void fill_fetch_window(Job &job);
	void start_remove(Job &job);
	void send_expunge(Job &job);
	void start_idle(Job &job);
	void end_idle(bool all);
	void idle_ended();
	void send_done();
	void send_logout();
	Job *current_job(JobKind kind);
	Command *find_fetch(uint32_t uid, bool any);
	Command *find_command(uint32_t tag);

	/* output and events */
	void send(Cmd kind, std::string_view text, std::string_view log_text);
	Event &emit_message(EventType type, uint32_t uid, uint64_t size);
	void message_failed(uint32_t uid, std::string_view text);
	void folder_failed(std::string_view text);
	void idle_failed(ErrorKind kind, std::string_view text);
	void mailbox_changed(const char *what);
	void stopped() override;
	bool has_cap(std::string_view name) const;

	Phase phase_ = Phase::Greeting;
	Reader reader_ = Reader::Line;
	bool paused_ = false;        /* after NeedTls until tls_started() */

	/* input */
	std::string line_;           /* a partial line across feed() calls */
	ImapParser parser_;
	bool in_response_ = false;   /* a response continues after a literal */
	Response response_ = Response::Other;
	uint32_t response_seq_ = 0;
	std::string response_line_;  /* first line of a FETCH response */
	size_t response_bytes_ = 0;  /* its buffered lines and literals */
	bool response_body_ = false; /* it has streamed a BODY[] */
	uint64_t literal_left_ = 0;
	uint64_t body_size_ = 0;
	uint32_t body_tag_ = 0;      /* command of the streamed body, 0: drop */
	uint32_t body_uid_ = 0;
	std::deque<std::string> owned_; /* quoted bodies handed out as views */

	std::deque<Command> pending_;  /* sent, tagged reply not yet read */
	uint32_t next_tag_ = 1;

	/* handshake */
	std::vector<std::string> caps_;  /* upper case */
	bool caps_known_ = false;
	unsigned caps_gen_ = 0;
	bool handshake_wait_ = false;
	bool tls_done_ = false;
	bool authenticated_ = false;
	std::string mech_;           /* SASL exchange in progress, or empty */
	std::deque<std::string> literal_parts_; /* sent after "+" */

	/* mailbox */
	std::deque<Job> jobs_;
	bool job_running_ = false;   /* jobs_.front() has started */
	std::string folder_;         /* the last select_folder() */
	std::string select_verb_;
	bool selecting_ = false;
	bool selected_ = false;
	uint32_t exists_ = 0;
	uint32_t recent_ = 0;
	uint32_t uidvalidity_ = 0;
	uint32_t uidnext_ = 0;
	std::vector<RemoteMessage> listing_;
	size_t listing_lines_ = 0;
	bool logout_sent_ = false;
	bool idle_plus_ = false;     /* the running IDLE got its "+" */
	bool stray_done_ = false;    /* a DONE went out with the last IDLE */
};

} // namespace fetchmail

#endif
