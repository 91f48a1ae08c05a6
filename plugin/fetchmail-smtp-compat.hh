#ifndef FETCHMAIL_SMTP_COMPAT_HH
#define FETCHMAIL_SMTP_COMPAT_HH

/* The one place that reaches into lib-smtp's private structures, for a
   bug of the Dovecot versions this plugin builds against. */

struct smtp_client_connection;

namespace fetchmail {

/* lib-smtp (2.3.19 to at least 2.3.21) panics in
   smtp_client_connection_last_ip() on every connect failure of a unix
   socket connection (refused, missing socket, connect or greeting
   timeout): it expects a resolved IP list. Give a new unix socket
   connection one pseudo entry, so that such a failure reaches the
   connection's callbacks instead. The list is not used for unix sockets
   otherwise. */
void smtp_compat_unix_connection(struct smtp_client_connection *conn);

/* errno of the last failed connect attempt, 0 when unknown. */
int smtp_compat_connect_errno(struct smtp_client_connection *conn);

} // namespace fetchmail

#endif
