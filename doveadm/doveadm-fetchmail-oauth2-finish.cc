#include "doveadm-fetchmail.hh"

#include <algorithm>

using namespace fetchmail;

/* `doveadm fetchmail oauth2 finish -u USER --state STATE --code CODE`:
   complete a consent begun with `oauth2 start`: exchange the code for
   tokens (with the PKCE verifier and the redirect URI of the start) and
   store them. Prints the account's id and its OAuth2 state.

   The state is single use, bound to the user and account of the start,
   and expires after 10 minutes. It is looked up among this user's
   consents only, so another user's state is simply unknown. It is
   removed before the code is exchanged, under the account's consent lock,
   so that a replayed or concurrent finish finds nothing, whatever the
   provider answers. Refused (EX_USAGE, nothing stored): an unknown, used
   or expired state, an account that was removed or changed its provider
   or remote user since the start, a code the provider refuses.

   With the state of a device flow (`oauth2 device --no-wait`, and every
   device flow over the HTTP API) no code is needed: finish polls the
   token endpoint once and prints oauth2 "pending" or "connected". */

static const size_t CODE_MAX = 4096;

static void cmd_fetchmail_oauth2_finish_init(
	struct doveadm_mail_cmd_context *ctx, const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;
	const char *state = nullptr, *code = nullptr;

	doveadm_print_header_simple("id");
	doveadm_print_header_simple("oauth2");
	if (!fetchmail_cmd_init_no_args(fctx, args))
		return;
	if (!doveadm_cmd_param_str(ctx->cctx, "state", &state)) {
		fetchmail_cmd_fail(fctx, EX_USAGE, "state: missing");
		return;
	}
	if (!oauth2_state_valid(state)) {
		fetchmail_cmd_fail(fctx, EX_USAGE, "state: not a state made "
				   "by oauth2 start or oauth2 device");
		return;
	}
	fctx->state = p_strdup(ctx->pool, state);
	if (doveadm_cmd_param_str(ctx->cctx, "code", &code)) {
		std::string_view c = code;
		/* the code is a credential: never echoed */
		if (c.empty() || c.size() > CODE_MAX ||
		    c.find_first_of(" \t\r\n") != c.npos ||
		    std::any_of(c.begin(), c.end(), [](char ch) {
			    return (unsigned char)ch < 0x21 || ch == 0x7f;
		    })) {
			fetchmail_cmd_fail(fctx, EX_USAGE,
					   "code: not a valid authorization code");
			return;
		}
		fctx->code = p_strdup(ctx->pool, code);
	}
}

/* The consent record of the state, checked: 1 found and good, -1 (exit
   code set) otherwise. An expired one is removed. */
