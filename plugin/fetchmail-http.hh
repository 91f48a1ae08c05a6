#ifndef FETCHMAIL_HTTP_HH
#define FETCHMAIL_HTTP_HH

/* An HTTPS client for OAuth2 token endpoints, inside the current Dovecot
   ioloop, on libcurl's multi socket interface.

   libcurl does no waiting of its own: it tells which sockets it wants to
   read or write (each becomes a Dovecot io, one for reading and one for
   writing) and when it wants to be called without socket activity (a
   Dovecot timeout), and it is driven with curl_multi_socket_action() from
   those ioloop callbacks. DNS goes through libcurl's threaded resolver.
   Nothing blocks, and any number of requests run at the same time (to one
   host they share connections).

   Every request:
   - is HTTPS only (CURLOPT_PROTOCOLS_STR "https"), redirects are not
     followed (a POST with secrets goes nowhere else);
   - verifies the certificate chain and the host name against the mail
     user's ssl_client_ca_file / ssl_client_ca_dir (the CAs the mail
     transport uses), or the system's CAs when neither is set;
   - has a timeout for the whole exchange (fetchmail_timeout);
   - reads at most max_response bytes of body; a longer one is an error
     (HttpError::TooLarge), so a hostile endpoint cannot fill memory.

   Nothing is logged here, and curl's verbose output is never turned on:
   request bodies carry secrets. Error texts name the endpoint's host and
   what failed, never a body.

   Callbacks are made exactly once per request, from ioloop callbacks,
   never from inside libcurl and never from inside post_form() (a request
   that cannot even start fails from a zero timeout). A callback may post
   new requests, cancel others or destroy the client; after destroy (or
   cancel) no callback comes. Nothing throws into Dovecot: an exception
   from a callback is logged and swallowed. */

#include "fetchmail-dovecot.hh"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace fetchmail {

struct HttpSettings {
	unsigned int timeout_msecs = 60 * 1000;  /* per request, in total */
	size_t max_response = 64 * 1024;
	/* the mail user whose ssl_client_ca_file / ssl_client_ca_dir are
	   trusted; without one (tools, tests): ca_file / ca_dir, or the
	   system's CAs */
	struct mail_user *user = nullptr;
	std::string ca_file;
	std::string ca_dir;
};

enum class HttpError {
	None,       /* a complete response: see status */
	Connect,    /* resolving or connecting failed */
	Timeout,    /* the request took longer than timeout_msecs */
	Tls,        /* handshake or certificate verification failed */
	TooLarge,   /* the body is longer than max_response */
	Protocol,   /* not an https URL, or a broken HTTP exchange */
	Internal,   /* libcurl could not set the request up */
};

struct HttpResponse {
	HttpError error = HttpError::None;
	long status = 0;           /* with HttpError::None */
	std::string body;          /* with HttpError::None */
	std::string error_text;    /* otherwise: "token endpoint 127.0.0.1:
				      Connection refused" style, no secrets */
};

class HttpClient {
public:
	using Callback = std::function<void(HttpResponse &response)>;

	/* Attaches to the ioloop that is current now. */
	explicit HttpClient(const HttpSettings &set);
	/* Aborts every request in flight; no callback follows. */
	~HttpClient();
	HttpClient(const HttpClient &) = delete;
	HttpClient &operator=(const HttpClient &) = delete;

	/* POST body (application/x-www-form-urlencoded) to url, accepting
	   application/json. Returns an id for cancel(). */
	uint64_t post_form(const std::string &url, std::string body,
			   Callback callback);
	/* Abort one request; its callback does not come. Unknown or finished
	   ids are ignored. */
	void cancel(uint64_t id);
	/* Requests whose callback has not come yet. */
	size_t pending() const;

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

const char *http_error_name(HttpError error);

} // namespace fetchmail

#endif
