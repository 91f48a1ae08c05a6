#include "fetchmail-dns.hh"

extern "C" {
#include "dns-lookup.h"
}

#include <list>
#include <map>
#include <memory>

namespace fetchmail {

struct DnsRequest {
	DnsDone done;
	struct timeout *to = nullptr;     /* answers from the cache */
	std::string error;
	std::vector<struct ip_addr> ips;
	struct Lookup *lookup = nullptr;  /* waiting for this lookup */
};

/* One lookup in progress and the requests waiting for it. */
struct Lookup {
	std::string host;
	struct dns_lookup *dns = nullptr;
	std::list<DnsRequest *> waiting;
};

namespace {

struct CacheEntry {
	time_t expires;
	std::vector<struct ip_addr> ips;
};

std::map<std::string, CacheEntry> cache;
std::map<std::string, std::unique_ptr<Lookup>> lookups;

void answer_timeout(DnsRequest *req)
{
	timeout_remove(&req->to);
	std::unique_ptr<DnsRequest> owned(req);
	try {
		owned->done(owned->error, owned->ips);
	} catch (const std::exception &e) {
		i_error("fetchmail dns: internal error: %s", e.what());
	}
}

/* Answer from the ioloop, never from inside dns_resolve(). */
void answer_later(DnsRequest *req, std::string error,
		  std::vector<struct ip_addr> ips)
{
	req->error = std::move(error);
	req->ips = std::move(ips);
	req->to = fetchmail_timeout_add(0, answer_timeout, req);
}

void lookup_done(const struct dns_lookup_result *result, Lookup *lookup)
{
	std::unique_ptr<Lookup> owned = std::move(lookups[lookup->host]);
	lookups.erase(lookup->host);
	std::string error;
	std::vector<struct ip_addr> ips;

	if (result->ret != 0)
		error = "dns_lookup(" + owned->host + ") failed: " +
			(result->error != nullptr ? result->error : "unknown error");
	else if (result->ips_count == 0)
		error = "dns_lookup(" + owned->host + ") failed: no addresses";
	else {
		ips.assign(result->ips, result->ips + result->ips_count);
		cache[owned->host] = CacheEntry{ ioloop_time + DNS_CACHE_SECS, ips };
	}
	for (DnsRequest *req : owned->waiting) {
		req->lookup = nullptr;
		answer_later(req, error, ips);
	}
}

} // namespace

DnsRequest *dns_resolve(const std::string &host, const std::string &socket_path,
			unsigned int timeout_msecs, DnsDone done)
{
	auto req = std::make_unique<DnsRequest>();
	struct ip_addr ip;

	req->done = std::move(done);
	if (net_addr2ip(host.c_str(), &ip) == 0) {
		answer_later(req.get(), "", { ip });
		return req.release();
	}
	auto hit = cache.find(host);
	if (hit != cache.end() && hit->second.expires > ioloop_time) {
		answer_later(req.get(), "", hit->second.ips);
		return req.release();
	}
	auto &lookup = lookups[host];
	if (lookup == nullptr) {
		struct dns_lookup_settings set;
		i_zero(&set);
		set.dns_client_socket_path = socket_path.c_str();
		set.timeout_msecs = timeout_msecs;
		lookup = std::make_unique<Lookup>();
		lookup->host = host;
		Lookup *l = lookup.get();
		l->waiting.push_back(req.get());
		req->lookup = l;
		/* a failure to reach the socket answers at once: lookup_done
		   has then run and freed l */
		struct dns_lookup *dns = nullptr;
		(void)(dns_lookup)(host.c_str(), &set,
				   (dns_lookup_callback_t *)lookup_done, l, &dns);
		auto still = lookups.find(host);
		if (still != lookups.end() && still->second.get() == l)
			l->dns = dns;
		return req.release();
	}
	lookup->waiting.push_back(req.get());
	req->lookup = lookup.get();
	return req.release();
}

void dns_cancel(DnsRequest **request)
{
	DnsRequest *req = *request;

	if (req == nullptr)
		return;
	*request = nullptr;
	if (req->to != nullptr)
		timeout_remove(&req->to);
	if (req->lookup != nullptr) {
		Lookup *l = req->lookup;
		l->waiting.remove(req);
		if (l->waiting.empty()) {
			if (l->dns != nullptr)
				dns_lookup_abort(&l->dns);
			lookups.erase(l->host);
		}
	}
	delete req;
}

void dns_cache_clear()
{
	cache.clear();
}

} // namespace fetchmail
