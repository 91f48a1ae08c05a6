#ifndef FETCHMAIL_LRU_HH
#define FETCHMAIL_LRU_HH

/* A bounded map from string keys to values that also expire: at most
   max_entries values, the least recently used one evicted first, and a
   value is never returned at or after its expiry time. The pure part of the
   transport's TLS session cache (plugin/fetchmail-tls-cache).

   No clock is read here: the caller passes `now` (seconds, any epoch, the
   same as the expiry times). Values may be move-only. A pointer returned by
   get() is valid until the next call that changes the map. max_entries 0
   keeps nothing. */

#include <cstddef>
#include <ctime>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

namespace fetchmail {

template <typename V>
class LruCache {
public:
	explicit LruCache(size_t max_entries) : max_(max_entries) {}
	LruCache(const LruCache &) = delete;
	LruCache &operator=(const LruCache &) = delete;

	/* The value of key, now the most recently used; nullptr when there
	   is none or it has expired at now (it is then dropped). */
	V *get(const std::string &key, time_t now)
	{
		auto it = index_.find(key);
		if (it == index_.end())
			return nullptr;
		if (now >= it->second->expires) {
			entries_.erase(it->second);
			index_.erase(it);
			return nullptr;
		}
		entries_.splice(entries_.begin(), entries_, it->second);
		return &it->second->value;
	}

	/* Sets key's value (replacing an older one), most recently used,
	   until expires. One that has already expired at now is not kept
	   and removes the older value. Evicts the least recently used
	   values beyond max_entries. */
	void put(const std::string &key, V value, time_t expires, time_t now)
	{
		erase(key);
		if (max_ == 0 || now >= expires)
			return;
		entries_.push_front(Entry{ key, std::move(value), expires });
		index_.emplace(key, entries_.begin());
		trim();
	}

	/* Removes key's value; false when there was none. */
	bool erase(const std::string &key)
	{
		auto it = index_.find(key);
		if (it == index_.end())
			return false;
		entries_.erase(it->second);
		index_.erase(it);
		return true;
	}

	void clear()
	{
		index_.clear();
		entries_.clear();
	}

	/* A new bound; evicts down to it at once. */
	void set_max_entries(size_t max_entries)
	{
		max_ = max_entries;
		trim();
	}

	size_t max_entries() const { return max_; }
	/* Values held, expired ones not yet dropped included. */
	size_t size() const { return entries_.size(); }
	/* Values evicted for the bound so far (not expired ones). */
	size_t evictions() const { return evictions_; }

private:
	struct Entry {
		std::string key;
		V value;
		time_t expires;
	};

	void trim()
	{
		while (entries_.size() > max_) {
			index_.erase(entries_.back().key);
			entries_.pop_back();
			evictions_++;
		}
	}

	size_t max_;
	size_t evictions_ = 0;
	std::list<Entry> entries_;   /* most recently used first */
	std::unordered_map<std::string,
			   typename std::list<Entry>::iterator> index_;
};

} // namespace fetchmail

#endif
