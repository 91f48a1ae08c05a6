#ifndef FETCHMAIL_REDACT_HH
#define FETCHMAIL_REDACT_HH

/* The one rule that keeps credentials and raw server bytes out of
   everything a person reads: protocol log lines, error texts, the stored
   last-error, the run log.

   A Redactor knows the secrets of one run (the password or OAuth2 token,
   and the encoded SASL responses sent with them). redact() replaces every
   registered form with "***". A secret is registered in its plain form
   and, when it is 6 bytes or longer, in the three base64 alignments it
   can take inside a longer base64 string (a SASL PLAIN or XOAUTH2
   response, or a server that echoes one back): the run of base64
   characters that depends only on the secret's bytes is replaced, so a
   few bits next to it may stay.

   server_text() is what every piece of server text goes through before it
   reaches an event, a log line or an error: secrets out, then anything
   non-printable made '?', then cut to a maximum length, then secrets out
   once more; if a secret could still be found (a password made of '?'
   and '*', say) the text is dropped whole.

   Nothing throws out of the API (std::bad_alloc aside). */

#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

/* text with every byte below 0x20 and DEL replaced by '?', cut to max
   bytes with "..." appended when it was longer. */
std::string sanitize_server_text(std::string_view text, size_t max = 512);

class Redactor {
public:
	/* A password or token: its plain form and its base64 alignments.
	   Empty secrets are ignored. */
	void add_secret(std::string_view secret);
	/* An exact string that carries a credential (an encoded SASL
	   response). */
	void add_exact(std::string_view text);

	/* Every registered form in text replaced with "***", longest
	   first. */
	void redact(std::string &text) const;
	std::string redacted(std::string_view text) const;
	/* Server text made safe for logs and errors (see above). */
	std::string server_text(std::string_view text, size_t max = 512) const;

	bool empty() const { return forms_.empty(); }

private:
	void add_form(std::string form);

	std::vector<std::string> forms_;   /* longest first */
	std::vector<std::string> secrets_; /* the plain secrets */
};

} // namespace fetchmail

#endif
