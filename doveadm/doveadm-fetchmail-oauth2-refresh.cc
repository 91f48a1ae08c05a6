#include "doveadm-fetchmail.hh"

#include <deque>
#include <memory>

using namespace fetchmail;

/* `doveadm fetchmail oauth2 refresh -u USER|-A [<id>]`: refresh the access
   token of one OAuth2 account, or of every OAuth2 account of the user,
   now, whether the cached one is still good or not: checks that the
   consent still holds and the provider answers. The accounts refresh
   concurrently in one ioloop (at most fetchmail_max_parallel at a time),
   through OAuth2Refresh, exactly as a run would: rotated tokens are
   stored, an invalid_grant sets consent needed.

   Rows: id, result (ok, consent needed, configuration error, temporary
   error), oauth2 (the account's state afterwards), expires (of the new
   access token), error. Exit code: the first failure's (EX_NOPERM for
   consent needed, EX_CONFIG, EX_TEMPFAIL). */

static const char *const refresh_columns[] = {
	"id", "result", "oauth2", "expires", "error",
};

static void cmd_fetchmail_oauth2_refresh_init(
	struct doveadm_mail_cmd_context *ctx, const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	for (const char *column : refresh_columns)
		doveadm_print_header_simple(column);
	if (args[0] != nullptr)
		fetchmail_cmd_init_id(fctx, args);
}

/* The accounts' refreshes, max_parallel at a time. */
struct RefreshQueue {
	FetchmailCmdIoloop loop;
	HttpClient http;
	Store &store;
	const Settings &set;
	std::deque<Account> waiting;
	std::vector<std::unique_ptr<OAuth2Refresh>> running;
	std::vector<std::pair<std::string, OAuth2RefreshResult>> results;
	size_t active = 0;

	RefreshQueue(Store &st, const Settings &s)
		: http(fetchmail_cmd_http_settings(s, st)), store(st), set(s) {}

	void start_more()
	{
		while (active < set.max_parallel && !waiting.empty()) {
			Account account = std::move(waiting.front());
			waiting.pop_front();
			size_t slot = results.size();
			results.emplace_back(account.id, OAuth2RefreshResult());
			running.push_back(std::make_unique<OAuth2Refresh>(
				store, set, http, account));
			OAuth2RefreshOptions options;
			options.force = true;
			active++;
			running.back()->start(options,
				[this, slot](const OAuth2RefreshResult &r) {
					results[slot].second = r;
					active--;
					start_more();
					if (active == 0)
						loop.stop();
				});
		}
	}
};

static int fetchmail_oauth2_refresh(struct fetchmail_cmd_context *fctx,
				    const Settings &set, Store &store)
{
	std::vector<std::string> ids;
	std::string error;
	int ret = 0;

	if (fctx->id != nullptr)
		ids.emplace_back(fctx->id);
	else if (store.list_ids(ids, error) < 0)
		return fetchmail_cmd_fail_store(fctx, store, error);

	RefreshQueue queue(store, set);
	for (const std::string &id : ids) {
		StoredAccount stored;
		if (store.load(id, stored, error) < 0) {
			ret = fetchmail_cmd_fail_store(fctx, store, error);
			continue;
		}
		if (stored.account.auth != AuthMethod::OAuth2) {
			if (fctx->id != nullptr) {
				return fetchmail_cmd_fail(fctx, EX_USAGE,
					"auth: account " + id + " logs in "
					"with a password, not OAuth2");
			}
			continue;
		}
		queue.waiting.push_back(stored.account);
	}
	queue.start_more();
	if (queue.active > 0)
		queue.loop.run();

	for (const auto &[id, r] : queue.results) {
		StoredAccount stored;
		store.load(id, stored, error);
		doveadm_print(id.c_str());
		doveadm_print(oauth2_refresh_status_name(r.status));
		doveadm_print(stored.oauth2.c_str());
		doveadm_print(r.status == OAuth2RefreshStatus::Ok ?
			      iso8601_utc(r.expires).c_str() : "");
		doveadm_print(r.error.c_str());
		if (r.status != OAuth2RefreshStatus::Ok)
			ret = fetchmail_cmd_fail_refresh(fctx, r.status, false,
							 id + ": " + r.error);
	}
	/* a consent that is gone holds its account */
	fetchmail_cmd_notify_changed(store);
	return ret;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_oauth2_refresh_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_oauth2_refresh_init,
				   fetchmail_oauth2_refresh,
				   DOVEADM_PRINT_TYPE_TABLE);
}

static const struct doveadm_cmd_param fetchmail_oauth2_refresh_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_refresh = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_oauth2_refresh_alloc,
	.name = "fetchmail oauth2 refresh",
	.usage = FETCHMAIL_USAGE_PREFIX "[<id>]",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_oauth2_refresh_params,
};
