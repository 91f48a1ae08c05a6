#ifndef FETCHMAIL_OAUTH2_REFRESH_HH
#define FETCHMAIL_OAUTH2_REFRESH_HH

/* OAuth2 in the ioloop: the token refresh before a login (OAuth2Refresh,
   the seam the retrieval run calls), and the token endpoint exchanges the
   consent commands make (oauth2_post_token(), oauth2_post_device(),
   oauth2_store_consent()).

   OAuth2Refresh, for one account with auth oauth2:

    1. The account's provider must be in fetchmail_oauth2_providers and
       usable, else Config ("oauth2-provider: 'x' is not configured",
       or the provider's setting error).
    2. It takes the account's refresh lock (.fetchmail-oauth2-<id>.lock,
       see Store::lock_account_for()), so that two processes never send
       the same refresh token: providers that rotate refresh tokens answer
       the second one with invalid_grant, which would look like a revoked
       consent. While another process holds the lock it tries again every
       100 ms, from the ioloop, for up to fetchmail_timeout (then
       Temporary).
    3. It reads the token record (decrypted). No refresh token:
       ConsentNeeded with the stored reason ("consent needed: ..."), or
       "never connected". A record that cannot be read or decrypted:
       Config (an administrator must act: fetchmail_key).
    4. Unless force is set, a cached access token that is good beyond the
       safety margin (OAuth2Tokens::access_usable()) is answered at once:
       Ok, refreshed = false, no request.
    5. Otherwise it POSTs the refresh_token grant to the provider's token
       endpoint through the HttpClient (HTTPS, CA-verified, bounded).
    6. Ok: the new access token, its expiry and the rotated refresh token
       (when the provider sent one; the old one is kept otherwise) are
       written to the token record in ONE store transaction, and only
       then is the lock released and Ok answered. A crash before that
       write leaves the old record; a crash after it leaves the new one;
       never a refresh token the provider has already retired next to a
       new access token. If the write fails: Temporary ("storing the new
       tokens failed: ..."; the rotated token is lost, and the next
       refresh will ask for consent).
    7. invalid_grant (revoked, expired, password changed, already used):
       it first re-reads the record; when another writer stored a
       different refresh token meanwhile (a consent just finished), it
       tries once more with that one. Otherwise the record is rewritten
       without tokens and with the provider's reason, and the account's
       status is held (AccountStatus::held, oauth2_status_hold()) in the
       same transaction: the scheduler does not poll it until consent is
       renewed; then ConsentNeeded with that reason.
    8. invalid_client, unauthorized_client, invalid_scope, ...: Config
       with the provider's text; nothing is stored.
    9. 5xx, 429, timeouts, connection and TLS errors, malformed or
       oversized answers: Temporary; nothing is stored. The caller backs
       off like for any failed run.

   With refresh_token set in the options (importing a token from
   elsewhere) steps 3 and 4 are skipped and that token is sent; Ok stores
   the result as above and releases a held account (it is a consent),
   while ConsentNeeded stores nothing (the imported token is just
   refused).

   Store calls are made synchronously from the ioloop callbacks; the Store
   makes its own ioloop current for them.

   The callback comes exactly once, from an ioloop callback, never from
   inside start(). Destroying the OAuth2Refresh before that cancels the
   request and releases the lock; no callback follows. Nothing throws
   into Dovecot.

   The result's access token is a credential: the caller registers it as
   a secret of the run log before the session sends it, and never logs
   it. Error texts never contain a token or the client secret.

   In the retrieval run (plugin/fetchmail-retrieve, issue 11 phase 2): set
   RetrievalConfig::oauth2 for an account with auth oauth2; on
   Action::RefreshToken start an OAuth2Refresh for it with
   force = action.force (one HttpClient for the whole run_accounts()
   ioloop, so that accounts refresh concurrently); then

     Ok             retrieval->token_ready(access_token, mechanism_name)
                    (it registers the token with the redactor and the run
                    log)
     ConsentNeeded  token_failed(TokenError::ConsentNeeded, error): the
                    token record and the held status are stored already,
                    status_after_run() holds the account too
     Config         token_failed(TokenError::Config, error)
     Temporary      token_failed(TokenError::Temporary, error)

   and remove the "not wired into the run yet" guard in prepare(). */

