#include "fetchmail-deliver.hh"
#include "fetchmail-mailbox.hh"
#include "fetchmail-deliver-lmtp.hh"
#include "fetchmail-message.hh"

extern "C" {
#include "imap-date.h"
#include "message-size.h"
}

#include <map>

namespace fetchmail {

/* messages up to this size stay in memory while they are received */
static const size_t DELIVER_TEMP_MEM_SIZE = 256 * 1024;
/* header bytes read per message when reconciling */
static const size_t RECONCILE_HEADER_MAX = 64 * 1024;

Delivery::~Delivery()
{
	abort();
}

void Delivery::begin()
{
	string_t *prefix = t_str_new(128);

	abort();
	mail_user_set_get_temp_prefix(prefix, user_->set);
	temp_ = iostream_temp_create_sized(str_c(prefix),
		static_cast<iostream_temp_flags>(0), "fetchmail message",
		DELIVER_TEMP_MEM_SIZE);
}

void Delivery::data(std::string_view chunk)
{
	if (temp_ != nullptr)
		o_stream_nsend(temp_, chunk.data(), chunk.size());
}

void Delivery::abort()
{
	if (temp_ != nullptr)
		o_stream_destroy(&temp_);
}

struct istream *Delivery::finish_message(std::string &error_r)
{
	if (temp_ == nullptr) {
		error_r = "no message to save";
		return nullptr;
	}
	if (o_stream_finish(temp_) < 0) {
		error_r = std::string("write(temp message) failed: ") +
			o_stream_get_error(temp_);
		abort();
		return nullptr;
	}
	return iostream_temp_finish(&temp_, IO_BLOCK_SIZE);
}

/* ---- storage ---- */

int deliver_check_mailbox_name(struct mail_user *user,
			       struct ioloop *storage_ioloop,
			       const std::string &name, std::string &error_r)
{
	IoloopScope scope(storage_ioloop);
	struct mail_namespace *ns =
		mail_namespace_find(user->namespaces, name.c_str());
	struct mailbox *box = mailbox_alloc(ns->list, name.c_str(),
					    static_cast<mailbox_flags>(0));
	int ret = mailbox_verify_create_name(box);

	if (ret < 0)
		error_r = mailbox_get_last_error(box, nullptr);
	mailbox_free(&box);
	return ret;
}

StorageDelivery::StorageDelivery(struct mail_user *user,
				 struct ioloop *storage_ioloop,
				 const std::string &mailbox)
	: Delivery(user, storage_ioloop), mailbox_(mailbox)
{
}

StorageDelivery::~StorageDelivery()
{
	IoloopScope scope(storage_ioloop_);

	if (trans_ != nullptr)
		mailbox_transaction_rollback(&trans_);
	if (box_ != nullptr)
		shared_mailbox_close(user_, &box_);
}

std::string StorageDelivery::last_error() const
{
	return mailbox_get_last_internal_error(box_, nullptr);
}

int StorageDelivery::open_box(std::string &error_r)
{
	IoloopScope scope(storage_ioloop_);

	box_ = shared_mailbox_open(user_, mailbox_, true, error_r);
	if (box_ == nullptr)
		return -1;
	/* a view with UIDVALIDITY and UIDNEXT before saves begin (see
	   box_state()) */
	if (mailbox_transaction_get_count(box_) == 0 &&
	    mailbox_sync(box_, static_cast<mailbox_sync_flags>(0)) < 0) {
		error_r = "syncing " + mailbox_ + " failed: " + last_error();
		shared_mailbox_close(user_, &box_);
		return -1;
	}
	return 0;
}

void StorageDelivery::open(DeliveryDone done)
{
	std::string error;

	(void)open_box(error);
	done(error);
}

enum mail_flags deliver_flags(const std::vector<std::string> &flags)
{
	unsigned int result = 0;

