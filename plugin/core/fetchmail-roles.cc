#include "fetchmail-roles.hh"

#include <algorithm>

namespace fetchmail {

namespace {

std::string lowercase(std::string_view s)
{
	std::string out(s);
	for (char &c : out) {
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
	}
	return out;
}

std::string normalize_domain(std::string_view domain)
{
	if (!domain.empty() && domain.back() == '.')
		domain.remove_suffix(1);
	return lowercase(domain);
}

/* local part as is, domain lowercased */
std::string normalize_login(std::string_view login)
{
	size_t at = login.rfind('@');
	if (at == login.npos)
		return std::string(login);
	return std::string(login.substr(0, at + 1)) +
		normalize_domain(login.substr(at + 1));
}

/* the domain of a login, normalized; "" when it has none */
std::string login_domain(std::string_view login)
{
	size_t at = login.rfind('@');
	if (at == login.npos)
		return "";
	return normalize_domain(login.substr(at + 1));
}

/* for log lines: no control characters, bounded */
std::string printable(std::string_view s)
{
	std::string out(s.substr(0, 256));
	for (char &c : out) {
		if ((unsigned char)c < 0x20 || c == 0x7f)
			c = '?';
	}
	return out;
}

std::vector<std::string_view> split_list(std::string_view s)
{
	std::vector<std::string_view> items;
	auto sep = [](char c) {
		return c == ',' || c == ' ' || c == '\t' || c == '\r' ||
			c == '\n';
	};
	size_t pos = 0;
	while (pos < s.size()) {
		while (pos < s.size() && sep(s[pos]))
			pos++;
		size_t end = pos;
		while (end < s.size() && !sep(s[end]))
			end++;
		if (end > pos)
			items.push_back(s.substr(pos, end - pos));
		pos = end;
	}
	return items;
}

} // namespace

const char *role_name(Role role)
{
	switch (role) {
	case Role::Admin: return "admin";
	case Role::DomainAdmin: return "domain-admin";
	case Role::User: return "user";
	}
	return "user";
}

int RolePolicy::parse(std::string_view admins_list,
		      std::string_view domain_admins_list,
		      std::string &error_r)
{
	try {
		admins.clear();
		domain_admins.clear();
		for (std::string_view login : split_list(admins_list))
			admins.push_back(normalize_login(login));
		for (std::string_view item : split_list(domain_admins_list)) {
			size_t colon = item.rfind(':');
			std::string_view login, domain;
			if (colon != item.npos) {
				login = item.substr(0, colon);
				domain = item.substr(colon + 1);
				if (!domain.empty() && domain.front() == '@')
					domain.remove_prefix(1);
			}
			if (login.empty() || normalize_domain(domain).empty() ||
			    domain.find('@') != domain.npos) {
				error_r = "fetchmail_domain_admins: '" +
					printable(item) + "' is not login:domain";
				admins.clear();
				domain_admins.clear();
				return -1;
			}
			domain_admins.emplace_back(normalize_login(login),
						   normalize_domain(domain));
		}
	} catch (const std::exception &e) {
		admins.clear();
		domain_admins.clear();
		error_r = std::string("fetchmail_admins: ") + e.what();
		return -1;
	}
	return 0;
}

Role RolePolicy::role_of(std::string_view actor) const
{
	std::string login = normalize_login(actor);
	if (std::find(admins.begin(), admins.end(), login) != admins.end())
		return Role::Admin;
	for (const auto &[admin, domain] : domain_admins) {
		if (admin == login)
			return Role::DomainAdmin;
	}
	return Role::User;
}

std::vector<std::string> RolePolicy::domains_of(std::string_view actor) const
{
	std::string login = normalize_login(actor);
	std::vector<std::string> domains;
	for (const auto &[admin, domain] : domain_admins) {
		if (admin == login)
			domains.push_back(domain);
	}
	return domains;
}

bool RolePolicy::may_access(std::string_view actor,
			    std::string_view target_user,
			    std::string &reason_r) const
{
	try {
		if (actor.empty()) {
			reason_r = "no actor: doveadm operator";
			return true;
		}
		std::string who = "actor " + printable(actor);
		switch (role_of(actor)) {
		case Role::Admin:
			reason_r = who + " is admin";
			return true;
		case Role::DomainAdmin: {
			std::string domain = login_domain(target_user);
			for (const auto &d : domains_of(actor)) {
				if (!domain.empty() && d == domain) {
					reason_r = who + " is domain admin of " + d;
					return true;
				}
			}
			break;
		}
		case Role::User:
			break;
		}
		if (!target_user.empty() &&
		    normalize_login(actor) == normalize_login(target_user)) {
			reason_r = who + " acts for itself";
			return true;
		}
		reason_r = who + " may not act for " + printable(target_user);
	} catch (const std::exception &) {
		reason_r = "actor refused (out of memory)";
	}
	return false;
}

} // namespace fetchmail