#include "fetchmail-dovecot.hh"
#include "fetchmail-http.hh"
#include "fetchmail-store.hh"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fetchmail {

enum class OAuth2RefreshStatus {
	Ok,            /* access_token and mechanism to log in with */
	ConsentNeeded, /* a person must consent again (stored already) */
	Config,        /* provider settings or fetchmail_key: an admin acts */
	Temporary,     /* provider or network trouble: back off, try later */
};

struct OAuth2RefreshResult {
	OAuth2RefreshStatus status = OAuth2RefreshStatus::Temporary;
	std::string access_token;      /* Ok */
	SaslMech mechanism = SaslMech::XOAuth2; /* Ok: the provider's */
	/* Ok: the same as "XOAUTH2" or "OAUTHBEARER", as SessionConfig::
	   sasl_mech and Retrieval::token_ready() take it */
	std::string mechanism_name;
	int64_t expires = 0;           /* Ok: unix seconds */
	bool refreshed = false;        /* Ok: a request was made */
	std::string error;             /* otherwise: one line, no secrets */
};

struct OAuth2RefreshOptions {
	/* Refresh even when the cached access token looks good: the mail
	   server has just rejected it. */
	bool force = false;
	/* Send this refresh token instead of the stored one (import). */
	std::string refresh_token;
};

class OAuth2Refresh {
public:
	using Callback = std::function<void(const OAuth2RefreshResult &)>;

	/* store (opened), set and http must outlive this object; account is
	   copied. */
	OAuth2Refresh(Store &store, const Settings &set, HttpClient &http,
		      const Account &account);
	~OAuth2Refresh();
	OAuth2Refresh(const OAuth2Refresh &) = delete;
	OAuth2Refresh &operator=(const OAuth2Refresh &) = delete;

	/* Begin; call once. */
	void start(const OAuth2RefreshOptions &options, Callback callback);

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

const char *oauth2_refresh_status_name(OAuth2RefreshStatus status);

/* The provider an OAuth2 account names, if it can be used: nullptr with
   error_r ("oauth2-provider: 'x' is not configured (fetchmail_oauth2_
   providers: google microsoft)", or the provider's own setting error). */
const OAuth2Provider *oauth2_account_provider(const Settings &set,
					      const Account &account,
					      std::string &error_r);

/* One token endpoint request: POST it, parse the answer with
   oauth2_parse_token_response() (secrets redacted from errors), and call
   back from the ioloop with the outcome, the tokens (Ok) and an error
   text (otherwise). Transport failures are Temporary with the client's
   error text. Returns the id for HttpClient::cancel(). */
using OAuth2TokenCallback =
	std::function<void(OAuth2Outcome outcome,
			   const OAuth2TokenResponse &response,
			   const std::string &error)>;
uint64_t oauth2_post_token(HttpClient &http, const OAuth2Request &request,
			   std::vector<std::string> secrets,
			   OAuth2TokenCallback callback);

/* The same for a device authorization request (RFC 8628 3.1). */
using OAuth2DeviceCallback =
	std::function<void(OAuth2Outcome outcome,
			   const OAuth2DeviceAuthorization &authorization,
			   const std::string &error)>;
uint64_t oauth2_post_device(HttpClient &http, const OAuth2Request &request,
			    std::vector<std::string> secrets,
			    OAuth2DeviceCallback callback);

/* Store the tokens a consent produced (code or device flow) as the
   account's new token record, replacing whatever was there (a consent
   needed reason too), and release the account if it was held, in the
   same transaction; only while the account is as account says (same
   revision: not edited or removed since the consent began). Returns 0;
   -1 when the store failed or the account changed (see
   Store::last_error()); -2 when the response has no refresh token (a
   configuration problem: without one the account stops working when the
   access token expires; the provider must be asked for offline access),
   nothing stored. */
int oauth2_store_consent(Store &store, const Account &account,
			 const OAuth2TokenResponse &response, int64_t now,
			 std::string &error_r);

} // namespace fetchmail

#endif
