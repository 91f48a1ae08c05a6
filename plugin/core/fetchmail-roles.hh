#ifndef FETCHMAIL_ROLES_HH
#define FETCHMAIL_ROLES_HH

/* Who may act for whom.

   doveadm itself (no --actor) is the administrator's tool and may act for
   anyone. A panel that passes --actor LOGIN gets what the actor's role
   allows:

     Admin        listed in fetchmail_admins: any user;
     DomainAdmin  listed in fetchmail_domain_admins as login:domain: the
                  users of those domains (a login may be admin of several
                  domains), and itself;
     User         everybody else: only itself.

   Logins are compared with the local part exactly and the domain part
   (after the last '@') case-insensitively, so Bob@Example.COM and
   Bob@example.com are the same login but bob@example.com is not.
   Domains are compared case-insensitively, a trailing '.' ignored.
   Nothing throws. */

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fetchmail {

enum class Role { Admin, DomainAdmin, User };

const char *role_name(Role role); /* admin, domain-admin, user */

class RolePolicy {
public:
	/* admins: logins separated by whitespace or commas; domain_admins:
	   login:domain pairs separated likewise (the domain is what follows
	   the last ':'). Replaces the policy. Errors start with the setting
	   name: "fetchmail_domain_admins: 'bob' is not login:domain". On
	   error the policy is empty. */
	int parse(std::string_view admins, std::string_view domain_admins,
		  std::string &error_r);

	Role role_of(std::string_view actor) const;
	/* The domains actor is Domain Admin of (lowercase). */
	std::vector<std::string> domains_of(std::string_view actor) const;

	/* May actor act for target_user? An empty actor is the doveadm
	   operator: always allowed. reason_r gets a one-line explanation for
	   the log, both when allowed ("actor bob@example.com is domain admin
	   of example.com") and when refused ("actor bob@example.com may not
	   act for alice@other.org"). */
	bool may_access(std::string_view actor, std::string_view target_user,
			std::string &reason_r) const;

private:
	std::vector<std::string> admins;  /* normalized logins */
	std::vector<std::pair<std::string, std::string>> domain_admins;
};

} // namespace fetchmail

#endif
