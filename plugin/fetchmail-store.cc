#include "fetchmail-store.hh"
#include "fetchmail-mailbox.hh"
#include "fetchmail-crypto.hh"
#include "fetchmail-record.hh"

#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

namespace fetchmail {

#define FETCHMAIL_ATTR_PREFIX \
	MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER "fetchmail/"

static const char *const record_kinds[] = {
	"account", "status", "ledger", "pending", "log", "tokens",
};

static const char CONSENT_KIND[] = "oauth2-state";
static const char REFRESH_KIND[] = "oauth2-refresh";
static const char ACCESS_KIND[] = "oauth2-access";

static std::string attr_key(const char *kind, const std::string &id)
{
	return std::string(FETCHMAIL_ATTR_PREFIX) + kind + "/" + id;
}

Store::Store(struct mail_user *user, const Settings &set)
	: user_(user), set_(set), ioloop_(current_ioloop)
{
}

Store::~Store()
{
	IoloopScope scope(ioloop_);

	if (box_ != nullptr)
		shared_mailbox_close(user_, &box_);
}

int Store::fail(StoreError kind, std::string &error_r, std::string error)
{
	last_error_ = kind;
	error_r = std::move(error);
	return -1;
}

std::string Store::aad(const std::string &id) const
{
	return std::string(user_->username) + "\n" + id;
}

int Store::open(std::string &error_r)
{
	IoloopScope scope(ioloop_);
	std::string error;

	/* the instance deliveries into INBOX use too (fetchmail-mailbox.hh) */
	box_ = shared_mailbox_open(user_, "INBOX", false, error);
	if (box_ == nullptr)
		return fail(StoreError::Internal, error_r, error);
	return 0;
}

int Store::get(const char *kind, const std::string &id,
	       std::string &value_r, std::string &error_r)
{
	IoloopScope scope(ioloop_);
	struct mail_attribute_value value;
	std::string key = attr_key(kind, id);
	int ret;

	i_zero(&value);
	ret = mailbox_attribute_get(box_, MAIL_ATTRIBUTE_TYPE_PRIVATE,
				    key.c_str(), &value);
	if (ret < 0) {
		return fail(StoreError::Internal, error_r,
			"mailbox_attribute_get(" + key + ") failed: " +
			mailbox_get_last_internal_error(box_, nullptr));
	}
	value_r = ret == 0 || value.value == nullptr ? "" : value.value;
	return ret > 0 ? 1 : 0;
}

/* Write (or with a null value, unset) several keys in one transaction. */
int Store::set(const Changes &changes, std::string &error_r)
{
	IoloopScope scope(ioloop_);
	struct mailbox_transaction_context *t =
		mailbox_transaction_begin(box_,
			MAILBOX_TRANSACTION_FLAG_EXTERNAL, "fetchmail store");

	for (const auto &[key, value] : changes) {
		struct mail_attribute_value attr;
		int ret;

		i_zero(&attr);
		if (value != nullptr) {
			attr.value = value->c_str();
			attr.last_change = ioloop_time;
			ret = mailbox_attribute_set(t,
				MAIL_ATTRIBUTE_TYPE_PRIVATE, key.c_str(), &attr);
		} else {
			ret = mailbox_attribute_unset(t,
				MAIL_ATTRIBUTE_TYPE_PRIVATE, key.c_str());
		}
		if (ret < 0) {
			mailbox_transaction_rollback(&t);
			return fail(StoreError::Internal, error_r,
				"mailbox_attribute_set(" + key + ") failed: " +
				mailbox_get_last_internal_error(box_, nullptr));
		}
	}
	if (mailbox_transaction_commit(&t) < 0) {
		return fail(StoreError::Internal, error_r, std::string(
			"mailbox_transaction_commit(INBOX) failed: ") +
			mailbox_get_last_internal_error(box_, nullptr));
	}
	return 0;
}

/* The names of the records of one kind (the keys below kind/). */
int Store::list_kind(const char *kind, std::vector<std::string> &names_r,
		     std::string &error_r)
{
	IoloopScope scope(ioloop_);
	std::string prefix = attr_key(kind, "");
	struct mailbox_attribute_iter *iter =
		mailbox_attribute_iter_init(box_, MAIL_ATTRIBUTE_TYPE_PRIVATE,
					    prefix.c_str());
	const char *key;

	names_r.clear();
	while ((key = mailbox_attribute_iter_next(iter)) != nullptr)
		names_r.emplace_back(key);
	if (mailbox_attribute_iter_deinit(&iter) < 0) {
		return fail(StoreError::Internal, error_r,
			"mailbox_attribute_iter(" + prefix + ") failed: " +
			mailbox_get_last_internal_error(box_, nullptr));
	}
	std::sort(names_r.begin(), names_r.end());
	return 0;
}

int Store::list_ids(std::vector<std::string> &ids_r, std::string &error_r)
{
	if (list_kind("account", ids_r, error_r) < 0)
		return -1;
	ids_r.erase(std::remove_if(ids_r.begin(), ids_r.end(),
				   [](const std::string &id) {
					   return !account_id_valid(id);
				   }), ids_r.end());
	return 0;
}

int Store::load(const std::string &id, StoredAccount &stored_r,
		std::string &error_r)
{
	std::string json;
	int ret;

	if ((ret = get("account", id, json, error_r)) < 0)
		return -1;
	if (ret == 0) {
		return fail(StoreError::NotFound, error_r,
			    "account " + id + ": no such account");
	}
	if (account_record_decode(json, stored_r.account,
				  stored_r.password_blob, error_r) < 0) {
		return fail(StoreError::Corrupt, error_r,
			    "account " + id + ": corrupt record: " + error_r);
	}
	stored_r.account.id = id;
	load_oauth2_status(stored_r);

	stored_r.status = AccountStatus();
	if ((ret = get("status", id, json, error_r)) < 0)
		return -1;
	if (ret > 0 && status_record_decode(json, stored_r.status,
					    error_r) < 0) {
		return fail(StoreError::Corrupt, error_r,
			    "account " + id + ": corrupt status: " + error_r);
	}
	/* "running" is not stored (a crash would leave it behind): it is
	   the account's lock being held right now */
	if (account_running(id))
		stored_r.status.last_status = RunStatus::Running;
	return 0;
}

/* The consent state of an OAuth2 account for list and show, without
   decrypting anything; an unreadable token record is shown, not fatal. */
void Store::load_oauth2_status(StoredAccount &stored)
{
	OAuth2Tokens tokens;
	std::string json, refresh, access, error;
	int ret;

	stored.oauth2.clear();
	if (stored.account.auth != AuthMethod::OAuth2)
		return;
	if ((ret = get("tokens", stored.account.id, json, error)) < 0) {
		stored.oauth2 = "unknown: " + error;
		return;
	}
	if (ret > 0 && oauth2_tokens_decode(json, tokens, refresh, access,
					    error) < 0) {
		stored.oauth2 = "consent needed: stored tokens unreadable (" +
			error + ")";
		return;
	}
	stored.oauth2 = oauth2_consent_text(ret > 0, !refresh.empty(),
					    tokens.consent_error);
}

int account_decrypt_password(const KeyRing &keys, const std::string &username,
			     StoredAccount &stored, StoreError &kind_r,
			     std::string &error_r)
{
	if (keys.empty()) {
		kind_r = StoreError::Config;
		error_r = "fetchmail_key is not set: cannot decrypt the "
			"password of account " + stored.account.id;
		return -1;
	}
	if (secret_decrypt(keys, stored.password_blob,
			   username + "\n" + stored.account.id,
			   stored.account.password, error_r) < 0) {
		kind_r = StoreError::Corrupt;
		error_r = "account " + stored.account.id + ": password: " +
			error_r;
		return -1;
	}
	return 0;
}

int Store::decrypt_password(StoredAccount &stored, std::string &error_r)
{
	StoreError kind;

	if (account_decrypt_password(set_.keys, user_->username, stored, kind,
				     error_r) < 0)
		return fail(kind, error_r, error_r);
	return 0;
}

int Store::encrypt_password(StoredAccount &stored, std::string &error_r)
{
	if (set_.keys.empty()) {
		return fail(StoreError::Config, error_r,
			    "fetchmail_key is not set: cannot store a "
			    "password (see conf.d/90-fetchmail.conf)");
	}
	if (secret_encrypt(set_.keys, stored.account.password,
			   aad(stored.account.id), stored.password_blob,
			   error_r) < 0)
		return fail(StoreError::Internal, error_r, error_r);
	return 0;
}

int Store::create(StoredAccount &stored, std::string &error_r,
		  const Ledger *ledger)
{
	std::vector<std::string> ids;
	std::string tomb;

	if (list_ids(ids, error_r) < 0)
		return -1;
	/* 40 random bits, drawn again while this user has the id */
	do {
		stored.account.id = account_generate_id([] {
			uint32_t r;
			random_fill(&r, sizeof(r));
			return r;
		});
	} while (std::binary_search(ids.begin(), ids.end(),
				    stored.account.id));

	/* an OAuth2 account has no password */
	if (stored.account.auth == AuthMethod::Password &&
	    encrypt_password(stored, error_r) < 0)
		return -1;
	stored.account.revision = 1;
	std::string record = account_record_encode(stored.account,
						   stored.password_blob);
	std::string status = status_record_encode(stored.status);
	/* a new account has no tokens (stale ones of a reused id go) */
	stored.oauth2 = stored.account.auth == AuthMethod::OAuth2 ?
		oauth2_consent_text(false, false, "") : "";
	std::string ledger_json;
	if (ledger != nullptr)
		ledger_json = ledger_encode(*ledger);
	return set({ { attr_key("account", stored.account.id), &record },
		     { attr_key("status", stored.account.id), &status },
		     { attr_key("ledger", stored.account.id),
		       ledger != nullptr ? &ledger_json : nullptr },
		     { attr_key("log", stored.account.id), nullptr },
		     { attr_key("tokens", stored.account.id), nullptr } },
		   error_r);
}

int Store::update(StoredAccount &stored, bool password_changed,
		  const StoreUpdate &also, std::string &error_r)
{
	const std::string &id = stored.account.id;

	if (password_changed && encrypt_password(stored, error_r) < 0)
		return -1;
	stored.account.revision++;
	std::string record = account_record_encode(stored.account,
						   stored.password_blob);
	Changes changes = { { attr_key("account", id), &record } };
	std::string status;
	if (also.forget_ledger) {
		/* the ledger and its pending record go together */
		changes.emplace_back(attr_key("ledger", id), nullptr);
		changes.emplace_back(attr_key("pending", id), nullptr);
	}
	if (also.forget_tokens)
		changes.emplace_back(attr_key("tokens", id), nullptr);
	if (also.status) {
		status = status_record_encode(stored.status);
		changes.emplace_back(attr_key("status", id), &status);
	}
	return set(changes, error_r);
}

int Store::encrypt_secret(std::string_view plaintext, const std::string &id,
			  const char *kind, std::string &blob_r,
			  std::string &error_r)
{
	if (set_.keys.empty()) {
		return fail(StoreError::Config, error_r,
			    "fetchmail_key is not set: cannot store OAuth2 "
			    "tokens (see conf.d/90-fetchmail.conf)");
	}
	if (secret_encrypt(set_.keys, plaintext, aad(id) + "\n" + kind,
			   blob_r, error_r) < 0)
		return fail(StoreError::Internal, error_r, error_r);
	return 0;
}

int Store::decrypt_secret(std::string_view blob, const std::string &id,
			  const char *kind, std::string &plain_r,
			  std::string &error_r)
{
	if (set_.keys.empty()) {
		return fail(StoreError::Config, error_r,
			    "fetchmail_key is not set: cannot read the OAuth2 "
			    "secrets of " + id);
	}
	if (secret_decrypt(set_.keys, blob, aad(id) + "\n" + kind, plain_r,
			   error_r) < 0) {
		return fail(StoreError::Corrupt, error_r, std::string(kind) +
			    " secret of " + id + ": " + error_r);
	}
	return 0;
}

int Store::load_tokens(const std::string &id, OAuth2Tokens &tokens_r,
		       std::string &error_r)
{
	std::string json, refresh_blob, access_blob;
	OAuth2Tokens tokens;
	int ret;

	tokens_r = OAuth2Tokens();
	if ((ret = get("tokens", id, json, error_r)) <= 0)
		return ret;
	if (oauth2_tokens_decode(json, tokens, refresh_blob, access_blob,
				 error_r) < 0) {
		return fail(StoreError::Corrupt, error_r,
			    "account " + id + ": corrupt " + error_r);
	}
	if ((!refresh_blob.empty() &&
	     decrypt_secret(refresh_blob, id, REFRESH_KIND,
			    tokens.refresh_token, error_r) < 0) ||
	    (!access_blob.empty() &&
	     decrypt_secret(access_blob, id, ACCESS_KIND,
			    tokens.access_token, error_r) < 0))
		return -1;
	tokens_r = std::move(tokens);
	return 1;
}

int Store::save_tokens(const Account &account, const OAuth2Tokens &tokens,
		       std::string &error_r, const AccountStatus *status)
{
	const std::string &id = account.id;
	std::string refresh_blob, access_blob;

	if ((!tokens.refresh_token.empty() &&
	     encrypt_secret(tokens.refresh_token, id, REFRESH_KIND,
			    refresh_blob, error_r) < 0) ||
	    (!tokens.access_token.empty() &&
	     encrypt_secret(tokens.access_token, id, ACCESS_KIND,
			    access_blob, error_r) < 0))
		return -1;
	std::string json = oauth2_tokens_encode(tokens, refresh_blob,
						access_blob);
	std::string status_json;
	Changes changes = { { attr_key("tokens", id), &json } };
	if (status != nullptr) {
		status_json = status_record_encode(*status);
		changes.emplace_back(attr_key("status", id), &status_json);
	}
	return set_unchanged(account, changes, error_r, "the token exchange");
}

int Store::save_consent(const std::string &key, const std::string &json,
			std::string &error_r)
{
	return set({ { attr_key(CONSENT_KIND, key), &json } }, error_r);
}

int Store::load_consent(const std::string &key, std::string &json_r,
			std::string &error_r)
{
	return get(CONSENT_KIND, key, json_r, error_r);
}

int Store::remove_consent(const std::string &key, std::string &error_r)
{
	return set({ { attr_key(CONSENT_KIND, key), nullptr } }, error_r);
}

int Store::list_consents(std::vector<std::string> &keys_r,
			 std::string &error_r)
{
	return list_kind(CONSENT_KIND, keys_r, error_r);
}

/* The stored revision of an account (exists_r false when it is gone). */
int Store::revision(const std::string &id, bool &exists_r, uint64_t &rev_r,
		    std::string &error_r)
{
	std::string json, blob;
	Account account;
	int ret;

	if ((ret = get("account", id, json, error_r)) < 0)
		return -1;
	exists_r = ret > 0;
	rev_r = 0;
	if (exists_r &&
	    account_record_decode(json, account, blob, error_r) == 0)
		rev_r = account.revision;
	return 0;
}

int Store::set_unchanged(const Account &account, const Changes &changes,
			 std::string &error_r, const char *what)
{
	bool exists;
	uint64_t rev;

	if (revision(account.id, exists, rev, error_r) < 0)
		return -1;
	if (!exists) {
		return fail(StoreError::Changed, error_r, "account " +
			    account.id + " was removed during " + what +
			    ": nothing of " + what + " is stored");
	}
	if (rev != account.revision) {
		return fail(StoreError::Changed, error_r, "account " +
			    account.id + " was changed during " + what +
			    ": nothing more of " + what + " is stored");
	}
	if (set(changes, error_r) < 0)
		return -1;
	/* a removal between the check and the write: remove what this
	   write left behind */
	if (revision(account.id, exists, rev, error_r) < 0)
		return -1;
	if (!exists) {
		std::string ignored;
		(void)remove(account.id, ignored);
		return fail(StoreError::Changed, error_r, "account " +
			    account.id + " was removed during " + what);
	}
	return 0;
}

int Store::remove(const std::string &id, std::string &error_r)
{
	std::vector<std::pair<std::string, const std::string *>> changes;

	for (const char *kind : record_kinds)
		changes.emplace_back(attr_key(kind, id), nullptr);
	return set(changes, error_r);
}

/* The ledger and the pending record go together (see
   fetchmail-retrieval.hh, "Exactly once"): a null or empty pending
   record is removed. */
static void ledger_changes(const std::string &id, const Ledger &ledger,
			   const PendingBatch *pending, std::string &ledger_json,
			   std::string &pending_json,
			   std::vector<std::pair<std::string,
						 const std::string *>> &changes)
{
	ledger_json = ledger_encode(ledger);
	changes.emplace_back(attr_key("ledger", id), &ledger_json);
	if (pending != nullptr && !pending->messages.empty()) {
		pending_json = pending_encode(*pending);
		changes.emplace_back(attr_key("pending", id), &pending_json);
	} else {
		changes.emplace_back(attr_key("pending", id), nullptr);
	}
}

int Store::save_run(const Account &account, const AccountStatus &status,
		    const std::string &log, const Ledger *ledger,
		    const PendingBatch *pending, std::string &error_r)
{
	const std::string &id = account.id;
	std::string status_json = status_record_encode(status);
	std::string ledger_json, pending_json;
	std::vector<std::pair<std::string, const std::string *>> changes = {
		{ attr_key("status", id), &status_json },
		{ attr_key("log", id), &log },
	};

	if (ledger != nullptr)
		ledger_changes(id, *ledger, pending, ledger_json, pending_json,
			       changes);
	return set_unchanged(account, changes, error_r);
}

int Store::lock_path(const std::string &name, std::string &path_r,
		     std::string &error_r)
{
	const char *dir;

	if (mailbox_list_get_root_path(mailbox_get_namespace(box_)->list,
				       MAILBOX_LIST_PATH_TYPE_INDEX, &dir) <= 0) {
		return fail(StoreError::Internal, error_r,
			    "mailbox_list_get_root_path(INBOX index) failed");
	}
	path_r = std::string(dir) + "/.fetchmail-" + name + ".lock";
	return 0;
}

int Store::lock_account(const std::string &id, int &fd_r,
			std::string &error_r)
{
	return lock_file(id, fd_r, error_r);
}

int Store::lock_account_for(const char *what, const std::string &id,
			    int &fd_r, std::string &error_r)
{
	return lock_file(std::string(what) + "-" + id, fd_r, error_r);
}

int Store::lock_file(const std::string &name, int &fd_r,
		     std::string &error_r)
{
	std::string path;

	fd_r = -1;
	if (lock_path(name, path, error_r) < 0)
		return -1;
	int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		return fail(StoreError::Internal, error_r, "open(" + path +
			    ") failed: " + strerror(errno));
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		i_close_fd(&fd);
		if (err == EWOULDBLOCK)
			return 0;
		return fail(StoreError::Internal, error_r, "flock(" + path +
			    ") failed: " + strerror(err));
	}
	fd_r = fd;
	return 1;
}

