#include "fetchmail-push.hh"

#include <algorithm>

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

bool PushFolder::selected(uint32_t uidvalidity, uint32_t uidnext,
			  uint32_t exists, uint32_t recent)
{
	bool news = false;

	if (known_) {
		if (uidvalidity != uidvalidity_)
			news = true;
		else if (uidnext != 0 && uidnext_ != 0)
			news = uidnext > uidnext_;
		else
			news = exists > exists_;
	}
	known_ = true;
	uidvalidity_ = uidvalidity;
	uidnext_ = uidnext;
	exists_ = exists;
	recent_ = recent;
	return news;
}

bool PushFolder::changed(uint32_t exists, uint32_t recent)
{
	bool news = exists > exists_ || recent > recent_;

	/* each new message takes the next UID (at least) */
	if (exists > exists_ && uidnext_ != 0)
		uidnext_ += std::min(exists - exists_, UINT32_MAX - uidnext_);
	exists_ = exists;
	recent_ = recent;
	return news;
}

} // namespace fetchmail
