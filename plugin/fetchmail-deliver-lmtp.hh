#ifndef FETCHMAIL_DELIVER_LMTP_HH
#define FETCHMAIL_DELIVER_LMTP_HH

/* fetchmail_delivery = lmtp: every fetched message is handed to the local
   LMTP service at <base_dir>/lmtp, so Sieve, quota warnings and whatever
   else LMTP does apply to it.

   Rules (see docs/delivery.md / the admin guide):
   - RCPT TO: the mail user's own name (user->username), MAIL FROM: the
     null sender <>. The real envelope sender is unknown and the message's
     Return-Path is whatever the remote stored, so nothing is derived from
     the message: Sieve vacation does not answer fetched mail.
   - The account's mailbox is not used: LMTP and Sieve decide where the
     message goes (INBOX unless a Sieve script files it elsewhere). Flags
     and INTERNALDATE (MessageMeta) cannot be carried over LMTP either.
   - One LMTP connection per delivery object (one account run), opened and
     greeted (LHLO) by open(), reused for every message. It is replaced
     after any failed message and when it has been idle for a while, so
     that a connection the server timed out is never reused.
   - A 250 for the recipient after DATA means delivered and durable: each
     save is final (saves_are_final()), commit() has nothing to do.

   Everything runs on the ioloop that is current at open() (the run's),
   nothing waits: save() queues the message and answers from the ioloop
   when LMTP has replied, in order, one transaction at a time. */

#include "fetchmail-deliver.hh"

#include <deque>
#include <string>

struct smtp_client;
struct smtp_client_connection;
struct smtp_address;
struct smtp_reply;

namespace fetchmail {

class LmtpDelivery : public Delivery {
public:
	/* connect_timeout_msecs bounds connecting and the LHLO greeting;
	   commands (DATA with the delivery behind it) get lib-smtp's
	   default five minutes. */
	LmtpDelivery(struct mail_user *user, struct ioloop *storage_ioloop,
		     unsigned int connect_timeout_msecs);
	~LmtpDelivery() override;   /* QUITs and closes the connection */

	/* Find the socket (<base_dir>/lmtp from the user's settings), parse
	   the recipient, connect and wait for the greeting. Fails with the
	   LMTP reply or the connect error, so a run whose LMTP service is
	   missing fails before anything is fetched. */
	void open(DeliveryDone done) override;
	/* Queue the message received since begin() for one LMTP
	   transaction. done("") only after the recipient's 250 to DATA;
	   otherwise e.g. "lmtp(/run/dovecot/lmtp): DATA failed: 552 5.2.2
	   Mailbox is full", and the message must stay on the server. */
	void save(const MessageMeta &meta, DeliveryDone done) override;
	int commit(std::string &error_r) override;
	bool saves_are_final() const override { return true; }
	/* INBOX, where LMTP puts mail unless Sieve files it elsewhere. */
	int pending_target(PendingBatch &batch_r, std::string &error_r) override;
	size_t in_flight() const override { return queue_.size(); }

	const std::string &socket_path() const { return path_; }

private:
	struct Job {
		struct istream *input = nullptr;
		DeliveryDone done;
		std::string error;      /* the first failure */
		bool data_ok = false;   /* the recipient's DATA reply was 250 */
	};
	/* an answer waiting for the ioloop to deliver it */
	struct Answer {
		DeliveryDone done;
		std::string error;
	};

	struct smtp_client_connection *connection();
	void drop_connection();
	void start_next();
	void finish_job();
	void answer(DeliveryDone done, std::string error);
	void fail(std::string &error, const char *step,
		  const struct smtp_reply *reply);

	static void login_callback(const struct smtp_reply *reply,
				   LmtpDelivery *self);
	static void mail_callback(const struct smtp_reply *reply,
				  LmtpDelivery *self);
	static void rcpt_callback(const struct smtp_reply *reply,
				  LmtpDelivery *self);
	static void data_callback(const struct smtp_reply *reply,
				  LmtpDelivery *self);
	static void send_callback(const struct smtp_reply *reply,
				  LmtpDelivery *self);
	static void finished_callback(LmtpDelivery *self);
	static void answers_timeout(LmtpDelivery *self);

	unsigned int connect_timeout_msecs_;
	std::string path_;
	pool_t pool_ = nullptr;
	struct smtp_address *rcpt_ = nullptr;
	struct smtp_client *client_ = nullptr;
	struct smtp_client_connection *conn_ = nullptr;
	time_t idle_since_ = 0;
	DeliveryDone open_done_;
	std::string open_error_;
	std::deque<Job> queue_;        /* front: in an LMTP transaction */
	bool sending_ = false;
	std::deque<Answer> answers_;
	struct timeout *to_answers_ = nullptr;
};

} // namespace fetchmail

#endif
