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
     vendor/vendor.dovecot/pvt/server/fetchmail/tokens/<id>   OAuth2 tokens
     vendor/vendor.dovecot/pvt/server/fetchmail/oauth2-state/<key>
                                    a consent in progress (oauth2 start or
                                    device), key = SHA-256 of its state

   The account record holds the password only as an AES-256-GCM blob bound
   to "<user>\n<id>" (see fetchmail-crypto.hh). Every other secret (OAuth2
   refresh and access tokens, a PKCE verifier or device code) is a blob
   bound to "<user>\n<id or state key>\n<kind>", kind being
   oauth2-refresh, oauth2-access or oauth2-consent, so that no blob can be
   moved to another user, account or purpose. Records that fail to parse
   or decrypt are reported, never dropped.

   Storage calls are made with the ioloop current at construction (the
   mail user's long-lived one) made current for their duration, so callers
   may use the store while a private ioloop runs. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-account.hh"
#include "fetchmail-ledger.hh"
#include "fetchmail-poll.hh"
#include "fetchmail-oauth2.hh"
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
	/* OAuth2 accounts, from the token record without decrypting it: the
	   consent state as list and show print it (oauth2_consent_text());
	   empty for password accounts. */
	std::string oauth2;
	/* not stored here: what the fetch service knows of the remote
	   mailbox (fetchmail-poll.hh), for Check runs */
	PollSummary summary;
};

/* Decrypt stored.password_blob of user username into
   stored.account.password with keys (what Store::decrypt_password() does,
   for the fetch service's cheap polls, which open no storage). -1 with
   kind_r Config (no key) or Corrupt (does not decrypt) and error_r. */
int account_decrypt_password(const KeyRing &keys, const std::string &username,
			     StoredAccount &stored, StoreError &kind_r,
			     std::string &error_r);

/* What Store::update() changes besides the account record, in the same
   transaction. */
struct StoreUpdate {
	bool forget_ledger = false; /* another mailbox: host, protocol,
				       remote user (ledger and pending record) */
	bool forget_tokens = false; /* another provider or remote user, or
				       auth password: they were someone else's */
	bool status = false;        /* write stored.status too (held) */
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
	   when password_changed; in the same transaction does what also says
	   (forget_ledger: another host, protocol or remote user, another
	   mailbox; forget_tokens: another provider or remote user). */
	int update(StoredAccount &stored, bool password_changed,
		   const StoreUpdate &also, std::string &error_r);
	/* Remove the account with its status, ledger, log and tokens. */
	int remove(const std::string &id, std::string &error_r);

	/* OAuth2 tokens of an account, decrypted: 1 when the account has a
	   token record, 0 when not (tokens_r is then empty), -1 on error
	   (Config without fetchmail_key, Corrupt for a record that does not
	   parse or decrypt). */
	int load_tokens(const std::string &id, OAuth2Tokens &tokens_r,
			std::string &error_r);
	/* Encrypt and write the whole token record of account in one
	   transaction: a rotated refresh token replaces the old one together
	   with the new access token and its expiry, or not at all. With
	   status, the status record goes into the same transaction (held or
	   released, see oauth2_status_hold()). Only while the account is
	   the one account describes (same revision, see the writes of a run
	   below): tokens got for an account that was changed (another
	   provider or remote user) or removed meanwhile are not stored
	   (StoreError::Changed). */
	int save_tokens(const Account &account, const OAuth2Tokens &tokens,
			std::string &error_r,
			const AccountStatus *status = nullptr);

	/* Consent states (see fetchmail-oauth2.hh), by the state's key. */
	int save_consent(const std::string &key, const std::string &json,
			 std::string &error_r);
	/* 1 with the record, 0 when there is none. */
	int load_consent(const std::string &key, std::string &json_r,
			 std::string &error_r);
	int remove_consent(const std::string &key, std::string &error_r);
	int list_consents(std::vector<std::string> &keys_r,
			  std::string &error_r);

	/* Secrets other than the password: AES-256-GCM under fetchmail_key,
	   bound to "<user>\n<id>\n<kind>". Config error without a key. */
	int encrypt_secret(std::string_view plaintext, const std::string &id,
			   const char *kind, std::string &blob_r,
			   std::string &error_r);
	int decrypt_secret(std::string_view blob, const std::string &id,
			   const char *kind, std::string &plain_r,
			   std::string &error_r);

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
	/* The same for other exclusive work on an account, named by what:
	   .fetchmail-<what>-<id>.lock (e.g. "oauth2": a token refresh or a
	   consent being stored). Never blocks. */
	int lock_account_for(const char *what, const std::string &id,
			     int &fd_r, std::string &error_r);
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
	int list_kind(const char *kind, std::vector<std::string> &names_r,
		      std::string &error_r);
	using Changes = std::vector<std::pair<std::string, const std::string *>>;
	int set(const Changes &changes, std::string &error_r);
	/* set() while the account has account's revision; what names the
	   writer in the error ("the run") */
	int set_unchanged(const Account &account, const Changes &changes,
			  std::string &error_r, const char *what = "the run");
	int revision(const std::string &id, bool &exists_r, uint64_t &rev_r,
		     std::string &error_r);
	int encrypt_password(StoredAccount &stored, std::string &error_r);
	void load_oauth2_status(StoredAccount &stored);
	int fail(StoreError kind, std::string &error_r, std::string error);
	std::string aad(const std::string &id) const;
	int lock_path(const std::string &name, std::string &path_r,
		      std::string &error_r);
	int lock_file(const std::string &name, int &fd_r,
		      std::string &error_r);

	struct mail_user *user_;
	const Settings &set_;
	struct ioloop *ioloop_;
	struct mailbox *box_ = nullptr;
	StoreError last_error_ = StoreError::None;
};

} // namespace fetchmail

#endif
