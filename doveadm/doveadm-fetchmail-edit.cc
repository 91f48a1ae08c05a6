#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail edit -u USER <id> <fields>`: change only the fields
   given. Each value is checked in init(); the changed record is validated
   as a whole before it is written. */

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
   one is given, validate the rest. */
static int edit_validate(const Account &account, bool password_set,
			 std::string &error_r)
{
	if (password_set)
		return account_validate(account, error_r);
	Account copy = account;
	copy.password = "-";
	return account_validate(copy, error_r);
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

static int fetchmail_edit(struct fetchmail_cmd_context *fctx, const Settings &,
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
	if (edit_validate(stored.account, password_set, error) < 0)
		return fetchmail_cmd_fail(fctx, EX_USAGE, error);
	if (fetchmail_cmd_check_mailbox(fctx, store, stored.account) < 0)
		return -1;
	if (store.update(stored, password_set,
			 edit_changes_mailbox(before, stored.account), error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	fetchmail_cmd_registry_update(store);
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
