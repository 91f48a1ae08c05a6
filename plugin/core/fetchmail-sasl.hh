#ifndef FETCHMAIL_SASL_HH
#define FETCHMAIL_SASL_HH

/* The client side of the SASL mechanisms the POP3 (AUTH, RFC 5034) and
   IMAP (AUTHENTICATE, RFC 3501/4959) sessions speak, and the redaction of
   credentials from what they log. What differs between the protocols (the
   command, SASL-IR, line limits, what to log) stays in the sessions.

   Responses are base64 (base64_encode() of fetchmail-crypto). Nothing
   throws out of the API (std::bad_alloc aside). */

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

/* Replace every occurrence of each of secrets in text with "***", one
   secret after the other in the order given (register longer secrets
   first where one contains another). Empty secrets are skipped. */
void redact_secrets(std::string &text,
		    const std::vector<std::string> &secrets);

} // namespace fetchmail

#endif
