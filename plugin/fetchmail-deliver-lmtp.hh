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
     save() is final, commit() has nothing left to do, uncommitted() only
     counts the saves since the last commit() for the driver's batching.

   The driver calls save() synchronously: it runs a private ioloop that
   owns the LMTP connection until the reply arrives (lib-smtp's command
   timeouts bound the wait). Between saves the connection's ios stay in
   that ioloop, which nobody runs. */

#include "fetchmail-deliver.hh"

#include <string>

struct smtp_client;
struct smtp_client_connection;
struct smtp_client_transaction;
struct smtp_address;
struct smtp_reply;

namespace fetchmail {

class LmtpDelivery : public Delivery {
public:
	/* connect_timeout_msecs bounds connecting and the LHLO greeting;
	   commands (DATA with the delivery behind it) get lib-smtp's
	   default five minutes. */
	LmtpDelivery(struct mail_user *user, unsigned int connect_timeout_msecs);
	~LmtpDelivery() override;   /* QUITs and closes the connection */

	/* Find the socket (<base_dir>/lmtp from the user's settings), parse
	   the recipient, connect and wait for the greeting. Fails with the
	   LMTP reply or the connect error, so a run whose LMTP service is
	   missing fails before anything is fetched. */
	int open(std::string &error_r) override;
	/* Send the message received since begin() in one LMTP transaction.
	   0 only after the recipient's 250 to DATA; -1 with e.g.
	   "lmtp(/run/dovecot/lmtp): DATA failed: 552 5.2.2 Mailbox is full"
	   otherwise, and the message must stay on the server. */
	int save(const MessageMeta &meta, std::string &error_r) override;
	/* Nothing to make durable: always 0. */
	int commit(std::string &error_r) override;

	const std::string &socket_path() const { return path_; }

private:
	/* The outcome of one wait() */
	struct Wait {
		bool done = false;
		std::string error;    /* the first failure, empty on success */
	};

	struct smtp_client_connection *connection();
	void drop_connection();
	void wait(Wait &w);
	void fail(Wait *w, const char *step, const struct smtp_reply *reply);

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

	unsigned int connect_timeout_msecs_;
	std::string path_;
	pool_t pool_ = nullptr;
	struct smtp_address *rcpt_ = nullptr;
	struct ioloop *ioloop_ = nullptr;
	struct smtp_client *client_ = nullptr;
	struct smtp_client_connection *conn_ = nullptr;
	time_t idle_since_ = 0;
	Wait *wait_ = nullptr;       /* the wait in progress */
	bool data_ok_ = false;       /* the recipient's DATA reply was 250 */
};

} // namespace fetchmail

#endif
