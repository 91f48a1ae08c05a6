#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail oauth2 device -u USER <id> [--no-wait]`: consent
   through the device authorization grant (RFC 8628), for an administrator
   at a terminal: prints the verification URL and the user code at once,
   then waits, polling the token endpoint at the interval the provider
   gives (5 s more after each slow_down), inside an ioloop, until the
   person approves (the tokens are stored, oauth2 connected), denies
   (EX_NOPERM) or the code expires (EX_TEMPFAIL). Ctrl-C ends the wait.

   The HTTP API cannot stream a row and then wait, and a panel must show
   the code while the person acts. So over HTTP, and with --no-wait, the
   command stores the device code as a consent state (like `oauth2
   start`, encrypted, bound to user and account, expiring with the code)
   and returns at once with the state and the interval; `oauth2 finish
   --state STATE` then polls once per call (oauth2 pending or connected),
   never faster than the provider's interval.

   Rows (field, value): verification-uri, user-code, expires, and
   verification-uri-complete when the provider gives one; then state,
   interval and oauth2 pending (no wait), or oauth2 connected. */

static void cmd_fetchmail_oauth2_device_init(
	struct doveadm_mail_cmd_context *ctx, const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;
	bool no_wait = false;

	doveadm_print_header_simple("field");
	doveadm_print_header_simple("value");
	if (!fetchmail_cmd_init_id(fctx, args))
		return;
	fctx->no_wait = (doveadm_cmd_param_bool(ctx->cctx, "no-wait", &no_wait) &&
			 no_wait) ||
		ctx->cctx->conn_type != DOVEADM_CONNECTION_TYPE_CLI;
}

static void device_row(const char *field, const std::string &value)
{
	doveadm_print(field);
	doveadm_print(value.c_str());
}

