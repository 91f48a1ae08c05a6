#ifndef FETCHMAIL_REGISTRY_HH
#define FETCHMAIL_REGISTRY_HH

/* The registry: which users have active fetch accounts, and when the
   earliest of them is due. The scheduler reads only this, so that finding
   due accounts never opens the storage of every user on the server.

   It lives in a Dovecot dict (fetchmail_registry: a file dict by default;
   any dict Dovecot supports, e.g. proxy::fetchmail in front of redis or
   SQL for a cluster), one key per user:

     shared/fetchmail/due/<username> = <unix seconds of the next due run>

   add, edit, remove and every run keep a user's entry in step
   (registry_update_user()); `doveadm fetchmail registry rebuild` recomputes
   it from the attributes if the registry is lost. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-store.hh"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fetchmail {

class Registry {
public:
	~Registry();
	/* Open the dict named by the user's fetchmail_registry setting.
	   Returns 0 when the setting is empty (no registry: nothing to do),
	   1 when opened, -1 on error. */
	int open(struct mail_user *user, std::string &error_r);
	/* The same from a dict URI (the scheduler, which has no mail user). */
	int open_uri(const std::string &uri, const char *base_dir,
		     std::string &error_r);

	/* Set the user's next due time, or remove the user (due = 0). */
	int set_due(const std::string &username, int64_t due,
		    std::string &error_r);
	/* Every (user, due) pair. */
	int list(std::vector<std::pair<std::string, int64_t>> &entries_r,
		 std::string &error_r);

private:
	struct dict *dict_ = nullptr;
};

/* The earliest next_run of the user's active accounts, 0 when none is
   active. Accounts that never ran count as due now. */
int64_t registry_user_due(const std::vector<StoredAccount> &accounts);

/* Recompute and store the user's entry from its accounts. Returns 1 when
   stored, 0 when fetchmail_registry is not set, -1 on error. */
int registry_update_user(Store &store, std::string &error_r);

} // namespace fetchmail

#endif
