#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail edit -u USER <id> <fields>`: change only the fields
   given. Each value is checked in init(); the changed record is validated
   as a whole before it is written.

   Switching --auth: to oauth2 drops the stored password (the account
   then waits for consent); to password needs --password and drops the
   provider unless one is given (which is then an error). Another
   provider or remote user, or leaving OAuth2, forgets the tokens: they
   belong to another account at the provider. */

static void cmd_fetchmail_edit_init(struct doveadm_mail_cmd_context *ctx,
				    const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	if (!fetchmail_cmd_init_id(fctx, args))
		return;
	fetchmail_cmd_guard(fctx, [&] {
		Account probe;
		bool password_set;
		int count = fetchmail_cmd_apply_fields(fctx, probe,
						       password_set);
		if (count == 0) {
			return fetchmail_cmd_fail(fctx, EX_USAGE,
						  "edit: no fields given");
		}
		return count < 0 ? -1 : 0;
	});
}

/* The loaded record carries the password only as a blob: unless a new
   one is given, validate the rest (a password account that was an
   OAuth2 one has no blob: it needs a new password). */
static int edit_validate(const StoredAccount &stored, bool password_set,
			 std::string &error_r)
{
	if (password_set || stored.account.auth != AuthMethod::Password)
		return account_validate(stored.account, error_r);
	if (stored.password_blob.empty()) {
		error_r = "password: missing (required with auth password)";
		return -1;
	}
	Account copy = stored.account;
	copy.password = "-";
	return account_validate(copy, error_r);
}

/* The tokens were given for one provider and one remote account. */
static bool edit_forgets_tokens(const Account &before, const Account &after)
{
	return before.auth == AuthMethod::OAuth2 &&
		(after.auth != AuthMethod::OAuth2 ||
		 before.oauth2_provider != after.oauth2_provider ||
		 before.remote_user != after.remote_user);
}

/* Whether the account now waits for consent (held: not polled), or no
   longer: an OAuth2 account whose tokens go (or that just became one)
   waits; one that became a password account does not. Returns whether
   the status changed. */
static bool edit_hold(const Account &before, StoredAccount &stored,
		      bool forget_tokens)
{
	if (stored.account.auth == AuthMethod::OAuth2) {
		if (before.auth == AuthMethod::OAuth2 && !forget_tokens)
			return false;
		oauth2_status_hold(stored.status);
		return true;
	}
	if (before.auth != AuthMethod::OAuth2 || !stored.status.held)
		return false;
	oauth2_status_release(stored.status, ioloop_time);
	return true;
}

/* What switching --auth implies for the fields not given. */
static void edit_switch_auth(struct fetchmail_cmd_context *fctx,
			     const Account &before, StoredAccount &stored)
{
	const char *provider;

	if (before.auth == stored.account.auth)
		return;
	if (stored.account.auth == AuthMethod::OAuth2) {
		stored.password_blob.clear();
	} else if (!doveadm_cmd_param_str(fctx->ctx.cctx, "oauth2-provider",
					  &provider)) {
		stored.account.oauth2_provider.clear();
	}
}

/* Another host, protocol or remote user is another mailbox: the UIDLs and
   UIDs delivered from the old one say nothing about it. (A port or TLS
   change reaches the same mailbox.) */
static bool edit_changes_mailbox(const Account &before, const Account &after)
{
	return before.host != after.host ||
		before.protocol != after.protocol ||
		before.remote_user != after.remote_user;
}

static int fetchmail_edit(struct fetchmail_cmd_context *fctx,
			  const Settings &set,
			  Store &store)
{
	StoredAccount stored;
	std::string error;
	bool password_set;

	if (store.load(fctx->id, stored, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	const Account before = stored.account;
	if (fetchmail_cmd_apply_fields(fctx, stored.account, password_set) < 0)
		return -1;
	edit_switch_auth(fctx, before, stored);
	if (edit_validate(stored, password_set, error) < 0)
		return fetchmail_cmd_fail(fctx, EX_USAGE, error);
	if (fetchmail_cmd_check_oauth2(fctx, set, stored.account, false) < 0 ||
	    fetchmail_cmd_check_mailbox(fctx, store, stored.account) < 0)
		return -1;
	StoreUpdate also;
	also.forget_ledger = edit_changes_mailbox(before, stored.account);
	also.forget_tokens = edit_forgets_tokens(before, stored.account);
	also.status = edit_hold(before, stored, also.forget_tokens);
	if (store.update(stored, password_set, also, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	fetchmail_cmd_notify_changed(store);
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_edit_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_edit_init, fetchmail_edit,
				   nullptr);
}

static const struct doveadm_cmd_param fetchmail_edit_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAMS_FIELDS,
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_edit = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_edit_alloc,
	.name = "fetchmail edit",
	.usage = FETCHMAIL_USAGE_PREFIX "<id> " FETCHMAIL_USAGE_FIELDS,
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_edit_params,
};
