#include "fetchmail-message.hh"

#include "fetchmail-strings.hh"

#include <algorithm>
#include <cstring>

namespace fetchmail {

static size_t header_end(std::string_view text)
{
	for (size_t pos = 0; pos < text.size(); ) {
		size_t eol = text.find('\n', pos);
		if (eol == std::string_view::npos)
			return std::string_view::npos;
		std::string_view line = text.substr(pos, eol - pos);
		if (line.empty() || line == "\r")
			return pos;
		pos = eol + 1;
	}
	return std::string_view::npos;
}

bool header_complete(std::string_view text)
{
	return header_end(text) != std::string_view::npos;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static std::string trim_unfold(std::string_view value)
{
	std::string out;
	bool space = false;

	for (char c : value) {
		if (is_space(c)) {
			space = !out.empty();
			continue;
		}
		if (space)
			out += ' ';
		space = false;
		out += c;
	}
	return out;
}

std::string header_value(std::string_view header, std::string_view name)
{
	size_t end = header_end(header);

	if (end != std::string_view::npos)
		header = header.substr(0, end);
	for (size_t pos = 0; pos < header.size(); ) {
		size_t eol = header.find('\n', pos);
		size_t next = eol == std::string_view::npos ? header.size() : eol + 1;
		std::string_view line = header.substr(pos, next - pos);
		if (ascii_istarts_with(line, name) &&
		    line.size() > name.size() && line[name.size()] == ':') {
			/* the value, with its continuation lines */
			size_t vend = next;
			while (vend < header.size() &&
			       (header[vend] == ' ' || header[vend] == '\t')) {
				size_t e = header.find('\n', vend);
				vend = e == std::string_view::npos ?
					header.size() : e + 1;
			}
			size_t vstart = pos + name.size() + 1;
			return trim_unfold(header.substr(vstart, vend - vstart));
		}
		pos = next;
	}
	return "";
}

std::string message_id_from_header(std::string_view header)
{
	return header_value(header, "Message-ID");
}

std::string hash_hex16(std::initializer_list<std::string_view> parts)
{
	const uint64_t FNV_OFFSET = 0xcbf29ce484222325ULL;
	const uint64_t FNV_PRIME = 0x100000001b3ULL;
	static const char hex[] = "0123456789abcdef";
	uint64_t h = FNV_OFFSET;
	size_t n = 0;

	for (std::string_view part : parts) {
		if (n++ > 0)
			h *= FNV_PRIME;   /* a NUL between parts (h ^= 0) */
		for (char c : part) {
			h ^= (unsigned char)c;
			h *= FNV_PRIME;
		}
	}
	std::string out(16, '0');
	for (int i = 15; i >= 0; i--, h >>= 4)
		out[i] = hex[h & 15];
	return out;
}

std::string message_identity(std::string_view header)
{
	std::string id = header_value(header, "Message-ID");
	std::string date = header_value(header, "Date");
	std::string from = header_value(header, "From");
	std::string subject = header_value(header, "Subject");
	return hash_hex16({ id, date, from, subject, "" });
}

} // namespace fetchmail
