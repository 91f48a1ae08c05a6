#include "fetchmail-schedule.hh"

#include <algorithm>

namespace fetchmail {

std::vector<std::string>
schedule_pick(const std::vector<std::pair<std::string, int64_t>> &registry,
	      int64_t now, const ScheduleState &state, size_t slots)
{
	std::vector<std::pair<int64_t, std::string>> due;
	std::vector<std::string> picked;

	for (const auto &[user, when] : registry) {
		if (when <= 0 || when > now || state.running.count(user) > 0)
			continue;
		auto held = state.not_before.find(user);
		if (held != state.not_before.end() && held->second > now)
			continue;
		due.emplace_back(when, user);
	}
	std::sort(due.begin(), due.end());
	for (const auto &[when, user] : due) {
		if (picked.size() >= slots)
			break;
		picked.push_back(user);
	}
	return picked;
}

unsigned int schedule_tick_secs(unsigned int interval_secs)
{
	return std::clamp(interval_secs / 10, 1u, 10u);
}

} // namespace fetchmail
