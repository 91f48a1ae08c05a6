/* The OAuth2 token refresh and the token endpoint exchanges: see
   fetchmail-oauth2-refresh.hh.

   An OAuth2Refresh goes through

     start -> (zero timeout) -> lock (retried every 100 ms) -> load ->
       cached token good: done
       else: request -> response -> store -> done

   Every step after start() runs from an ioloop callback: the zero
   timeout, the lock retry timeout or the HTTP client's callback. done()
   releases the lock and makes the one callback last, so that the caller
   may destroy the OAuth2Refresh in it. */

#include "fetchmail-oauth2-refresh.hh"
#include "fetchmail-redact.hh"
#include "fetchmail-strings.hh"

#include <exception>

namespace fetchmail {

namespace {

const unsigned int LOCK_RETRY_MSECS = 100;
const char LOCK_NAME[] = "oauth2";

/* What a token endpoint outcome means for a refresh. */
OAuth2RefreshStatus refresh_status(OAuth2Outcome outcome)
{
	switch (outcome) {
	case OAuth2Outcome::Ok:
		return OAuth2RefreshStatus::Ok;
	case OAuth2Outcome::ConsentNeeded:
	case OAuth2Outcome::Denied:
	case OAuth2Outcome::Expired:
		return OAuth2RefreshStatus::ConsentNeeded;
	case OAuth2Outcome::Config:
		return OAuth2RefreshStatus::Config;
	case OAuth2Outcome::Temporary:
	case OAuth2Outcome::Pending:
	case OAuth2Outcome::SlowDown:
		break;
	}
	return OAuth2RefreshStatus::Temporary;
}

/* The HTTP client's answer parsed by parse (token or device response). */
template <typename Result, typename Callback>
uint64_t post_and_parse(HttpClient &http, const OAuth2Request &request,
			std::vector<std::string> secrets,
			OAuth2Outcome (*parse)(long, std::string_view,
					       const std::vector<std::string> &,
					       Result &, std::string &),
			Callback callback)
{
	return http.post_form(request.url, request.body,
		[secrets = std::move(secrets), parse,
		 callback = std::move(callback)](HttpResponse &r) {
			Result result;
			std::string error;
			OAuth2Outcome outcome;
			if (r.error != HttpError::None) {
				outcome = OAuth2Outcome::Temporary;
				error = r.error_text;
				Redactor redactor;
				for (const std::string &s : secrets)
					redactor.add_secret(s);
				redactor.redact(error);
			} else {
				outcome = parse(r.status, r.body, secrets,
						result, error);
			}
			callback(outcome, result, error);
		});
}

} // namespace

struct OAuth2Refresh::Impl {
	Store &store;
	const Settings &set;
	HttpClient &http;
	Account account;
	OAuth2RefreshOptions options;
	Callback callback;
	const OAuth2Provider *provider = nullptr;
	std::string provider_error;   /* when provider is nullptr */

	struct ioloop *ioloop = nullptr;
	struct timeout *to_step = nullptr;
	int lock_fd = -1;
	int64_t lock_deadline_ms = 0;
	uint64_t request_id = 0;
	bool requesting = false;
	bool retried = false;
	OAuth2Tokens tokens;
	std::string sent_refresh;     /* the refresh token in flight */

	Impl(Store &s, const Settings &st, HttpClient &h, const Account &a)
		: store(s), set(st), http(h), account(a) {}
	~Impl();

