#ifndef FETCHMAIL_ACCOUNT_HH
#define FETCHMAIL_ACCOUNT_HH

/* The account model: one external POP3/IMAP account of a local user.

   An Account holds every field of the contract (docs: PRODUCT.md, "An
   account"); an AccountStatus holds the read-only status fields. Both are
   plain values: the Dovecot glue loads them from attributes (see
   fetchmail-record.hh), changes them and stores them back.

   Input from the command line or the HTTP API goes through
   account_set_field() one field at a time, under the contract names
   (host, port, protocol, remote-user, password, tls, tls-verify, keep,
   folders, mailbox, max-size, active, auth, oauth2-provider, push). It
   validates the value and changes the account only when the value is
   good. After all fields of an add or
   edit are set, account_validate() checks the record as a whole. Errors are
   one line that starts with the field name ("port: must be ...") and never
   contain the password.

   Everything here is pure: no I/O, no Dovecot types, nothing throws. */

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fetchmail {

enum class Protocol { Pop3, Imap };
enum class TlsMode { Implicit, StartTls, None };
enum class RunStatus { Never, Ok, Error, Running };
/* How the account logs in: with its password, or with an OAuth2 access
   token of its provider (see fetchmail-oauth2.hh). */
enum class AuthMethod { Password, OAuth2 };

struct Account {
	std::string id;           /* see account_generate_id() */
	/* A DNS name or an IP literal. IPv6 literals are stored bare
	   (without brackets) even when they were given as "[::1]". */
	std::string host;
	uint16_t port = 0;        /* 0 = the default, see effective_port() */
	Protocol protocol = Protocol::Pop3;
	/* protocol is required: true once it was set by account_set_field()
	   or read from a record. account_validate() checks it. */
	bool protocol_set = false;
	std::string remote_user;
	std::string password;     /* plaintext, in memory only; empty with
				     auth oauth2 */
	TlsMode tls = TlsMode::Implicit;
	bool tls_verify = true;
	bool keep = true;
	std::vector<std::string> folders{"INBOX"}; /* remote folders, IMAP */
	std::string mailbox = "INBOX";             /* local destination */
	uint64_t max_size = 0;    /* bytes, 0 = no limit */
	bool active = true;
	AuthMethod auth = AuthMethod::Password;
	/* IMAP only: hold a connection in IDLE and fetch as mail arrives */
	bool push = false;
	/* one of fetchmail_oauth2_providers with auth oauth2, else empty */
	std::string oauth2_provider;
	/* Not a field: the stored record's revision, raised by every change
	   of the record, so that a run can tell that the account it started
	   with was changed or removed meanwhile. */
	uint64_t revision = 0;

	/* port, or the default: 110/143 for tls none or starttls,
	   995/993 for implicit TLS (POP3/IMAP). */
	uint16_t effective_port() const;
};

struct AccountStatus {
	int64_t last_run = 0;     /* unix seconds of the last start, 0 = never */
	RunStatus last_status = RunStatus::Never;
	std::string last_error;   /* one line, empty after a good run */
	uint64_t last_fetched = 0; /* messages delivered by the last run */
	int64_t next_run = 0;     /* unix seconds, 0 = not scheduled */
	uint32_t failures = 0;    /* consecutive failed runs, for backoff */
	/* not polled until someone acts: the OAuth2 refresh token was
	   refused (consent needed) */
	bool held = false;
	/* The failure episode, for the notice to the user (see
	   fetchmail-notice.hh): unix seconds of the start of the first failed
	   run of the current episode, 0 when the last run was good (or there
	   was none); and whether the notice of this episode was delivered. */
	int64_t failing_since = 0;
	bool notified = false;
};

/* The settable fields in contract order, under their CLI/JSON names. */
const std::vector<std::string_view> &account_field_names();

/* Parse, validate and set one field. Returns 0, or -1 with error_r set
   (and the account unchanged):
     unknown name        "unknown field 'x'"
     host                DNS name or IP literal (IPv6 bare or in brackets),
                         non-empty, <= 253 bytes, no spaces/control chars
     port                digits only, 1..65535
     protocol            pop3 | imap
     remote-user         non-empty, <= 256 bytes, no control characters
     password            non-empty, <= 1024 bytes, no CR/LF/NUL
     tls                 implicit | starttls | none
     tls-verify, keep,
     active, push        yes/no (also true/false, 1/0); push only with
                         protocol imap (account_validate())
     folders             comma separated, see account_set_folders()
     mailbox             non-empty, <= 255 bytes, valid UTF-8, no control
                         characters (whether the user's storage accepts
                         the name is checked by the doveadm verbs)
     max-size            digits with an optional k/M/G suffix (1024-based,
                         case-insensitive), 0 = no limit
     auth                password | oauth2
     oauth2-provider     a provider name ([a-z0-9][a-z0-9-]*, at most 32),
                         or empty for none; whether it is configured is
                         checked by the glue, which knows the settings
   Keywords are case-insensitive. */
int account_set_field(Account &account, std::string_view name,
		      std::string_view value, std::string &error_r);

/* Set the remote folders: each non-empty, <= 1024 bytes, valid UTF-8, no
   control characters; surrounding spaces are trimmed, duplicates dropped
   (first one kept), at least one and at most 256 folders. */
int account_set_folders(Account &account,
			const std::vector<std::string> &folders,
			std::string &error_r);

/* Whole-record checks after add/edit: host, protocol and remote-user
   present; with auth password a password and no oauth2-provider
   ("oauth2-provider: only with auth oauth2"); with auth oauth2 a provider
   ("oauth2-provider: missing (required with auth oauth2)") and no password
   ("password: not used with auth oauth2"); folders other than the default
   ["INBOX"] only for imap ("folders: only for protocol imap"). */
int account_validate(const Account &account, std::string &error_r);

/* Every field (never the password), then oauth2 (the OAuth2 consent
   state given by the caller, see oauth2_consent_text(); empty for
   password accounts), then the status fields last-run, last-status,
   last-error, last-fetched, next-run, as strings for list/show. port is
   the effective port, folders are comma separated, booleans yes/no, times
   ISO 8601 UTC or empty when 0. */
std::vector<std::pair<std::string, std::string>>
account_show_fields(const Account &account, const AccountStatus &status,
		    std::string_view oauth2 = "");

const char *protocol_name(Protocol protocol);    /* pop3, imap */
const char *tls_mode_name(TlsMode tls);          /* implicit, starttls, none */
const char *run_status_name(RunStatus status);   /* never, ok, error, running */
const char *auth_method_name(AuthMethod auth);   /* password, oauth2 */
/* Inverse of run_status_name(); -1 for an unknown name. */
int run_status_parse(std::string_view name, RunStatus &status_r);

/* "2026-11-22T03:40:00Z" for unix seconds (any int64 in the years
   0..9999; outside that it is clamped). */
std::string iso8601_utc(int64_t unix_secs);
/* "2026-11-22T03:40:00.123Z" for unix milliseconds. */
std::string iso8601_utc_ms(int64_t unix_ms);

/* Unix seconds as a UTC calendar time, clamped like iso8601_utc() to the
   years 0..9999. */
struct UtcTime {
	int year = 1970;
	unsigned month = 1;       /* 1..12 */
	unsigned day = 1;         /* 1..31 */
	unsigned hour = 0, minute = 0, second = 0;
	unsigned weekday = 4;     /* 0 = Sunday .. 6 = Saturday */
};
UtcTime utc_time(int64_t unix_secs);

/* A fresh id: "fm-" and 8 characters of lowercase base32 (a-z, 2-7), 40
   random bits taken from two calls of rand32. The caller checks it is not
   in use (and draws again if it is). */
std::string account_generate_id(const std::function<uint32_t()> &rand32);
/* Ids as accepted on the command line: [a-z0-9-], 1..32 characters. */
bool account_id_valid(std::string_view id);

/* Quote a value for an error message: control characters as \xNN, cut
   after 64 bytes. Never pass a password. */
std::string account_quote_value(std::string_view value);

} // namespace fetchmail

#endif