	for (const std::string &flag : flags) {
		if (strcasecmp(flag.c_str(), "\\Seen") == 0)
			result |= MAIL_SEEN;
		else if (strcasecmp(flag.c_str(), "\\Answered") == 0)
			result |= MAIL_ANSWERED;
		else if (strcasecmp(flag.c_str(), "\\Flagged") == 0)
			result |= MAIL_FLAGGED;
	}
	return static_cast<enum mail_flags>(result);
}

int StorageDelivery::save_stream(struct istream *input,
				 const MessageMeta &meta, std::string &error_r)
{
	IoloopScope scope(storage_ioloop_);
	struct mail_save_context *save_ctx;
	time_t received;
	int tz, ret = 0;

	if (trans_ == nullptr) {
		trans_ = mailbox_transaction_begin(box_,
			MAILBOX_TRANSACTION_FLAG_EXTERNAL, "fetchmail deliver");
	}
	save_ctx = mailbox_save_alloc(trans_);
	if (!meta.internal_date.empty() &&
	    imap_parse_datetime(meta.internal_date.c_str(), &received, &tz))
		mailbox_save_set_received_date(save_ctx, received, tz);
	mailbox_save_set_flags(save_ctx, deliver_flags(meta.flags), nullptr);

	if (mailbox_save_begin(&save_ctx, input) < 0)
		ret = -1;
	else {
		do {
			if (mailbox_save_continue(save_ctx) < 0) {
				ret = -1;
				break;
			}
		} while (i_stream_read(input) > 0);
		if (ret == 0 && input->stream_errno != 0) {
			error_r = std::string("read(temp message) failed: ") +
				i_stream_get_error(input);
			mailbox_save_cancel(&save_ctx);
			return -1;
		}
		if (ret == 0 && mailbox_save_finish(&save_ctx) < 0)
			ret = -1;
	}
	if (save_ctx != nullptr)
		mailbox_save_cancel(&save_ctx);
	if (ret < 0)
		error_r = "saving to " + mailbox_ + " failed: " + last_error();
	return ret;
}

void StorageDelivery::save(const MessageMeta &meta, DeliveryDone done)
{
	std::string error;
	struct istream *input = finish_message(error);

	if (input != nullptr) {
		(void)save_stream(input, meta, error);
		i_stream_unref(&input);
	}
	done(error);
}

int StorageDelivery::commit(std::string &error_r)
{
	IoloopScope scope(storage_ioloop_);

	if (trans_ == nullptr)
		return 0;
	if (mailbox_transaction_commit(&trans_) < 0) {
		error_r = "mailbox_transaction_commit(" + mailbox_ +
			") failed: " + last_error();
		return -1;
	}
	return 0;
}

int deliver_notice(struct mail_user *user, struct ioloop *storage_ioloop,
		   std::string_view message, std::string &error_r)
{
	StorageDelivery delivery(user, storage_ioloop, "INBOX");
	std::string error;

	delivery.open([&error](const std::string &e) { error = e; });
	if (error.empty()) {
		delivery.begin();
		delivery.data(message);
		delivery.save(MessageMeta(),
			      [&error](const std::string &e) { error = e; });
	}
	if (!error.empty()) {
		error_r = error;
		return -1;
	}
	return delivery.commit(error_r);
}

static int box_state(struct mailbox *box, PendingBatch &batch_r,
		     std::string &error_r)
{
	struct mailbox_status status;

	/* the index as it is on disk now: a view that was never synced
	   (a new mailbox) has no UIDVALIDITY yet. The mailbox's one instance
	   (fetchmail-mailbox.hh) cannot be synced while a transaction of it
	   is open (a delivery's saves): then its view as of the delivery's
	   open, which synced it, serves (a lower UIDNEXT only means more is
	   searched after a crash) */
	if ((mailbox_transaction_get_count(box) == 0 &&
	     mailbox_sync(box, static_cast<mailbox_sync_flags>(0)) < 0) ||
	    mailbox_get_status(box, static_cast<mailbox_status_items>(
			STATUS_UIDVALIDITY | STATUS_UIDNEXT), &status) < 0) {
		error_r = std::string("reading the state of ") +
			mailbox_get_vname(box) + " failed: " +
			mailbox_get_last_internal_error(box, nullptr);
		return -1;
	}
	batch_r.uidvalidity = status.uidvalidity;
	batch_r.uidnext = status.uidnext;
	return 0;
}

int StorageDelivery::pending_target(PendingBatch &batch_r,
				    std::string &error_r)
{
	/* the mailbox's one instance (fetchmail-mailbox.hh); called before
	   a batch's first save, when no transaction is open */
	return deliver_mailbox_state(user_, storage_ioloop_, mailbox_, batch_r,
				     error_r);
}

int deliver_mailbox_state(struct mail_user *user, struct ioloop *storage_ioloop,
			  const std::string &mailbox, PendingBatch &batch_r,
			  std::string &error_r)
{
	IoloopScope scope(storage_ioloop);
	struct mailbox *box = shared_mailbox_open(user, mailbox, false, error_r);

	if (box == nullptr)
		return -1;
	batch_r.mailbox = mailbox;
	int ret = box_state(box, batch_r, error_r);
	shared_mailbox_close(user, &box);
	return ret;
}

/* The raw header block of mail, bounded. */
static int mail_header_text(struct mail *mail, std::string &header_r)
{
	struct message_size hdr_size;
	struct istream *input;
	const unsigned char *data;
	size_t size;

	header_r.clear();
	if (mail_get_hdr_stream(mail, &hdr_size, &input) < 0)
		return -1;
	while (header_r.size() < RECONCILE_HEADER_MAX &&
	       i_stream_read_more(input, &data, &size) > 0) {
		size = std::min(size, RECONCILE_HEADER_MAX - header_r.size());
		size = std::min<uoff_t>(size, hdr_size.physical_size -
					std::min<uoff_t>(hdr_size.physical_size,
							 header_r.size()));
		if (size == 0)
			break;
		header_r.append(reinterpret_cast<const char *>(data), size);
		i_stream_skip(input, size);
	}
	return input->stream_errno != 0 ? -1 : 0;
}

int deliver_reconcile(struct mail_user *user, struct ioloop *storage_ioloop,
		      const PendingBatch &batch,
		      std::vector<PendingMessage> &found_r,
		      std::string &error_r)
{
	IoloopScope scope(storage_ioloop);
	std::multimap<std::string, const PendingMessage *> wanted;
	PendingBatch now;
	struct mailbox *box;
	uint32_t seq1, seq2;
	int ret = 0;

	found_r.clear();
	box = shared_mailbox_open(user, batch.mailbox, false, error_r);
	if (box == nullptr)
		return -1;
	if (box_state(box, now, error_r) < 0) {
		shared_mailbox_close(user, &box);
		return -1;
	}
	if (now.uidvalidity != batch.uidvalidity) {
		/* the mailbox was recreated: nothing can be told apart */
		shared_mailbox_close(user, &box);
		return 0;
	}
	for (const PendingMessage &m : batch.messages)
		wanted.emplace(m.identity, &m);

	struct mailbox_transaction_context *t =
		mailbox_transaction_begin(box, static_cast<
			mailbox_transaction_flags>(0), "fetchmail reconcile");
	struct mail *mail = mail_alloc(t, MAIL_FETCH_STREAM_HEADER, nullptr);
	mailbox_get_seq_range(box, batch.uidnext, (uint32_t)-1, &seq1, &seq2);
	for (uint32_t seq = seq1; seq != 0 && seq <= seq2 && !wanted.empty();
	     seq++) {
		std::string header;
		mail_set_seq(mail, seq);
		if (mail_header_text(mail, header) < 0) {
			/* expunged meanwhile, or unreadable: not ours to find */
			continue;
		}
		auto it = wanted.find(message_identity(header));
		if (it != wanted.end()) {
			found_r.push_back(*it->second);
			wanted.erase(it);
		}
	}
	mail_free(&mail);
	(void)mailbox_transaction_commit(&t);
	shared_mailbox_close(user, &box);
	return ret;
}

std::unique_ptr<Delivery> delivery_create(const Settings &set,
					  struct mail_user *user,
					  struct ioloop *storage_ioloop,
					  const std::string &mailbox)
{
	if (set.delivery == DeliveryMethod::Lmtp)
		return std::make_unique<LmtpDelivery>(user, storage_ioloop,
						      set.timeout_msecs);
	return std::make_unique<StorageDelivery>(user, storage_ioloop, mailbox);
}

} // namespace fetchmail
