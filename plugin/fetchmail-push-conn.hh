#ifndef FETCHMAIL_PUSH_CONN_HH
#define FETCHMAIL_PUSH_CONN_HH

/* A push connection: one long-lived IMAP connection of one account, in
   IDLE (RFC 2177), that tells its handler when new mail arrives. The fetch
   service's worker holds one per push account; on push_changed() the
   service starts a normal run of the account (on a connection of its
   own). The policy (renewal, backoff, what counts as new mail) is
   core/fetchmail-push.hh; the protocol is ImapSession
   (core/fetchmail-imap.hh) over a Transport (fetchmail-transport.hh).

   What it does:

     connect (Transport: name lookup, TCP, implicit TLS or STARTTLS,
       verified unless tls-verify = no) -> log in (the password, or for
       auth = oauth2 the access token push_token() hands over, with its
       SASL mechanism) -> EXAMINE the account's first folder (read-only:
       \Recent flags and the mailbox stay untouched; "INBOX" when the
       account names none) -> IDLE -> state Idling.
     While idling: the IDLE is ended (DONE) and issued again every
       idle_renew_ms (28 minutes: RFC 2177 allows 29), and again at once
       when the server ends it by itself. New mail (PushFolder: EXISTS or
       RECENT grew, or, after a reconnect, UIDNEXT moved on while no
       connection was idling) -> push_changed(), once per burst: the first
       such response starts a changed_delay_ms wait (200 ms) and whatever
       else arrives in it is the same notice.
     The connection fails or drops (connect, TLS handshake, timeout,
       BYE, a protocol error, IDLE refused with NO) -> state Lost with the
       error; after PushBackoff's delay (1 s doubling to 5 min, jittered;
       started over once a connection held for a minute) it connects
       again by itself, and reaches Idling again, or Lost again.
     The server offers no IDLE -> state Unsupported: logged out and
       closed, no reconnect (the service polls the account).
     Refused for good -> state Failed, closed (after LOGOUT when logged
       in), no reconnect (the service
       polls the account; its runs report the error): the login was
       refused (a password account; an OAuth2 token refused twice in a
       row, see below), STARTTLS required but not offered or refused,
       the certificate did not verify (tls-verify = yes), the folder
       could not be selected, or push_token() said a retry will not help.

   OAuth2 (auth = oauth2): every connection attempt asks push_token() for
   the access token (its `done` may come later, from the ioloop). When the
   server refuses a token, the connection is made again at once with a
   token asked for with force = true (the cached one may have been
   revoked or expired early); a forced token refused too is Failed. A
   token that could not be had (ok = false) is Lost with the backoff, or
   Failed when PushToken::permanent (consent needed, provider settings).
   start() after Failed or Unsupported tries again from the beginning.

   The handler's calls come from ioloop callbacks only, never from inside
   start(), stop() or the constructor. Inside push_state(),
   push_changed() and push_token() the handler may do anything to the
   PushConn, destroying it included. push_state() reports Idling once per
   connection (not after each renewal), and Lost once per failed attempt;
   Connecting (the state after start() and while a reconnect is under
   way) is not reported.

   Lifetime: the handler outlives the PushConn. The PushConn may be
   destroyed at any time (also inside its handler calls): the connection
   is closed at once, and a push_token() done() that comes later is
   ignored. For a polite end call stop(stopped) and destroy it in (or
   after) stopped.

   Everything lives in the ioloop that is current when start() is called
   (the worker's main ioloop): do not run it inside a private ioloop that
   goes away. Memory: the Transport is low_memory (TransportSettings),
   the ImapSession holds a few small buffers, no run log is kept (the
   session's log lines go to e_debug, redacted, when the event's debug is
   enabled), nothing grows while it idles: about 53 kB a connection with
   TLS, 12 kB without (docs/design.md, "Push connections").

   Logging: event "fetchmail(<user>/<id>): push: " (a child of
   env.event_parent, with fields account_id and host): e_info when it
   idles and when the server lacks IDLE, e_warning when it is lost or
   failed; never the password or the token (session texts go through the
   session's redaction, fetchmail-redact.hh).

   Nothing throws out of the API (std::bad_alloc aside); exceptions from
   the handler are caught and logged. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-account.hh"
#include "fetchmail-imap.hh"
#include "fetchmail-push.hh"
#include "fetchmail-transport.hh"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fetchmail {

enum class PushState {
	Connecting,   /* started, connecting or logging in, not yet idling */
	Idling,       /* the server said "+" to IDLE */
	Lost,         /* failed or dropped: reconnects after the backoff */
	Unsupported,  /* the server offers no IDLE: closed */
	Failed,       /* refused for good (see above): closed */
};

/* "connecting", "idling", "lost", "unsupported", "failed" (the worker's
   push states, fetchmail-service.hh). */
const char *push_state_name(PushState state);

/* What push_token() answers. */
struct PushToken {
	bool ok = false;
	std::string token;       /* ok: the access token */
	std::string mechanism;   /* ok: "XOAUTH2" or "OAUTHBEARER"
				    (OAuth2RefreshResult::mechanism_name) */
	/* !ok: retrying will not help (consent needed, provider or key
	   settings: OAuth2RefreshStatus ConsentNeeded, Config): Failed
	   instead of Lost */
	bool permanent = false;
	std::string error;       /* !ok: one line, no secrets */
};

class PushConn;

