#ifndef FETCHMAIL_TRANSPORT_HH
#define FETCHMAIL_TRANSPORT_HH

/* The connection to one remote POP3/IMAP server, inside the current
   Dovecot ioloop.

   Asynchronous name lookup (fetchmail-dns), non-blocking connect with a
   timeout, implicit TLS or a later STARTTLS
   upgrade through Dovecot's ssl-iostream (CAs from ssl_client_ca_file /
   ssl_client_ca_dir, certificate chain and host name verified unless
   verify is off), and an inactivity timeout that is re-armed by every byte
   received. No protocol knowledge: the driver feeds what arrives into a
   protocol session and sends what the session produces.

   TLS sessions are resumed across connections of the process
   (fetchmail-tls-cache.hh): a handshake offers the session kept for the
   same host name, port, verify setting and TLS client settings, and once
   the server has made the new connection's session resumable (TLS 1.3:
   its ticket arrived, with or before the first reply) that one is kept.
   A resumed handshake sends no certificate; it is accepted as verified
   only if the session was kept from a verified connection under the same
   key, its stored chain verification result is good, and its kept
   certificate matches the host name and is still valid. With verify on,
   anything else fails the handshake, as a bad certificate does.

   Input is read and handed over as it comes, at most 64 KiB per ioloop
   pass (the rest in the next pass, after the process's other events and
   timeouts).

   All notifications go to a TransportHandler, from ioloop callbacks. The
   handler may destroy the Transport only outside those callbacks or at
   their very end (after it returns nothing else touches it). */

#include "fetchmail-dovecot.hh"
#include "fetchmail-account.hh"
#include "fetchmail-proto.hh"

#include <cstdint>
#include <string>
#include <string_view>

namespace fetchmail {

struct TransportSettings {
	std::string host;
	uint16_t port = 0;
	bool implicit_tls = true;
	bool verify = true;              /* chain and host name */
	unsigned int timeout_msecs = 60 * 1000;
	struct mail_user *user = nullptr; /* for ssl_client_ca_* settings */
	/* without a user: the ssl_client_* settings themselves (the fetch
	   service's polls, which have no mail user) */
	const struct master_service_ssl_settings *ssl = nullptr;
	/* Dovecot's dns-client socket (base_dir/dns-client), for host names
	   (fetchmail-dns.hh); IP literals need none. */
	std::string dns_client_socket;
	/* A CA file (PEM) to trust instead of ssl_client_ca_file; the
	   system's CAs when empty and there is no user (tools, tests). */
	std::string ca_file;
	/* A connection that is mostly silent (push, IDLE) and whose handler
	   consumes whatever it is offered: input is read in pieces of at
	   most 2 kB (a full buffer pauses reading until resume()); with TLS
	   OpenSSL's BIO pair holds 4 kB each way instead of 17 kB and its
	   record buffers are freed while idle (ssl_compat_low_memory()),
	   and the socket's output buffer, which the handshake allocates, is
	   2 kB instead of 8. */
	bool low_memory = false;
};

enum class TransportError {
	Resolve,     /* host name did not resolve */
	Connect,     /* refused, unreachable */
	Timeout,     /* connect or inactivity timeout */
	Tls,         /* handshake or verification failed */
	Closed,      /* the peer closed the connection */
	Io,          /* read/write error */
};

class TransportHandler {
public:
	virtual ~TransportHandler() = default;
	/* TCP is up (and, with implicit TLS, the handshake verified). */
	virtual void transport_connected() = 0;
	/* Bytes arrived. Return how many were consumed; the rest stays
	   buffered and is offered again with the next arrival (or by
	   Transport::resume()). */
	virtual size_t transport_input(std::string_view data) = 0;
	/* A start_tls() handshake completed and verified. */
	virtual void transport_tls_started() = 0;
	/* The connection failed or the peer closed it. No more callbacks
	   follow. */
	virtual void transport_failed(TransportError kind,
				      const std::string &error) = 0;
};

/* What `doveadm fetchmail test` reports about the connection. */
struct TransportInfo {
	std::string address;       /* "192.0.2.1:993" */
	bool tls = false;
	std::string tls_subject;   /* peer certificate subject */
	std::string tls_cipher;    /* e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384" */
	bool tls_verified = false; /* chain and host name checked and good */
	std::string tls_verify_error; /* why not, when not verified */
	/* The handshake resumed a session kept from an earlier connection
	   with the same host, port, verify setting and CAs
	   (fetchmail-tls-cache.hh); tls_verified then tells what the checks
	   of a resumed session found (see Transport). */
	bool tls_resumed = false;
};

/* What an account asks of the transport: host, port, implicit TLS or not,
   verification; the caller adds its environment (CAs, dns-client,
   timeouts). */
TransportSettings transport_settings_of(const Account &account);
/* The session's side of the account's TLS mode. */
SessionConfig::Tls session_tls_of(TlsMode mode);

class Transport {
public:
	Transport(TransportHandler &handler, const TransportSettings &set);
	~Transport();               /* closes the connection */
	Transport(const Transport &) = delete;
	Transport &operator=(const Transport &) = delete;

	/* Resolve, connect, and with implicit TLS shake hands. Failure is
	   reported through transport_failed(), also when immediate. */
	void connect();
	/* Queue bytes for sending (buffered, flushed from the ioloop). */
	void send(std::string_view data);
	/* Upgrade to TLS now (after the server accepted STLS/STARTTLS).
	   Fails with TransportError::Tls if unconsumed plaintext is still
	   buffered (a STARTTLS injection). */
	void start_tls();
	/* Offer buffered input to the handler again (after it stopped
	   consuming, e.g. while it waited for a synchronous save). */
	void resume();
	/* Change the connect, handshake and inactivity timeout from now on
	   (0: none) and re-arm it, e.g. a long one while a push connection
	   idles and the server may rightly say nothing for minutes. */
	void set_timeout(unsigned int msecs);
	/* Close now; no more callbacks. */
	void close();

	const TransportInfo &info() const { return info_; }
	/* Bytes received so far (for events and the benchmark). */
	uint64_t bytes_in() const { return bytes_in_; }

private:
	struct Impl;
	Impl *impl_;
	TransportInfo info_;
	uint64_t bytes_in_ = 0;
	friend struct Impl;
};

} // namespace fetchmail

#endif
