#ifndef FETCHMAIL_SCHEDULE_HH
#define FETCHMAIL_SCHEDULE_HH

/* Scheduling decisions, without I/O, in one place: when an account is
   polled next (backoff and jitter), which accounts are due, when a user is
   due, and which users the scheduler starts now. The clock and the random
   source are passed in. */

#include "fetchmail-account.hh"

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace fetchmail {

/* Seconds until the next poll of an account: the interval after a good
   run; after `failures` consecutive failures the interval doubled per
   failure, capped at max(interval, 6 hours), so that a wrong password
   does not hammer the remote server. */
uint64_t next_run_delay(uint64_t interval_secs, uint32_t failures);

/* delay spread by +-5% (random(limit) returns a number below limit), so
   that accounts polled together drift apart over the interval. */
uint64_t jittered(uint64_t delay,
		  const std::function<uint32_t(uint32_t limit)> &random);

/* The status an account has after a run that started at started (unix
   seconds) and ended at now: last-run, last-status, last-error,
   last-fetched, failures, and next-run = now + jittered backoff. A run
   that needs the user's OAuth2 consent is held: not polled again
   (next-run 0) until consent is given. The failure episode for the
   notice to the user (failing-since, notified) follows the run, a run
   that needs consent counting as failed: see notice_after_run() in
   fetchmail-notice.hh. */
AccountStatus status_after_run(const AccountStatus &before, int64_t started,
			       int64_t now, bool ok, const std::string &error,
			       uint64_t fetched, bool consent_needed,
			       uint32_t interval_secs,
			       const std::function<uint32_t(uint32_t)> &random);

/* When an account is due: 0 when it is not polled at all (inactive, or
   held until consent), its next-run, or 1 (due now) when it was never
   scheduled. */
int64_t account_due_time(const Account &account, const AccountStatus &status);
bool account_due(const Account &account, const AccountStatus &status,
		 int64_t now);
} // namespace fetchmail

#endif
