#ifndef DOVEADM_FETCHMAIL_HH
#define DOVEADM_FETCHMAIL_HH

/* The doveadm plugin: `doveadm fetchmail <verb>`.

   One file per verb (doveadm-fetchmail-<verb>.cc), each defining one
   struct doveadm_cmd_ver2. This file holds what they share: the command
   context, the parameter tables, the actor check, and the one place where
   errors become exit codes (fetchmail_cmd_fail*()).

   All verbs except `version` are doveadm mail commands: -u, user masks,
   -A, -F and proxying come from doveadm itself, and run() is called once
   per user. Every parameter has a long name (also the JSON key over the
   HTTP API, camel-cased by doveadm) and a short option, because doveadm's
   mail-command wrapper passes named parameters through getopt. */

#include "fetchmail-dovecot.hh"
#include "fetchmail-http.hh"
#include "fetchmail-oauth2-refresh.hh"
#include "fetchmail-retrieval.hh"
#include "fetchmail-service.hh"
#include "fetchmail-settings.hh"
#include "fetchmail-store.hh"

#include <map>
#include <string>
#include <utility>
#include <vector>

extern "C" {
#include "doveadm-util.h"
#include "doveadm-mail.h"
#include "doveadm-cmd.h"
#include "doveadm-print.h"
}

extern "C" {
extern const char *doveadm_fetchmail_plugin_version;
void doveadm_fetchmail_plugin_init(struct module *module);
void doveadm_fetchmail_plugin_deinit(void);
}

#define FETCHMAIL_PARAM(opt, name, type, flags) \
	{ opt, name, type, false, {}, flags }
#define FETCHMAIL_PARAM_END \
	FETCHMAIL_PARAM('\0', nullptr, CMD_PARAM_BOOL, CMD_PARAM_FLAG_NONE)

/* doveadm's DOVEADM_CMD_MAIL_COMMON (which doesn't compile as C++) plus
   --actor, the login a panel acts for. */
