/* libFuzzer target: the stored account and status records
   (plugin/core/fetchmail-record.hh).

   Input: JSON text (any bytes), decoded both as an account record and as
   a status record.

   Checked: decoding never throws or crashes; an error leaves the output
   untouched and is one line without control characters (it ends up in
   the run log and in doveadm's output); a decoded record encodes to a
   current-version record that decodes to the same account (or status)
   and encodes to the same bytes again (the encoding is canonical); the
   decoded account keeps the contract's invariants (valid id, protocol
   set, a password blob exactly for password accounts, every field as
   account_set_field() accepts it: setting each field again from
   account_show_fields() changes nothing); and neither the
   record nor the show output depends on the plaintext password. */

#include "fuzz-common.hh"

#include "fetchmail-account.hh"
#include "fetchmail-record.hh"

#include <algorithm>
#include <tuple>

using namespace fetchmail;

namespace {

auto fields(const Account &a)
{
	return fuzz_account_fields(a);
}

auto fields(const AccountStatus &s)
{
	return std::tie(s.last_run, s.last_status, s.last_error,
			s.last_fetched, s.next_run, s.failures, s.held,
			s.failing_since, s.notified);
}

/* What a failed decode must leave behind: a marked account */
Account marker()
{
	Account a;
	a.id = "untouched";
	a.host = "untouched.example";
	return a;
}

void check_error(const std::string &error)
{
	FUZZ_CHECK(!error.empty() && fuzz_printable(error));
}

/* Setting a shown field again changes nothing. */
void check_fields_stable(const Account &account)
{
	for (const auto &[name, value] : account_show_fields(account, {})) {
		if (name == "id" || name == "oauth2" ||
		    name.compare(0, 5, "last-") == 0 || name == "next-run")
			continue;   /* not account fields */
		if (name == "port" && account.port == 0)
			continue;   /* shown as the effective port */
		if (name == "folders" &&
		    std::any_of(account.folders.begin(), account.folders.end(),
				[](const std::string &f) {
					return f.find(',') != f.npos;
				}))
			continue;   /* a stored folder name may hold a comma */
		Account again = account;
		std::string error;
		FUZZ_CHECK(account_set_field(again, name, value, error) == 0);
		FUZZ_CHECK(fields(again) == fields(account));
	}
}

void account_record(std::string_view json)
{
	Account account = marker();
	std::string blob = "untouched", error;
	if (account_record_decode(json, account, blob, error) < 0) {
		check_error(error);
		FUZZ_CHECK(fields(account) == fields(marker()));
		FUZZ_CHECK(blob == "untouched");
		return;
	}
	FUZZ_CHECK(account_id_valid(account.id) && account.protocol_set);
	/* the password blob, for password accounts only (v2: OAuth2) */
	FUZZ_CHECK(account.password.empty());
	FUZZ_CHECK(blob.empty() == (account.auth == AuthMethod::OAuth2));
	check_fields_stable(account);

	std::string encoded = account_record_encode(account, blob);
	Account again;
	std::string blob_again;
	FUZZ_CHECK(account_record_decode(encoded, again, blob_again, error) == 0);
	FUZZ_CHECK(fields(again) == fields(account) && blob_again == blob);
	FUZZ_CHECK(account_record_encode(again, blob_again) == encoded);

	/* the plaintext password is in neither the record nor show */
	Account with_password = account;
	with_password.password = "pw";
	FUZZ_CHECK(account_record_encode(with_password, blob) == encoded);
	FUZZ_CHECK(account_show_fields(with_password, {}) ==
		   account_show_fields(account, {}));
}

void status_record(std::string_view json)
{
	AccountStatus status;
	status.last_error = "untouched";
	AccountStatus before = status;
	std::string error;
	if (status_record_decode(json, status, error) < 0) {
		check_error(error);
		FUZZ_CHECK(fields(status) == fields(before));
		return;
	}
	std::string encoded = status_record_encode(status);
	AccountStatus again;
	FUZZ_CHECK(status_record_decode(encoded, again, error) == 0);
	FUZZ_CHECK(fields(again) == fields(status));
	FUZZ_CHECK(status_record_encode(again) == encoded);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string_view json(reinterpret_cast<const char *>(data), size);
	account_record(json);
	status_record(json);
	return 0;
}
