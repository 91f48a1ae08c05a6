#include "doveadm-fetchmail.hh"

using namespace fetchmail;

/* `doveadm fetchmail oauth2 providers -u USER`: the OAuth2 providers the
   user's accounts may name (fetchmail_oauth2_providers), for panels that
   offer them: name, label, the mail servers, the SASL mechanism, whether
   there is a device flow, and why a provider cannot be used (error).
   Never the client secret. */

static const char *const providers_columns[] = {
	"name", "label", "imap-host", "imap-port", "pop3-host", "pop3-port",
	"mechanism", "device", "error",
};

static void cmd_fetchmail_oauth2_providers_init(
	struct doveadm_mail_cmd_context *ctx, const char *const args[])
{
	for (const char *column : providers_columns)
		doveadm_print_header_simple(column);
	fetchmail_cmd_init_no_args((struct fetchmail_cmd_context *)ctx, args);
}

static int fetchmail_oauth2_providers(struct fetchmail_cmd_context *,
				      const Settings &set, Store &)
{
	for (const OAuth2Provider &p : set.oauth2_providers.list) {
		doveadm_print(p.name.c_str());
		doveadm_print(p.label.c_str());
		doveadm_print(p.imap_host.c_str());
		doveadm_print(dec2str(p.imap_port));
		doveadm_print(p.pop3_host.c_str());
		doveadm_print(dec2str(p.pop3_port));
		doveadm_print(oauth2_mechanism_name(p.mechanism));
		doveadm_print(p.device_url.empty() ? "no" : "yes");
		doveadm_print(p.error.c_str());
	}
	return 0;
}

static struct doveadm_mail_cmd_context *
cmd_fetchmail_oauth2_providers_alloc(void)
{
	return fetchmail_cmd_alloc(cmd_fetchmail_oauth2_providers_init,
				   fetchmail_oauth2_providers,
				   DOVEADM_PRINT_TYPE_TABLE);
}

static const struct doveadm_cmd_param fetchmail_oauth2_providers_params[] = {
	FETCHMAIL_PARAMS_COMMON,
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_oauth2_providers = {
	.cmd = nullptr,
	.mail_cmd = cmd_fetchmail_oauth2_providers_alloc,
	.name = "fetchmail oauth2 providers",
	.usage = FETCHMAIL_USAGE_PREFIX,
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_oauth2_providers_params,
};