#define FETCHMAIL_PARAMS_COMMON \
	FETCHMAIL_PARAM('A', "all-users", CMD_PARAM_BOOL, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('S', "socket-path", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('u', "user", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('\0', "trans-flags", CMD_PARAM_INT64, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('F', "user-file", CMD_PARAM_ISTREAM, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('a', "actor", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE)

/* The account fields, as in account_field_names(). */
#define FETCHMAIL_PARAMS_FIELDS \
	FETCHMAIL_PARAM('H', "host", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('p', "port", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('P', "protocol", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('U', "remote-user", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('w', "password", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('W', "password-file", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('t', "tls", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('V', "tls-verify", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('k', "keep", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('l', "folders", CMD_PARAM_ARRAY, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('m', "mailbox", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('z', "max-size", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('e', "active", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('c', "auth", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('o', "oauth2-provider", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE), \
	FETCHMAIL_PARAM('x', "push", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE)

#define FETCHMAIL_USAGE_PREFIX "[-u <user>|-A] [-S <socket_path>] [--actor <login>] "
#define FETCHMAIL_USAGE_FIELDS \
	"[--host <host>] [--port <port>] [--protocol pop3|imap] " \
	"[--remote-user <login>] [--password-file <file>|-] " \
	"[--tls implicit|starttls|none] [--tls-verify yes|no] [--keep yes|no] " \
	"[--folders <folder> ...] [--mailbox <mailbox>] [--max-size <bytes>] " \
	"[--active yes|no] [--auth password|oauth2] [--oauth2-provider <name>] " \
	"[--push yes|no]"

struct fetchmail_cmd_context;

/* What a verb does for one user, once the settings are read, the actor is
   checked and the account store is open. Returns 0, or -1 after
   fetchmail_cmd_fail*() set the exit code. */
typedef int fetchmail_cmd_body_t(struct fetchmail_cmd_context *fctx,
				 const fetchmail::Settings &set,
				 fetchmail::Store &store);
typedef void fetchmail_cmd_init_t(struct doveadm_mail_cmd_context *ctx,
				  const char *const args[]);

/* The context shared by all mail-command verbs. Pool memory: keep it
   plain (no C++ members). */
struct fetchmail_cmd_context {
	struct doveadm_mail_cmd_context ctx;
	fetchmail_cmd_init_t *init;
	fetchmail_cmd_body_t *body;
	bool init_failed;   /* init() refused the parameters */
	/* the password read from --password-file in init(), wiped at the
	   end; nullptr when none was given */
	char *password;
	/* the output format was chosen (-f, or the HTTP API's JSON) rather
	   than left to the verb's default */
	bool print_chosen;
	const char *id;     /* the positional account id, when the verb has one */
	const char *status; /* list --status filter */
	bool compact;       /* list: the default table for people */
	bool due;           /* run --due */
	/* oauth2 verbs, checked in init() */
	const char *redirect_uri; /* oauth2 start */
	const char *state;        /* oauth2 finish */
	const char *code;         /* oauth2 finish */
	bool no_wait;             /* oauth2 device */
	/* what a verb keeps from init() to its last user: a C++ object
	   owned by the verb, which frees it in its deinit */
	void *verb_state;
};

/* Allocate a verb: init (may be null) checks the parameters once, body
   runs for each user. print_type (e.g. DOVEADM_PRINT_TYPE_TABLE) is the
   default printer, which -f overrides; null for none. Option values are
   read by name from ctx.cctx (doveadm passes them through getopt, which
   only has to accept them). */
struct doveadm_mail_cmd_context *
fetchmail_cmd_alloc(fetchmail_cmd_init_t *init, fetchmail_cmd_body_t *body,
		    const char *print_type);

/* init() helper: the positional id (EX_USAGE when missing or invalid). */
bool fetchmail_cmd_init_id(struct fetchmail_cmd_context *fctx,
			   const char *const args[]);
/* init() helper: refuse positional arguments of a verb that has none. */
bool fetchmail_cmd_init_no_args(struct fetchmail_cmd_context *fctx,
				const char *const args[]);

/* init() helper: the fields given must make a complete, valid account
   (EX_USAGE and the field's error otherwise). */
bool fetchmail_cmd_init_account(struct fetchmail_cmd_context *fctx);

/* (field, one-line error) pairs, in contract order. */
typedef std::vector<std::pair<std::string, std::string>> FieldErrors;

/* Set each account field given as a parameter on its own: a bad value
   leaves its field unchanged and adds (field, error) to errors_r, and the
   next field is still tried. Returns the number of fields given.
   password_set_r tells whether a good password was among them. */
int fetchmail_cmd_set_fields(struct fetchmail_cmd_context *fctx,
			     fetchmail::Account &account, bool &password_set_r,
			     FieldErrors &errors_r);

/* Apply the account fields given as parameters. Returns the number of
   fields set, or -1 (EX_USAGE set and logged) for a bad value.
   password_set_r tells whether a password was among them. */
int fetchmail_cmd_apply_fields(struct fetchmail_cmd_context *fctx,
			       fetchmail::Account &account,
			       bool &password_set_r);

/* The login given with --actor, or "" (the doveadm operator). An actor
   that is given but empty is refused before any user is touched. */
const char *fetchmail_cmd_actor(struct fetchmail_cmd_context *fctx);

/* Whether the user's storage takes the account's mailbox as the name of
   a mailbox to create (EX_USAGE with the storage's reason otherwise), so
   that a name that would fail every run is refused at add and edit. */
int fetchmail_cmd_check_mailbox(struct fetchmail_cmd_context *fctx,
				fetchmail::Store &store,
				const fetchmail::Account &account);

/* OAuth2 accounts at add and edit: the provider must be configured
   (EX_USAGE naming oauth2-provider otherwise) and usable (EX_CONFIG with
   the provider's setting error, e.g. a missing client id). With
   fill_host, a missing host (and then the port) comes from the
   provider's imap/pop3 servers. Returns 0 or -1 (exit code set). */
int fetchmail_cmd_check_oauth2(struct fetchmail_cmd_context *fctx,
			       const fetchmail::Settings &set,
			       fetchmail::Account &account, bool fill_host);
/* The same check without failing the command: 0, or the exit code it
   would give with error_r (for validate). */
int fetchmail_oauth2_account_check(const fetchmail::Settings &set,
				   fetchmail::Account &account,
				   bool fill_host, std::string &error_r);

/* The OAuth2 commands (oauth2 start|finish|device|token): only for one
   user (-u USER without wildcards), EX_USAGE otherwise. */
bool fetchmail_cmd_single_user(struct fetchmail_cmd_context *fctx);

/* Load the account fctx->id and check that it logs in with OAuth2 and
   that its provider is usable: EX_USAGE / EX_CONFIG / not found
   otherwise. Returns the provider, or nullptr (exit code set). */
const fetchmail::OAuth2Provider *
fetchmail_cmd_load_oauth2(struct fetchmail_cmd_context *fctx,
			  const fetchmail::Settings &set,
			  fetchmail::Store &store,
			  fetchmail::StoredAccount &stored_r);

/* The HTTP client settings of a user: fetchmail_timeout and the mail
   CAs (ssl_client_ca_file / ssl_client_ca_dir). */
fetchmail::HttpSettings fetchmail_cmd_http_settings(
	const fetchmail::Settings &set, fetchmail::Store &store);

/* The connection list of the line between the fetch service and a
   worker (both ends): one JSON object a line, no version handshake, a
   line longer than max_line ends the connection. */
struct connection_list *
fetchmail_worker_line_list_init(size_t max_line,
				void (*destroy)(struct connection *),
				int (*input_line)(struct connection *,
						  const char *));

/* A private ioloop for the OAuth2 requests of one command: doveadm's own
   loop does not run inside a command. It becomes current when created
   (the Store makes its own ioloop current for store calls made from its
   callbacks). */
class FetchmailCmdIoloop {
public:
	FetchmailCmdIoloop();
	~FetchmailCmdIoloop();
	FetchmailCmdIoloop(const FetchmailCmdIoloop &) = delete;
	FetchmailCmdIoloop &operator=(const FetchmailCmdIoloop &) = delete;

	/* Run until stop(). */
	void run() { io_loop_run(ioloop_); }
	void stop() { io_loop_stop(ioloop_); }

private:
	struct ioloop *ioloop_;
};

/* Store a consent in progress (oauth2 start, oauth2 device --no-wait)
   under a new random state, which is returned ("" with the exit code set
   on failure). The caller fills in the kind, expires and the kind's
   fields; this fills in user, account, provider, remote user and created,
   and encrypts secret (the PKCE verifier or device code), bound to the
   state's hash. The user's expired consents are dropped first, and at
   most 32 may be in progress (EX_TEMPFAIL). */
std::string fetchmail_cmd_consent_save(struct fetchmail_cmd_context *fctx,
				       fetchmail::Store &store,
				       const fetchmail::Account &account,
				       fetchmail::OAuth2ConsentState &state,
				       std::string_view secret);

/* One token endpoint request (oauth2_post_token()) or device
   authorization request (oauth2_post_device()) in a private ioloop,
   waiting for the answer (at most fetchmail_timeout). secrets are
   redacted from error_r. */
fetchmail::OAuth2Outcome
fetchmail_cmd_token_request(const fetchmail::Settings &set,
			    fetchmail::Store &store,
			    const fetchmail::OAuth2Request &request,
			    const std::vector<std::string> &secrets,
			    fetchmail::OAuth2TokenResponse &response_r,
			    std::string &error_r);
fetchmail::OAuth2Outcome
fetchmail_cmd_device_request(const fetchmail::Settings &set,
			     fetchmail::Store &store,
			     const fetchmail::OAuth2Request &request,
			     const std::vector<std::string> &secrets,
			     fetchmail::OAuth2DeviceAuthorization &response_r,
			     std::string &error_r);

/* oauth2 finish with the state of a device flow started with --no-wait
   (or over the HTTP API): one poll of the token endpoint, if the
   interval allows, printing the row (id, oauth2 = pending | connected).
   Defined with the device verb. */
int fetchmail_cmd_device_poll(struct fetchmail_cmd_context *fctx,
			      const fetchmail::Settings &set,
			      fetchmail::Store &store, const std::string &key,
			      fetchmail::OAuth2ConsentState &state,
			      const std::string &secret_blob);

/* The fetch service's view of the user's accounts (the status of its
   latest polls, which it keeps when nothing changed, and whether a run is
   in progress), empty when no service runs. Merged into a stored account
   where it is newer than the stored status; a running account shows
   last-status running. */
using LiveStatuses = std::map<std::string, fetchmail::ServiceLiveStatus>;
LiveStatuses fetchmail_cmd_live_statuses(fetchmail::Store &store);
void fetchmail_cmd_live_merge(const LiveStatuses &live,
			      fetchmail::StoredAccount &stored);

/* Tell the fetch service that the user's accounts changed (it re-reads
   them and updates the registry); a failure is logged (registry rebuild
   repeats it) but does not fail the command. */
void fetchmail_cmd_notify_changed(fetchmail::Store &store);

/* Errors to exit codes, in one place. Each logs the error and returns -1.
   A temporary failure (EX_TEMPFAIL) overrides any other exit code, as in
   doveadm-mail.c; otherwise the first one stays. */
int fetchmail_cmd_fail(struct fetchmail_cmd_context *fctx, int exit_code,
		       const std::string &error);
/* The exit code for a failed run (its error is in its row and run log):
   EX_CONFIG, EX_DATAERR or EX_TEMPFAIL. Returns -1. */
int fetchmail_cmd_fail_run(struct fetchmail_cmd_context *fctx,
			   const fetchmail::RunReport &report);
int fetchmail_cmd_fail_store(struct fetchmail_cmd_context *fctx,
			     const fetchmail::Store &store,
			     const std::string &error);
/* What a token endpoint said, as an exit code:
     Config                          EX_CONFIG (provider settings)
     Temporary, Pending, SlowDown,
     Expired                         EX_TEMPFAIL (try again)
     Denied                          EX_NOPERM (the person refused)
     ConsentNeeded                   input_grant: EX_USAGE (the code or
                                     refresh token given was refused);
                                     otherwise EX_NOPERM (the stored
                                     consent is gone) */
int fetchmail_cmd_fail_oauth2(struct fetchmail_cmd_context *fctx,
			      fetchmail::OAuth2Outcome outcome,
			      bool input_grant, const std::string &error);
int fetchmail_cmd_fail_refresh(struct fetchmail_cmd_context *fctx,
			       fetchmail::OAuth2RefreshStatus status,
			       bool input_grant, const std::string &error);

/* Runs code that may throw (std::bad_alloc, jsoncpp): catches everything
   so that no exception reaches doveadm's C. */
template <typename F>
int fetchmail_cmd_guard(struct fetchmail_cmd_context *fctx, F &&body)
{
	try {
		return body();
	} catch (const std::exception &e) {
		return fetchmail_cmd_fail(fctx, EX_TEMPFAIL,
			std::string("internal error: ") + e.what());
	} catch (...) {
		return fetchmail_cmd_fail(fctx, EX_TEMPFAIL, "internal error");
	}
}

/* For the fetch service and its workers, which have no mail user: a
   plugin { } setting as doveadm read it ("" when unset), and the status
   line a process started by Dovecot's master owes it (doveadm runs
   standalone, so it does not send one by itself; without it the master
   kills the process after a while). */
std::string fetchmail_plugin_setting(const char *name);
void fetchmail_notify_master(void);

extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_version;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_add;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_edit;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_remove;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_list;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_show;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_log;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_run;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_test;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_validate;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_role;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_import;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_registry_rebuild;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_service;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_worker;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_start;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_finish;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_device;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_token;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_providers;
extern struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_refresh;

#endif
