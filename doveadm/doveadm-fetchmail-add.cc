#include "doveadm-fetchmail.hh"
#include "fetchmail-schedule.hh"

using namespace fetchmail;

/* `doveadm fetchmail add -u USER <fields>`: create an account, print its
   id. The fields are validated in init(), before any user is touched; an
   OAuth2 account's provider, which the user's settings define, in the
   body (it may also supply the host). */

static void cmd_fetchmail_add_init(struct doveadm_mail_cmd_context *ctx,
				   const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	doveadm_print_header("id", "id", DOVEADM_PRINT_HEADER_FLAG_HIDE_TITLE);
	if (fetchmail_cmd_init_no_args(fctx, args))
		fetchmail_cmd_init_account(fctx);
}

static int fetchmail_add(struct fetchmail_cmd_context *fctx, const Settings &set,
			 Store &store)
{
	StoredAccount stored;
	std::string error;
	bool password_set;

	if (fetchmail_cmd_apply_fields(fctx, stored.account, password_set) < 0 ||
	    fetchmail_cmd_check_mailbox(fctx, store, stored.account) < 0)
		return -1;
	if (fetchmail_cmd_check_oauth2(fctx, set, stored.account, true) < 0)
		return -1;
	if (account_validate(stored.account, error) < 0)
		return fetchmail_cmd_fail(fctx, EX_USAGE, error);
	/* polled at once: the user who just added it waits for its mail
	   (the service runs fetchmail_max_parallel accounts at a time, so
	   accounts added together still queue) */
	stored.status.next_run = ioloop_time;
	/* an OAuth2 account waits for consent (oauth2 start, device or
	   token), which releases it */
	if (stored.account.auth == AuthMethod::OAuth2)
		oauth2_status_hold(stored.status);
	if (store.create(stored, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	doveadm_print(stored.account.id.c_str());
	fetchmail_cmd_notify_changed(store);
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_add_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_add_init, fetchmail_add,
				   DOVEADM_PRINT_TYPE_FLOW);
}

static const struct doveadm_cmd_param fetchmail_add_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAMS_FIELDS,
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_add = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_add_alloc,
	.name = "fetchmail add",
	.usage = FETCHMAIL_USAGE_PREFIX FETCHMAIL_USAGE_FIELDS,
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_add_params,
};