class PushConnHandler {
public:
	virtual ~PushConnHandler() = default;
	/* The state changed to Idling, Lost, Unsupported or Failed; detail:
	   the error (Lost, Failed), the server's word (Unsupported), or
	   empty (Idling). Redacted. */
	virtual void push_state(PushConn &conn, PushState state,
				const std::string &detail) = 0;
	/* New mail in the folder (once per burst). */
	virtual void push_changed(PushConn &conn) = 0;
	/* OAuth2 accounts, before every connection: the access token to log
	   in with; force: the server refused the last one (refresh even if
	   it looks good). Call done exactly once, now or later from the
	   ioloop: the connection waits for it without a timeout of its own
	   (OAuth2Refresh has one). A done after stop() or the destruction is
	   ignored. */
	virtual void push_token(PushConn &conn, bool force,
				std::function<void(const PushToken &)> done) = 0;
};

/* What a PushConn needs besides the account (the environment of a Check:
   CheckEnv in fetchmail-retrieve.hh, plus the timeout). */
struct PushConnEnv {
	struct event *event_parent = nullptr;
	std::string username;      /* the log prefix */
	/* the ssl_client_* settings (CAs); nullptr: the system's CAs */
	const struct master_service_ssl_settings *ssl = nullptr;
	std::string dns_client_socket;   /* base_dir/dns-client */
	/* connect, TLS handshake, login and per-command inactivity
	   (fetchmail_timeout); while idling the inactivity timeout is
	   idle_renew_ms plus this */
	unsigned int timeout_msecs = 60 * 1000;
	/* tests and tools: a CA file to trust instead
	   (TransportSettings::ca_file) */
	std::string ca_file;
};

class PushConn : private TransportHandler {
public:
	/* account: protocol imap; with auth password its password decrypted.
	   Copied: the PushConn keeps no reference to it, env or config
	   (handler must outlive the PushConn). Nothing happens before
	   start(). */
	PushConn(const PushConnEnv &env, const Account &account,
		 PushConnHandler &handler, const PushConfig &config = {});
	/* Closes at once, without DONE or LOGOUT and without callbacks. */
	~PushConn() override;
	PushConn(const PushConn &) = delete;
	PushConn &operator=(const PushConn &) = delete;

	/* Connect (from the ioloop, right after this call). Also: while Lost,
	   reconnect now instead of after the backoff; after Unsupported or
	   Failed, try again. Ignored while connecting or idling, and after
	   stop(). */
	void start();
	/* End it. No handler call follows (a pending push_changed() is
	   dropped). When it is logged in, the IDLE is ended (DONE) and
	   LOGOUT sent, and the connection closed when the server has
	   answered or closed it, at the latest after stop_wait_ms; else it
	   closes at once. stopped, when given, is called once the connection
	   is closed, from the ioloop (never inside stop()); the PushConn may
	   be destroyed inside it, or at any time after stop() (which cuts the
	   polite ending short). Calling stop() again does nothing. */
	void stop(std::function<void()> stopped = {});

	PushState state() const { return state_; }
	/* the account's id */
	const std::string &id() const { return account_.id; }

private:
	/* a handler call to make from the ioloop */
	struct Notice {
		PushState state;
		std::string detail;
	};
	struct TokenWait;

	/* TransportHandler */
	void transport_connected() override;
	size_t transport_input(std::string_view data) override;
	void transport_tls_started() override;
	void transport_failed(TransportError kind,
			      const std::string &error) override;

	/* connecting */
	void attempt();
	void drop_token();
	void token_answer(const PushToken &token);
	void connect(const std::string &secret, const std::string &mechanism);
	/* the session */
	void drive();
	void on_event(const Event &ev);
	void on_error(const Event &ev);
	void on_idling();
	void on_idle_done();
	void start_idle();
	void renew_idle();
	void news();
	/* ending */
	void lost(const std::string &error);
	void give_up(PushState state, const std::string &detail);
	void log_out();
	void closed();
	void close_connection();
	void notify(PushState state, const std::string &detail);
	void defer();
	void deferred();
	unsigned int idle_timeout_msecs() const;

	template <typename Fn> void callback_body(Fn fn);
	static void reconnect_timeout(PushConn *conn);
	static void renew_timeout(PushConn *conn);
	static void changed_timeout(PushConn *conn);
	static void logout_timeout(PushConn *conn);
	static void defer_timeout(PushConn *conn);

	PushConnEnv env_;
	Account account_;
	PushConnHandler &handler_;
	PushConfig config_;
	PushBackoff backoff_;
	PushFolder folder_state_;
	std::string folder_;
	struct ioloop *ioloop_ = nullptr;   /* current at start() */
	struct event *event_ = nullptr;

	std::unique_ptr<Transport> transport_;
	std::unique_ptr<ImapSession> session_;
	bool open_ = false;          /* transport_ and session_ are live */
	bool logged_in_ = false;
	bool renewing_ = false;      /* our DONE is out, another IDLE queued */
	bool closing_ = false;       /* LOGOUT under way (log_out()) */
	bool auth_retried_ = false;  /* OAuth2: a forced token is in use */
	int64_t idle_since_ = 0;     /* the last "+" to IDLE (monotonic ms) */
	unsigned int quick_idle_ends_ = 0; /* IDLEs the server ended at once */
	bool started_ = false;
	bool stopping_ = false;      /* stop() was called: no handler calls */
	bool stop_pending_ = false;  /* stopped_ is to be called */
	PushState state_ = PushState::Connecting;

	std::shared_ptr<TokenWait> token_wait_;
	std::unique_ptr<PushToken> token_;  /* answered, not yet used */
	std::vector<Notice> notices_;
	std::function<void()> stopped_;

	struct timeout *to_reconnect_ = nullptr;
	struct timeout *to_renew_ = nullptr;
	struct timeout *to_changed_ = nullptr;
	struct timeout *to_logout_ = nullptr;
	struct timeout *to_defer_ = nullptr;
	/* false once destroyed: a handler call may destroy this */
	std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace fetchmail

#endif
