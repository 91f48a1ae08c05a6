#ifndef FETCHMAIL_RETRIEVAL_HH
#define FETCHMAIL_RETRIEVAL_HH

/* One run of one account, as a pure state machine: the retrieval policy.

   It owns the protocol session (Pop3Session or ImapSession), the ledger,
   the run log and the report, and decides everything: what to fetch and
   what to skip, max-size, UIDVALIDITY changes, the order of saving,
   committing, recording and deleting, commit batching, error aggregation,
   the OAuth2 retry, and the status the run leaves behind. It does no I/O:
   the Dovecot adapter (plugin/fetchmail-retrieve) moves bytes and carries
   out actions, in the nghttp2 style:

     - network in: connected(), feed(bytes) (returns what it consumed),
       tls_started(), closed(), transport_failed(); bytes out:
       take_output();
     - local outcomes in: reconciled(), token_ready()/token_failed(),
       pending_stored(), saved()/save_failed(), committed()/
       commit_failed(), ledger_stored(); control: interrupt(),
       deadline();
     - actions out: next_action().

   Every input may queue actions; the adapter drains next_action() after
   each input and carries them out in order, answering each action that
   asks for an answer (A:) once, synchronously or later from the ioloop:

     Reconcile     A: reconciled(found)     a pending batch from an
                   earlier run (pending()) may or may not have reached the
                   mailbox: look for its messages and say which are there
     RefreshToken  A: token_ready()/token_failed()   OAuth2: an access
                   token (force: the server refused the last one)
     Connect       A: connected()/transport_failed()   open the
                   connection (implicit TLS per the account)
     StartTls      A: tls_started()/transport_failed()
     Begin         a message starts: message (uid, size)
     Data          data: the next chunk, a view valid until the next feed()
     Discard       drop the message begun (it was cut off)
     StorePending  A: pending_stored()/pending_store_failed()   store
                   pending() (see "Exactly once") before the commit
     Save          A: saved()/save_failed()   deliver the complete
                   message (internal_date, flags); Saves are answered
                   in the order they were asked for
     Commit        A: committed()/commit_failed()   make every save since
                   the last Commit durable (a no-op for final saves)
     StoreLedger   A: ledger_stored()/ledger_store_failed()   store
                   ledger() and clear the pending record, in one write
     Close         the session is over: close the connection
     Finish        the run is over: store report(), status(), the run log
                   log() and, when ledger_dirty(), ledger(), in one write

   After Finish nothing more happens; inputs are ignored.

   Exactly once. A message is recorded in the ledger only after it is
   durable in the mailbox, and deleted on the server (keep = no) only
   after it is recorded. The gap between "durable in the mailbox" and
   "recorded" is closed by a pending record: before a Commit (storage) or
   before each Save (final saves, LMTP) the batch's messages are stored as
   pending, each with its remote id and identity (message_identity() of
   its header); after the commit they move into the ledger and the pending
   record is cleared in the same write (StoreLedger). A crash in between
   leaves the pending record; the next run starts with Reconcile: the
   adapter looks in the mailbox for messages with those identities that
   arrived after the pending record was written, and the ones found are
   recorded as delivered, the others fetched again.

   Failures. A failed save stops the run after the saves before it are
   committed (nothing more is fetched or deleted). A failed commit or
   ledger write ends the run at once: nothing is deleted. A message or
   folder the server refuses is reported and the run goes on. The first
   error (or the first message error, with a count of the others) is the
   run's error; all error text has passed the run's Redactor.

   Nothing throws out of the API (std::bad_alloc aside). */

#include "fetchmail-account.hh"
#include "fetchmail-imap.hh"
#include "fetchmail-ledger.hh"
#include "fetchmail-poll.hh"
#include "fetchmail-pop3.hh"
#include "fetchmail-redact.hh"
#include "fetchmail-runlog.hh"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fetchmail {

enum class RunMode {
	Fetch,
	/* connect, negotiate TLS, log in and count messages; fetch, store
	   and write nothing */
	Test,
	/* record every message on the server as delivered without fetching
	   it (an imported account whose old fetcher left mail on the
	   server); then the ledger is stored and the run ends. A Fetch run
	   treats one listing this way when the ledger holds a pending
	   baseline for it (POP3, or that IMAP folder: see fetchmail-
	   ledger.hh), and takes the flag. */
	Baseline,
	/* the fetch service's cheap poll: log in, take the mailbox's summary
	   (POP3 listing, IMAP EXAMINE of each folder; fetchmail-poll.hh),
	   log out; nothing is fetched and no local state is read or
	   written. The report says whether the summary differs from
	   config.summary (then a full run is needed). */
	Check,
};

/* How the network failed, as the adapter saw it. */
enum class NetError { Resolve, Connect, Timeout, Tls, Closed, Io };

/* How getting an OAuth2 access token failed. */
enum class TokenError {
	Temporary,      /* provider down, 5xx, timeout: back off */
	ConsentNeeded,  /* invalid_grant: the user must consent again */
	Config,         /* the provider is not configured (client id) */
};

