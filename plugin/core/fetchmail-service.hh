#ifndef FETCHMAIL_SERVICE_HH
#define FETCHMAIL_SERVICE_HH

/* The fetch service's decisions, without I/O (see docs/design.md, "The
   fetch service"): which accounts it knows, what to start when, how many
   at a time, fetch-on-look, push connections, and the snapshot it keeps
   on disk.

   The service (doveadm/doveadm-fetchmail-service.cc) never opens a user's
   storage. What it knows of an account comes from a worker process that
   runs as the user's uid and read the account from the user's attributes
   (set_user(): the worker's word, never a client's). It keeps per account
   the record (no plaintext secret), its status and the summary of the
   remote mailbox the last complete run left (fetchmail-poll.hh), and hands
   tasks to workers:

     Check  a cheap poll without the user's storage (RunMode::Check); the
            worker goes on with a full run itself when the summary changed
     Run    a full run (ledger, delivery, status)

   An account gets a Check when its summary is known, it logs in with a
   password (OAuth2 tokens live in the user's storage) and its last run
   was good (a change of status is stored, which needs the storage
   anyway); otherwise a Run.

   Concurrency: at most max_parallel tasks at once. A task that has been
   busy for longer than slow_after stops counting against that limit (it
   still ends by fetchmail_run_timeout), so that stuck remote servers
   never starve the other accounts. One task per account at a time.

   Fetch-on-look: look(user) makes the user's accounts due now when their
   last poll is older than look_age, at most once per look_interval per
   user (a client that reconnects every second does not hammer the remote
   servers).

   Push: push_wanted() names the push accounts (IMAP, push = yes) that
   should hold an IDLE connection, at most max_push of them (in a stable
   order: the earliest added users' accounts first); the others are
   polled. An account whose server offers no IDLE is polled and asked
   again after no_idle_retry. Pushed accounts are polled too, at the
   interval, as a safety net.

   Nothing throws out of the API (std::bad_alloc aside). */

#include "fetchmail-account.hh"
#include "fetchmail-poll.hh"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

struct ServiceLimits {
	uint32_t interval_secs = 300;
	uint32_t max_parallel = 16;
	uint32_t max_push = 100;
	uint32_t slow_after_secs = 60;
	uint32_t look_age_secs = 60;
	uint32_t look_interval_secs = 60;
	uint32_t no_idle_retry_secs = 24 * 60 * 60;
	/* fetchmail_notify_after: held accounts run once when their failure
	   notice is due (fetchmail-notice.hh) */
	uint32_t notify_after_secs = 24 * 60 * 60;
};

/* One account as a worker read it. */
struct ServiceAccount {
	Account account;          /* no plaintext password */
	std::string secret;       /* the stored password blob (encrypted) */
	AccountStatus status;
	PollSummary summary;
};

struct ServiceTask {
	enum class Kind { Check, Run };
	Kind kind = Kind::Run;
	std::string user;
	std::string id;
};

/* The messages between the service and its workers, one JSON object per
   line, both ways (see docs/design.md, "The fetch service"):

   service -> worker   {"do":"load","user":U}
                       {"do":"task","kind":"check"|"run","user":U,"id":I,
                        "account":{...}}
                       {"do":"task","kind":"check","user":U,"id":I,"rev":R}
                       {"do":"push","user":U,"id":I,"account":{...}}
                       {"do":"unpush","user":U,"id":I}
                       {"do":"stop"}
   worker -> service   {"ev":"loaded","user":U,"uid":N,"gid":G,
                        "accounts":[{...}]}
                       {"ev":"loaded","user":U,"error":E[,"nouser":true]}
                       {"ev":"done","user":U,"id":I,"ok":B,"fetched":N,
                        "error":E,"status":{...}[,"summary":{...}]}
                       {"ev":"push","user":U,"id":I,"state":S}

   An account is {"account":<record>,"status":<status record>,
   "summary":<summary>} with the stored forms as strings. A check names
   the account only by its revision ("rev") when the worker has it
   already: each worker keeps the accounts it was sent with a check, their
   status and summary as its own done events left them (the service sends
   the whole account again when it changed, or the worker is new). A done
   event without "summary" leaves the summary as it was (a check that
   found nothing new). Push states:
   idling, unsupported (the server has no IDLE), lost (the connection
   ended; the worker reconnects by itself while the push is wanted). */
struct WorkerMessage {
	std::string verb;        /* "do" or "ev" value */
	std::string user, id;
	std::string kind;        /* task: check, run */
	std::string state;       /* push */
	std::string error;
	bool ok = false;
	bool nouser = false;
	uint32_t uid = 0, gid = 0;
	uint64_t fetched = 0;
	uint64_t revision = 0;   /* check without its account */
	std::vector<ServiceAccount> accounts;  /* loaded; task: one */
	AccountStatus status;    /* done */
	PollSummary summary;     /* done */
	bool has_status = false;
	bool has_summary = false;
};

/* One line (without the newline). */
std::string worker_message_encode(bool request, const WorkerMessage &msg);
/* -1 with error_r for anything malformed (nothing from the other side is
   trusted more than it must be: unknown verbs are the caller's to refuse,
   fields are typed and bounded by the JSON reader). */
int worker_message_decode(std::string_view line, WorkerMessage &msg_r,
			  std::string &error_r);

/* What the service tells a client of an account (STATUS, see
   fetchmail-notify.hh): the status as the service knows it, whether a
   task runs now, and the push state ("" for accounts without push). */
struct ServiceLiveStatus {
	AccountStatus status;
	bool running = false;
	std::string push;
};

