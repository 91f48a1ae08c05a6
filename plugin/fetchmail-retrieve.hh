#ifndef FETCHMAIL_RETRIEVE_HH
#define FETCHMAIL_RETRIEVE_HH

/* The retrieval driver: one run of one account, inside the ioloop.

   It wires a Transport (bytes on the wire) to a protocol session
   (fetchmail-pop3 / fetchmail-imap: bytes in, commands and events out),
   the ledger (what was delivered already) and a StorageDelivery (the local
   mailbox). The rules it keeps:

   - a message is saved once: it is skipped when the ledger knows it, and
     the ledger records it only after the local transaction committed;
   - nothing is deleted on the server (keep = no) before the save of that
     message is committed; messages the ledger knows that are still on the
     server are deleted too (a crash between commit and delete);
   - a message cut off by a disconnect is never saved (it is received into
     a temporary stream and saved only when complete);
   - IMAP: a changed UIDVALIDITY resets the folder's UIDs; the folder is
     then listed with fingerprints (Message-ID, size, INTERNALDATE) and the
     messages whose fingerprint is known are not fetched again;
   - runs of one account never overlap: a flock() on a per-account lock
     file in the user's index directory, released by the kernel when the
     process dies, so a crash leaves nothing stuck;
   - the run log (credentials redacted) and the status are written at the
     end of the run.

   Test mode connects, negotiates TLS, logs in and counts messages,
   without fetching, storing or writing anything. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-store.hh"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace fetchmail {

enum class RunMode { Fetch, Test };

struct RunReport {
	std::string id;
	bool ok = false;
	uint64_t fetched = 0;   /* saved and committed */
	uint64_t skipped = 0;   /* left on the server: over max-size */
	uint64_t deleted = 0;   /* deleted on the server */
	uint64_t bytes = 0;     /* message bytes received */
	std::string error;
	/* test mode: (step, result) in order: connect, tls, login, messages */
	std::vector<std::pair<std::string, std::string>> steps;
};

class AccountRun;

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
