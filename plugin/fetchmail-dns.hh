#ifndef FETCHMAIL_DNS_HH
#define FETCHMAIL_DNS_HH

/* Host name lookups for the transport, without blocking the ioloop.

   An IP literal needs no lookup. A name is looked up through Dovecot's
   dns-client service (dns_lookup(): the dns-client socket in base_dir;
   the lookup itself runs in a dns-client process), and the answer is
   kept for DNS_CACHE_SECS in a cache shared by every connection of the
   process, so that many accounts on the same provider cost one lookup.
   Lookups of a name that is being looked up wait for that one. */

#include "fetchmail-dovecot.hh"

#include <functional>
#include <string>
#include <vector>

namespace fetchmail {

/* How long an answer is used again (dns-client tells no TTL). */
constexpr unsigned int DNS_CACHE_SECS = 60;

/* error is empty on success, and then ips is not empty. Called from the
   ioloop, never from inside dns_resolve(). */
using DnsDone = std::function<void(const std::string &error,
				   const std::vector<struct ip_addr> &ips)>;

struct DnsRequest;

/* Look host up through the socket (base_dir/dns-client), timing out after
   timeout_msecs. Returns a handle for dns_cancel(). */
DnsRequest *dns_resolve(const std::string &host, const std::string &socket_path,
			unsigned int timeout_msecs, DnsDone done);
/* Forget a request: its callback is not called. */
void dns_cancel(DnsRequest **request);
/* Drop every cached answer (tests, a configuration reload). */
void dns_cache_clear();

} // namespace fetchmail

#endif
