#include "fetchmail-sasl.hh"

#include "fetchmail-crypto.hh"

namespace fetchmail {

namespace {

const std::string_view REDACTED = "***";

/* RFC 5801 saslname: ',' and '=' escaped. */
std::string sasl_name(std::string_view user)
{
	std::string out;
	for (char c : user) {
		if (c == ',')
			out += "=2C";
		else if (c == '=')
			out += "=3D";
		else
			out += c;
	}
	return out;
}

void redact(std::string &text, std::string_view secret)
{
	if (secret.empty())
		return;
	for (size_t pos = text.find(secret); pos != std::string::npos;
	     pos = text.find(secret, pos + REDACTED.size()))
		text.replace(pos, secret.size(), REDACTED);
}

} // namespace

bool sasl_mech_parse(std::string_view name, SaslMech &mech_r)
{
	static const struct {
		std::string_view name;
		SaslMech mech;
	} mechs[] = {
		{ "PLAIN", SaslMech::Plain },
		{ "LOGIN", SaslMech::Login },
		{ "XOAUTH2", SaslMech::XOAuth2 },
		{ "OAUTHBEARER", SaslMech::OAuthBearer },
	};
	for (const auto &m : mechs) {
		if (m.name == name) {
			mech_r = m.mech;
			return true;
		}
	}
	return false;
}

bool sasl_has_initial_response(SaslMech mech)
{
	return mech != SaslMech::Login;
}

std::vector<std::string> sasl_responses(SaslMech mech, std::string_view user,
					std::string_view pass)
{
	std::string u(user), p(pass);
	switch (mech) {
	case SaslMech::Plain:
		return { base64_encode(std::string(1, '\0') + u + '\0' + p) };
	case SaslMech::Login:
		return { base64_encode(u), base64_encode(p) };
	case SaslMech::XOAuth2:
		return { base64_encode("user=" + u + "\x01" "auth=Bearer " + p +
				       "\x01\x01") };
	case SaslMech::OAuthBearer:
		return { base64_encode("n,a=" + sasl_name(u) + ",\x01"
				       "auth=Bearer " + p + "\x01\x01") };
	}
	return {};
}

std::string sasl_abort_response(SaslMech mech)
{
	switch (mech) {
	case SaslMech::XOAuth2:
		return "";
	case SaslMech::OAuthBearer:
		return "AQ==";
	case SaslMech::Plain:
	case SaslMech::Login:
		break;
	}
	return "*";
}

void redact_secrets(std::string &text, const std::vector<std::string> &secrets)
{
	for (const std::string &secret : secrets)
		redact(text, secret);
}

} // namespace fetchmail
