#ifndef FETCHMAIL_SSL_COMPAT_HH
#define FETCHMAIL_SSL_COMPAT_HH

/* The one place that reaches into ssl-iostream's OpenSSL module: every use
   of OpenSSL's SSL and SSL_SESSION is here. */

#include <ctime>
#include <memory>
#include <string>

struct ssl_iostream;

namespace fetchmail {

/* The peer certificate's subject (RFC 2253), also of a certificate that
   failed verification, for `doveadm fetchmail test` and the run log; ""
   when there is none. Dovecot's public API names only verified client
   certificates. On a resumed session it is the certificate of the
   handshake that made the session (kept in the session). */
std::string ssl_compat_peer_subject(struct ssl_iostream *ssl_io);

/* For connections that are mostly silent, such as a push connection in
   IDLE: gives the BIO pair between OpenSSL and ssl-iostream's plain
   streams buffers of bio_size bytes each way instead of OpenSSL's default
   17 kB (34 kB a connection, allocated for its whole life; records
   larger than that pass in pieces), and has OpenSSL free its record
   buffers while nothing is in them (SSL_MODE_RELEASE_BUFFERS). Call it
   right after io_stream_create_ssl_client(), before the handshake. false
   when the pair could not be remade: the connection must not be used. */
bool ssl_compat_low_memory(struct ssl_iostream *ssl_io, size_t bio_size);

/* ---- TLS session resumption (fetchmail-tls-cache.hh) ---- */

/* A TLS session kept for resumption: OpenSSL's SSL_SESSION with a
   reference of its own. Opaque outside fetchmail-ssl-compat.cc. */
struct SslSession;
struct SslSessionFree {
	void operator()(SslSession *session) const;
};
using SslSessionPtr = std::unique_ptr<SslSession, SslSessionFree>;

/* The connection's session, when the server has made it resumable; null
   otherwise. With TLS 1.2 that is right after the handshake; with TLS 1.3
   only after the server's NewSessionTicket has been read, which comes after
   the handshake (with or before the first reply). Later tickets replace
   earlier ones, so this returns the newest. */
SslSessionPtr ssl_compat_get_session(struct ssl_iostream *ssl_io);

/* When session must no longer be offered: its creation time plus its
   timeout (with TLS 1.3 the ticket's lifetime), or the notAfter of the
   peer certificate kept in it, whichever comes first. */
time_t ssl_compat_session_expires(const SslSession &session);

/* Offers session in the coming handshake: after io_stream_create_ssl_client(),
   before the first ssl_iostream_handshake(). false when OpenSSL refuses it
   (the handshake is then a full one). */
bool ssl_compat_offer_session(struct ssl_iostream *ssl_io,
			      const SslSession &session);

/* The completed handshake resumed the offered session: no certificate was
   sent, so ssl-iostream's certificate callback did not run and
   ssl_iostream_check_cert_validity() reports "SSL certificate not
   received". */
bool ssl_compat_session_resumed(struct ssl_iostream *ssl_io);

/* The certificate checks that can be made on a resumed session, from what
   the session kept of the handshake that made it: that handshake's chain
   verification result (X509_V_OK required), the kept peer certificate
   against host (DNS names, then IP addresses, as ssl-iostream matches
   them) and its validity period now. Returns false with the reason in
   error_r (ssl-iostream's wording, ending in " (resumed session)"). That the session was made by a verified handshake for the same
   host and settings is for the caller to know (fetchmail-tls-cache). */
bool ssl_compat_check_resumed(struct ssl_iostream *ssl_io, const char *host,
			      std::string &error_r);

} // namespace fetchmail

#endif
