#include "fetchmail-redact.hh"

#include "fetchmail-crypto.hh"

#include <algorithm>

namespace fetchmail {

namespace {

constexpr std::string_view REDACTED = "***";
constexpr size_t BASE64_MIN_SECRET = 6;

} // namespace

std::string sanitize_server_text(std::string_view text, size_t max)
{
	std::string out;
	out.reserve(std::min(text.size(), max) + 3);
	for (unsigned char c : text) {
		if (out.size() >= max) {
			out += "...";
			break;
		}
		out += (c >= 0x20 && c != 0x7f) ? static_cast<char>(c) : '?';
	}
	return out;
}

void Redactor::add_form(std::string form)
{
	if (form.empty() ||
	    std::find(forms_.begin(), forms_.end(), form) != forms_.end())
		return;
	auto pos = std::find_if(forms_.begin(), forms_.end(),
				[&](const std::string &f) {
					return f.size() < form.size();
				});
	forms_.insert(pos, std::move(form));
}

void Redactor::add_secret(std::string_view secret)
{
	if (secret.empty())
		return;
	secrets_.emplace_back(secret);
	add_form(std::string(secret));
	if (secret.size() < BASE64_MIN_SECRET)
		return;
	/* The secret at byte offset k (mod 3) of a base64 string: the
	   characters that depend only on the secret's bits are a fixed
	   substring of the encoding. */
	for (size_t k = 0; k < 3; k++) {
		std::string enc = base64_encode(std::string(k, '\0') +
						std::string(secret));
		size_t start = (8 * k + 5) / 6;
		size_t end = (8 * k + 8 * secret.size()) / 6;
		if (end > start && end - start >= BASE64_MIN_SECRET)
			add_form(enc.substr(start, end - start));
	}
}

void Redactor::add_exact(std::string_view text)
{
	add_form(std::string(text));
}

void Redactor::redact(std::string &text) const
{
	for (const std::string &form : forms_) {
		for (size_t pos = text.find(form); pos != std::string::npos;
		     pos = text.find(form, pos + REDACTED.size()))
			text.replace(pos, form.size(), REDACTED);
	}
}

std::string Redactor::redacted(std::string_view text) const
{
	std::string out(text);
	redact(out);
	return out;
}

std::string Redactor::server_text(std::string_view text, size_t max) const
{
	std::string out = sanitize_server_text(redacted(text), max);
	redact(out);
	for (const std::string &secret : secrets_) {
		if (out.find(secret) != std::string::npos)
			return std::string();
	}
	return out;
}

} // namespace fetchmail
