#include "fetchmail-schedule.hh"

#include "fetchmail-notice.hh"

#include <algorithm>

namespace fetchmail {

static const uint64_t BACKOFF_CAP_SECS = 6 * 60 * 60;

uint64_t next_run_delay(uint64_t interval_secs, uint32_t failures)
{
	uint64_t cap = std::max(interval_secs, BACKOFF_CAP_SECS);
	uint64_t delay = interval_secs;

	for (uint32_t i = 0; i < failures && delay < cap; i++)
		delay *= 2;
	return std::min(delay, cap);
}

uint64_t jittered(uint64_t delay,
		  const std::function<uint32_t(uint32_t limit)> &random)
{
	uint64_t spread = delay / 10 + 1;
	uint32_t r = spread > UINT32_MAX ? random(UINT32_MAX) :
		random(static_cast<uint32_t>(spread));
	return delay - delay / 20 + r;
}

AccountStatus status_after_run(const AccountStatus &before, int64_t started,
			       int64_t now, bool ok, const std::string &error,
			       uint64_t fetched, bool consent_needed,
			       uint32_t interval_secs,
			       const std::function<uint32_t(uint32_t)> &random)
{
	AccountStatus st = before;

	notice_after_run(st, started, ok && !consent_needed);
	st.last_run = started;
	st.last_status = ok ? RunStatus::Ok : RunStatus::Error;
	st.last_error = ok ? "" : error;
	st.last_fetched = fetched;
	st.failures = ok ? 0 : before.failures + 1;
	st.held = consent_needed;
	st.next_run = consent_needed ? 0 : now +
		static_cast<int64_t>(jittered(next_run_delay(interval_secs,
							      st.failures),
					      random));
	return st;
}

int64_t account_due_time(const Account &account, const AccountStatus &status)
{
	if (!account.active || status.held)
		return 0;
	return status.next_run > 0 ? status.next_run : 1;
}

bool account_due(const Account &account, const AccountStatus &status,
		 int64_t now)
{
	int64_t due = account_due_time(account, status);
	return due > 0 && due <= now;
}

} // namespace fetchmail
