#include "fetchmail-registry.hh"
#include "fetchmail-schedule.hh"

extern "C" {
#include "dict.h"
}

#include <algorithm>

namespace fetchmail {

#define REGISTRY_PREFIX DICT_PATH_SHARED "fetchmail/due/"

Registry::~Registry()
{
	if (dict_ != nullptr)
		dict_deinit(&dict_);
}

int Registry::open_uri(const std::string &uri, const char *base_dir,
		       std::string &error_r)
{
	struct dict_settings set;
	const char *error;

	i_zero(&set);
	set.base_dir = base_dir;
	if (dict_init(uri.c_str(), &set, &dict_, &error) < 0) {
		error_r = "dict_init(" + uri + ") failed: " + error;
		return -1;
	}
	return 1;
}

int Registry::open(struct mail_user *user, std::string &error_r)
{
	const Settings *set = settings_of(user);

	if (set == nullptr || set->registry.empty())
		return 0;
	return open_uri(set->registry, user->set->base_dir, error_r);
}

int Registry::set_due(const std::string &username, int64_t due,
		      std::string &error_r)
{
	struct dict_op_settings op;
	struct dict_transaction_context *t;
	std::string key = REGISTRY_PREFIX + username;
	const char *error;

	i_zero(&op);
	t = dict_transaction_begin(dict_, &op);
	if (due == 0)
		dict_unset(t, key.c_str());
	else
		dict_set(t, key.c_str(), dec2str(due));
	if (dict_transaction_commit(&t, &error) < 0) {
		error_r = std::string("registry: dict commit failed: ") + error;
		return -1;
	}
	return 0;
}

int Registry::list(std::vector<std::pair<std::string, int64_t>> &entries_r,
		   std::string &error_r)
{
	struct dict_op_settings op;
	struct dict_iterate_context *iter;
	const char *key, *value, *error;
	const size_t prefix_len = strlen(REGISTRY_PREFIX);

	i_zero(&op);
	entries_r.clear();
	iter = dict_iterate_init(dict_, &op, REGISTRY_PREFIX,
				 DICT_ITERATE_FLAG_RECURSE);
	while (dict_iterate(iter, &key, &value)) {
		int64_t due;
		if (strncmp(key, REGISTRY_PREFIX, prefix_len) != 0 ||
		    str_to_int64(value, &due) < 0)
			continue;
		entries_r.emplace_back(key + prefix_len, due);
	}
	if (dict_iterate_deinit(&iter, &error) < 0) {
		error_r = std::string("registry: dict iterate failed: ") + error;
		return -1;
	}
	return 0;
}

int64_t registry_user_due(const std::vector<StoredAccount> &accounts)
{
	std::vector<std::pair<Account, AccountStatus>> list;

	for (const StoredAccount &s : accounts)
		list.emplace_back(s.account, s.status);
	return user_due_time(list);
}

int registry_update_user(Store &store, std::string &error_r)
{
	Registry registry;
	std::vector<std::string> ids;
	std::vector<StoredAccount> accounts;
	int ret;

	if ((ret = registry.open(store.user(), error_r)) <= 0)
		return ret;
	if (store.list_ids(ids, error_r) < 0)
		return -1;
	for (const std::string &id : ids) {
		StoredAccount stored;
		if (store.load(id, stored, error_r) == 0)
			accounts.push_back(std::move(stored));
	}
	if (registry.set_due(store.user()->username,
			     registry_user_due(accounts), error_r) < 0)
		return -1;
	return 1;
}

} // namespace fetchmail
