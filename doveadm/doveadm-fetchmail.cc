#include "doveadm-fetchmail.hh"
#include "fetchmail-deliver.hh"
#include "fetchmail-plugin.hh"
#include "fetchmail-notify.hh"

#include <memory>

extern "C" {
#include "connection.h"
#include "doveadm-settings.h"
#include "master-interface.h"
}

#include <unistd.h>

using namespace fetchmail;

const char *doveadm_fetchmail_plugin_version = DOVECOT_ABI_VERSION;

static struct doveadm_cmd_ver2 *const doveadm_fetchmail_commands[] = {
	&doveadm_cmd_fetchmail_version,
	&doveadm_cmd_fetchmail_add,
	&doveadm_cmd_fetchmail_edit,
	&doveadm_cmd_fetchmail_remove,
	&doveadm_cmd_fetchmail_list,
	&doveadm_cmd_fetchmail_show,
	&doveadm_cmd_fetchmail_log,
	&doveadm_cmd_fetchmail_run,
	&doveadm_cmd_fetchmail_test,
	&doveadm_cmd_fetchmail_validate,
	&doveadm_cmd_fetchmail_role,
	&doveadm_cmd_fetchmail_import,
	&doveadm_cmd_fetchmail_registry_rebuild,
	&doveadm_cmd_fetchmail_oauth2_start,
	&doveadm_cmd_fetchmail_oauth2_finish,
	&doveadm_cmd_fetchmail_oauth2_device,
	&doveadm_cmd_fetchmail_oauth2_token,
	&doveadm_cmd_fetchmail_oauth2_providers,
	&doveadm_cmd_fetchmail_oauth2_refresh,
};

/* Commands for the command line and Dovecot's master only: long-running
   services that must never start inside doveadm-server (the HTTP API). */
static struct doveadm_cmd_ver2 *const doveadm_fetchmail_cli_commands[] = {
	&doveadm_cmd_fetchmail_service,
	&doveadm_cmd_fetchmail_worker,
};

void doveadm_fetchmail_plugin_init(struct module *module ATTR_UNUSED)
{
	/* started by Dovecot's master (service fetchmail, and the runs it
	   starts): log through the log service with proper levels */
	if (getenv("LOG_SERVICE") != nullptr)
		i_set_failure_internal();
	for (struct doveadm_cmd_ver2 *cmd : doveadm_fetchmail_commands)
		doveadm_cmd_register_ver2(cmd);
	if (doveadm_server)
		return;
	for (struct doveadm_cmd_ver2 *cmd : doveadm_fetchmail_cli_commands)
		doveadm_cmd_register_ver2(cmd);
}

void doveadm_fetchmail_plugin_deinit(void)
{
}

/* Option values are read by name in init()/run(); getopt only has to
   accept them. */
static bool fetchmail_cmd_parse_arg(struct doveadm_mail_cmd_context *ctx
				    ATTR_UNUSED, int c ATTR_UNUSED)
{
	return true;
}

static int fetchmail_cmd_run(struct doveadm_mail_cmd_context *ctx,
			     struct mail_user *user);

/* The most a password file may hold (a password is at most 1024 bytes). */
static const size_t PASSWORD_FILE_MAX = 4096;

/* --password-file FILE or - (standard input): read once, here, before
   doveadm drops privileges for each user. Not over the HTTP API, whose
   server runs as root and has no standard input. */