struct RetrievalConfig {
	RunMode mode = RunMode::Fetch;
	Protocol protocol = Protocol::Pop3;
	SessionConfig session;          /* tls, user, password */
	bool oauth2 = false;            /* log in with a token (RefreshToken) */
	bool keep = true;
	uint64_t max_size = 0;          /* 0: no limit */
	std::vector<std::string> folders{"INBOX"};   /* IMAP */
	/* Saves are final as soon as saved() (LMTP): the pending record is
	   stored before each Save, the ledger after each batch. */
	bool saves_are_final = false;
	/* commits per fetch: a batch is at least commit_batch_min messages,
	   and at most ceil(new / commits_per_fetch) */
	size_t commit_batch_min = 256;
	size_t commits_per_fetch = 8;
	/* messages listed per folder at most (refused beyond) */
	size_t max_messages = 250000;
	/* the account's status before the run, and the schedule inputs */
	AccountStatus status;
	/* the mailbox as the last complete run left it (Check compares) */
	PollSummary summary;
	uint32_t interval_secs = 300;
	size_t max_log_size = 64 * 1024;
	/* the clock (unix milliseconds) and the random source (a number
	   below limit) */
	std::function<int64_t()> now_ms;
	std::function<uint32_t(uint32_t limit)> random;
};

struct RunReport {
	/* What kind of failure ended the run, for exit codes. */
	enum class Failure {
		None,
		Remote,   /* the remote server, the network, the token
		             provider: worth retrying */
		Local,    /* the local mailbox or store: worth retrying */
		Config,   /* the configuration (a key, a provider) */
		Data,     /* a stored record that cannot be read */
	};
	std::string id;         /* the account (the adapter fills it in) */
	bool ok = false;
	Failure failure = Failure::None;
	uint64_t fetched = 0;   /* saved and recorded */
	uint64_t skipped = 0;   /* left on the server: over max-size */
	uint64_t deleted = 0;   /* deleted on the server */
	uint64_t bytes = 0;     /* message bytes received */
	uint64_t marked = 0;    /* Baseline: recorded without fetching */
	std::string error;      /* redacted, one line */
	bool consent_needed = false;  /* OAuth2: invalid_grant */
	/* the remote mailbox as the run leaves it (known after a successful
	   Fetch, Baseline or Check; after a Fetch what it deleted is taken
	   out), and for Check whether it differs from config.summary */
	PollSummary summary;
	bool changed = true;
	/* the account's status after the run (as status() has it) */
	AccountStatus status;
	/* Test: (step, result) in order: connect, tls, login, messages */
	std::vector<std::pair<std::string, std::string>> steps;
};

struct Action {
	enum class Type {
		Reconcile, RefreshToken, Connect, StartTls, Begin, Data,
		Discard, StorePending, Save, Commit, StoreLedger, Close, Finish,
	};
	Type type = Type::Finish;
	RemoteMessage message;             /* Begin */
	std::string_view data;             /* Data */
	std::string internal_date;         /* Save: IMAP INTERNALDATE or "" */
	std::vector<std::string> flags;    /* Save: IMAP system flags */
	bool force = false;                /* RefreshToken */
};

class Retrieval {
public:
	/* ledger: as stored; pending: the pending record of an earlier run
	   (empty when there is none). */
	Retrieval(RetrievalConfig config, Ledger ledger,
		  std::vector<PendingMessage> pending);
	Retrieval(const Retrieval &) = delete;
	Retrieval &operator=(const Retrieval &) = delete;

	/* Begin: Reconcile, RefreshToken or Connect. */
	void start();

	/* network */
	void connected(std::string_view address);
	/* TLS is up: what the adapter tells about the peer, for the log
	   and Test's "tls" step ("TLSv1.3 ..., CN=..., verified", and
	   ", resumed" after a resumed handshake). */
	void tls_up(std::string_view description);
	void tls_started();
	size_t feed(std::string_view bytes);
	std::string take_output();
	void closed();
	void transport_failed(NetError kind, std::string_view text);

	/* local outcomes */
	void reconciled(const std::vector<PendingMessage> &found);
	void token_ready(std::string_view token, std::string_view mechanism);
	void token_failed(TokenError kind, std::string_view text);
	void pending_stored();
	void saved();
	void save_failed(std::string_view error);
	void committed();
	void commit_failed(std::string_view error);
	void ledger_stored();
	void ledger_store_failed(std::string_view error);
	/* a store step failed in a way that is not about the run itself
	   (pending record): same as ledger_store_failed() */
	void pending_store_failed(std::string_view error);

	/* The adapter could not prepare or carry on the run locally (the
	   destination mailbox, the pending record): end it with this error,
	   deleting nothing. */
	void abort(std::string_view error);
	/* Dovecot is stopping: keep what is committed, drop the message in
	   progress, delete nothing more, finish now. */
	void interrupt();
	/* The run's overall deadline (fetchmail_run_timeout) passed. */
	void deadline();
	/* A note for the run log (the adapter's view: DNS, TLS). */
	void note(std::string_view text);

