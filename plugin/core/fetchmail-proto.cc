#include "fetchmail-proto.hh"

namespace fetchmail {

std::string sanitize_server_text(std::string_view text, size_t max)
{
	std::string out;
	out.reserve(text.size() < max ? text.size() : max);
	for (unsigned char c : text) {
		if (out.size() >= max) {
			out += "...";
			break;
		}
		out += (c >= 0x20 && c != 0x7f) ? static_cast<char>(c) : '?';
	}
	return out;
}

} // namespace fetchmail