static void fetchmail_cmd_read_password(struct fetchmail_cmd_context *fctx)
{
	struct doveadm_cmd_context *cctx = fctx->ctx.cctx;
	const char *path, *ignored;
	char buf[PASSWORD_FILE_MAX + 1];
	size_t len = 0;
	ssize_t ret;

	if (cctx == nullptr ||
	    !doveadm_cmd_param_str(cctx, "password-file", &path))
		return;
	if (doveadm_server) {
		fetchmail_cmd_fail(fctx, EX_USAGE, "password-file: only on the "
				   "command line (over the HTTP API, pass password)");
		return;
	}
	if (doveadm_cmd_param_str(cctx, "password", &ignored)) {
		fetchmail_cmd_fail(fctx, EX_USAGE,
				   "password, password-file: give one of them");
		return;
	}
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO :
		::open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		fetchmail_cmd_fail(fctx, EX_USAGE, std::string("password-file: ") +
				   "open(" + path + ") failed: " + strerror(errno));
		return;
	}
	while (len < sizeof(buf) &&
	       (ret = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0) {
			fetchmail_cmd_fail(fctx, EX_USAGE, std::string(
				"password-file: read failed: ") + strerror(errno));
			break;
		}
		len += ret;
	}
	if (fd != STDIN_FILENO)
		i_close_fd(&fd);
	if (fctx->ctx.exit_code == 0 && len > PASSWORD_FILE_MAX)
		fetchmail_cmd_fail(fctx, EX_USAGE, "password-file: too long");
	else if (fctx->ctx.exit_code == 0) {
		/* one line: the newline that ends it is not part of it */
		if (len > 0 && buf[len - 1] == '\n')
			len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
		fctx->password = p_strndup(fctx->ctx.pool, buf, len);
	}
	safe_memset(buf, 0, sizeof(buf));
}

static void fetchmail_cmd_deinit(struct doveadm_mail_cmd_context *ctx)
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	if (fctx->password != nullptr)
		safe_memset(fctx->password, 0, strlen(fctx->password));
}

/* The verb's init(); whatever it refused stops the command before any
   user is touched. */
static void fetchmail_cmd_init(struct doveadm_mail_cmd_context *ctx,
			       const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	const char *actor;

	/* roles fail closed: an actor that is given must name someone
	   (an empty one would otherwise count as the doveadm operator) */
	if (ctx->cctx != nullptr &&
	    doveadm_cmd_param_str(ctx->cctx, "actor", &actor) &&
	    strspn(actor, " \t") == strlen(actor)) {
		fetchmail_cmd_fail(fctx, EX_NOPERM,
			"refused: the actor is empty (a panel passes the login "
			"it acts for)");
	} else {
		fetchmail_cmd_read_password(fctx);
		if (ctx->exit_code == 0 && fctx->init != nullptr)
			fctx->init(ctx, args);
	}
	fctx->init_failed = ctx->exit_code != 0;
}

struct doveadm_mail_cmd_context *
fetchmail_cmd_alloc(fetchmail_cmd_init_t *init, fetchmail_cmd_body_t *body,
		    const char *print_type)
{
	struct fetchmail_cmd_context *fctx =
		doveadm_mail_cmd_alloc(struct fetchmail_cmd_context);

	fctx->ctx.v.parse_arg = fetchmail_cmd_parse_arg;
	fctx->ctx.v.init = fetchmail_cmd_init;
	fctx->ctx.v.deinit = fetchmail_cmd_deinit;
	fctx->init = init;
	fctx->ctx.v.run = fetchmail_cmd_run;
	fctx->body = body;
	fctx->print_chosen = doveadm_print_is_initialized();
	if (print_type != nullptr)
		doveadm_print_init(print_type);
	return &fctx->ctx;
}

bool fetchmail_cmd_init_id(struct fetchmail_cmd_context *fctx,
			   const char *const args[])
{
	if (args[0] == nullptr || args[1] != nullptr) {
		fetchmail_cmd_fail(fctx, EX_USAGE,
				   "exactly one account id expected");
		return false;
	}
	if (!account_id_valid(args[0])) {
		fetchmail_cmd_fail(fctx, EX_USAGE, std::string(
			"id: not a valid account id: ") +
			account_quote_value(args[0]));
		return false;
	}
	fctx->id = p_strdup(fctx->ctx.pool, args[0]);
	return true;
}

bool fetchmail_cmd_init_no_args(struct fetchmail_cmd_context *fctx,
				const char *const args[])
{
	if (args[0] == nullptr)
		return true;
	fetchmail_cmd_fail(fctx, EX_USAGE, std::string(
		"unexpected argument: ") + account_quote_value(args[0]));
	return false;
}

bool fetchmail_cmd_init_account(struct fetchmail_cmd_context *fctx)
{
	return fetchmail_cmd_guard(fctx, [&] {
		Account account;
		std::string error;
		bool password_set;

		if (fetchmail_cmd_apply_fields(fctx, account, password_set) < 0)
			return -1;
		/* an OAuth2 account may take its host from the provider,
		   which only the user's settings know: checked in the body */
		if (account.auth == AuthMethod::OAuth2 && account.host.empty())
			account.host = "provider.invalid";
		if (account_validate(account, error) < 0)
			return fetchmail_cmd_fail(fctx, EX_USAGE, error);
		return 0;
	}) == 0;
}