	bool next_action(Action &action_r);
	bool finished() const { return finished_; }

	/* For the actions that store state. */
	const Ledger &ledger() const { return ledger_; }
	bool ledger_dirty() const { return ledger_dirty_; }
	/* the pending record to store (StorePending) */
	const std::vector<PendingMessage> &pending() const { return pending_; }
	const RunReport &report() const { return report_; }
	const AccountStatus &status() const { return status_; }
	std::string log() const { return log_.str(); }

private:
	struct Saved {
		RemoteMessage message;
		std::string identity;      /* message_identity() */
		std::string fingerprint;   /* IMAP keep: for UIDVALIDITY changes */
		std::string internal_date;
		std::vector<std::string> flags;
	};
	enum class Step { Idle, Reconciling, Token, Connecting, Session,
			  Finished };
	/* an answer the adapter gives before it carries out anything else */
	enum class Await { None, PendingStore, Commit, LedgerStore };
	/* what follows a ledger write */
	enum class Resume { None, Connect, Fetch, Finish };

	/* session */
	void hold_events();
	void new_session();
	void on_event(Event &ev);
	void on_session_error(const Event &ev);
	void on_logged_in();
	void next_folder();
	void on_folder_selected(const Event &ev);
	void on_listing(Event &ev);
	bool filter_pop3(std::vector<RemoteMessage> &listing);
	void filter_imap(std::vector<RemoteMessage> &listing);
	template <typename Known>
	void split_known(std::vector<RemoteMessage> &listing, Known known);
	void start_fetch(std::vector<RemoteMessage> fetch);
	void on_message_begin(const Event &ev);
	void on_message_data(const Event &ev);
	void on_message_end(Event &ev);
	void on_message_failed(const Event &ev);
	void drop_message();
	void message_done();
	void on_removed(const Event &ev);
	void summarize_pop3(const std::vector<RemoteMessage> &listing);
	void finish_summary();
	void quit();

	/* committing and recording */
	void connect();
	PendingMessage pending_entry(const Saved &s) const;
	void flush_batch(Resume after = Resume::None);
	void record(const Saved &s);
	void record_uid(const RemoteMessage &m);
	bool take_baseline();
	void store_ledger(Resume after);
	void try_after_fetch();

	/* ending */
	void close_session();
	void fail(std::string_view error);
	void finish();

	Action &act(Action::Type type);
	void note_line(std::string_view text);
	std::string folder_suffix() const;

	RetrievalConfig config_;
	Ledger ledger_;
	bool ledger_dirty_ = false;
	std::vector<PendingMessage> pending_;
	RunLog log_;
	Redactor redactor_;
	RunReport report_;
	AccountStatus status_;
	std::deque<Action> actions_;
	Step step_ = Step::Idle;
	Await await_ = Await::None;
	Resume resume_ = Resume::None;
	/* a final save was recorded while another local step was awaited:
	   the ledger is written when that is answered */
	bool ledger_store_due_ = false;
	bool finished_ = false;
	bool failing_ = false;
	bool local_ok_ = true;       /* no commit or store has failed */
	int64_t started_ms_ = 0;

	std::unique_ptr<Pop3Session> pop3_;
	std::unique_ptr<ImapSession> imap_;
	SessionBase *session_ = nullptr;
	/* session events not taken yet while an answer is awaited, their
	   data copied (see hold_events()) */
	std::deque<Event> held_events_;
	std::deque<std::string> held_data_;
	bool session_done_ = false;  /* Done or Error seen */
	bool closed_ = false;        /* Close was asked for */
	bool token_retried_ = false;
	bool logged_in_ = false;

	/* IMAP folders */
	size_t folder_idx_ = 0;
	std::string folder_;
	bool fingerprints_ = false;
	/* the folder's UIDVALIDITY is not the stored ledger's (yet) */
	bool uidvalidity_unstored_ = false;
	std::vector<RemoteMessage> fetch_after_store_;

	/* the remote mailbox's summary as this run leaves it */
	PollSummary summary_;
	std::vector<std::string> pop3_listed_; /* keep = no: the listing */
	std::vector<std::string> pop3_removed_;

	/* the fetch in progress */
	std::vector<std::string> known_present_; /* uids known and listed */
	size_t expected_ = 0, completed_ = 0;
	size_t batch_size_ = 1;
	bool fetch_complete_ = false;
	bool in_message_ = false;
	bool stop_saving_ = false;    /* a save failed: no more */
	bool removing_ = false;
	uint64_t removed_unconfirmed_ = 0; /* POP3: DELE done, QUIT not yet */
	RemoteMessage current_;
	std::string header_;
	std::deque<Saved> in_flight_;  /* Save asked for, not answered */
	std::vector<Saved> batch_;     /* saved, not yet committed */
	std::vector<Saved> committing_; /* the batch a Commit is asked for */
	std::vector<std::string> recorded_; /* to delete with keep = no */
	std::vector<std::string> message_errors_;
};

} // namespace fetchmail

#endif
