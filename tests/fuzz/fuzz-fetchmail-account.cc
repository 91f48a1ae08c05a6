/* libFuzzer target: the account fields (plugin/core/fetchmail-account.hh),
   as doveadm and the HTTP API set them one by one.

   Input: up to 16 account_set_field() calls on one account, each a
   byte choosing the field (account_field_names()[byte], modulo their
   number; 0xff: an unknown name read from the input up to '='), a length
   byte (values of up to a few KiB) and the value.

   Checked for every call: a refused value leaves the account unchanged,
   and its error is one line without control characters that starts with
   the field's name ("unknown field '...'" for an unknown one); an
   accepted value changes that field only, and setting the value that
   account_show_fields() shows for it changes nothing more (what is shown
   can be set again). The password is never echoed: whether and how a
   password is refused does not depend on its characters, only on its
   length and on CR, LF and NUL in it. At the end, an account that
   account_validate() accepts survives the stored record: it encodes and
   decodes to the same fields (the password aside, which the record holds
   only as a blob), and neither the record nor the show output depends
   on the password. */

#include "fuzz-common.hh"

#include "fetchmail-account.hh"
#include "fetchmail-record.hh"

#include <functional>
#include <map>

using namespace fetchmail;

namespace {

/* Copy field name from one account into another. */
void copy_field(std::string_view name, const Account &from, Account &to)
{
	static const std::map<std::string_view,
			      std::function<void(const Account &, Account &)>>
		copy = {
		{ "host", [](const Account &f, Account &t) { t.host = f.host; } },
		{ "port", [](const Account &f, Account &t) { t.port = f.port; } },
		{ "protocol", [](const Account &f, Account &t) {
			t.protocol = f.protocol;
			t.protocol_set = f.protocol_set; } },
		{ "remote-user", [](const Account &f, Account &t) {
			t.remote_user = f.remote_user; } },
		{ "password", [](const Account &f, Account &t) {
			t.password = f.password; } },
		{ "tls", [](const Account &f, Account &t) { t.tls = f.tls; } },
		{ "tls-verify", [](const Account &f, Account &t) {
			t.tls_verify = f.tls_verify; } },
		{ "keep", [](const Account &f, Account &t) { t.keep = f.keep; } },
		{ "folders", [](const Account &f, Account &t) {
			t.folders = f.folders; } },
		{ "mailbox", [](const Account &f, Account &t) {
			t.mailbox = f.mailbox; } },
		{ "max-size", [](const Account &f, Account &t) {
			t.max_size = f.max_size; } },
		{ "active", [](const Account &f, Account &t) {
			t.active = f.active; } },
		{ "auth", [](const Account &f, Account &t) { t.auth = f.auth; } },
		{ "oauth2-provider", [](const Account &f, Account &t) {
			t.oauth2_provider = f.oauth2_provider; } },
	};
	copy.at(name)(from, to);
}

/* The password with every character but CR, LF and NUL replaced. */
std::string masked(std::string_view value)
{
	std::string out(value);
	for (char &c : out) {
		if (c != '\r' && c != '\n' && c != '\0')
			c = 'x';
	}
	return out;
}

void check_refused(std::string_view name, bool known,
		   const std::string &error)
{
	FUZZ_CHECK(fuzz_printable(error));
	std::string prefix = known ? std::string(name) + ": " :
		"unknown field '";
	FUZZ_CHECK(error.compare(0, prefix.size(), prefix) == 0);
}

void check_shown_value(const Account &account, std::string_view name)
{
	for (const auto &[shown, value] : account_show_fields(account, {})) {
		if (shown != name)
			continue;
		Account again = account;
		std::string error;
		FUZZ_CHECK(account_set_field(again, name, value, error) == 0);
		FUZZ_CHECK(fuzz_account_fields(again) == fuzz_account_fields(account));
	}
}

void set_field(Account &account, std::string_view name, bool known,
	       std::string_view value)
{
	Account before = account;
	std::string error;
	int ret = account_set_field(account, name, value, error);
	FUZZ_CHECK(ret == 0 || ret == -1);
	if (name == "password") {
		Account other = before;
		std::string other_error;
		int other_ret = account_set_field(other, name, masked(value),
						  other_error);
		FUZZ_CHECK(other_ret == ret && other_error == error);
	}
	if (ret < 0) {
		FUZZ_CHECK(fuzz_account_fields(account) == fuzz_account_fields(before));
		check_refused(name, known, error);
		return;
	}
	FUZZ_CHECK(known);
	Account unchanged = account;
	copy_field(name, before, unchanged);
	FUZZ_CHECK(fuzz_account_fields(unchanged) == fuzz_account_fields(before));
	if (name == "password")
		FUZZ_CHECK(account.password == value);
	else
		check_shown_value(account, name);
}

void check_record(const Account &account)
{
	std::string error;
	if (account_validate(account, error) < 0) {
		FUZZ_CHECK(!error.empty() && fuzz_printable(error));
		return;
	}
	const std::string blob = "v1:00000001:blob";
	std::string encoded = account_record_encode(account, blob);
	Account decoded;
	std::string decoded_blob;
	FUZZ_CHECK(account_record_decode(encoded, decoded, decoded_blob,
					 error) == 0);
	/* an OAuth2 account has no password blob (a v2 record) */
	bool oauth2 = account.auth == AuthMethod::OAuth2;
	FUZZ_CHECK(decoded_blob == (oauth2 ? "" : blob));
	FUZZ_CHECK(decoded.password.empty());
	decoded.password = account.password;
	FUZZ_CHECK(fuzz_account_fields(decoded) == fuzz_account_fields(account));

	Account other = account;
	other.password = "another password";
	FUZZ_CHECK(account_record_encode(other, blob) == encoded);
	FUZZ_CHECK(account_show_fields(other, {}) ==
		   account_show_fields(account, {}));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput in(data, size);
	const std::vector<std::string_view> &names = account_field_names();
	Account account;
	account.id = "fm-fuzz2345";
	for (unsigned calls = 0; !in.empty() && calls < 16; calls++) {
		/* 0xff: an unknown name; else the field names[pick] */
		uint8_t pick = in.byte();
		bool known = pick != 0xff;
		std::string name(known ? names[pick % names.size()] :
				 in.until('='));
		size_t len = in.byte();
		if (len >= 0xf0)
			len = (len - 0xef) * 256;   /* up to 4 KiB */
		std::string value(in.bytes(len));
		if (!known && std::find(names.begin(), names.end(), name) !=
		    names.end())
			known = true;
		set_field(account, name, known, value);
	}
	check_record(account);
	return 0;
}
