#ifndef FETCHMAIL_TLS_CACHE_HH
#define FETCHMAIL_TLS_CACHE_HH

/* The TLS sessions the transport may resume, shared by every connection of
   the process (fetchmail-transport), so that many accounts on the same
   provider pay for one full handshake (certificate chain and key exchange
   with signature) and resume after it.

   A session is kept under a key of everything that must be the same for it
   to be offered again (tls_session_key()): the host name as the account
   gives it, the port, whether the certificate is verified, and a digest of
   the TLS client settings (CA file, directory and inline CAs, client
   certificate, protocol and cipher settings). A session made without
   verification, or for another name, port or CA, is never offered.

   Bounded: at most TLS_SESSION_CACHE_MAX keys, the least recently used
   dropped first; a session is dropped when it expires (its timeout or
   ticket lifetime), when the peer certificate kept in it expires, and
   TLS_SESSION_MAX_AGE_SECS after the full handshake that verified the
   chain behind it: resumed connections receive new tickets, but these
   inherit the time of that handshake, so the chain is verified again at
   least that often.

   In memory only, never written anywhere. Nothing here blocks. Call
   tls_session_cache_clear() before Dovecot's SSL module is unloaded (the
   mail plugin's deinit, a tool's end): the sessions are OpenSSL objects. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-ssl-compat.hh"

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>

namespace fetchmail {

constexpr size_t TLS_SESSION_CACHE_MAX = 1000;
constexpr unsigned int TLS_SESSION_MAX_AGE_SECS = 3600;

/* A kept session and the outcome of the checks when it was made. */
struct TlsCachedSession {
	SslSessionPtr session;
	bool verified = false;      /* chain and host name were good */
	std::string verify_error;   /* why not, when not verified */
	time_t authenticated = 0;   /* the full handshake behind it */
};

/* The key for a connection to host:port (host as given, not resolved or
   case-folded) with these TLS client settings and verify on or off. */
std::string tls_session_key(const std::string &host, uint16_t port,
			    bool verify,
			    const struct ssl_iostream_settings &ssl_set);

/* The session kept for key, now the most recently used; nullptr when there
   is none or it has expired. Valid until the cache is next changed: copy
   what is needed. */
const TlsCachedSession *tls_session_lookup(const std::string &key);
/* Keeps entry (its session not null) for key, replacing an older one. */
void tls_session_store(const std::string &key, TlsCachedSession entry);
/* Drops key's session (a failed handshake or check). */
void tls_session_forget(const std::string &key);

/* Drops every session. */
void tls_session_cache_clear();
/* Sessions kept now (expired ones not yet dropped included). */
size_t tls_session_cache_size();
/* Other bounds than the defaults above (tests, the benchmark); 0 entries
   turns resumption off. Shrinking drops sessions at once. */
void tls_session_cache_set_limits(size_t max_entries,
				  unsigned int max_age_secs);

} // namespace fetchmail

#endif
