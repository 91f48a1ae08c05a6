#ifndef FETCHMAIL_NOTIFY_HH
#define FETCHMAIL_NOTIFY_HH

/* Talking to the fetch service (doveadm fetchmail service, see
   docs/design.md, "The fetch service") over its socket,
   $base_dir/fetchmail. Mail processes and doveadm run as the user, so
   they never write the registry themselves: they tell the service, which
   has a worker re-read the user's accounts from the attributes.

   The protocol, one line each way after the VERSION handshake
   (lib/connection.h's), fields tab-escaped:

     VERSION  fetchmail  1  0
     CHANGED  <user>     the user's accounts changed: re-read them
     LOOK     <user>     the user opened INBOX: fetch-on-look
     STATUS   <user>     the live status of the user's accounts
   replies
     OK                  (CHANGED, LOOK)
     OK       <json>     (STATUS: {"<id>":{"status":"<status record>",
                          "running":bool,"push":"<state>"},...})
     FAIL     <reason>

   The service believes a client only for users of the client's own uid
   (or any user from root); see doveadm-fetchmail-service.cc. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-service.hh"

#include <map>
#include <string>

namespace fetchmail {

/* the socket's name in base_dir */
extern const char *const SERVICE_SOCKET_NAME;
/* the handshake's service name and version */
extern const char *const SERVICE_PROTOCOL_NAME;
const unsigned int SERVICE_PROTOCOL_MAJOR = 1;
const unsigned int SERVICE_PROTOCOL_MINOR = 0;

/* Send CHANGED or LOOK without waiting for anything: connect, write,
   close. Never blocks. Returns 1 when sent, 0 when no service listens
   (nothing to tell), -1 with error_r. */
int service_notify(const char *base_dir, const char *verb,
		   const std::string &user, std::string &error_r);

/* STATUS: the service's view of the user's accounts, waiting at most
   timeout_msecs (for doveadm commands only: it blocks). 1 with the
   statuses, 0 when no service listens, -1 with error_r. */
int service_status(const char *base_dir, const std::string &user,
		   unsigned int timeout_msecs,
		   std::map<std::string, ServiceLiveStatus> &statuses_r,
		   std::string &error_r);

} // namespace fetchmail

#endif