/* The STATUS reply's JSON: {"<id>":{"status":"<status record>",
   "running":bool,"push":"<state>"},...}. decode: -1 with error_r on
   anything malformed. */
std::string service_status_encode(
	const std::map<std::string, ServiceLiveStatus> &statuses);
int service_status_decode(std::string_view json,
			  std::map<std::string, ServiceLiveStatus> &statuses_r,
			  std::string &error_r);

class ServicePlan {
public:
	explicit ServicePlan(ServiceLimits limits) : limits_(limits) {}

	/* The user's accounts as a worker read them (uid: the uid the user's
	   mail is written with). Accounts that are gone are dropped; the
	   summary of an account whose record did not change (same revision)
	   is kept, and an account whose record changed is due at once. A
	   task in flight is the plan's until it ends
	   (task_done(), task_lost(), task_unstarted()), whatever happens to
	   its account meanwhile: it stays busy and counts against
	   max_parallel, and an account that comes back (set_user() without
	   it and with it again, or remove_user() and set_user(), as after a
	   failed lookup) gets no second task while the first runs. */
	void set_user(const std::string &user, uint32_t uid, uint32_t gid,
		      std::vector<ServiceAccount> accounts);
	/* The user and their accounts are forgotten; their tasks in flight
	   stay busy until they end (see set_user()). */
	void remove_user(const std::string &user);
	bool has_user(const std::string &user) const;
	/* The uid and gid a user's mail is written with (the worker that
	   serves it): false when no worker has read the user yet. */
	bool user_ids(const std::string &user, uint32_t &uid_r,
		      uint32_t &gid_r) const;
	std::vector<std::string> users() const;

	/* Tasks to start now, earliest due first, within the limits; each is
	   marked busy until task_done(). */
	std::vector<ServiceTask> next_tasks(int64_t now);
	/* A task ended with the account's new status and summary (from the
	   worker). For a task whose account is gone only its end counts. */
	void task_done(const ServiceTask &task, const AccountStatus &status,
		       const PollSummary &summary, int64_t now);
	/* A task the caller could not start after all (no worker for it
	   now): it is due as before, and picked again by next_tasks(). */
	void task_unstarted(const ServiceTask &task);
	/* A task could not be carried out (its worker died): the account is
	   tried again after a while and its summary forgotten. */
	void task_lost(const ServiceTask &task, int64_t now);
	/* The earliest time something is due (0: nothing scheduled). */
	int64_t next_due() const;

	/* Fetch-on-look; true when it made accounts due. */
	bool look(const std::string &user, int64_t now);
	/* New mail in a pushed account: due now, or right after the task
	   that runs now (mail that came during a run is fetched too). */
	void wake(const std::string &user, const std::string &id, int64_t now);

	/* Push accounts that should hold an IDLE connection now. */
	std::vector<std::pair<std::string, std::string>> push_wanted(
		int64_t now) const;
	/* The server has no IDLE: poll the account, ask again later. */
	void push_unsupported(const std::string &user, const std::string &id,
			      int64_t now);

	/* What the service shows for an account (live status), or nullptr. */
	const ServiceAccount *find(const std::string &user,
				   const std::string &id) const;
	std::vector<const ServiceAccount *> accounts_of(
		const std::string &user) const;
	bool busy(const std::string &user, const std::string &id) const;
	size_t busy_count() const;

	/* The snapshot of a user as the service keeps it on disk (JSON, with
	   the encrypted secrets as stored: the file is root's only), and its
	   inverse (-1 with error_r on malformed input, nothing changed). */
	std::string encode_user(const std::string &user) const;
	int decode_user(const std::string &user, std::string_view json,
			std::string &error_r);

private:
	struct Entry {
		ServiceAccount a;
		bool again = false;            /* woken while busy */
		int64_t no_idle_until = 0;
		int64_t queued = 0;            /* its time in due_, or 0 */
		bool push = false;             /* in pushes_ */
	};
	/* (user, account id) */
	using Key = std::pair<std::string, std::string>;
	struct User {
		uint32_t uid = 0, gid = 0;
		uint64_t order = 0;            /* when the service learnt it */
		int64_t last_look = 0;
		std::map<std::string, Entry> accounts;
	};

	Entry *entry(const std::string &user, const std::string &id);
	const Entry *entry(const std::string &user, const std::string &id) const;
	size_t free_slots(int64_t now) const;
	/* an account changed (its status, record or task): due_ and
	   pushes_ follow */
	void requeue(const std::string &user, const std::string &id);
	/* the user's accounts leave due_ and pushes_ (before they go) */
	void unqueue(const std::string &user, User &u);
	/* a task ended: not busy any more; its entry (the caller requeues
	   it after its changes), or nullptr when the account is gone */
	Entry *task_ended(const ServiceTask &task);
	int64_t due_time(const ServiceAccount &a) const;
	static ServiceTask::Kind task_kind(const ServiceAccount &a);

	ServiceLimits limits_;
	std::map<std::string, User> users_;
	/* the tasks in flight (when each started), kept apart from the
	   accounts so that none is forgotten while it runs */
	std::map<Key, int64_t> running_;
	/* the accounts that are due some time and not busy, earliest first
	   (then the users the service learnt first): a round costs
	   O(log n) per task, not a walk over every account */
	using Due = std::tuple<int64_t, uint64_t, std::string, std::string>;
	std::set<Due> due_;
	/* the push accounts that may hold a connection (IMAP, push, active,
	   not held), in push_wanted()'s order */
	using PushKey = std::tuple<uint64_t, std::string, std::string>;
	std::set<PushKey> pushes_;
	uint64_t next_order_ = 1;
};

} // namespace fetchmail

#endif
