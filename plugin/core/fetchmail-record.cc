#include "fetchmail-record.hh"

#include <json/json.h>

#include <memory>

namespace fetchmail {

namespace {

/* jsoncpp's "* Line 1, Column 2\n  Missing '}'...\n" as one line:
   "line 1, column 2: Missing '}'..." (the first error only) */
std::string json_error_text(const std::string &errs)
{
	size_t start = errs.compare(0, 2, "* ") == 0 ? 2 : 0;
	size_t nl = errs.find('\n', start);
	std::string where = errs.substr(start, nl == errs.npos ?
					errs.npos : nl - start);
	for (char &c : where) {
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
	}
	if (nl == errs.npos)
		return where;
	size_t msg = errs.find_first_not_of(' ', nl + 1);
	size_t end = msg == errs.npos ? errs.npos : errs.find('\n', msg);
	if (msg == errs.npos || end == msg)
		return where;
	return where + ": " +
		errs.substr(msg, end == errs.npos ? errs.npos : end - msg);
}

std::string json_write(const Json::Value &root)
{
	Json::StreamWriterBuilder builder;
	builder["indentation"] = "";
	builder["emitUTF8"] = true;
	return Json::writeString(builder, root);
}

int json_read(std::string_view text, Json::Value &root_r,
	      std::string &error_r)
{
	Json::CharReaderBuilder builder;
	Json::CharReaderBuilder::strictMode(&builder.settings_);
	std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
	std::string errs;

	if (!reader->parse(text.data(), text.data() + text.size(), &root_r,
			   &errs)) {
		error_r = "record is not valid JSON: " + json_error_text(errs);
		return -1;
	}
	if (!root_r.isObject()) {
		error_r = "record is not a JSON object";
		return -1;
	}
	return 0;
}

/* Check "v": 0 when missing, -1 on error. */
int record_version(const Json::Value &root, int &version_r,
		   std::string &error_r)
{
	const Json::Value &v = root["v"];
	if (v.isNull()) {
		version_r = 0;
		return 0;
	}
	if (!v.isInt() || v.asInt() < 0) {
		error_r = "record version: expected a non-negative integer";
		return -1;
	}
	version_r = v.asInt();
	if (version_r > RECORD_VERSION) {
		error_r = "record version " + std::to_string(version_r) +
			" is newer than this plugin supports";
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
	root["v"] = RECORD_VERSION;
}

int type_error(std::string &error_r, const char *field, const char *type)
{
	error_r = std::string(field) + ": expected " + type;
	return -1;
}

/* Set a field from a JSON string through account_set_field(). 0 if set,
   1 if missing and optional, -1 on error. */
int set_string(Account &account, const Json::Value &root, const char *field,
	       bool required, std::string &error_r)
{
	const Json::Value &v = root[field];
	if (v.isNull()) {
		if (!required)
			return 1;
		error_r = std::string(field) + ": missing";
		return -1;
	}
	if (!v.isString())
		return type_error(error_r, field, "a string");
	return account_set_field(account, field, v.asString(), error_r);
}

int set_bool(Account &account, const Json::Value &root, const char *field,
	     std::string &error_r)
{
	const Json::Value &v = root[field];
	if (v.isNull())
		return 0;
	if (!v.isBool())
		return type_error(error_r, field, "true or false");
	return account_set_field(account, field, v.asBool() ? "yes" : "no",
				 error_r);
}

int account_decode(const Json::Value &root, Account &account,
		   std::string &blob_r, std::string &error_r)
{
	const Json::Value &id = root["id"];
	if (id.isNull()) {
		error_r = "id: missing";
		return -1;
	}
	if (!id.isString())
		return type_error(error_r, "id", "a string");
	if (!account_id_valid(id.asString())) {
		error_r = "id: not a valid account id";
		return -1;
	}
	account.id = id.asString();

	if (set_string(account, root, "host", true, error_r) < 0 ||
	    set_string(account, root, "protocol", true, error_r) < 0 ||
	    set_string(account, root, "remote-user", true, error_r) < 0 ||
	    set_string(account, root, "tls", false, error_r) < 0 ||
	    set_string(account, root, "mailbox", false, error_r) < 0 ||
	    set_bool(account, root, "tls-verify", error_r) < 0 ||
	    set_bool(account, root, "keep", error_r) < 0 ||
	    set_bool(account, root, "active", error_r) < 0)
		return -1;

	const Json::Value &port = root["port"];
	if (!port.isNull()) {
		if (!port.isUInt())
			return type_error(error_r, "port", "a number");
		if (port.asUInt() != 0 &&
		    account_set_field(account, "port",
				      std::to_string(port.asUInt()),
				      error_r) < 0)
			return -1;
	}
	const Json::Value &max_size = root["max-size"];
	if (!max_size.isNull()) {
		if (!max_size.isUInt64())
			return type_error(error_r, "max-size", "a number");
		account.max_size = max_size.asUInt64();
	}
	const Json::Value &folders = root["folders"];
	if (!folders.isNull()) {
		if (!folders.isArray())
			return type_error(error_r, "folders", "a list of strings");
		std::vector<std::string> list;
		for (const auto &f : folders) {
			if (!f.isString())
				return type_error(error_r, "folders",
						  "a list of strings");
			list.push_back(f.asString());
		}
		if (account_set_folders(account, list, error_r) < 0)
			return -1;
	}

	const Json::Value &password = root["password"];
	if (password.isNull()) {
		error_r = "password: missing";
		return -1;
	}
	if (!password.isString())
		return type_error(error_r, "password", "a string");
	if (password.asString().empty()) {
		error_r = "password: missing";
		return -1;
	}
	blob_r = password.asString();
	return 0;
}

int status_decode(const Json::Value &root, AccountStatus &status,
		  std::string &error_r)
{
	const Json::Value *v;

	if (!(v = &root["last-run"])->isNull()) {
		if (!v->isInt64())
			return type_error(error_r, "last-run", "a number");
		status.last_run = v->asInt64();
	}
	if (!(v = &root["last-status"])->isNull()) {
		if (!v->isString())
			return type_error(error_r, "last-status", "a string");
		if (run_status_parse(v->asString(), status.last_status) < 0) {
			error_r = "last-status: must be never, ok, error or running";
			return -1;
		}
	}
	if (!(v = &root["last-error"])->isNull()) {
		if (!v->isString())
			return type_error(error_r, "last-error", "a string");
		status.last_error = v->asString();
	}
	if (!(v = &root["last-fetched"])->isNull()) {
		if (!v->isUInt64())
			return type_error(error_r, "last-fetched", "a number");
		status.last_fetched = v->asUInt64();
	}
	if (!(v = &root["next-run"])->isNull()) {
		if (!v->isInt64())
			return type_error(error_r, "next-run", "a number");
		status.next_run = v->asInt64();
	}
	if (!(v = &root["failures"])->isNull()) {
		if (!v->isUInt())
			return type_error(error_r, "failures", "a number");
		status.failures = v->asUInt();
	}
	return 0;
}

} // namespace

std::string account_record_encode(const Account &account,
				  std::string_view password_blob)
{
	try {
		Json::Value root(Json::objectValue);
		root["v"] = RECORD_VERSION;
		root["id"] = account.id;
		root["host"] = account.host;
		root["port"] = account.port;
		root["protocol"] = protocol_name(account.protocol);
		root["remote-user"] = account.remote_user;
		root["password"] = std::string(password_blob);
		root["tls"] = tls_mode_name(account.tls);
		root["tls-verify"] = account.tls_verify;
		root["keep"] = account.keep;
		Json::Value &folders = root["folders"] = Json::arrayValue;
		for (const auto &f : account.folders)
			folders.append(f);
		root["mailbox"] = account.mailbox;
		root["max-size"] = Json::UInt64(account.max_size);
		root["active"] = account.active;
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
		if (json_read(json, root, error_r) < 0 ||
		    record_version(root, version, error_r) < 0)
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
		root["v"] = RECORD_VERSION;
		root["last-run"] = Json::Int64(status.last_run);
		root["last-status"] = run_status_name(status.last_status);
		root["last-error"] = status.last_error;
		root["last-fetched"] = Json::UInt64(status.last_fetched);
		root["next-run"] = Json::Int64(status.next_run);
		root["failures"] = status.failures;
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
		if (json_read(json, root, error_r) < 0 ||
		    record_version(root, version, error_r) < 0)
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
