#include "fetchmail-mailbox.hh"
#include "fetchmail-settings.hh"

#include <map>

namespace fetchmail {

struct SharedMailbox {
	struct mailbox *box = nullptr;
	unsigned int refs = 0;
};

/* user -> (name -> instance). Users are few per process and each goes
   away with shared_mailbox_close_all() (the plugin's user deinit). */
static std::map<struct mail_user *, std::map<std::string, SharedMailbox>>
	shared_mailboxes;

static std::string shared_name(const std::string &name)
{
	return strcasecmp(name.c_str(), "INBOX") == 0 ? "INBOX" : name;
}

struct mailbox *shared_mailbox_open(struct mail_user *user,
				    const std::string &name_in, bool create,
				    std::string &error_r)
{
	std::string name = shared_name(name_in);
	auto &boxes = shared_mailboxes[user];
	auto it = boxes.find(name);

	if (it != boxes.end()) {
		it->second.refs++;
		return it->second.box;
	}

	struct mail_namespace *ns =
		mail_namespace_find(user->namespaces, name.c_str());
	/* as doveadm does: the account owner's own tool, not a client */
	struct mailbox *box = mailbox_alloc(ns->list, name.c_str(),
		static_cast<mailbox_flags>(MAILBOX_FLAG_IGNORE_ACLS |
					   MAILBOX_FLAG_ATTRIBUTE_SESSION));
	enum mail_error error;

	if (mailbox_open(box) < 0) {
		(void)mailbox_get_last_error(box, &error);
		if (!create || error != MAIL_ERROR_NOTFOUND ||
		    ((mailbox_create(box, nullptr, false) < 0 &&
		      (mailbox_get_last_error(box, &error),
		       error != MAIL_ERROR_EXISTS)) ||
		     mailbox_open(box) < 0)) {
			error_r = std::string(create ? "opening or creating " :
					      "opening ") + name + " failed: " +
				mailbox_get_last_internal_error(box, nullptr);
			mailbox_free(&box);
			if (boxes.empty())
				shared_mailboxes.erase(user);
			return nullptr;
		}
	}
	boxes[name] = SharedMailbox{ box, 1 };
	return box;
}

void shared_mailbox_close(struct mail_user *user, struct mailbox **box)
{
	auto u = shared_mailboxes.find(user);

	if (*box == nullptr)
		return;
	if (u != shared_mailboxes.end()) {
		for (auto it = u->second.begin(); it != u->second.end(); ++it) {
			if (it->second.box != *box)
				continue;
			*box = nullptr;
			if (--it->second.refs > 0)
				return;
			mailbox_free(&it->second.box);
			u->second.erase(it);
			if (u->second.empty())
				shared_mailboxes.erase(u);
			return;
		}
	}
	/* not a shared one */
	mailbox_free(box);
}

void shared_mailbox_close_all(struct mail_user *user)
{
	auto u = shared_mailboxes.find(user);

	if (u == shared_mailboxes.end())
		return;
	for (auto &[name, shared] : u->second)
		mailbox_free(&shared.box);
	shared_mailboxes.erase(u);
}

bool mailbox_saves_take_turns(struct mail_user *user)
{
	struct mail_namespace *ns = mail_namespace_find_inbox(user->namespaces);

	return ns != nullptr && ns->storage != nullptr &&
		mail_storage_is_mailbox_file(ns->storage);
}

} // namespace fetchmail
