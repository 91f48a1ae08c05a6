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
	   transaction. The dict is opened again after each write: Dovecot's
	   file dict keeps a copy of every value it set until it reads the
	   file again, which it never does while it is the only writer, so
	   a long-running writer grew by the registry's size every write. The
	   next load() or store() opens it again. */
	int store(const std::map<std::string, std::string> &changes,
		  std::string &error_r);

private:
	int open(std::string &error_r);

	std::string uri_, base_dir_;
	struct dict *dict_ = nullptr;
};

} // namespace fetchmail

#endif