/* As doveadm-mail.c does: a temporary failure overrides everything (the
   command is worth retrying); otherwise the first error, the most
   specific one, is kept across users. */
static void fetchmail_cmd_exit_code(struct fetchmail_cmd_context *fctx,
				    int exit_code)
{
	if (fctx->ctx.exit_code == 0 || exit_code == EX_TEMPFAIL)
		fctx->ctx.exit_code = exit_code;
}

int fetchmail_cmd_fail(struct fetchmail_cmd_context *fctx, int exit_code,
		       const std::string &error)
{
	i_error("fetchmail: %s", error.c_str());
	fetchmail_cmd_exit_code(fctx, exit_code);
	return -1;
}

int fetchmail_cmd_fail_run(struct fetchmail_cmd_context *fctx,
			   const RunReport &report)
{
	switch (report.failure) {
	case RunReport::Failure::Config:
		fetchmail_cmd_exit_code(fctx, EX_CONFIG);
		break;
	case RunReport::Failure::Data:
		fetchmail_cmd_exit_code(fctx, EX_DATAERR);
		break;
	default:
		fetchmail_cmd_exit_code(fctx, EX_TEMPFAIL);
		break;
	}
	return -1;
}

int fetchmail_cmd_fail_store(struct fetchmail_cmd_context *fctx,
			     const Store &store, const std::string &error)
{
	int code;

	switch (store.last_error()) {
	case StoreError::NotFound:
		code = DOVEADM_EX_NOTFOUND;
		break;
	case StoreError::Config:
		code = EX_CONFIG;
		break;
	case StoreError::Corrupt:
		code = EX_DATAERR;
		break;
	default:
		code = EX_TEMPFAIL;
		break;
	}
	return fetchmail_cmd_fail(fctx, code, error);
}

int fetchmail_cmd_fail_oauth2(struct fetchmail_cmd_context *fctx,
			      OAuth2Outcome outcome, bool input_grant,
			      const std::string &error)
{
	int code;

	switch (outcome) {
	case OAuth2Outcome::Config:
		code = EX_CONFIG;
		break;
	case OAuth2Outcome::Denied:
		code = EX_NOPERM;
		break;
	case OAuth2Outcome::ConsentNeeded:
		code = input_grant ? EX_USAGE : EX_NOPERM;
		break;
	default:
		code = EX_TEMPFAIL;
		break;
	}
	return fetchmail_cmd_fail(fctx, code, error);
}

int fetchmail_cmd_fail_refresh(struct fetchmail_cmd_context *fctx,
			       OAuth2RefreshStatus status, bool input_grant,
			       const std::string &error)
{
	OAuth2Outcome outcome =
		status == OAuth2RefreshStatus::ConsentNeeded ?
		OAuth2Outcome::ConsentNeeded :
		status == OAuth2RefreshStatus::Config ?
		OAuth2Outcome::Config : OAuth2Outcome::Temporary;
	return fetchmail_cmd_fail_oauth2(fctx, outcome, input_grant, error);
}

int fetchmail_oauth2_account_check(const Settings &set, Account &account,
				   bool fill_host, std::string &error_r)
{
	if (account.auth != AuthMethod::OAuth2)
		return 0;
	const OAuth2Provider *p =
		set.oauth2_providers.find(account.oauth2_provider);
	if (p == nullptr) {
		oauth2_account_provider(set, account, error_r);
		return EX_USAGE;
	}
	if (oauth2_account_provider(set, account, error_r) == nullptr)
		return EX_CONFIG;
	if (fill_host && account.host.empty()) {
		bool imap = account.protocol == Protocol::Imap;
		const std::string &host = imap ? p->imap_host : p->pop3_host;
		uint16_t port = imap ? p->imap_port : p->pop3_port;
		if (host.empty()) {
			error_r = "host: missing (provider " + p->name +
				" names no " + protocol_name(account.protocol) +
				" server)";
			return EX_USAGE;
		}
		account.host = host;
		if (account.port == 0 && port != account.effective_port())
			account.port = port;
	}
	return 0;
}

