#ifndef FETCHMAIL_STORE_HH
#define FETCHMAIL_STORE_HH

/* The account store of one mail user.

   Everything lives in the user's INBOX private server attributes, a space
   that IMAP clients can neither read nor write (mail-crypt keeps its keys
   the same way):

     vendor/vendor.dovecot/pvt/server/fetchmail/account/<id>  account record
     vendor/vendor.dovecot/pvt/server/fetchmail/status/<id>   status record
     vendor/vendor.dovecot/pvt/server/fetchmail/ledger/<id>   delivered UIDs
     vendor/vendor.dovecot/pvt/server/fetchmail/pending/<id>  a batch being
                                                   made durable (exactly once)
     vendor/vendor.dovecot/pvt/server/fetchmail/log/<id>      last run log

   The account record holds the password only as an AES-256-GCM blob bound
   to "<user>\n<id>" (see fetchmail-crypto.hh). Records that fail to parse
   or decrypt are reported, never dropped.

   Storage calls are made with the ioloop current at construction (the
   mail user's long-lived one) made current for their duration, so callers
   may use the store while a private ioloop runs. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-account.hh"
#include "fetchmail-ledger.hh"
#include "fetchmail-settings.hh"

#include <string>
#include <vector>

namespace fetchmail {

/* Why an operation failed, so that callers can pick an exit code. */
enum class StoreError {
	None,
	Internal,  /* storage or attribute failure: temporary */
	Config,    /* fetchmail_key missing or invalid */
	Corrupt,   /* a record that does not parse or decrypt */
	NotFound,  /* no account with that id */
	Changed,   /* the account was changed or removed during a run */
};

struct StoredAccount {
	Account account;          /* password filled only by decrypt_password() */
	std::string password_blob;
	AccountStatus status;
};

class Store {
public:
	Store(struct mail_user *user, const Settings &set);
	~Store();
	Store(const Store &) = delete;
	Store &operator=(const Store &) = delete;

	/* Open the user's INBOX for attribute access. */
	int open(std::string &error_r);

	/* Account ids, sorted. */
	int list_ids(std::vector<std::string> &ids_r, std::string &error_r);
	/* Load account and status (not the plaintext password). */
	int load(const std::string &id, StoredAccount &stored_r,
		 std::string &error_r);
	int decrypt_password(StoredAccount &stored, std::string &error_r);

	/* Create a new account: generates its id (stored in account.id),
	   encrypts account.password, writes account, a fresh status and,
	   when given, the ledger (an import's seed), in one transaction. */
	int create(StoredAccount &stored, std::string &error_r,
		   const Ledger *ledger = nullptr);
	/* Rewrite the account record with its revision raised; re-encrypts
	   when password_changed; with forget_ledger the ledger and pending
	   record go in the same transaction (another host, protocol or
	   remote user: another mailbox). */
	int update(StoredAccount &stored, bool password_changed,
		   bool forget_ledger, std::string &error_r);
	/* Remove the account with its status, ledger and log. */
	int remove(const std::string &id, std::string &error_r);

	/* The writes of a run. Each is made only while the account is the
	   one the run started with (same revision): an account edited or
	   removed during the run gets nothing written by it (StoreError::
	   Changed), and what a removal overtakes is removed again.

	   The end of a run in one transaction: status, run log and, when
	   given, the ledger with the pending record (removed when pending is
	   null or empty). */
	int save_run(const Account &account, const AccountStatus &status,
		     const std::string &log, const Ledger *ledger,
		     const PendingBatch *pending, std::string &error_r);

	/* Runs of one account never overlap: a flock() on
	   .fetchmail-<id>.lock in the user's INBOX index directory. The
	   kernel drops it when the process ends, so a crash leaves nothing
	   stuck. Returns 1 with fd_r holding the lock, 0 when another run
	   holds it, -1 on error. */
	int lock_account(const std::string &id, int &fd_r,
			 std::string &error_r);
	/* Whether a run of the account is in progress (its lock is held). */
	bool account_running(const std::string &id);
	int load_ledger(const std::string &id, Ledger &ledger_r,
			std::string &error_r);
	/* The ledger and the pending record (removed when null or empty),
	   in one transaction. */
	int save_ledger(const Account &account, const Ledger &ledger,
			const PendingBatch *pending, std::string &error_r);
	int save_pending(const Account &account, const PendingBatch &pending,
			 std::string &error_r);
	/* 0 when there is none */
	int load_pending(const std::string &id, PendingBatch &pending_r,
			 std::string &error_r);
	int load_log(const std::string &id, std::string &log_r,
		     std::string &error_r);

	StoreError last_error() const { return last_error_; }
	struct mail_user *user() const { return user_; }
	/* The mail user's ioloop (current at construction). */
	struct ioloop *ioloop() const { return ioloop_; }

private:
	int get(const char *kind, const std::string &id, std::string &value_r,
		std::string &error_r);
	using Changes = std::vector<std::pair<std::string, const std::string *>>;
	int set(const Changes &changes, std::string &error_r);
	int set_unchanged(const Account &account, const Changes &changes,
			  std::string &error_r);
	int revision(const std::string &id, bool &exists_r, uint64_t &rev_r,
		     std::string &error_r);
	int encrypt_password(StoredAccount &stored, std::string &error_r);
	int fail(StoreError kind, std::string &error_r, std::string error);
	std::string aad(const std::string &id) const;
	int lock_path(const std::string &id, std::string &path_r,
		      std::string &error_r);

	struct mail_user *user_;
	const Settings &set_;
	struct ioloop *ioloop_;
	struct mailbox *box_ = nullptr;
	StoreError last_error_ = StoreError::None;
};

} // namespace fetchmail

#endif
