#ifndef FETCHMAIL_SSL_COMPAT_HH
#define FETCHMAIL_SSL_COMPAT_HH

/* The one place that reaches into ssl-iostream's OpenSSL module. */

#include <string>

struct ssl_iostream;

namespace fetchmail {

/* The peer certificate's subject (RFC 2253), also of a certificate that
   failed verification, for `doveadm fetchmail test` and the run log; ""
   when there is none. Dovecot's public API names only verified client
   certificates. */
std::string ssl_compat_peer_subject(struct ssl_iostream *ssl_io);

} // namespace fetchmail

#endif