int fetchmail_cmd_check_oauth2(struct fetchmail_cmd_context *fctx,
			       const Settings &set, Account &account,
			       bool fill_host)
{
	std::string error;
	int code = fetchmail_oauth2_account_check(set, account, fill_host,
						  error);

	return code == 0 ? 0 : fetchmail_cmd_fail(fctx, code, error);
}

bool fetchmail_cmd_single_user(struct fetchmail_cmd_context *fctx)
{
	if (fctx->ctx.iterate_single_user)
		return true;
	fetchmail_cmd_fail(fctx, EX_USAGE,
			   "this command is for one user: -u USER");
	return false;
}

const OAuth2Provider *
fetchmail_cmd_load_oauth2(struct fetchmail_cmd_context *fctx,
			  const Settings &set, Store &store,
			  StoredAccount &stored_r)
{
	std::string error;

	if (store.load(fctx->id, stored_r, error) < 0) {
		fetchmail_cmd_fail_store(fctx, store, error);
		return nullptr;
	}
	if (stored_r.account.auth != AuthMethod::OAuth2) {
		fetchmail_cmd_fail(fctx, EX_USAGE, std::string("auth: account ") +
				   fctx->id + " logs in with a password, not "
				   "OAuth2 (edit it with --auth oauth2 "
				   "--oauth2-provider NAME)");
		return nullptr;
	}
	const OAuth2Provider *p =
		oauth2_account_provider(set, stored_r.account, error);
	if (p == nullptr)
		fetchmail_cmd_fail(fctx, EX_CONFIG, error);
	return p;
}

HttpSettings fetchmail_cmd_http_settings(const Settings &set, Store &store)
{
	HttpSettings hset;

	hset.timeout_msecs = set.timeout_msecs;
	hset.max_response = OAUTH2_MAX_RESPONSE;
	hset.user = store.user();
	return hset;
}

