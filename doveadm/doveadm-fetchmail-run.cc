#include "doveadm-fetchmail.hh"
#include "fetchmail-notify.hh"
#include "fetchmail-retrieve.hh"
#include "fetchmail-schedule.hh"

using namespace fetchmail;

/* `doveadm fetchmail run -u USER|-A [--due] [<id>]`: retrieve now ("check
   now"), ignoring any backoff, and print per account what happened.
   Without an id every active account of the user runs, concurrently up to
   fetchmail_max_parallel. With --due only the accounts whose next-run has
   come. Afterwards the fetch service is told, so that it knows the new
   status. While the service runs an account, run waits for nothing: it
   reports "another run of this account is in progress". */

static const char *const run_columns[] = {
	"id", "status", "fetched", "skipped", "deleted", "error",
};

static void cmd_fetchmail_run_init(struct doveadm_mail_cmd_context *ctx,
				   const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	for (const char *column : run_columns)
		doveadm_print_header_simple(column);
	if (args[0] != nullptr)
		fetchmail_cmd_init_id(fctx, args);
	bool due;
	fctx->due = doveadm_cmd_param_bool(ctx->cctx, "due", &due) && due;
}

/* The accounts to run: the one named (active or not: naming it is asking
   for it), or every active one. */
static int run_select(struct fetchmail_cmd_context *fctx, Store &store,
		      std::vector<StoredAccount> &accounts_r)
{
	std::vector<std::string> ids;
	std::string error;

	if (fctx->id != nullptr)
		ids.emplace_back(fctx->id);
	else if (store.list_ids(ids, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);
	for (const std::string &id : ids) {
		StoredAccount stored;
		if (store.load(id, stored, error) < 0) {
			fetchmail_cmd_fail_store(fctx, store, error);
			if (fctx->id != nullptr)
				return -1;
			continue;
		}
		if (fctx->id == nullptr && !stored.account.active)
			continue;
		if (fctx->due && !account_due(stored.account, stored.status,
					      ioloop_time))
			continue;
		accounts_r.push_back(std::move(stored));
	}
	return 0;
}

static int fetchmail_run(struct fetchmail_cmd_context *fctx, const Settings &set,
			 Store &store)
{
	std::vector<StoredAccount> accounts;
	int ret = 0;

	if (run_select(fctx, store, accounts) < 0)
		return -1;
	for (const RunReport &r : run_accounts(store, set, std::move(accounts),
					       RunMode::Fetch,
					       doveadm_is_killed)) {
		doveadm_print(r.id.c_str());
		doveadm_print(r.ok ? "ok" : "error");
		doveadm_print(dec2str(r.fetched));
		doveadm_print(dec2str(r.skipped));
		doveadm_print(dec2str(r.deleted));
		doveadm_print(r.error.c_str());
		/* the reason is in the row and the run log */
		if (!r.ok)
			ret = fetchmail_cmd_fail_run(fctx, r);
	}
	fetchmail_cmd_notify_changed(store);
	return ret;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_run_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_run_init, fetchmail_run,
				   DOVEADM_PRINT_TYPE_TABLE);
}

static const struct doveadm_cmd_param fetchmail_run_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('d', "due", CMD_PARAM_BOOL, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_run = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_run_alloc,
	.name = "fetchmail run",
	.usage = FETCHMAIL_USAGE_PREFIX "[--due] [<id>]",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_run_params,
};
