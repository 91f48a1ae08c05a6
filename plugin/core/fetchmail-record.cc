#include "fetchmail-record.hh"

#include "fetchmail-json.hh"

namespace fetchmail {

namespace {

/* Parse a record and check its version (at most max_version): errors
   "record is not valid JSON: ...", "record version ...". */
int record_read(std::string_view json, int max_version, Json::Value &root_r,
		int &version_r, std::string &error_r)
{
	if (json_read_object(json, root_r, error_r) < 0) {
		error_r = "record is " + error_r;
		return -1;
	}
	if (json_version(root_r, max_version, "version",
			 "a non-negative integer", version_r, error_r) < 0) {
		error_r = "record " + error_r;
		return -1;
	}
	return 0;
}

/* Bring an account record up to RECORD_VERSION, one step per version. */
void record_upgrade(Json::Value &root, int version)
{
	if (version < 1) {
		/* v0: keys may use '_' instead of '-' */
		for (const char *key : { "remote_user", "tls_verify",
					 "max_size" }) {
			std::string new_key(key);
			new_key[new_key.find('_')] = '-';
			if (root.isMember(key) && !root.isMember(new_key))
				root[new_key] = root[key];
			root.removeMember(key);
		}
	}
	/* v1 -> v2 only added keys (auth, oauth2-provider): a v1 record is
	   a password account */
	root["v"] = RECORD_VERSION;
}

/* A string that must be present: "<field>: missing" when it is not. */
int get_required(const Json::Value &root, const char *field,
		 std::string &value_r, std::string &error_r)
{
	int ret = json_get(root, field, value_r, error_r);
	if (ret == 0) {
		error_r = std::string(field) + ": missing";
		return -1;
	}
	return ret < 0 ? -1 : 0;
}

/* Set a field from a JSON string through account_set_field(). 0 if set,
   1 if missing and optional, -1 on error. */
int set_string(Account &account, const Json::Value &root, const char *field,
	       bool required, std::string &error_r)
{
	std::string value;
	if (!required && root[field].isNull())
		return 1;
	if (get_required(root, field, value, error_r) < 0)
		return -1;
	return account_set_field(account, field, value, error_r);
}

int set_bool(Account &account, const Json::Value &root, const char *field,
	     std::string &error_r)
{
	bool value;
	int ret = json_get(root, field, value, error_r);
	if (ret <= 0)
		return ret;
	return account_set_field(account, field, value ? "yes" : "no",
				 error_r);
}

int account_decode(const Json::Value &root, Account &account,
		   std::string &blob_r, std::string &error_r)
{
	std::string id;
	if (get_required(root, "id", id, error_r) < 0)
		return -1;
	if (!account_id_valid(id)) {
		error_r = "id: not a valid account id";
		return -1;
	}
	account.id = id;

	if (set_string(account, root, "host", true, error_r) < 0 ||
	    set_string(account, root, "protocol", true, error_r) < 0 ||
	    set_string(account, root, "remote-user", true, error_r) < 0 ||
	    set_string(account, root, "tls", false, error_r) < 0 ||
	    set_string(account, root, "mailbox", false, error_r) < 0 ||
	    set_bool(account, root, "tls-verify", error_r) < 0 ||
	    set_bool(account, root, "keep", error_r) < 0 ||
	    set_bool(account, root, "active", error_r) < 0 ||
	    set_bool(account, root, "push", error_r) < 0)
		return -1;

	uint32_t port = 0;
	if (json_get(root, "port", port, error_r) < 0)
		return -1;
	if (port != 0 && account_set_field(account, "port",
					   std::to_string(port), error_r) < 0)
		return -1;
	if (json_get(root, "max-size", account.max_size, error_r) < 0 ||
	    json_get(root, "rev", account.revision, error_r) < 0)
		return -1;
	std::vector<std::string> folders;
	int ret = json_get(root, "folders", folders, error_r);
	if (ret < 0 ||
	    (ret > 0 && account_set_folders(account, folders, error_r) < 0))
		return -1;

	if (set_string(account, root, "auth", false, error_r) < 0 ||
	    set_string(account, root, "oauth2-provider",
		       account.auth == AuthMethod::OAuth2, error_r) < 0)
		return -1;
	if (account.auth == AuthMethod::OAuth2) {
		if (account.oauth2_provider.empty()) {
			error_r = "oauth2-provider: missing";
			return -1;
		}
		if (!root["password"].isNull()) {
			error_r = "password: not used with auth oauth2";
			return -1;
		}
		blob_r.clear();
		return 0;
	}
	if (!account.oauth2_provider.empty()) {
		error_r = "oauth2-provider: only with auth oauth2";
		return -1;
	}

	std::string password;
	if (get_required(root, "password", password, error_r) < 0)
		return -1;
	if (password.empty()) {
		error_r = "password: missing";
		return -1;
	}
	blob_r = std::move(password);
	return 0;
}

int status_decode(const Json::Value &root, AccountStatus &status,
		  std::string &error_r)
{
	std::string last_status;
	int ret = 0;

	if (json_get(root, "last-run", status.last_run, error_r) < 0 ||
	    (ret = json_get(root, "last-status", last_status, error_r)) < 0)
		return -1;
	if (ret > 0 && run_status_parse(last_status, status.last_status) < 0) {
		error_r = "last-status: must be never, ok, error or running";
		return -1;
	}
	if (json_get(root, "last-error", status.last_error, error_r) < 0 ||
	    json_get(root, "last-fetched", status.last_fetched, error_r) < 0 ||
	    json_get(root, "next-run", status.next_run, error_r) < 0 ||
	    json_get(root, "failures", status.failures, error_r) < 0 ||
	    json_get(root, "held", status.held, error_r) < 0 ||
	    json_get(root, "failing-since", status.failing_since,
		     error_r) < 0 ||
	    json_get(root, "notified", status.notified, error_r) < 0)
		return -1;
	return 0;
}

} // namespace

std::string account_record_encode(const Account &account,
				  std::string_view password_blob)
{
	try {
		bool oauth2 = account.auth == AuthMethod::OAuth2;
		Json::Value root(Json::objectValue);
		/* the lowest version that holds the record */
		root["v"] = oauth2 ? 2 : 1;
		root["id"] = account.id;
		root["host"] = account.host;
		root["port"] = account.port;
		root["protocol"] = protocol_name(account.protocol);
		root["remote-user"] = account.remote_user;
		if (oauth2) {
			root["auth"] = auth_method_name(account.auth);
			root["oauth2-provider"] = account.oauth2_provider;
		} else {
			root["password"] = std::string(password_blob);
		}
		root["tls"] = tls_mode_name(account.tls);
		root["tls-verify"] = account.tls_verify;
		root["keep"] = account.keep;
		Json::Value &folders = root["folders"] = Json::arrayValue;
		for (const auto &f : account.folders)
			folders.append(f);
		root["mailbox"] = account.mailbox;
		root["max-size"] = Json::UInt64(account.max_size);
		root["active"] = account.active;
		if (account.push)
			root["push"] = true;
		root["rev"] = Json::UInt64(account.revision);
		return json_write(root);
	} catch (const std::exception &) {
		return "";
	}
}

int account_record_decode(std::string_view json, Account &account_r,
			  std::string &password_blob_r, std::string &error_r)
{
	try {
		Json::Value root;
		int version;
		if (record_read(json, RECORD_VERSION, root, version,
				error_r) < 0)
			return -1;
		record_upgrade(root, version);

		Account account;
		std::string blob;
		if (account_decode(root, account, blob, error_r) < 0)
			return -1;
		account_r = std::move(account);
		password_blob_r = std::move(blob);
	} catch (const std::exception &e) {
		error_r = std::string("record: ") + e.what();
		return -1;
	}
	return 0;
}

std::string status_record_encode(const AccountStatus &status)
{
	try {
		Json::Value root(Json::objectValue);
		root["v"] = STATUS_RECORD_VERSION;
		root["last-run"] = Json::Int64(status.last_run);
		root["last-status"] = run_status_name(status.last_status);
		root["last-error"] = status.last_error;
		root["last-fetched"] = Json::UInt64(status.last_fetched);
		root["next-run"] = Json::Int64(status.next_run);
		root["failures"] = status.failures;
		if (status.held)
			root["held"] = true;
		if (status.failing_since != 0)
			root["failing-since"] = Json::Int64(status.failing_since);
		if (status.notified)
			root["notified"] = true;
		return json_write(root);
	} catch (const std::exception &) {
		return "";
	}
}

int status_record_decode(std::string_view json, AccountStatus &status_r,
			 std::string &error_r)
{
	try {
		Json::Value root;
		int version;
		if (record_read(json, STATUS_RECORD_VERSION, root, version,
				error_r) < 0)
			return -1;
		AccountStatus status;
		if (status_decode(root, status, error_r) < 0)
			return -1;
		status_r = std::move(status);
	} catch (const std::exception &e) {
		error_r = std::string("status record: ") + e.what();
		return -1;
	}
	return 0;
}

} // namespace fetchmail
