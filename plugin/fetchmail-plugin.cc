#include "fetchmail-plugin.hh"
#include "fetchmail-mailbox.hh"
#include "fetchmail-notify.hh"
#include "fetchmail-settings.hh"
#include "fetchmail-tls-cache.hh"

#ifndef FETCHMAIL_VERSION
#  define FETCHMAIL_VERSION "0.0.0"
#endif

using namespace fetchmail;

const char *fetchmail_plugin_version = DOVECOT_ABI_VERSION;
const char *fetchmail_plugin_dependencies[] = { nullptr };

/* What the plugin keeps per mail user: the settings, parsed once, and
   when the user last told the fetch service it opened INBOX. Pool memory:
   a plain struct that owns a C++ object, freed in deinit. */
struct fetchmail_user {
	union mail_user_module_context module_ctx;
	Settings *set;
	time_t last_look;
};

/* a session tells the service at most this often that INBOX was opened
   (the service has its own, per-user limit: fetchmail_look_age) */
static const time_t FETCHMAIL_LOOK_MIN_SECS = 10;

#define FETCHMAIL_USER_CONTEXT(obj) \
	static_cast<struct fetchmail_user *>( \
		MODULE_CONTEXT(obj, fetchmail_user_module))

static MODULE_CONTEXT_DEFINE_INIT(fetchmail_user_module,
				  &mail_user_module_register);

static struct module *fetchmail_module;

const char *fetchmail_version_string(void)
{
	return "dovecot-fetchmail " FETCHMAIL_VERSION
		" (Dovecot " DOVECOT_ABI_VERSION ")";
}

static void fetchmail_mail_user_deinit(struct mail_user *user)
{
	struct fetchmail_user *fuser = FETCHMAIL_USER_CONTEXT(user);

	shared_mailbox_close_all(user);
	delete fuser->set;
	fuser->set = nullptr;
	fuser->module_ctx.super.deinit(user);
}

static void fetchmail_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	struct fetchmail_user *fuser;
	std::string error;

	fuser = p_new(user->pool, struct fetchmail_user, 1);
	fuser->module_ctx.super = *v;
	user->vlast = &fuser->module_ctx.super;
	v->deinit = fetchmail_mail_user_deinit;
	MODULE_CONTEXT_SET(user, fetchmail_user_module, fuser);

	try {
		fuser->set = new Settings();
		if (settings_parse([user](const char *name) {
			const char *value = mail_user_plugin_getenv(user, name);
			return std::string(value == nullptr ? "" : value);
		}, *fuser->set, error) < 0) {
			user->error = p_strdup(user->pool, error.c_str());
		}
	} catch (const std::exception &e) {
		user->error = p_strdup_printf(user->pool,
			"fetchmail: internal error: %s", e.what());
	}
}

const Settings *fetchmail::settings_of(struct mail_user *user)
{
	struct fetchmail_user *fuser = FETCHMAIL_USER_CONTEXT(user);

	return fuser == nullptr ? nullptr : fuser->set;
}

/* Fetch when the user looks: an IMAP or POP3 session that opens INBOX
   tells the fetch service (fetchmail-notify.hh), which polls the user's
   accounts whose last poll is older than fetchmail_look_age. Never
   blocks, never fails the open. */
static void fetchmail_mailbox_opened(struct mailbox *box)
{
	struct mail_namespace *ns = mailbox_get_namespace(box);
	struct mail_user *user = ns->user;
	struct fetchmail_user *fuser = FETCHMAIL_USER_CONTEXT(user);
	std::string error;

	if (fuser == nullptr || fuser->set == nullptr ||
	    fuser->set->look_age_secs == 0 ||
	    (ns->flags & NAMESPACE_FLAG_INBOX_USER) == 0 ||
	    strcmp(mailbox_get_vname(box), "INBOX") != 0 ||
	    user->service == nullptr ||
	    (strcmp(user->service, "imap") != 0 &&
	     strcmp(user->service, "pop3") != 0) ||
	    (fuser->last_look != 0 &&
	     ioloop_time - fuser->last_look < FETCHMAIL_LOOK_MIN_SECS))
		return;
	fuser->last_look = ioloop_time;
	try {
		if (service_notify(user->set->base_dir, "LOOK", user->username,
				   error) < 0)
			e_debug(user->event, "fetchmail: LOOK: %s", error.c_str());
	} catch (const std::exception &e) {
		e_error(user->event, "fetchmail: internal error: %s", e.what());
	}
}

static struct mail_storage_hooks fetchmail_mail_storage_hooks = {
	.mail_user_created = fetchmail_mail_user_created,
	.mail_namespace_storage_added = nullptr,
	.mail_namespaces_created = nullptr,
	.mail_namespaces_added = nullptr,
	.mail_storage_created = nullptr,
	.mailbox_list_created = nullptr,
	.mailbox_allocated = nullptr,
	.mailbox_opened = fetchmail_mailbox_opened,
	.mail_allocated = nullptr,
};

void fetchmail_plugin_init(struct module *module)
{
	fetchmail_module = module;
	mail_storage_hooks_add(module, &fetchmail_mail_storage_hooks);
}

void fetchmail_plugin_deinit(void)
{
	/* the kept TLS sessions are OpenSSL objects: freed while Dovecot's
	   SSL module (unloaded at lib_deinit()) is still there */
	tls_session_cache_clear();
	mail_storage_hooks_remove(&fetchmail_mail_storage_hooks);
	fetchmail_module = nullptr;
}
