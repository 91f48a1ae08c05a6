#include "doveadm-fetchmail.hh"

#include <algorithm>

#include <fcntl.h>
#include <unistd.h>

using namespace fetchmail;

/* `doveadm fetchmail oauth2 token -u USER <id> --refresh-token-file -`:
   consent for migrations: import a refresh token obtained elsewhere
   (getmail6's and mutt_oauth2's token files hold one, the provider's
   OAuth playground gives one). It is read from standard input on the
   command line (or from a file named instead of "-"), never from an
   argument, which other local users would see in ps; over the HTTP API
   the JSON parameter refreshToken carries it. (doveadm passes stream
   parameters of mail commands only under the name "file", so the file
   is read here; over HTTP a server-side file is refused.)

   The token is verified with one refresh before anything is stored: a
   token the provider refuses changes nothing (EX_USAGE). On success the
   token record holds the new access token and, when the provider rotated
   it, the new refresh token (the imported one is then already retired). */

static void cmd_fetchmail_oauth2_token_init(
	struct doveadm_mail_cmd_context *ctx, const char *const args[])
{
	auto *fctx = (struct fetchmail_cmd_context *)ctx;

	doveadm_print_header_simple("id");
	doveadm_print_header_simple("oauth2");
	fetchmail_cmd_init_id(fctx, args);
}

/* Read a token file ("-": standard input), at most max bytes. */
static int token_read_file(const char *path, size_t max, std::string &data_r,
			   std::string &error_r)
{
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	char buf[4096];
	ssize_t ret;

	if (fd == -1) {
		error_r = std::string("open(") + path + ") failed: " +
			strerror(errno);
		return -1;
	}
	while ((ret = read(fd, buf, sizeof(buf))) > 0 && data_r.size() <= max)
		data_r.append(buf, ret);
	int err = errno;
	if (!is_stdin)
		i_close_fd(&fd);
	if (ret < 0) {
		error_r = std::string("read(") + path + ") failed: " +
			strerror(err);
		return -1;
	}
	return 0;
}

/* The token from refresh-token (HTTP only) or refresh-token-file (command
   line only). */
static int token_read(struct fetchmail_cmd_context *fctx,
		      std::string &token_r)
{
	struct doveadm_cmd_context *cctx = fctx->ctx.cctx;
	const char *value = nullptr, *path = nullptr;
	bool has_value = doveadm_cmd_param_str(cctx, "refresh-token", &value);
	bool has_file = doveadm_cmd_param_str(cctx, "refresh-token-file",
					      &path);
	bool cli = cctx->conn_type == DOVEADM_CONNECTION_TYPE_CLI;
	std::string error;

	if (has_value && cli) {
		return fetchmail_cmd_fail(fctx, EX_USAGE, "refresh-token: not "
			"accepted on the command line (other users see it in "
			"ps): use --refresh-token-file - and standard input");
	}
	if (has_file && !cli) {
		return fetchmail_cmd_fail(fctx, EX_USAGE, "refresh-token-file: "
			"only on the command line; over the HTTP API give "
			"refreshToken");
	}
	if (!has_value && !has_file) {
		return fetchmail_cmd_fail(fctx, EX_USAGE, "refresh-token: "
			"missing (--refresh-token-file -, or refreshToken over "
			"the HTTP API)");
	}
	if (has_value)
		token_r = value;
	else if (token_read_file(path, OAUTH2_MAX_TOKEN + 64, token_r,
				 error) < 0)
		return fetchmail_cmd_fail(fctx, EX_USAGE,
					  "refresh-token-file: " + error);
	/* a token file ends with a newline */
	size_t start = token_r.find_first_not_of(" \t\r\n");
	size_t end = token_r.find_last_not_of(" \t\r\n");
	token_r = start == std::string::npos ? "" :
		token_r.substr(start, end - start + 1);
	if (token_r.empty() || token_r.size() > OAUTH2_MAX_TOKEN ||
	    !std::all_of(token_r.begin(), token_r.end(), [](char c) {
		    return c > 0x20 && c < 0x7f;
	    })) {
		/* never echoed */
		return fetchmail_cmd_fail(fctx, EX_USAGE, "refresh-token: not "
			"a valid token (one line of at most 16 KiB of visible "
			"ASCII)");
	}
	return 0;
}

static int fetchmail_oauth2_token(struct fetchmail_cmd_context *fctx,
				  const Settings &set, Store &store)
{
	StoredAccount stored;
	std::string token;
	OAuth2RefreshResult result;

	if (!fetchmail_cmd_single_user(fctx))
		return -1;
	if (fetchmail_cmd_load_oauth2(fctx, set, store, stored) == nullptr ||
	    token_read(fctx, token) < 0)
		return -1;

	OAuth2RefreshOptions options;
	options.refresh_token = token;
	{
		FetchmailCmdIoloop loop;
		HttpClient http(fetchmail_cmd_http_settings(set, store));
		OAuth2Refresh refresh(store, set, http, stored.account);
		refresh.start(options, [&](const OAuth2RefreshResult &r) {
			result = r;
			loop.stop();
		});
		loop.run();
	}
	if (result.status != OAuth2RefreshStatus::Ok) {
		std::string error = result.status ==
			OAuth2RefreshStatus::ConsentNeeded ?
			"refresh-token: refused by the provider: " + result.error :
			result.error;
		return fetchmail_cmd_fail_refresh(fctx, result.status, true,
						  error);
	}
	doveadm_print(stored.account.id.c_str());
	doveadm_print("connected");
	/* released: due again */
	fetchmail_cmd_notify_changed(store);
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_fetchmail_oauth2_token_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_oauth2_token_init,
				   fetchmail_oauth2_token,
				   DOVEADM_PRINT_TYPE_TABLE);
}

static const struct doveadm_cmd_param fetchmail_oauth2_token_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM('f', "refresh-token-file", CMD_PARAM_STR,
			CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM('r', "refresh-token", CMD_PARAM_STR, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_token = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_oauth2_token_alloc,
	.name = "fetchmail oauth2 token",
	.usage = FETCHMAIL_USAGE_PREFIX "--refresh-token-file -|<file> <id>",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_oauth2_token_params,
};