static int finish_load(struct fetchmail_cmd_context *fctx, Store &store,
		       const std::string &key, OAuth2ConsentState &rec_r,
		       std::string &blob_r)
{
	std::string json, error;
	int ret = store.load_consent(key, json, error);

	if (ret < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	if (ret == 0) {
		return fetchmail_cmd_fail(fctx, EX_USAGE,
					  "state: unknown, expired or already used");
	}
	if (oauth2_state_decode(json, rec_r, blob_r, error) < 0) {
		store.remove_consent(key, error);
		return fetchmail_cmd_fail(fctx, EX_DATAERR, "state: " + error);
	}
	if (oauth2_state_check(rec_r, store.user()->username, ioloop_time,
			       error) < 0) {
		std::string ignored;
		if (rec_r.user == store.user()->username)
			store.remove_consent(key, ignored);
		return fetchmail_cmd_fail(fctx, EX_USAGE, error);
	}
	return 1;
}

/* The account the consent is for, unchanged since the start. */
static const OAuth2Provider *
finish_account(struct fetchmail_cmd_context *fctx, const Settings &set,
	       Store &store, const OAuth2ConsentState &rec,
	       StoredAccount &stored_r)
{
	fctx->id = p_strdup(fctx->ctx.pool, rec.account_id.c_str());
	const OAuth2Provider *p =
		fetchmail_cmd_load_oauth2(fctx, set, store, stored_r);
	if (p == nullptr)
		return nullptr;
	if (stored_r.account.oauth2_provider != rec.provider ||
	    stored_r.account.remote_user != rec.remote_user) {
		fetchmail_cmd_fail(fctx, EX_USAGE, "state: account " +
				   rec.account_id + " changed its provider or "
				   "remote user since the consent started");
		return nullptr;
	}
	return p;
}

static int finish_code(struct fetchmail_cmd_context *fctx, const Settings &set,
		       Store &store, const std::string &key,
		       const OAuth2ConsentState &rec, const std::string &blob)
{
	StoredAccount stored;
	std::string verifier, error;
	OAuth2TokenResponse tokens;

	if (fctx->code == nullptr)
		return fetchmail_cmd_fail(fctx, EX_USAGE, "code: missing");
	/* single use from here on, whatever happens next */
	if (store.decrypt_secret(blob, key, "oauth2-consent", verifier,
				 error) < 0 ||
	    store.remove_consent(key, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	const OAuth2Provider *p = finish_account(fctx, set, store, rec, stored);
	if (p == nullptr)
		return -1;
	OAuth2Outcome outcome = fetchmail_cmd_token_request(set, store,
		oauth2_code_request(*p, fctx->code, rec.redirect_uri, verifier),
		{ fctx->code, verifier, p->client_secret }, tokens, error);
	if (outcome != OAuth2Outcome::Ok) {
		if (outcome == OAuth2Outcome::ConsentNeeded)
			error = "code: refused by the provider: " + error;
		return fetchmail_cmd_fail_oauth2(fctx, outcome, true, error);
	}
	int ret = oauth2_store_consent(store, stored.account, tokens,
				       ioloop_time, error);
	if (ret == -2)
		return fetchmail_cmd_fail(fctx, EX_CONFIG, error);
	if (ret < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	doveadm_print(rec.account_id.c_str());
	doveadm_print("connected");
	/* released: due again */
	fetchmail_cmd_notify_changed(store);
	return 0;
}

static int fetchmail_oauth2_finish(struct fetchmail_cmd_context *fctx,
				   const Settings &set, Store &store)
{
	OAuth2ConsentState rec;
	std::string key = oauth2_state_key(fctx->state), blob, error;
	int lock_fd = -1;

	if (!fetchmail_cmd_single_user(fctx))
		return -1;
	if (finish_load(fctx, store, key, rec, blob) < 0)
		return -1;
	/* one finish (or poll) of an account's consent at a time */
	int ret = store.lock_account_for("oauth2-consent", rec.account_id,
					 lock_fd, error);
	if (ret < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	if (ret == 0) {
		return fetchmail_cmd_fail(fctx, EX_TEMPFAIL, "another consent "
			"of account " + rec.account_id + " is being finished");
	}
	/* read again under the lock: it may just have been used */
	if (finish_load(fctx, store, key, rec, blob) < 0)
		ret = -1;
	else if (rec.kind == OAuth2StateKind::Device)
		ret = fetchmail_cmd_device_poll(fctx, set, store, key, rec, blob);
	else
		ret = finish_code(fctx, set, store, key, rec, blob);
	i_close_fd(&lock_fd);
	return ret;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_oauth2_finish_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_oauth2_finish_init,
				   fetchmail_oauth2_finish,
				   DOVEADM_PRINT_TYPE_TABLE);
}

static const struct doveadm_cmd_param fetchmail_oauth2_finish_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('s', "state", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM('c', "code", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_finish = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_oauth2_finish_alloc,
	.name = "fetchmail oauth2 finish",
	.usage = FETCHMAIL_USAGE_PREFIX "--state <state> [--code <code>]",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_oauth2_finish_params,
};
