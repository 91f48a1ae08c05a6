#include "fetchmail-deliver.hh"
#include "fetchmail-deliver-lmtp.hh"

extern "C" {
#include "imap-date.h"
}

namespace fetchmail {

/* messages up to this size stay in memory while they are received */
static const size_t DELIVER_TEMP_MEM_SIZE = 256 * 1024;

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
	o_stream_nsend(temp_, chunk.data(), chunk.size());
}

void Delivery::abort()
{
	if (temp_ != nullptr)
		o_stream_destroy(&temp_);
}

struct istream *Delivery::finish_message(std::string &error_r)
{
	if (o_stream_finish(temp_) < 0) {
		error_r = std::string("write(temp message) failed: ") +
			o_stream_get_error(temp_);
		abort();
		return nullptr;
	}
	return iostream_temp_finish(&temp_, IO_BLOCK_SIZE);
}

StorageDelivery::StorageDelivery(struct mail_user *user,
				 const std::string &mailbox)
	: Delivery(user), mailbox_(mailbox)
{
}

StorageDelivery::~StorageDelivery()
{
	if (trans_ != nullptr)
		mailbox_transaction_rollback(&trans_);
	if (box_ != nullptr)
		mailbox_free(&box_);
}

std::string StorageDelivery::last_error() const
{
	return mailbox_get_last_internal_error(box_, nullptr);
}

int StorageDelivery::open(std::string &error_r)
{
	struct mail_namespace *ns =
		mail_namespace_find(user_->namespaces, mailbox_.c_str());
	enum mail_error error;

	box_ = mailbox_alloc(ns->list, mailbox_.c_str(), MAILBOX_FLAG_SAVEONLY);
	if (mailbox_open(box_) == 0)
		return 0;
	(void)mailbox_get_last_error(box_, &error);
	if (error != MAIL_ERROR_NOTFOUND) {
		error_r = "mailbox_open(" + mailbox_ + ") failed: " +
			last_error();
		return -1;
	}
	if (mailbox_create(box_, nullptr, false) < 0) {
		(void)mailbox_get_last_error(box_, &error);
		if (error != MAIL_ERROR_EXISTS) {
			error_r = "mailbox_create(" + mailbox_ +
				") failed: " + last_error();
			return -1;
		}
	}
	if (mailbox_open(box_) < 0) {
		error_r = "mailbox_open(" + mailbox_ + ") failed: " +
			last_error();
		return -1;
	}
	return 0;
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

int StorageDelivery::save(const MessageMeta &meta, std::string &error_r)
{
	struct mail_save_context *save_ctx;
	struct istream *input;
	time_t received;
	int tz, ret = 0;

	if ((input = finish_message(error_r)) == nullptr)
		return -1;
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
		ssize_t n;
		do {
			if (mailbox_save_continue(save_ctx) < 0) {
				ret = -1;
				break;
			}
		} while ((n = i_stream_read(input)) > 0);
		if (ret == 0 && input->stream_errno != 0) {
			error_r = std::string("read(temp message) failed: ") +
				i_stream_get_error(input);
			mailbox_save_cancel(&save_ctx);
			i_stream_unref(&input);
			return -1;
		}
		if (ret == 0 && mailbox_save_finish(&save_ctx) < 0)
			ret = -1;
	}
	if (save_ctx != nullptr)
		mailbox_save_cancel(&save_ctx);
	i_stream_unref(&input);
	if (ret < 0) {
		error_r = "saving to " + mailbox_ + " failed: " + last_error();
		return -1;
	}
	uncommitted_++;
	return 0;
}

int StorageDelivery::commit(std::string &error_r)
{
	if (trans_ == nullptr)
		return 0;
	uncommitted_ = 0;
	if (mailbox_transaction_commit(&trans_) < 0) {
		error_r = "mailbox_transaction_commit(" + mailbox_ +
			") failed: " + last_error();
		return -1;
	}
	return 0;
}

std::unique_ptr<Delivery> delivery_create(const Settings &set,
					  struct mail_user *user,
					  const std::string &mailbox)
{
	if (set.delivery == DeliveryMethod::Lmtp)
		return std::make_unique<LmtpDelivery>(user, set.timeout_msecs);
	return std::make_unique<StorageDelivery>(user, mailbox);
}

} // namespace fetchmail
