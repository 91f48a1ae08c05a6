#ifndef FETCHMAIL_DELIVER_HH
#define FETCHMAIL_DELIVER_HH

/* Delivery of fetched messages into the local user's mailbox.

   A message arrives in chunks (begin(), data()..., then save() or
   abort()). The chunks go into a temporary stream that stays in memory up
   to a small size and spills into an unlinked temporary file beyond it, so
   memory does not grow with message size and a message cut off by a
   disconnect is never saved. save() hands the complete message over and
   answers later, in order; the next message may be received meanwhile.
   commit() makes everything saved since the last commit durable. Only
   after commit() returns 0 (or, for final saves, after a save's answer)
   may the caller record the messages in the ledger or delete them on the
   server: the retrieval core (fetchmail-retrieval.hh) decides that.

   Storage calls are made with the storage ioloop current (the long-lived
   one the mail user lives in: lib-storage attaches timeouts to it), inside
   these classes; callbacks come from the current ioloop. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-ledger.hh"
#include "fetchmail-settings.hh"

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

struct MessageMeta {
	std::string internal_date;          /* IMAP INTERNALDATE, or empty */
	std::vector<std::string> flags;     /* IMAP flags as sent */
};

/* error is empty on success */
using DeliveryDone = std::function<void(const std::string &error)>;

/* The common shape of the delivery methods (fetchmail_delivery). */
class Delivery {
public:
	Delivery(struct mail_user *user, struct ioloop *storage_ioloop)
		: user_(user), storage_ioloop_(storage_ioloop) {}
	virtual ~Delivery();        /* drops messages not delivered yet */
	Delivery(const Delivery &) = delete;
	Delivery &operator=(const Delivery &) = delete;

	/* Prepare (open the mailbox; connect to LMTP and greet). done
	   comes at once (storage) or later from the ioloop (LMTP). */
	virtual void open(DeliveryDone done) = 0;

	/* Receive a message into a temporary stream. */
	void begin();
	void data(std::string_view chunk);
	void abort();
	/* Deliver the complete message received since begin(). done is
	   called exactly once per save(), in order: at once (storage) or
	   from the ioloop (LMTP); not after the Delivery is destroyed. */
	virtual void save(const MessageMeta &meta, DeliveryDone done) = 0;
	/* Make every save since the last commit durable (no-op without any,
	   and for final saves). */
	virtual int commit(std::string &error_r) = 0;
	/* Saves are durable as soon as they are answered (LMTP). */
	virtual bool saves_are_final() const = 0;
	/* Where a pending batch is going, as that mailbox is now: its name,
	   UIDVALIDITY and UIDNEXT (see PendingBatch). */
	virtual int pending_target(PendingBatch &batch_r,
				   std::string &error_r) = 0;
	/* Saves handed over and not answered yet. */
	virtual size_t in_flight() const { return 0; }

protected:
	/* Finish the temporary stream: the complete message, or nullptr with
	   error_r set. The caller unrefs it. */
	struct istream *finish_message(std::string &error_r);

	struct mail_user *user_;
	struct ioloop *storage_ioloop_;

private:
	struct ostream *temp_ = nullptr;
};

/* fetchmail_delivery = storage: save through lib-storage, many messages
   per transaction. */
class StorageDelivery : public Delivery {
public:
	StorageDelivery(struct mail_user *user, struct ioloop *storage_ioloop,
			const std::string &mailbox);
	~StorageDelivery() override;   /* rolls back what is not committed */

	/* Open the destination mailbox, creating it when missing. */
	void open(DeliveryDone done) override;
	void save(const MessageMeta &meta, DeliveryDone done) override;
	int commit(std::string &error_r) override;
	bool saves_are_final() const override { return false; }
	int pending_target(PendingBatch &batch_r, std::string &error_r) override;

private:
	int open_box(std::string &error_r);
	int save_stream(struct istream *input, const MessageMeta &meta,
			std::string &error_r);
	std::string last_error() const;

	std::string mailbox_;
	struct mailbox *box_ = nullptr;
	struct mailbox_transaction_context *trans_ = nullptr;
};

/* Dovecot mail flags for the IMAP system flags we copy (\Seen, \Answered,
   \Flagged); others are ignored. */
enum mail_flags deliver_flags(const std::vector<std::string> &flags);

/* Whether the user's storage accepts name (valid UTF-8, checked before)
   as a mailbox to create; -1 with the storage's reason otherwise (a name
   like "../x", "/abs" or "~/x", a separator the storage refuses). */
int deliver_check_mailbox_name(struct mail_user *user,
			       struct ioloop *storage_ioloop,
			       const std::string &name, std::string &error_r);

/* The state of a mailbox for a pending record: UIDVALIDITY and UIDNEXT
   as this process sees them (a stale view gives a lower UIDNEXT: more
   is searched, nothing is missed). */
int deliver_mailbox_state(struct mail_user *user, struct ioloop *storage_ioloop,
			  const std::string &mailbox, PendingBatch &batch_r,
			  std::string &error_r);

/* Which messages of a pending batch are in its mailbox: those whose
   message_identity() matches, among the messages with a UID at or above
   the batch's UIDNEXT (none when the UIDVALIDITY changed since). */
int deliver_reconcile(struct mail_user *user, struct ioloop *storage_ioloop,
		      const PendingBatch &batch,
		      std::vector<PendingMessage> &found_r,
		      std::string &error_r);

/* Save one complete message (a failure notice, fetchmail-notice.hh) into
   the user's INBOX through lib-storage, and commit it. Not through LMTP:
   a notice about the fetching is not mail to filter. */
int deliver_notice(struct mail_user *user, struct ioloop *storage_ioloop,
		   std::string_view message, std::string &error_r);

/* The delivery method of fetchmail_delivery: StorageDelivery into mailbox
   (storage) or LmtpDelivery to the user (lmtp, where mailbox is not used:
   see fetchmail-deliver-lmtp.hh). Call open() next. */
std::unique_ptr<Delivery> delivery_create(const Settings &set,
					  struct mail_user *user,
					  struct ioloop *storage_ioloop,
					  const std::string &mailbox);

} // namespace fetchmail

#endif
