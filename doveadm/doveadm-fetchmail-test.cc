#include "doveadm-fetchmail.hh"
#include "fetchmail-retrieve.hh"

using namespace fetchmail;

/* `doveadm fetchmail test -u USER <id>` or `... test -u USER <fields>`:
   resolve, connect, negotiate TLS, log in and count messages, without
   fetching, storing or writing anything. Prints one row per step.
   A failed test exits EX_TEMPFAIL; with --report it exits 0 once the test
   ran, because over the HTTP API a failed command carries only its exit
   code and a panel needs the rows to show which step failed and why. */

static void cmd_fetchmail_test_init(struct doveadm_mail_cmd_context *ctx,
				    const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	doveadm_print_header_simple("step");
	doveadm_print_header_simple("result");
	if (args[0] != nullptr)
		fetchmail_cmd_init_id(fctx, args);
	else
		fetchmail_cmd_init_account(fctx);
}

/* The account to test: the stored one, or one made of the fields given
   (nothing of it is stored). */
static int test_account(struct fetchmail_cmd_context *fctx, Store &store,
			StoredAccount &stored_r)
{
	std::string error;
	bool password_set;

	if (fctx->id != nullptr) {
		if (store.load(fctx->id, stored_r, error) < 0)
			return fetchmail_cmd_fail_store(fctx, store, error);
		return 0;
	}
	if (fetchmail_cmd_apply_fields(fctx, stored_r.account,
				       password_set) < 0)
		return -1;
	stored_r.account.id = "test";
	return 0;
}

static int fetchmail_test(struct fetchmail_cmd_context *fctx, const Settings &set,
			  Store &store)
{
	std::vector<StoredAccount> accounts(1);

	if (test_account(fctx, store, accounts[0]) < 0)
		return -1;
	RunReport r = run_accounts(store, set, std::move(accounts),
				   RunMode::Test).front();
	for (const auto &[step, result] : r.steps) {
		doveadm_print(step.c_str());
		doveadm_print(result.c_str());
	}
	doveadm_print("result");
	doveadm_print(r.ok ? "ok" : ("failed: " + r.error).c_str());
	bool report;
	if (r.ok || (doveadm_cmd_param_bool(fctx->ctx.cctx, "report", &report) &&
		     report))
		return 0;
	return fetchmail_cmd_fail_run(fctx, r);
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_test_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_test_init, fetchmail_test,
				   DOVEADM_PRINT_TYPE_TABLE);
}

static const struct doveadm_cmd_param fetchmail_test_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('r', "report", CMD_PARAM_BOOL, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAMS_FIELDS,
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_test = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_test_alloc,
	.name = "fetchmail test",
	.usage = FETCHMAIL_USAGE_PREFIX "[--report] <id> | " FETCHMAIL_USAGE_FIELDS,
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_test_params,
};
