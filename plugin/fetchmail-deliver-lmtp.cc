#include "fetchmail-deliver-lmtp.hh"

extern "C" {
#include "hostpid.h"
#include "smtp-address.h"
#include "smtp-reply.h"
#include "smtp-client.h"
#include "smtp-client-connection.h"
#include "smtp-client-transaction.h"
#include "smtp-client-private.h"
}

namespace fetchmail {

/* a connection idle for longer is replaced before the next message
   (Dovecot's LMTP server drops idle clients after five minutes) */
static const time_t LMTP_REUSE_IDLE_SECS = 60;

LmtpDelivery::LmtpDelivery(struct mail_user *user,
			   unsigned int connect_timeout_msecs)
	: Delivery(user), connect_timeout_msecs_(connect_timeout_msecs)
{
}

LmtpDelivery::~LmtpDelivery()
{
	if (ioloop_ != nullptr) {
		struct ioloop *prev = current_ioloop;

		io_loop_set_current(ioloop_);
		drop_connection();
		if (client_ != nullptr)
			smtp_client_deinit(&client_);
		io_loop_destroy(&ioloop_);
		io_loop_set_current(prev);
	}
	if (pool_ != nullptr)
		pool_unref(&pool_);
}

int LmtpDelivery::open(std::string &error_r)
{
	struct smtp_client_settings set;
	struct ioloop *prev = current_ioloop;
	const char *error;

	path_ = std::string(user_->set->base_dir) + "/lmtp";
	pool_ = pool_alloconly_create("fetchmail lmtp", 512);
	if (smtp_address_parse_username(pool_, user_->username, &rcpt_,
					&error) < 0) {
		error_r = "lmtp(" + path_ + "): invalid recipient address " +
			user_->username + ": " + error;
		return -1;
	}

	ioloop_ = io_loop_create();
	io_loop_set_current(prev);
	IoloopScope scope(ioloop_);

	i_zero(&set);
	set.my_hostname = my_hostdomain();     /* the LHLO name */
	set.connect_timeout_msecs = connect_timeout_msecs_;
	set.command_timeout_msecs = SMTP_DEFAULT_COMMAND_TIMEOUT_MSECS;
	set.event_parent = user_->event;
	/* the real cause (connect(...) failed: ...) in the reply text */
	set.verbose_user_errors = TRUE;
	client_ = smtp_client_init(&set);

	Wait w;
	wait_ = &w;
	smtp_client_connection_connect(connection(),
		(smtp_client_command_callback_t *)login_callback, this);
	wait(w);
	idle_since_ = ioloop_time;
	if (!w.error.empty()) {
		drop_connection();
		error_r = w.error;
		return -1;
	}
	return 0;
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
		/* Work around a lib-smtp bug (2.3.19 to at least 2.3.21):
		   every connect failure of a unix socket connection (refused,
		   missing socket, connect or greeting timeout) panics in
		   smtp_client_connection_last_ip(), which expects a resolved
		   IP list. One pseudo entry makes the unix socket its own
		   "last IP", so the failure reaches our callbacks instead.
		   The list is not used for unix sockets otherwise. */
		conn_->ips_count = 1;
		conn_->prev_connect_idx = 0;
	}
	return conn_;
}

void LmtpDelivery::drop_connection()
{
	if (conn_ != nullptr)
		smtp_client_connection_close(&conn_);
}

void LmtpDelivery::wait(Wait &w)
{
	if (!w.done)
		io_loop_run(ioloop_);
	wait_ = nullptr;
}

void LmtpDelivery::fail(Wait *w, const char *step,
			const struct smtp_reply *reply)
{
	if (w == nullptr || !w->error.empty())
		return;
	try {
		w->error = "lmtp(" + path_ + "): ";
		if (reply->status != SMTP_CLIENT_COMMAND_ERROR_CONNECT_FAILED)
			w->error += std::string(step) + " failed: ";
		else if (conn_ != nullptr && conn_->connect_errno != 0) {
			/* the reply only says "Failed to connect" */
			w->error += "connect(" + path_ + ") failed: " +
				strerror(conn_->connect_errno);
			return;
		}
		w->error += smtp_reply_log(reply);
	} catch (...) {
		w->error = "lmtp: out of memory";
	}
}

void LmtpDelivery::login_callback(const struct smtp_reply *reply,
				  LmtpDelivery *self)
{
	if (self->wait_ == nullptr)
		return;
	if (!smtp_reply_is_success(reply))
		self->fail(self->wait_, "LHLO", reply);
	self->wait_->done = true;
	io_loop_stop(self->ioloop_);
}

void LmtpDelivery::mail_callback(const struct smtp_reply *reply,
				 LmtpDelivery *self)
{
	if (!smtp_reply_is_success(reply))
		self->fail(self->wait_, "MAIL FROM", reply);
}

void LmtpDelivery::rcpt_callback(const struct smtp_reply *reply,
				 LmtpDelivery *self)
{
	if (!smtp_reply_is_success(reply))
		self->fail(self->wait_, "RCPT TO", reply);
}

void LmtpDelivery::data_callback(const struct smtp_reply *reply,
				 LmtpDelivery *self)
{
	if (smtp_reply_is_success(reply))
		self->data_ok_ = true;
	else
		self->fail(self->wait_, "DATA", reply);
}

void LmtpDelivery::send_callback(const struct smtp_reply *,
				 LmtpDelivery *)
{
	/* the last recipient's DATA reply: data_callback has it */
}

void LmtpDelivery::finished_callback(LmtpDelivery *self)
{
	Wait *w = self->wait_;

	if (w == nullptr)
		return;
	if (w->error.empty() && !self->data_ok_) {
		try {
			w->error = "lmtp(" + self->path_ +
				"): the transaction ended without a reply to DATA";
		} catch (...) {
			w->error = "lmtp: out of memory";
		}
	}
	w->done = true;
	io_loop_stop(self->ioloop_);
}

int LmtpDelivery::save(const MessageMeta &, std::string &error_r)
{
	struct smtp_client_transaction *trans;
	struct istream *input;

	if ((input = finish_message(error_r)) == nullptr)
		return -1;

	IoloopScope scope(ioloop_);
	Wait w;
	wait_ = &w;
	data_ok_ = false;
	/* MAIL FROM:<> (NULL is the null sender) */
	trans = (smtp_client_transaction_create)(connection(), nullptr,
		nullptr, static_cast<enum smtp_client_transaction_flags>(0),
		(smtp_client_transaction_callback_t *)finished_callback, this);
	(smtp_client_transaction_start)(trans,
		(smtp_client_command_callback_t *)mail_callback, this);
	(void)(smtp_client_transaction_add_rcpt)(trans, rcpt_, nullptr,
		(smtp_client_command_callback_t *)rcpt_callback,
		(smtp_client_command_callback_t *)data_callback, this);
	/* takes its own reference to the stream */
	(smtp_client_transaction_send)(trans, input,
		(smtp_client_command_callback_t *)send_callback, this);
	i_stream_unref(&input);
	wait(w);
	idle_since_ = ioloop_time;
	if (!w.error.empty()) {
		/* start the next message on a fresh connection */
		drop_connection();
		error_r = w.error;
		return -1;
	}
	uncommitted_++;
	return 0;
}

int LmtpDelivery::commit(std::string &)
{
	uncommitted_ = 0;
	return 0;
}

} // namespace fetchmail
