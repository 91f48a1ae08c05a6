#ifndef FETCHMAIL_REGISTRY_HH
#define FETCHMAIL_REGISTRY_HH

/* The registry: what the fetch service knows of each user with fetch
   accounts, kept so that a restarted service neither opens every user's
   storage nor forgets when accounts are due. Only the service writes it
   (it runs as root; mail processes and doveadm, which run as the users,
   tell it over its socket, see fetchmail-notify.hh), so it works on
   servers with one uid per user.

   It lives in a Dovecot dict (fetchmail_registry: a file dict by default;
   any dict Dovecot supports), one key per user:

     shared/fetchmail/user/<username> = the user's snapshot (JSON, see
         ServicePlan::encode_user(): uid, gid, and per account the record
         with its encrypted password, the status and the poll summary)

   Registries of the first release (shared/fetchmail/due/<username> =
   due time) are read as users to read again, and their keys removed with
   the next write. `doveadm fetchmail registry rebuild` has the service
   read users again from their attributes. */

#include "fetchmail-dovecot.hh"

#include <map>
#include <string>

namespace fetchmail {

class Registry {
public:
	~Registry();
	int open_uri(const std::string &uri, const char *base_dir,
		     std::string &error_r);

	/* Every user's snapshot; users found only in the first release's
	   form have an empty one. */
	int load(std::map<std::string, std::string> &users_r,
		 std::string &error_r);
	/* Write the users' snapshots ("" removes a user), in one
	   transaction. */
	int store(const std::map<std::string, std::string> &changes,
		  std::string &error_r);

private:
	struct dict *dict_ = nullptr;
};

} // namespace fetchmail

#endif
