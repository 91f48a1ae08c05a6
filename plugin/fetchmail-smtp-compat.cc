#include "fetchmail-smtp-compat.hh"
#include "fetchmail-dovecot.hh"

extern "C" {
#include "smtp-client.h"
#include "smtp-client-connection.h"
#include "smtp-client-private.h"
}

/* The private layout used here is that of Dovecot 2.3.19 to 2.3.21;
   check it again before building against anything else. */
#if !(DOVECOT_VERSION_MAJOR == 2 && DOVECOT_VERSION_MINOR == 3 && \
      DOVECOT_VERSION_MICRO >= 19 && DOVECOT_VERSION_MICRO <= 21)
#  error "fetchmail-smtp-compat.cc: check smtp-client-private.h of this Dovecot version"
#endif

namespace fetchmail {

void smtp_compat_unix_connection(struct smtp_client_connection *conn)
{
	conn->ips_count = 1;
	conn->prev_connect_idx = 0;
}

int smtp_compat_connect_errno(struct smtp_client_connection *conn)
{
	return conn->connect_errno;
}

} // namespace fetchmail
