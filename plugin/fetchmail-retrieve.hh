#ifndef FETCHMAIL_RETRIEVE_HH
#define FETCHMAIL_RETRIEVE_HH

/* The Dovecot side of a run: carries out what the retrieval core
   (core/fetchmail-retrieval.hh, where every rule lives) asks for.

   One AccountRun per account: it takes the account's lock, loads its
   ledger and pending record, opens the delivery, and then moves bytes
   between a Transport and the core and carries out the core's actions:
   deliveries (fetchmail-deliver), commits, ledger and pending writes
   (fetchmail-store), the OAuth2 token, and at the end the status, run log
   and ledger in one write, the fetchmail_run_finished event and the log
   line "fetchmail(<user>/<id>): run finished ...".

   Runs of one account never overlap: a flock() on a per-account lock file
   in the user's index directory, released by the kernel when the process
   dies, so a crash leaves nothing stuck. A run that takes longer than
   fetchmail_run_timeout is ended (the core keeps what is committed).

   Test mode connects, negotiates TLS, logs in and counts messages,
   without fetching, storing or writing anything. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-retrieval.hh"
#include "fetchmail-store.hh"

#include <functional>
#include <memory>
#include <vector>

namespace fetchmail {

class HttpClient;

/* One run of one account in the current ioloop, for a process that keeps
   its ioloop running (the fetch service's worker). done is called once,
   from the ioloop, with the report (report.status is the account's status
   after the run); the task may be destroyed from inside done or later, not
   before (interrupt() it first). */
class AccountTask {
public:
	virtual ~AccountTask() = default;
	/* End it safely now: keep what is committed, delete nothing more. */
	virtual void interrupt() = 0;
};

std::unique_ptr<AccountTask>
account_task_start(Store &store, const Settings &set, HttpClient &http,
		   StoredAccount stored, RunMode mode,
		   std::function<void(const RunReport &)> done);

/* What a Check (RunMode::Check: log in, summarize the remote mailbox, log
   out) needs when it runs without the user's storage, as the fetch
   service's cheap polls do: no lock, ledger, delivery or status write. */
struct CheckEnv {
	struct event *event_parent = nullptr;
	std::string username;      /* the log prefix; the password's binding */
	/* the ssl_client_* settings (CAs) */
	const struct master_service_ssl_settings *ssl = nullptr;
	std::string dns_client_socket;   /* base_dir/dns-client */
};

/* A Check of a password account (stored.password_blob is decrypted with
   set.keys for env.username); done as for account_task_start(), with
   report.summary the remote mailbox now. */
std::unique_ptr<AccountTask>
account_check_start(const CheckEnv &env, const Settings &set,
		    StoredAccount stored,
		    std::function<void(const RunReport &)> done);

/* Run the given accounts of one user concurrently (at most
   set.max_parallel at a time) in a private ioloop, and return a report per
   account, in the order given. interrupted, when given, is asked a few
   times a second; once it returns true every run is ended safely (saved
   messages kept, the one in progress dropped, nothing more deleted). */
std::vector<RunReport> run_accounts(Store &store, const Settings &set,
				    std::vector<StoredAccount> accounts,
				    RunMode mode,
				    const std::function<bool()> &interrupted = {});

} // namespace fetchmail

#endif