	static void step_cb(Impl *impl);
	template <typename Fn> void guarded(Fn fn);
	void lock();
	void load();
	void request(const std::string &refresh_token);
	void response(OAuth2Outcome outcome, const OAuth2TokenResponse &r,
		      const std::string &error);
	void consent_needed(const std::string &reason);
	int save_with_status(bool hold, std::string &error_r);
	void done(OAuth2RefreshStatus status, const std::string &error);
	void release();
	int64_t now_ms() const;
};

OAuth2Refresh::Impl::~Impl()
{
	if (requesting)
		http.cancel(request_id);
	if (to_step != nullptr)
		timeout_remove(&to_step);
	release();
}

void OAuth2Refresh::Impl::release()
{
	if (lock_fd != -1)
		i_close_fd(&lock_fd);
}

int64_t OAuth2Refresh::Impl::now_ms() const
{
	return (int64_t)ioloop_timeval.tv_sec * 1000 +
		ioloop_timeval.tv_usec / 1000;
}

/* Runs a step from an ioloop callback: nothing may throw into Dovecot. */
template <typename Fn>
void OAuth2Refresh::Impl::guarded(Fn fn)
{
	try {
		fn();
	} catch (const std::exception &e) {
		done(OAuth2RefreshStatus::Temporary,
		     std::string("internal error: ") + e.what());
	}
}

void OAuth2Refresh::Impl::step_cb(Impl *impl)
{
	timeout_remove(&impl->to_step);
	if (impl->provider == nullptr) {
		impl->done(OAuth2RefreshStatus::Config, impl->provider_error);
		return;
	}
	impl->guarded([impl] { impl->lock(); });
}

void OAuth2Refresh::Impl::lock()
{
	std::string error;
	int ret = store.lock_account_for(LOCK_NAME, account.id, lock_fd,
					 error);
	if (ret < 0) {
		done(OAuth2RefreshStatus::Temporary, error);
		return;
	}
	if (ret == 0) {
		if (now_ms() >= lock_deadline_ms) {
			done(OAuth2RefreshStatus::Temporary,
			     "another token refresh of this account is in "
			     "progress");
			return;
		}
		to_step = fetchmail_timeout_add_short_to(ioloop,
			LOCK_RETRY_MSECS, step_cb, this);
		return;
	}
	load();
}

void OAuth2Refresh::Impl::load()
{
	std::string error;

	if (!options.refresh_token.empty()) {
		/* import: the given token, whatever is stored */
		request(options.refresh_token);
		return;
	}
	if (store.load_tokens(account.id, tokens, error) < 0) {
		done(store.last_error() == StoreError::Internal ?
		     OAuth2RefreshStatus::Temporary :
		     OAuth2RefreshStatus::Config, error);
		return;
	}
	if (tokens.refresh_token.empty()) {
		done(OAuth2RefreshStatus::ConsentNeeded,
		     tokens.consent_error.empty() ? "never connected" :
		     tokens.consent_error);
		return;
	}
	if (!options.force && tokens.access_usable(ioloop_time)) {
		done(OAuth2RefreshStatus::Ok, "");
		return;
	}
	request(tokens.refresh_token);
}

void OAuth2Refresh::Impl::request(const std::string &refresh_token)
{
	sent_refresh = refresh_token;
	requesting = true;
	request_id = oauth2_post_token(http,
		oauth2_refresh_request(*provider, refresh_token),
		{ refresh_token, provider->client_secret },
		[this](OAuth2Outcome outcome, const OAuth2TokenResponse &r,
		       const std::string &error) {
			requesting = false;
			guarded([&] { response(outcome, r, error); });
		});
}

void OAuth2Refresh::Impl::response(OAuth2Outcome outcome,
				   const OAuth2TokenResponse &r,
				   const std::string &error)
{
	OAuth2RefreshStatus status = refresh_status(outcome);
	std::string store_error;

	if (status == OAuth2RefreshStatus::ConsentNeeded) {
		consent_needed(error);
		return;
	}
	if (status != OAuth2RefreshStatus::Ok) {
		done(status, error);
		return;
	}
	oauth2_tokens_apply(tokens, r, ioloop_time);
	int ret;
	if (!options.refresh_token.empty()) {
		/* an import is a consent: it replaces whatever was stored
		   and releases a held account */
		tokens.refresh_token = r.refresh_token.empty() ?
			options.refresh_token : r.refresh_token;
		tokens.consent_error.clear();
		ret = save_with_status(false, store_error);
	} else {
		ret = store.save_tokens(account, tokens, store_error);
	}
	if (ret < 0) {
		done(OAuth2RefreshStatus::Temporary,
		     "storing the new tokens failed: " + store_error);
		return;
	}
	done(OAuth2RefreshStatus::Ok, "");
}

/* invalid_grant: unless someone stored another refresh token meanwhile,
   the consent is gone. */
void OAuth2Refresh::Impl::consent_needed(const std::string &reason)
{
	std::string error;

	if (!options.refresh_token.empty()) {
		/* an imported token that is refused: nothing to store */
		done(OAuth2RefreshStatus::ConsentNeeded, reason);
		return;
	}
	OAuth2Tokens current;
	int ret = store.load_tokens(account.id, current, error);
	if (ret > 0 && !retried && !current.refresh_token.empty() &&
	    current.refresh_token != sent_refresh) {
		retried = true;
		tokens = std::move(current);
		request(tokens.refresh_token);
		return;
	}
	/* the reason for show and list, and the account held: the
	   scheduler leaves it alone until consent is given again */
	oauth2_tokens_consent_needed(tokens, reason, ioloop_time);
	if (save_with_status(true, error) < 0) {
		done(OAuth2RefreshStatus::ConsentNeeded, reason +
		     " (storing that failed: " + error + ")");
		return;
	}
	done(OAuth2RefreshStatus::ConsentNeeded, reason);
}

/* The token record and, in the same transaction, the account's status:
   held (hold) or released (a consent). */
int OAuth2Refresh::Impl::save_with_status(bool hold, std::string &error_r)
{
	StoredAccount current;

	if (store.load(account.id, current, error_r) < 0)
		return -1;
	if (hold)
		oauth2_status_hold(current.status);
	else
		oauth2_status_release(current.status, ioloop_time);
	/* only while the account is the one this refresh was for */
	return store.save_tokens(account, tokens, error_r, &current.status);
}

void OAuth2Refresh::Impl::done(OAuth2RefreshStatus status,
			       const std::string &error)
{
	OAuth2RefreshResult result;

	release();
	result.status = status;
	if (status == OAuth2RefreshStatus::Ok) {
		result.access_token = tokens.access_token;
		result.mechanism = provider->mechanism;
		result.mechanism_name =
			ascii_upper(oauth2_mechanism_name(provider->mechanism));
		result.expires = tokens.access_expires;
		result.refreshed = !sent_refresh.empty();
	} else {
		result.error = error;
	}
	Callback cb = std::move(callback);
	callback = nullptr;
	if (!cb)
		return;
	/* last: the caller may destroy us, so touch nothing afterwards */
	try {
		cb(result);
	} catch (const std::exception &e) {
		i_error("fetchmail oauth2: refresh callback failed: %s",
			e.what());
	} catch (...) {
		i_error("fetchmail oauth2: refresh callback failed");
	}
}

OAuth2Refresh::OAuth2Refresh(Store &store, const Settings &set,
			     HttpClient &http, const Account &account)
	: impl_(std::make_unique<Impl>(store, set, http, account))
{
}

OAuth2Refresh::~OAuth2Refresh() = default;

void OAuth2Refresh::start(const OAuth2RefreshOptions &options,
			  Callback callback)
{
	Impl &impl = *impl_;

	impl.options = options;
	impl.callback = std::move(callback);
	impl.ioloop = current_ioloop;
	impl.lock_deadline_ms = impl.now_ms() + impl.set.timeout_msecs;
	/* an unusable provider is answered from the ioloop too */
	impl.provider = oauth2_account_provider(impl.set, impl.account,
						impl.provider_error);
	impl.to_step = fetchmail_timeout_add_short_to(impl.ioloop, 0,
						      Impl::step_cb, &impl);
}

const char *oauth2_refresh_status_name(OAuth2RefreshStatus status)
{
	switch (status) {
	case OAuth2RefreshStatus::Ok: return "ok";
	case OAuth2RefreshStatus::ConsentNeeded: return "consent needed";
	case OAuth2RefreshStatus::Config: return "configuration error";
	case OAuth2RefreshStatus::Temporary: return "temporary error";
	}
	return "temporary error";
}

const OAuth2Provider *oauth2_account_provider(const Settings &set,
					      const Account &account,
					      std::string &error_r)
{
	const OAuth2Provider *p =
		set.oauth2_providers.find(account.oauth2_provider);

	if (p == nullptr) {
		error_r = "oauth2-provider: '" +
			account_quote_value(account.oauth2_provider) +
			"' is not configured (fetchmail_oauth2_providers: " +
			set.oauth2_providers.names() + ")";
		return nullptr;
	}
	if (!p->error.empty()) {
		error_r = "oauth2-provider: " + p->name + ": " + p->error;
		return nullptr;
	}
	return p;
}

uint64_t oauth2_post_token(HttpClient &http, const OAuth2Request &request,
			   std::vector<std::string> secrets,
			   OAuth2TokenCallback callback)
{
	return post_and_parse<OAuth2TokenResponse>(http, request,
		std::move(secrets), oauth2_parse_token_response,
		std::move(callback));
}

uint64_t oauth2_post_device(HttpClient &http, const OAuth2Request &request,
			    std::vector<std::string> secrets,
			    OAuth2DeviceCallback callback)
{
	return post_and_parse<OAuth2DeviceAuthorization>(http, request,
		std::move(secrets), oauth2_parse_device_response,
		std::move(callback));
}

int oauth2_store_consent(Store &store, const Account &account,
			 const OAuth2TokenResponse &response, int64_t now,
			 std::string &error_r)
{
	OAuth2Tokens tokens;
	StoredAccount current;

	if (response.refresh_token.empty()) {
		error_r = "the provider issued no refresh token: ask it for "
			"offline access (Microsoft: offline_access in the "
			"scope; Google: access_type=offline)";
		return -2;
	}
	if (store.load(account.id, current, error_r) < 0)
		return -1;
	oauth2_tokens_apply(tokens, response, now);
	oauth2_status_release(current.status, now);
	return store.save_tokens(account, tokens, error_r, &current.status);
}

} // namespace fetchmail
