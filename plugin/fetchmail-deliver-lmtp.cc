#include "fetchmail-deliver-lmtp.hh"
#include "fetchmail-smtp-compat.hh"

extern "C" {
#include "hostpid.h"
#include "smtp-address.h"
#include "smtp-reply.h"
#include "smtp-client.h"
#include "smtp-client-connection.h"
#include "smtp-client-transaction.h"
}

#include <sys/stat.h>

namespace fetchmail {

/* a connection idle for longer is replaced before the next message
   (Dovecot's LMTP server drops idle clients after five minutes) */
static const time_t LMTP_REUSE_IDLE_SECS = 60;

LmtpDelivery::LmtpDelivery(struct mail_user *user,
			   struct ioloop *storage_ioloop,
			   unsigned int connect_timeout_msecs)
	: Delivery(user, storage_ioloop),
	  connect_timeout_msecs_(connect_timeout_msecs)
{
}

LmtpDelivery::~LmtpDelivery()
{
	if (to_answers_ != nullptr)
		timeout_remove(&to_answers_);
	drop_connection();
	if (client_ != nullptr)
		smtp_client_deinit(&client_);
	for (Job &job : queue_) {
		if (job.input != nullptr)
			i_stream_unref(&job.input);
	}
	if (pool_ != nullptr)
		pool_unref(&pool_);
}

void LmtpDelivery::open(DeliveryDone done)
{
	struct smtp_client_settings set;
	const char *error;

	path_ = std::string(user_->set->base_dir) + "/lmtp";
	pool_ = pool_alloconly_create("fetchmail lmtp", 512);
	if (smtp_address_parse_username(pool_, user_->username, &rcpt_,
					&error) < 0) {
		done("lmtp(" + path_ + "): invalid recipient address " +
		     user_->username + ": " + error);
		return;
	}

	i_zero(&set);
	set.my_hostname = my_hostdomain();     /* the LHLO name */
	set.connect_timeout_msecs = connect_timeout_msecs_;
	set.command_timeout_msecs = SMTP_DEFAULT_COMMAND_TIMEOUT_MSECS;
	set.event_parent = user_->event;
	/* the real cause (connect(...) failed: ...) in the reply text */
	set.verbose_user_errors = TRUE;
	client_ = smtp_client_init(&set);

	open_done_ = std::move(done);
	smtp_client_connection_connect(connection(),
		(smtp_client_command_callback_t *)login_callback, this);
}

struct smtp_client_connection *LmtpDelivery::connection()
{
	if (conn_ != nullptr &&
	    (smtp_client_connection_get_state(conn_) ==
	     SMTP_CLIENT_CONNECTION_STATE_DISCONNECTED ||
	     ioloop_time - idle_since_ > LMTP_REUSE_IDLE_SECS))
		drop_connection();
	if (conn_ == nullptr) {
		conn_ = smtp_client_connection_create_unix(client_,
			SMTP_PROTOCOL_LMTP, path_.c_str(), nullptr);
		smtp_compat_unix_connection(conn_);
	}
	idle_since_ = ioloop_time;
	return conn_;
}

void LmtpDelivery::drop_connection()
{
	if (conn_ != nullptr)
		smtp_client_connection_close(&conn_);
}

void LmtpDelivery::fail(std::string &error, const char *step,
			const struct smtp_reply *reply)
{
	if (!error.empty())
		return;
	error = "lmtp(" + path_ + "): ";
	int err;
	if (reply->status != SMTP_CLIENT_COMMAND_ERROR_CONNECT_FAILED)
		error += std::string(step) + " failed: ";
	else if (conn_ != nullptr &&
		 (err = smtp_compat_connect_errno(conn_)) != 0) {
		/* the reply only says "Failed to connect" */
		error += "connect(" + path_ + ") failed: " + strerror(err);
		return;
	}
	error += smtp_reply_log(reply);
}

/* Answers go out from a timeout: never from inside lib-smtp's callbacks,
   where the receiver could destroy this object. */
void LmtpDelivery::answer(DeliveryDone done, std::string error)
{
	answers_.push_back(Answer{ std::move(done), std::move(error) });
	if (to_answers_ == nullptr)
		to_answers_ = fetchmail_timeout_add(0, answers_timeout, this);
}

void LmtpDelivery::answers_timeout(LmtpDelivery *self)
{
	timeout_remove(&self->to_answers_);
	try {
		while (!self->answers_.empty()) {
			Answer a = std::move(self->answers_.front());
			self->answers_.pop_front();
			/* may destroy self: nothing touches it afterwards
			   unless more answers are queued */
			bool more = !self->answers_.empty();
			a.done(a.error);
			if (!more)
				return;
		}
	} catch (const std::exception &e) {
		i_error("fetchmail lmtp: internal error: %s", e.what());
	}
}

void LmtpDelivery::login_callback(const struct smtp_reply *reply,
				  LmtpDelivery *self)
{
	try {
		std::string error;
		if (!smtp_reply_is_success(reply)) {
			self->fail(error, "LHLO", reply);
			self->drop_connection();
		}
		if (self->open_done_)
			self->answer(std::exchange(self->open_done_, nullptr),
				     error);
	} catch (const std::exception &e) {
		i_error("fetchmail lmtp: internal error: %s", e.what());
	}
}

void LmtpDelivery::mail_callback(const struct smtp_reply *reply,
				 LmtpDelivery *self)
{
	if (!smtp_reply_is_success(reply) && !self->queue_.empty())
		self->fail(self->queue_.front().error, "MAIL FROM", reply);
}

void LmtpDelivery::rcpt_callback(const struct smtp_reply *reply,
				 LmtpDelivery *self)
{
	if (!smtp_reply_is_success(reply) && !self->queue_.empty())
		self->fail(self->queue_.front().error, "RCPT TO", reply);
}

void LmtpDelivery::data_callback(const struct smtp_reply *reply,
				 LmtpDelivery *self)
{
	if (self->queue_.empty())
		return;
	if (smtp_reply_is_success(reply))
		self->queue_.front().data_ok = true;
	else
		self->fail(self->queue_.front().error, "DATA", reply);
}

void LmtpDelivery::send_callback(const struct smtp_reply *,
				 LmtpDelivery *)
{
	/* the last recipient's DATA reply: data_callback has it */
}

void LmtpDelivery::finished_callback(LmtpDelivery *self)
{
	try {
		self->finish_job();
	} catch (const std::exception &e) {
		i_error("fetchmail lmtp: internal error: %s", e.what());
	}
}

void LmtpDelivery::finish_job()
{
	if (queue_.empty())
		return;
	Job job = std::move(queue_.front());
	queue_.pop_front();
	sending_ = false;
	idle_since_ = ioloop_time;
	if (job.error.empty() && !job.data_ok) {
		job.error = "lmtp(" + path_ +
			"): the transaction ended without a reply to DATA";
	}
	if (!job.error.empty()) {
		/* the next message goes over a fresh connection */
		drop_connection();
	}
	answer(std::move(job.done), std::move(job.error));
	start_next();
}

void LmtpDelivery::save(const MessageMeta &, DeliveryDone done)
{
	Job &job = queue_.emplace_back();

	job.done = std::move(done);
	job.input = finish_message(job.error);
	start_next();
}

void LmtpDelivery::start_next()
{
	while (!sending_ && !queue_.empty()) {
		Job &job = queue_.front();
		if (job.input == nullptr) {
			/* the temp stream failed: answer without LMTP */
			Job failed = std::move(job);
			queue_.pop_front();
			answer(std::move(failed.done), std::move(failed.error));
			continue;
		}
		sending_ = true;
		/* the callbacks may come before send() returns: nothing of
		   job is used after it */
		struct istream *input = job.input;
		job.input = nullptr;
		/* MAIL FROM:<> (NULL is the null sender) */
		struct smtp_client_transaction *trans =
			(smtp_client_transaction_create)(connection(), nullptr,
			nullptr, static_cast<enum smtp_client_transaction_flags>(0),
			(smtp_client_transaction_callback_t *)finished_callback,
			this);
		(smtp_client_transaction_start)(trans,
			(smtp_client_command_callback_t *)mail_callback, this);
		(void)(smtp_client_transaction_add_rcpt)(trans, rcpt_, nullptr,
			(smtp_client_command_callback_t *)rcpt_callback,
			(smtp_client_command_callback_t *)data_callback, this);
		/* takes its own reference to the stream */
		(smtp_client_transaction_send)(trans, input,
			(smtp_client_command_callback_t *)send_callback, this);
		i_stream_unref(&input);
	}
}

int LmtpDelivery::commit(std::string &)
{
	return 0;
}

int LmtpDelivery::pending_target(PendingBatch &batch_r, std::string &error_r)
{
	return deliver_mailbox_state(user_, storage_ioloop_, "INBOX", batch_r,
				     error_r);
}

} // namespace fetchmail
