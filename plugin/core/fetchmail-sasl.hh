#ifndef FETCHMAIL_SASL_HH
#define FETCHMAIL_SASL_HH

/* The client side of the SASL mechanisms the POP3 (AUTH, RFC 5034) and
   IMAP (AUTHENTICATE, RFC 3501/4959) sessions speak, and the redaction of
   credentials from what they log. What differs between the protocols (the
   command, SASL-IR, line limits, what to log) stays in the sessions.

   Responses are base64 (base64_encode() of fetchmail-crypto). Nothing
   throws out of the API (std::bad_alloc aside). */

#include "fetchmail-redact.hh"

#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

enum class SaslMech { Plain, Login, XOAuth2, OAuthBearer };

/* The mechanism named name, exactly as written here: "PLAIN", "LOGIN",
   "XOAUTH2", "OAUTHBEARER" (callers upper-case configured names). False
   for any other name. */
bool sasl_mech_parse(std::string_view name, SaslMech &mech_r);

/* True when the client speaks first (PLAIN, XOAUTH2, OAUTHBEARER): the
   first of sasl_responses() may go with the command as its initial
   response. False for LOGIN, where the server asks first. */
bool sasl_has_initial_response(SaslMech mech);

/* The client's responses for user and password (for XOAUTH2 and
   OAUTHBEARER: the OAuth2 access token), base64-encoded, in the order
   they are sent, each answering one server challenge ("+"):

     PLAIN        "\0" user "\0" pass                         (RFC 4616)
     LOGIN        user, then pass
     XOAUTH2      "user=" user "\1auth=Bearer " pass "\1\1"
     OAUTHBEARER  "n,a=" user' ",\1auth=Bearer " pass "\1\1"  (RFC 7628)
                  user' being user as an RFC 5801 saslname: ',' and '='
                  written as "=2C" and "=3D"

   e.g. PLAIN of user, pass: "AHVzZXIAcGFzcw==". Every response carries
   a credential: register each as a secret before sending it. */
std::vector<std::string> sasl_responses(SaslMech mech, std::string_view user,
					std::string_view pass);

/* The answer to a challenge that comes after the last response, where
   the server reports a failure (XOAUTH2, OAUTHBEARER) or wants more than
   the mechanism has: XOAUTH2 an empty response, OAUTHBEARER "AQ==" (%x01,
   RFC 7628 3.2.3), PLAIN and LOGIN "*" (cancel the exchange). Carries no
   credential. */
std::string sasl_abort_response(SaslMech mech);

/* One SASL exchange of a client, as both sessions run it. start()
   computes every response and registers each with the session's
   Redactor (and the secret itself), so nothing sent can reach a log. Then:

     initial_response() / take_initial_response(): the response that may
       go with the command (SASL-IR, RFC 4959; POP3 AUTH, RFC 5034) when
       the mechanism has one; the session decides whether it does;
     answer(): the reply to each "+" challenge: the next response
       (secret_r = true), after the last one the mechanism's abort
       response once, and "*" (cancel) for any challenge after that
       (secret_r = false for both); the server's failure reply follows. */
class SaslClient {
public:
	/* mech_name upper case, as in sasl_mech_parse(). False for an
	   unknown mechanism (nothing registered). */
	bool start(std::string_view mech_name, std::string_view user,
		   std::string_view secret, Redactor &redactor);

	SaslMech mech() const { return mech_; }
	const std::string &name() const { return name_; }
	/* The initial response, or "" when the mechanism has none or it
	   was sent already. */
	const std::string &initial_response() const;
	/* Marks the initial response as sent with the command. */
	void take_initial_response();
	std::string answer(bool &secret_r);

private:
	SaslMech mech_ = SaslMech::Plain;
	std::string name_;
	std::vector<std::string> responses_;
	size_t step_ = 0;        /* responses sent */
	bool aborted_ = false;
};

} // namespace fetchmail

#endif
