#ifndef FETCHMAIL_OSTREAM_COMPAT_HH
#define FETCHMAIL_OSTREAM_COMPAT_HH

/* The one place that reaches into Dovecot's file ostream
   (ostream-file-private.h). */

struct ostream;

namespace fetchmail {

/* For the TCP socket of a connection to a remote server, right after
   o_stream_create_fd(): the ostream no longer corks and uncorks the
   socket around every flush (TCP_CORK on and off, TCP_NODELAY on and off
   and TCP_QUICKACK: five setsockopt() calls each time, which OpenSSL's
   ostream does for every record); the socket gets TCP_NODELAY once
   instead. The client writes whole commands, so there is nothing for
   corking to gather. A profile of 1,000 polls had 11-14 % of the client's
   CPU in these calls. */
void ostream_compat_no_cork(struct ostream *output, int fd);

} // namespace fetchmail

#endif
