#ifndef FETCHMAIL_RECORD_HH
#define FETCHMAIL_RECORD_HH

/* The stored forms of an account and its status: compact JSON objects
   (jsoncpp), one per attribute, carrying a format version "v".

   Account record (v1):

     {"v":1,"id":"fm-abcdefgh","host":"pop.example.com","port":0,
      "protocol":"pop3","remote-user":"bob","password":"v1:1a2b3c4d:...",
      "tls":"implicit","tls-verify":true,"keep":true,"folders":["INBOX"],
      "mailbox":"INBOX","max-size":0,"active":true,"rev":3}

   "password" holds the encrypted blob from secret_encrypt(), never the
   plaintext; port 0 means the default port; "rev" is Account::revision
   (0 when missing). Required on decode: id, host,
   protocol, remote-user, password (a non-empty string). Every other key
   may be missing and then takes the Account default. Every value goes
   through the same validation as account_set_field(); wrong JSON types
   are errors naming the field ("port: expected a number"). Unknown keys
   are ignored (a newer plugin of the same record version may add some).

   Account record (v2): the same, for accounts that log in with OAuth2:

     {"v":2,"id":"fm-abcdefgh","host":"imap.gmail.com",...,
      "auth":"oauth2","oauth2-provider":"google"}

   without "password" (an OAuth2 account has none; its tokens live in
   their own attribute, see fetchmail-store.hh). "auth" is password or
   oauth2 (missing: password); "oauth2-provider" is required with oauth2,
   "password" only with password.

   Versions: a record is written with the lowest version that can hold it,
   so password accounts stay v1 records that earlier builds read, and an
   OAuth2 account is a v2 record that earlier builds refuse clearly
   instead of misreading it as a password account. A record with "v"
   greater than 2 is refused ("record version 7 is newer than this plugin
   supports"). A record without "v" is a v0
   record, written by pre-release builds: the same layout except that keys
   may use '_' instead of '-' (remote_user, tls_verify, max_size); the
   upgrade step renames them and then reads it as v1. Future format changes
   add one upgrade step per version (record_upgrade() in the .cc).

   Status record (v1):

     {"v":1,"last-run":1795405200,"last-status":"ok","last-error":"",
      "last-fetched":3,"next-run":1795405500,"failures":0}

   with every key optional, and "held":true while the account waits for
   the user's OAuth2 consent (see AccountStatus::held). While runs fail,
   "failing-since" holds the start of the first failed run of the
   episode (unix seconds) and, once the user was told, "notified":true
   (see fetchmail-notice.hh). These three are written only when set, so
   the record of a healthy account is what earlier builds wrote; a
   missing key is the default (false, 0).

   Nothing throws: jsoncpp exceptions are caught and become errors. */

#include "fetchmail-account.hh"

#include <string>
#include <string_view>

namespace fetchmail {

/* The newest account record version this plugin reads and writes. */
const int RECORD_VERSION = 2;
/* The status record's version (its format did not change). */
const int STATUS_RECORD_VERSION = 1;

std::string account_record_encode(const Account &account,
				  std::string_view password_blob);
/* Decode into account_r (fully replaced: password left empty, protocol_set
   true) and the stored blob into password_blob_r (empty for an OAuth2
   account). -1 on error. */
int account_record_decode(std::string_view json, Account &account_r,
			  std::string &password_blob_r, std::string &error_r);

std::string status_record_encode(const AccountStatus &status);
int status_record_decode(std::string_view json, AccountStatus &status_r,
			 std::string &error_r);

} // namespace fetchmail

#endif
