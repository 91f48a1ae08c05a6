#ifndef FETCHMAIL_SCHEDULE_HH
#define FETCHMAIL_SCHEDULE_HH

/* The scheduler's decisions, without I/O: which users to start now.

   The registry gives (user, due) pairs; users whose due time has come are
   started, earliest first, at most `slots` at a time, never a user that is
   already running or that is held back (after a failed start). */

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace fetchmail {

struct ScheduleState {
	std::set<std::string> running;
	/* user -> unix seconds before which it is not started again */
	std::map<std::string, int64_t> not_before;
};

std::vector<std::string>
schedule_pick(const std::vector<std::pair<std::string, int64_t>> &registry,
	      int64_t now, const ScheduleState &state, size_t slots);

/* The scheduler's tick: a tenth of the interval, from 1 to 10 seconds. */
unsigned int schedule_tick_secs(unsigned int interval_secs);

} // namespace fetchmail

#endif
