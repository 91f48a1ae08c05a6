#ifndef FETCHMAIL_DELIVER_HH
#define FETCHMAIL_DELIVER_HH

/* Delivery of fetched messages into the local user's mailbox.

   A message arrives in chunks (begin(), data()..., then save() or
   abort()). The chunks go into a temporary stream that stays in memory up
   to a small size and spills into an unlinked temporary file beyond it, so
   memory does not grow with message size and a message cut off by a
   disconnect is never saved. save() adds the complete message to the open
   transaction; commit() makes everything saved since the last commit
   durable. Only after commit() returns 0 may the caller record the
   messages in the ledger or delete them on the server. */

#include "fetchmail-dovecot.hh"

#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

struct MessageMeta {
	std::string internal_date;          /* IMAP INTERNALDATE, or empty */
	std::vector<std::string> flags;     /* IMAP flags as sent */
};

class StorageDelivery {
public:
	StorageDelivery(struct mail_user *user, const std::string &mailbox);
	~StorageDelivery();             /* rolls back what is not committed */
	StorageDelivery(const StorageDelivery &) = delete;
	StorageDelivery &operator=(const StorageDelivery &) = delete;

	/* Open the destination mailbox, creating it when missing. */
	int open(std::string &error_r);

	void begin();
	void data(std::string_view chunk);
	void abort();
	/* Save the complete message into the current transaction. */
	int save(const MessageMeta &meta, std::string &error_r);
	/* Commit the saves since the last commit (no-op without any). */
	int commit(std::string &error_r);
	unsigned int uncommitted() const { return uncommitted_; }

private:
	std::string last_error() const;

	struct mail_user *user_;
	std::string mailbox_;
	struct mailbox *box_ = nullptr;
	struct mailbox_transaction_context *trans_ = nullptr;
	struct ostream *temp_ = nullptr;
	unsigned int uncommitted_ = 0;
};

/* Dovecot mail flags for the IMAP system flags we copy (\Seen, \Answered,
   \Flagged); others are ignored. */
enum mail_flags deliver_flags(const std::vector<std::string> &flags);

} // namespace fetchmail

#endif