/* Drop the user's expired consent states; refuse when too many are left. */
static int fetchmail_cmd_consent_prune(struct fetchmail_cmd_context *fctx,
				       Store &store)
{
	/* consents in progress per user */
	const size_t max_pending = 32;
	std::vector<std::string> keys;
	std::string error, json, blob;
	size_t pending = 0;

	if (store.list_consents(keys, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	for (const std::string &key : keys) {
		OAuth2ConsentState state;
		if (store.load_consent(key, json, error) < 0)
			return fetchmail_cmd_fail_store(fctx, store, error);
		if (oauth2_state_decode(json, state, blob, error) == 0 &&
		    ioloop_time < state.expires) {
			pending++;
			continue;
		}
		if (store.remove_consent(key, error) < 0)
			return fetchmail_cmd_fail_store(fctx, store, error);
	}
	if (pending >= max_pending) {
		return fetchmail_cmd_fail(fctx, EX_TEMPFAIL, "too many consents "
			"in progress for this user (" + std::to_string(pending) +
			"): finish them or wait until they expire");
	}
	return 0;
}

std::string fetchmail_cmd_consent_save(struct fetchmail_cmd_context *fctx,
				       Store &store, const Account &account,
				       OAuth2ConsentState &rec,
				       std::string_view secret)
{
	std::string state = oauth2_state_generate(random_fill);
	std::string key = oauth2_state_key(state), blob, error;

	if (fetchmail_cmd_consent_prune(fctx, store) < 0)
		return "";
	if (key.empty()) {
		fetchmail_cmd_fail(fctx, EX_TEMPFAIL, "SHA-256 failed");
		return "";
	}
	rec.user = store.user()->username;
	rec.account_id = account.id;
	rec.provider = account.oauth2_provider;
	rec.remote_user = account.remote_user;
	rec.created = ioloop_time;
	if (store.encrypt_secret(secret, key, "oauth2-consent", blob,
				 error) < 0 ||
	    store.save_consent(key, oauth2_state_encode(rec, blob), error) < 0) {
		fetchmail_cmd_fail_store(fctx, store, error);
		return "";
	}
	return state;
}

/* A request through post (oauth2_post_token or _device), waited for. */
template <typename Result, typename Post>
static OAuth2Outcome cmd_request(const Settings &set, Store &store,
				 const OAuth2Request &request,
				 const std::vector<std::string> &secrets,
				 Post post, Result &response_r,
				 std::string &error_r)
{
	FetchmailCmdIoloop loop;
	HttpClient http(fetchmail_cmd_http_settings(set, store));
	OAuth2Outcome outcome = OAuth2Outcome::Temporary;

	post(http, request, secrets, [&](OAuth2Outcome o, const Result &r,
					 const std::string &error) {
		outcome = o;
		response_r = r;
		error_r = error;
		loop.stop();
	});
	loop.run();
	return outcome;
}

OAuth2Outcome fetchmail_cmd_token_request(const Settings &set, Store &store,
					  const OAuth2Request &request,
					  const std::vector<std::string> &secrets,
					  OAuth2TokenResponse &response_r,
					  std::string &error_r)
{
	return cmd_request(set, store, request, secrets, oauth2_post_token,
			   response_r, error_r);
}

OAuth2Outcome fetchmail_cmd_device_request(const Settings &set, Store &store,
					   const OAuth2Request &request,
					   const std::vector<std::string> &secrets,
					   OAuth2DeviceAuthorization &response_r,
					   std::string &error_r)
{
	return cmd_request(set, store, request, secrets, oauth2_post_device,
			   response_r, error_r);
}

FetchmailCmdIoloop::FetchmailCmdIoloop()
	: ioloop_(io_loop_create())
{
}

FetchmailCmdIoloop::~FetchmailCmdIoloop()
{
	io_loop_set_current(ioloop_);
	io_loop_destroy(&ioloop_);
}

const char *fetchmail_cmd_actor(struct fetchmail_cmd_context *fctx)
{
	const char *actor = nullptr;

	if (fctx->ctx.cctx == nullptr ||
	    !doveadm_cmd_param_str(fctx->ctx.cctx, "actor", &actor))
		return "";
	return actor;
}

/* The per-user preamble: read the settings, check that the actor may act
   for this user, open the store. Returns 1 to go on, 0 to skip the user
   silently (a mask or -A reached a user the actor may not see), -1 on
   failure (exit code set, error logged). */
static int fetchmail_cmd_begin(struct fetchmail_cmd_context *fctx,
			       struct mail_user *user, const Settings *&set_r,
			       std::unique_ptr<Store> &store_r)
{
	std::string error, reason;
	const char *actor = fetchmail_cmd_actor(fctx);

	if ((set_r = settings_of(user)) == nullptr) {
		return fetchmail_cmd_fail(fctx, EX_CONFIG, std::string(
			"the fetchmail plugin is not loaded for ") +
			user->username + " (mail_plugins)");
	}
	if (!set_r->roles.may_access(actor, user->username, reason)) {
		if (!fctx->ctx.iterate_single_user) {
			/* a mask or -A: only the users the actor may see */
			return 0;
		}
		return fetchmail_cmd_fail(fctx, EX_NOPERM, "refused: " + reason);
	}
	store_r = std::make_unique<Store>(user, *set_r);
	if (store_r->open(error) < 0)
		return fetchmail_cmd_fail_store(fctx, *store_r, error);
	return 1;
}

static int fetchmail_cmd_run(struct doveadm_mail_cmd_context *ctx,
			     struct mail_user *user)
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	/* init() refused the parameters: touch no user. (A failure for
	   one user does not stop the others: -A and -F reach every user.) */
	if (fctx->init_failed)
		return -1;
	return fetchmail_cmd_guard(fctx, [&] {
		const Settings *set;
		std::unique_ptr<Store> store;
		int ret = fetchmail_cmd_begin(fctx, user, set, store);

		if (ret <= 0)
			return ret;
		return fctx->body(fctx, *set, *store) < 0 ? -1 : 0;
	});
}

int fetchmail_cmd_check_mailbox(struct fetchmail_cmd_context *fctx,
				Store &store, const Account &account)
{
	std::string error;

	if (deliver_check_mailbox_name(store.user(), store.ioloop(),
				       account.mailbox, error) < 0)
		return fetchmail_cmd_fail(fctx, EX_USAGE, "mailbox: " + error);
	return 0;
}

/* STATUS blocks the command: never for long */
static const unsigned int FETCHMAIL_STATUS_TIMEOUT_MSECS = 2000;

LiveStatuses fetchmail_cmd_live_statuses(Store &store)
{
	struct mail_user *user = store.user();
	LiveStatuses live;
	std::string error;

	if (service_status(user->set->base_dir, user->username,
			   FETCHMAIL_STATUS_TIMEOUT_MSECS, live, error) < 0) {
		/* what the attributes say is still right, only older */
		i_warning("fetchmail: the fetch service's status of %s: %s",
			  user->username, error.c_str());
		live.clear();
	}
	return live;
}

void fetchmail_cmd_live_merge(const LiveStatuses &live, StoredAccount &stored)
{
	auto it = live.find(stored.account.id);
	if (it == live.end())
		return;
	if (it->second.status.last_run > stored.status.last_run)
		stored.status = it->second.status;
	if (it->second.running)
		stored.status.last_status = RunStatus::Running;
}

void fetchmail_cmd_notify_changed(Store &store)
{
	struct mail_user *user = store.user();
	std::string error;

	/* no service listening: nothing schedules (tests, tools); the
	   service reads every user of the registry when it starts */
	if (service_notify(user->set->base_dir, "CHANGED", user->username,
			   error) < 0) {
		i_warning("fetchmail: telling the fetch service about %s "
			  "failed (doveadm fetchmail registry rebuild repeats "
			  "it): %s", user->username, error.c_str());
	}
}

int fetchmail_cmd_set_fields(struct fetchmail_cmd_context *fctx,
			     Account &account, bool &password_set_r,
			     FieldErrors &errors_r)
{
	struct doveadm_cmd_context *cctx = fctx->ctx.cctx;
	int count = 0;

	password_set_r = false;
	for (std::string_view name : account_field_names()) {
		std::string key(name), error;
		const char *value;
		const char *const *values;
		int ret;

		if (name == "folders") {
			if (!doveadm_cmd_param_array(cctx, key.c_str(), &values))
				continue;
			std::vector<std::string> folders;
			for (; *values != nullptr; values++)
				folders.emplace_back(*values);
			ret = account_set_folders(account, folders, error);
		} else {
			if (name == "password" && fctx->password != nullptr)
				value = fctx->password;
			else if (!doveadm_cmd_param_str(cctx, key.c_str(), &value))
				continue;
			ret = account_set_field(account, name, value, error);
			if (ret == 0 && name == "password")
				password_set_r = true;
		}
		if (ret < 0)
			errors_r.emplace_back(key, error);
		count++;
	}
	return count;
}

int fetchmail_cmd_apply_fields(struct fetchmail_cmd_context *fctx,
			       Account &account, bool &password_set_r)
{
	FieldErrors errors;
	int count = fetchmail_cmd_set_fields(fctx, account, password_set_r,
					     errors);

	/* the first bad field in contract order, as add and edit report */
	if (!errors.empty())
		return fetchmail_cmd_fail(fctx, EX_USAGE, errors.front().second);
	return count;
}

std::string fetchmail_plugin_setting(const char *name)
{
	const char *const *envs;
	unsigned int i, count;

	envs = array_get(&doveadm_settings->plugin_envs, &count);
	for (i = 0; i + 1 < count; i += 2) {
		if (strcmp(envs[i], name) == 0)
			return envs[i + 1];
	}
	return "";
}

void fetchmail_notify_master(void)
{
	const char *uid = getenv(MASTER_UID_ENV);
	struct master_status status;

	if (uid == nullptr || getenv(MASTER_SERVICE_ENV) == nullptr)
		return;
	i_zero(&status);
	status.pid = getpid();
	if (str_to_uint(uid, &status.uid) < 0)
		return;
	status.available_count = 1;
	if (write(MASTER_STATUS_FD, &status, sizeof(status)) != sizeof(status))
		i_error("fetchmail: write(master status) failed: %m");
}

struct connection_list *
fetchmail_worker_line_list_init(size_t max_line,
				void (*destroy)(struct connection *),
				int (*input_line)(struct connection *,
						  const char *))
{
	/* the list keeps copies of both */
	struct connection_settings set = {};
	set.input_max_size = max_line;
	set.output_max_size = SIZE_MAX;
	set.input_full_behavior = CONNECTION_BEHAVIOR_DESTROY;
	set.dont_send_version = true;
	struct connection_vfuncs v = {};
	v.destroy = destroy;
	v.input_line = input_line;
	return connection_list_init(&set, &v);
}
