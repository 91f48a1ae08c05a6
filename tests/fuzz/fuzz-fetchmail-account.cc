/* libFuzzer target: the account fields (plugin/core/fetchmail-account.hh),
   as doveadm and the HTTP API set them one by one.

   Input: up to 16 account_set_field() calls on one account, each a
   byte choosing the field (account_field_names()[byte], modulo their
   number; 0xff: an unknown name read from the input up to '='), a length
   byte (values of up to a few KiB) and the value.

   Checked for every call: a refused value leaves the account unchanged,
   and its error is one line without control characters that starts with
   the field's name ("unknown field '...'" for an unknown one); an
   accepted value changes that field only (every other field that
   account_show_fields() lists stays, so new fields need nothing here),
   and setting the value shown for it changes nothing more (what is
   shown can be set again). The password is never echoed: whether and how a
   password is refused does not depend on its characters, only on its
   length and on CR, LF and NUL in it. At the end, an account that
   account_validate() accepts survives the stored record: it encodes and
   decodes to the same fields (the password aside, which the record holds
   only as a blob), and neither the record nor the show output depends
   on the password. */

#include "fuzz-common.hh"

#include "fetchmail-account.hh"
#include "fetchmail-record.hh"

#include <algorithm>

using namespace fetchmail;

namespace {

/* Setting field name changed nothing else: every other shown field is
   the same (but the effective port follows protocol and tls), and so
   are the members show does not list. */
void check_only_field_changed(const Account &before, const Account &after,
			      std::string_view name)
{
	auto a = account_show_fields(before, {});
	auto b = account_show_fields(after, {});
	FUZZ_CHECK(a.size() == b.size());
	for (size_t i = 0; i < a.size(); i++) {
		bool derived = a[i].first == "port" && before.port == 0 &&
			(name == "protocol" || name == "tls");
		if (a[i].first != name && !derived)
			FUZZ_CHECK(a[i] == b[i]);
	}
	FUZZ_CHECK(after.id == before.id && after.revision == before.revision);
	FUZZ_CHECK(name == "password" || after.password == before.password);
	FUZZ_CHECK(name == "protocol" ||
		   after.protocol_set == before.protocol_set);
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
	check_only_field_changed(before, account, name);
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
