#include "fetchmail-registry.hh"

extern "C" {
#include "dict.h"
}

namespace fetchmail {

#define REGISTRY_USER_PREFIX DICT_PATH_SHARED "fetchmail/user/"
/* the first release's keys */
#define REGISTRY_DUE_PREFIX DICT_PATH_SHARED "fetchmail/due/"

Registry::~Registry()
{
	if (dict_ != nullptr)
		dict_deinit(&dict_);
}

int Registry::open_uri(const std::string &uri, const char *base_dir,
		       std::string &error_r)
{
	uri_ = uri;
	base_dir_ = base_dir;
	return open(error_r) < 0 ? -1 : 1;
}

int Registry::open(std::string &error_r)
{
	struct dict_settings set;
	const char *error;

	if (dict_ != nullptr)
		return 0;
	i_zero(&set);
	set.base_dir = base_dir_.c_str();
	if (dict_init(uri_.c_str(), &set, &dict_, &error) < 0) {
		error_r = "dict_init(" + uri_ + ") failed: " + error;
		return -1;
	}
	return 0;
}

static int registry_iterate(struct dict *dict, const char *prefix,
			    std::map<std::string, std::string> &users_r,
			    bool values, std::string &error_r)
{
	struct dict_op_settings op;
	struct dict_iterate_context *iter;
	const char *key, *value, *error;
	const size_t prefix_len = strlen(prefix);

	i_zero(&op);
	iter = dict_iterate_init(dict, &op, prefix, DICT_ITERATE_FLAG_RECURSE);
	while (dict_iterate(iter, &key, &value)) {
		if (strncmp(key, prefix, prefix_len) != 0 ||
		    key[prefix_len] == '\0')
			continue;
		/* a snapshot wins over a first-release key */
		users_r.emplace(key + prefix_len, values ? value : "");
	}
	if (dict_iterate_deinit(&iter, &error) < 0) {
		error_r = std::string("registry: dict iterate failed: ") + error;
		return -1;
	}
	return 0;
}

int Registry::load(std::map<std::string, std::string> &users_r,
		   std::string &error_r)
{
	std::map<std::string, std::string> users;

	if (open(error_r) < 0)
		return -1;
	if (registry_iterate(dict_, REGISTRY_USER_PREFIX, users, true,
			     error_r) < 0 ||
	    registry_iterate(dict_, REGISTRY_DUE_PREFIX, users, false,
			     error_r) < 0)
		return -1;
	users_r = std::move(users);
	return 0;
}

int Registry::store(const std::map<std::string, std::string> &changes,
		    std::string &error_r)
{
	struct dict_op_settings op;
	struct dict_transaction_context *t;
	const char *error;

	if (changes.empty())
		return 0;
	if (open(error_r) < 0)
		return -1;
	i_zero(&op);
	t = dict_transaction_begin(dict_, &op);
	for (const auto &[user, snapshot] : changes) {
		std::string key = REGISTRY_USER_PREFIX + user;
		if (snapshot.empty())
			dict_unset(t, key.c_str());
		else
			dict_set(t, key.c_str(), snapshot.c_str());
		dict_unset(t, (REGISTRY_DUE_PREFIX + user).c_str());
	}
	if (dict_transaction_commit(&t, &error) < 0) {
		error_r = std::string("registry: dict commit failed: ") + error;
		return -1;
	}
	/* what the dict kept of this write goes (see the header); the
	   next load() or store() opens it again */
	dict_deinit(&dict_);
	return 0;
}

} // namespace fetchmail