/* Stores the tokens of an approved device flow. */
static int device_store(struct fetchmail_cmd_context *fctx, Store &store,
			const Account &account,
			const OAuth2TokenResponse &tokens)
{
	std::string error;
	int ret = oauth2_store_consent(store, account, tokens, ioloop_time,
				       error);

	if (ret == -2)
		return fetchmail_cmd_fail(fctx, EX_CONFIG, error);
	if (ret < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	/* released: due again */
	fetchmail_cmd_notify_changed(store);
	return 0;
}

/* Waiting at the terminal: polls in a private ioloop until a final
   answer. */
class DeviceWait {
public:
	DeviceWait(struct fetchmail_cmd_context *fctx, const Settings &set,
		   Store &store, const OAuth2Provider &provider,
		   const Account &account,
		   const OAuth2DeviceAuthorization &auth)
		: fctx_(fctx), store_(store), provider_(provider),
		  account_(account),
		  device_code_(auth.device_code),
		  poll_(OAuth2DevicePoll::start(ioloop_time, auth.expires_in,
						auth.interval)),
		  http_(fetchmail_cmd_http_settings(set, store)) {}

	~DeviceWait()
	{
		if (to_poll_ != nullptr)
			timeout_remove(&to_poll_);
		if (to_killed_ != nullptr)
			timeout_remove(&to_killed_);
	}

	/* 0 once the tokens are stored, -1 (exit code set) otherwise. */
	int run()
	{
		to_killed_ = fetchmail_timeout_add(1000, killed_cb, this);
		schedule();
		loop_.run();
		return result_;
	}

private:
	static void poll_cb(DeviceWait *w)
	{
		timeout_remove(&w->to_poll_);
		w->poll();
	}

	static void killed_cb(DeviceWait *w)
	{
		if (doveadm_is_killed())
			w->finish(fetchmail_cmd_fail(w->fctx_, EX_TEMPFAIL,
				"interrupted before consent was given"));
	}

	void schedule()
	{
		int64_t wait = poll_.next_poll() - ioloop_time;
		to_poll_ = fetchmail_timeout_add(
			wait > 0 ? (unsigned int)wait * 1000 : 0, poll_cb, this);
	}

	void poll()
	{
		oauth2_post_token(http_,
			oauth2_device_token_request(provider_, device_code_),
			{ device_code_, provider_.client_secret },
			[this](OAuth2Outcome o, const OAuth2TokenResponse &r,
			       const std::string &error) {
				answer(o, r, error);
			});
	}

	void answer(OAuth2Outcome outcome, const OAuth2TokenResponse &tokens,
		    const std::string &error)
	{
		if (outcome == OAuth2Outcome::Ok) {
			finish(device_store(fctx_, store_, account_, tokens));
			return;
		}
		if (poll_.polled(ioloop_time, outcome)) {
			schedule();
			return;
		}
		if (poll_.expired(ioloop_time)) {
			finish(fetchmail_cmd_fail(fctx_, EX_TEMPFAIL, "expired_"
				"token: the code expired before consent was "
				"given"));
			return;
		}
		finish(fetchmail_cmd_fail_oauth2(fctx_, outcome, false, error));
	}

	void finish(int result)
	{
		result_ = result;
		loop_.stop();
	}

	struct fetchmail_cmd_context *fctx_;
	Store &store_;
	const OAuth2Provider &provider_;
	Account account_;
	std::string device_code_;
	OAuth2DevicePoll poll_;
	/* the loop first: the client's ios and timeouts go before it */
	FetchmailCmdIoloop loop_;
	HttpClient http_;
	struct timeout *to_poll_ = nullptr;
	struct timeout *to_killed_ = nullptr;
	int result_ = -1;
};

/* --no-wait and the HTTP API: the device code becomes a consent state. */
static int device_save_state(struct fetchmail_cmd_context *fctx,
			     Store &store, const StoredAccount &stored,
			     const OAuth2DeviceAuthorization &auth)
{
	OAuth2DevicePoll poll = OAuth2DevicePoll::start(ioloop_time,
							auth.expires_in,
							auth.interval);
	OAuth2ConsentState rec;

	rec.kind = OAuth2StateKind::Device;
	rec.expires = poll.expires();
	rec.interval = poll.interval();
	rec.next_poll = poll.next_poll();
	std::string state = fetchmail_cmd_consent_save(fctx, store,
						       stored.account, rec,
						       auth.device_code);
	if (state.empty())
		return -1;
	device_row("state", state);
	device_row("interval", std::to_string(rec.interval));
	device_row("oauth2", "pending");
	return 0;
}

static int fetchmail_oauth2_device(struct fetchmail_cmd_context *fctx,
				   const Settings &set, Store &store)
{
	StoredAccount stored;
	OAuth2DeviceAuthorization auth;
	std::string error;

	if (!fetchmail_cmd_single_user(fctx))
		return -1;
	const OAuth2Provider *p =
		fetchmail_cmd_load_oauth2(fctx, set, store, stored);
	if (p == nullptr)
		return -1;
	if (p->device_url.empty()) {
		return fetchmail_cmd_fail(fctx, EX_CONFIG, "oauth2-provider: " +
			p->name + " has no device flow: " +
			(p->device_note.empty() ? "fetchmail_oauth2_" + p->name +
			 "_device_url is not set" : p->device_note));
	}
	OAuth2Outcome outcome = fetchmail_cmd_device_request(set, store,
		oauth2_device_authorization_request(*p), { p->client_secret },
		auth, error);
	if (outcome != OAuth2Outcome::Ok)
		return fetchmail_cmd_fail_oauth2(fctx, outcome, false, error);

	device_row("verification-uri", auth.verification_uri);
	device_row("user-code", auth.user_code);
	device_row("expires", iso8601_utc(ioloop_time + auth.expires_in));
	if (!auth.verification_uri_complete.empty()) {
		device_row("verification-uri-complete",
			   auth.verification_uri_complete);
	}
	if (fctx->no_wait)
		return device_save_state(fctx, store, stored, auth);

	/* the person needs the code now, not when we are done */
	doveadm_print_flush();
	DeviceWait wait(fctx, set, store, *p, stored.account, auth);
	if (wait.run() < 0)
		return -1;
	device_row("oauth2", "connected");
	return 0;
}

/* One poll for `oauth2 finish --state` (see doveadm-fetchmail.hh). */
int fetchmail_cmd_device_poll(struct fetchmail_cmd_context *fctx,
			      const Settings &set, Store &store,
			      const std::string &key, OAuth2ConsentState &rec,
			      const std::string &blob)
{
	StoredAccount stored;
	OAuth2TokenResponse tokens;
	std::string device_code, error;

	fctx->id = p_strdup(fctx->ctx.pool, rec.account_id.c_str());
	const OAuth2Provider *p =
		fetchmail_cmd_load_oauth2(fctx, set, store, stored);
	if (p == nullptr)
		return -1;
	if (stored.account.oauth2_provider != rec.provider ||
	    stored.account.remote_user != rec.remote_user) {
		store.remove_consent(key, error);
		return fetchmail_cmd_fail(fctx, EX_USAGE, "state: account " +
			rec.account_id + " changed its provider or remote "
			"user since the consent started");
	}
	if (ioloop_time < rec.next_poll) {
		/* the provider's interval: don't ask it yet */
		doveadm_print(rec.account_id.c_str());
		doveadm_print("pending");
		return 0;
	}
	if (store.decrypt_secret(blob, key, "oauth2-consent", device_code,
				 error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	OAuth2Outcome outcome = fetchmail_cmd_token_request(set, store,
		oauth2_device_token_request(*p, device_code),
		{ device_code, p->client_secret }, tokens, error);
	OAuth2DevicePoll poll = OAuth2DevicePoll::resume(rec.expires,
							 rec.interval,
							 rec.next_poll);
	std::string ignored;
	if (outcome == OAuth2Outcome::Ok) {
		store.remove_consent(key, ignored);
		if (device_store(fctx, store, stored.account, tokens) < 0)
			return -1;
		doveadm_print(rec.account_id.c_str());
		doveadm_print("connected");
		return 0;
	}
	if (!poll.polled(ioloop_time, outcome)) {
		/* a final answer: the consent is over */
		store.remove_consent(key, ignored);
		if (poll.expired(ioloop_time) &&
		    outcome != OAuth2Outcome::Denied) {
			return fetchmail_cmd_fail(fctx, EX_TEMPFAIL,
				"expired_token: the code expired before "
				"consent was given");
		}
		return fetchmail_cmd_fail_oauth2(fctx, outcome, false, error);
	}
	rec.interval = poll.interval();
	rec.next_poll = poll.next_poll();
	if (store.save_consent(key, oauth2_state_encode(rec, blob), error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	if (outcome == OAuth2Outcome::Temporary)
		return fetchmail_cmd_fail(fctx, EX_TEMPFAIL, error);
	doveadm_print(rec.account_id.c_str());
	doveadm_print("pending");
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_oauth2_device_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_oauth2_device_init,
				   fetchmail_oauth2_device,
				   DOVEADM_PRINT_TYPE_TABLE);
}

static const struct doveadm_cmd_param fetchmail_oauth2_device_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('n', "no-wait", CMD_PARAM_BOOL, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_device = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_oauth2_device_alloc,
	.name = "fetchmail oauth2 device",
	.usage = FETCHMAIL_USAGE_PREFIX "[--no-wait] <id>",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_oauth2_device_params,
};
