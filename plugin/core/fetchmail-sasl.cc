#include "fetchmail-sasl.hh"

#include "fetchmail-crypto.hh"

namespace fetchmail {

namespace {

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

bool SaslClient::start(std::string_view mech_name, std::string_view user,
		       std::string_view secret, Redactor &redactor)
{
	if (!sasl_mech_parse(mech_name, mech_))
		return false;
	name_ = mech_name;
	responses_ = sasl_responses(mech_, user, secret);
	step_ = 0;
	aborted_ = false;
	redactor.add_secret(secret);
	for (const std::string &response : responses_)
		redactor.add_exact(response);
	return true;
}

const std::string &SaslClient::initial_response() const
{
	static const std::string none;
	return step_ == 0 && sasl_has_initial_response(mech_) &&
		!responses_.empty() ? responses_[0] : none;
}

void SaslClient::take_initial_response()
{
	if (!initial_response().empty())
		step_ = 1;
}

std::string SaslClient::answer(bool &secret_r)
{
	secret_r = step_ < responses_.size();
	if (secret_r)
		return responses_[step_++];
	if (aborted_)
		return "*";
	/* a challenge after the last response: the server reports a failure
	   (XOAUTH2, OAUTHBEARER) or wants more than the mechanism has */
	aborted_ = true;
	return sasl_abort_response(mech_);
}

} // namespace fetchmail