bool Store::account_running(const std::string &id)
{
	std::string path, error;

	if (lock_path(id, path, error) < 0)
		return false;
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return false;
	bool held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	i_close_fd(&fd);
	return held;
}

int Store::load_ledger(const std::string &id, Ledger &ledger_r,
		       std::string &error_r)
{
	std::string json;
	int ret;

	ledger_r = Ledger();
	if ((ret = get("ledger", id, json, error_r)) <= 0)
		return ret;
	if (ledger_decode(json, ledger_r, error_r) < 0) {
		return fail(StoreError::Corrupt, error_r,
			    "account " + id + ": corrupt ledger: " + error_r);
	}
	return 1;
}

int Store::save_ledger(const Account &account, const Ledger &ledger,
		       const PendingBatch *pending, std::string &error_r)
{
	std::string ledger_json, pending_json;
	Changes changes;

	ledger_changes(account.id, ledger, pending, ledger_json, pending_json,
		       changes);
	return set_unchanged(account, changes, error_r);
}

int Store::save_pending(const Account &account, const PendingBatch &pending,
			std::string &error_r)
{
	std::string json = pending_encode(pending);
	return set_unchanged(account, { { attr_key("pending", account.id),
					  &json } }, error_r);
}

int Store::load_pending(const std::string &id, PendingBatch &pending_r,
			std::string &error_r)
{
	std::string json;
	int ret;

	pending_r = PendingBatch();
	if ((ret = get("pending", id, json, error_r)) <= 0)
		return ret;
	if (pending_decode(json, pending_r, error_r) < 0) {
		return fail(StoreError::Corrupt, error_r, "account " + id +
			    ": corrupt pending record: " + error_r);
	}
	return 1;
}


int Store::load_log(const std::string &id, std::string &log_r,
		    std::string &error_r)
{
	return get("log", id, log_r, error_r);
}

} // namespace fetchmail
