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
#include "fetchmail-settings.hh"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

struct MessageMeta {
	std::string internal_date;          /* IMAP INTERNALDATE, or empty */
	std::vector<std::string> flags;     /* IMAP flags as sent */
};

/* The common shape of the delivery methods (fetchmail_delivery). */
class Delivery {
public:
	explicit Delivery(struct mail_user *user) : user_(user) {}
	virtual ~Delivery();        /* drops a message in progress */
	Delivery(const Delivery &) = delete;
	Delivery &operator=(const Delivery &) = delete;

	/* Prepare (open the mailbox, check the LMTP socket, ...). */
	virtual int open(std::string &error_r) = 0;

	/* Receive a message into a temporary stream. */
	void begin();
	void data(std::string_view chunk);
	void abort();
	/* Deliver the complete message received since begin(). */
	virtual int save(const MessageMeta &meta, std::string &error_r) = 0;
	/* Make every save since the last commit durable (no-op without any).
	   Only after this may the messages be recorded or deleted remotely. */
	virtual int commit(std::string &error_r) = 0;
	unsigned int uncommitted() const { return uncommitted_; }

protected:
	/* Finish the temporary stream: the complete message, or nullptr with
	   error_r set. The caller unrefs it. */
	struct istream *finish_message(std::string &error_r);

	struct mail_user *user_;
	unsigned int uncommitted_ = 0;

private:
	struct ostream *temp_ = nullptr;
};

/* fetchmail_delivery = storage: save through lib-storage, many messages
   per transaction. */
class StorageDelivery : public Delivery {
public:
	StorageDelivery(struct mail_user *user, const std::string &mailbox);
	~StorageDelivery() override;   /* rolls back what is not committed */

	/* Open the destination mailbox, creating it when missing. */
	int open(std::string &error_r) override;
	int save(const MessageMeta &meta, std::string &error_r) override;
	int commit(std::string &error_r) override;

private:
	std::string last_error() const;

	std::string mailbox_;
	struct mailbox *box_ = nullptr;
	struct mailbox_transaction_context *trans_ = nullptr;
};

/* Dovecot mail flags for the IMAP system flags we copy (\Seen, \Answered,
   \Flagged); others are ignored. */
enum mail_flags deliver_flags(const std::vector<std::string> &flags);

/* The delivery method of fetchmail_delivery: StorageDelivery into mailbox
   (storage) or LmtpDelivery to the user (lmtp, where mailbox is not used:
   see fetchmail-deliver-lmtp.hh). Call open() next. */
std::unique_ptr<Delivery> delivery_create(const Settings &set,
					  struct mail_user *user,
					  const std::string &mailbox);

} // namespace fetchmail

#endif
