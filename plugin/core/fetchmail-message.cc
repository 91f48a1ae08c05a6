#include "fetchmail-message.hh"

#include "fetchmail-strings.hh"

#include <algorithm>
#include <cstring>

namespace fetchmail {

static const uint64_t BACKOFF_CAP_SECS = 6 * 60 * 60;

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

std::string message_id_from_header(std::string_view header)
{
	static const char name[] = "message-id:";
	size_t end = header_end(header);

	if (end != std::string_view::npos)
		header = header.substr(0, end);
	for (size_t pos = 0; pos < header.size(); ) {
		size_t eol = header.find('\n', pos);
		size_t next = eol == std::string_view::npos ? header.size() : eol + 1;
		std::string_view line = header.substr(pos, next - pos);
		if (ascii_istarts_with(line, name)) {
			/* the value, with its continuation lines */
			size_t vend = next;
			while (vend < header.size() &&
			       (header[vend] == ' ' || header[vend] == '\t')) {
				size_t e = header.find('\n', vend);
				vend = e == std::string_view::npos ?
					header.size() : e + 1;
			}
			return trim_unfold(header.substr(pos + sizeof(name) - 1,
				vend - pos - (sizeof(name) - 1)));
		}
		pos = next;
	}
	return "";
}

uint64_t next_run_delay(uint64_t interval_secs, uint32_t failures)
{
	uint64_t cap = std::max(interval_secs, BACKOFF_CAP_SECS);
	uint64_t delay = interval_secs;

	for (uint32_t i = 0; i < failures && delay < cap; i++)
		delay *= 2;
	return std::min(delay, cap);
}

} // namespace fetchmail
