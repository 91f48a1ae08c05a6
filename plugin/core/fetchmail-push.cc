#include "fetchmail-push.hh"

#include <algorithm>
#include <utility>

namespace fetchmail {

int64_t idle_renew_at(int64_t idle_ms, const PushConfig &config)
{
	return idle_ms + config.idle_renew_ms;
}

PushBackoff::PushBackoff(const PushConfig &config)
	: config_(config)
{
}

void PushBackoff::up(int64_t now_ms)
{
	up_ = true;
	up_since_ = now_ms;
}

int64_t PushBackoff::failed(int64_t now_ms,
			    const std::function<uint32_t(uint32_t limit)> &random)
{
	if (up_ && now_ms - up_since_ >= config_.stable_ms)
		failures_ = 0;
	up_ = false;
	if (failures_ < UINT32_MAX)
		failures_++;

	int64_t cap = std::max<int64_t>(config_.backoff_max_ms, 1);
	int64_t delay = std::clamp<int64_t>(config_.backoff_first_ms, 1, cap);
	for (uint32_t i = 1; i < failures_ && delay < cap; i++)
		delay = delay > cap / 2 ? cap : delay * 2;
	/* between half (rounded up) and all of it */
	uint32_t limit = static_cast<uint32_t>(
		std::min<int64_t>(delay / 2 + 1, UINT32_MAX));
	return delay - delay / 2 + std::min(random(limit), limit - 1);
}

PushSlots::PushSlots(const PushConfig &config)
	: config_(config)
{
}

std::vector<std::string>
PushSlots::pick(const std::vector<std::string> &candidates, size_t max_push,
		int64_t now_ms)
{
	std::erase_if(no_idle_until_, [now_ms](const auto &entry) {
		return entry.second <= now_ms;
	});
	/* the eligible candidates, each once, in order */
	std::vector<std::string> eligible;
	std::set<std::string> seen;
	for (const std::string &account : candidates) {
		if (no_idle_until_.count(account) == 0 &&
		    seen.insert(account).second)
			eligible.push_back(account);
	}
	/* the holders keep theirs, then the others fill the rest */
	std::set<std::string> picked;
	for (bool holders : { true, false }) {
		for (const std::string &account : eligible) {
			if (picked.size() < max_push &&
			    (holders_.count(account) > 0) == holders)
				picked.insert(account);
		}
	}
	std::vector<std::string> out;
	for (const std::string &account : eligible) {
		if (picked.count(account) > 0)
			out.push_back(account);
	}
	holders_ = std::move(picked);
	return out;
}

void PushSlots::no_idle(const std::string &account, int64_t now_ms)
{
	no_idle_until_[account] = now_ms + config_.no_idle_retry_ms;
}

bool PushSlots::lacks_idle(const std::string &account, int64_t now_ms) const
{
	auto it = no_idle_until_.find(account);
	return it != no_idle_until_.end() && it->second > now_ms;
}

} // namespace fetchmail
