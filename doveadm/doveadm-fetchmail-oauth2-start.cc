#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail oauth2 start -u USER <id> --redirect-uri URI`: begin
   the authorization code flow with PKCE (RFC 6749 4.1, RFC 7636) for a
   panel. Prints the URL to send the person's browser to, and the opaque
   state that the provider hands back to the redirect URI together with
   the code (for `oauth2 finish`).

   The consent in progress is stored in the user's attributes under the
   SHA-256 of the state: the user, the account, its provider and remote
   user, the redirect URI, the creation time and expiry (10 minutes), and
   the PKCE verifier encrypted with fetchmail_key. The verifier never
   leaves the server; only its S256 challenge goes into the URL. Expired
   consents of the user are dropped here, and only a few may be in
   progress at once (fetchmail_cmd_consent_save()). */

static void cmd_fetchmail_oauth2_start_init(
	struct doveadm_mail_cmd_context *ctx, const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;
	const char *uri = nullptr;
	std::string error;

	doveadm_print_header_simple("url");
	doveadm_print_header_simple("state");
	if (!fetchmail_cmd_init_id(fctx, args))
		return;
	if (!doveadm_cmd_param_str(ctx->cctx, "redirect-uri", &uri))
		uri = "";
	if (oauth2_redirect_uri_check(uri, error) < 0) {
		fetchmail_cmd_fail(fctx, EX_USAGE, error);
		return;
	}
	fctx->redirect_uri = p_strdup(ctx->pool, uri);
}

static int fetchmail_oauth2_start(struct fetchmail_cmd_context *fctx,
				  const Settings &set, Store &store)
{
	StoredAccount stored;

	if (!fetchmail_cmd_single_user(fctx))
		return -1;
	const OAuth2Provider *p =
		fetchmail_cmd_load_oauth2(fctx, set, store, stored);
	if (p == nullptr)
		return -1;
	if (p->authorize_url.empty()) {
		return fetchmail_cmd_fail(fctx, EX_CONFIG, "oauth2-provider: " +
			p->name + " has no authorization endpoint "
			"(fetchmail_oauth2_" + p->name + "_authorize_url)");
	}
	std::string verifier = oauth2_pkce_verifier(random_fill);
	std::string challenge = oauth2_pkce_challenge(verifier);
	if (challenge.empty())
		return fetchmail_cmd_fail(fctx, EX_TEMPFAIL, "SHA-256 failed");

	OAuth2ConsentState rec;
	rec.kind = OAuth2StateKind::Code;
	rec.redirect_uri = fctx->redirect_uri;
	rec.expires = ioloop_time + OAUTH2_STATE_LIFETIME;
	std::string state = fetchmail_cmd_consent_save(fctx, store,
						       stored.account, rec,
						       verifier);
	if (state.empty())
		return -1;

	doveadm_print(oauth2_authorize_url(*p, fctx->redirect_uri, state,
					   challenge,
					   stored.account.remote_user).c_str());
	doveadm_print(state.c_str());
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_oauth2_start_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_oauth2_start_init,
				   fetchmail_oauth2_start,
				   DOVEADM_PRINT_TYPE_PAGER);
}

static const struct doveadm_cmd_param fetchmail_oauth2_start_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('r', "redirect-uri", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_start = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_oauth2_start_alloc,
	.name = "fetchmail oauth2 start",
	.usage = FETCHMAIL_USAGE_PREFIX "--redirect-uri <uri> <id>",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_oauth2_start_params,
};
