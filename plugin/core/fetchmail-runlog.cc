#include "fetchmail-runlog.hh"

#include "fetchmail-account.hh"

#include <algorithm>

namespace fetchmail {

namespace {

const size_t MIN_MAX_BYTES = 256;

} // namespace

RunLog::RunLog(size_t max_bytes)
	: max_bytes(std::max(max_bytes, MIN_MAX_BYTES))
{
}

void RunLog::add_secret(std::string_view s)
{
	try {
		redactor_.add_secret(s);
	} catch (const std::exception &) {
		/* keep what we have; nothing throws out */
	}
}

std::string RunLog::redact(std::string_view text) const
{
	static const char hex[] = "0123456789abcdef";

	while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
		text.remove_suffix(1);
	std::string s = redactor_.redacted(text);

	std::string out;
	out.reserve(s.size());
	for (char ch : s) {
		unsigned char c = (unsigned char)ch;
		if (c < 0x20 || c == 0x7f) {
			out += "\\x";
			out += hex[c >> 4];
			out += hex[c & 15];
		} else {
			out += ch;
		}
	}
	return out;
}

void RunLog::line(int64_t unix_ms, char direction, std::string_view text)
{
	try {
		if (direction != 'C' && direction != 'S')
			direction = '*';
		std::string l = iso8601_utc_ms(unix_ms);
		l += ' ';
		l += direction;
		l += ": ";
		l += redact(text);
		const size_t half = max_bytes / 2;
		if (l.size() + 1 > half) {
			l.resize(half - 4);
			l += "...";
		}
		l += '\n';

		if (!head_closed && head.size() + l.size() <= half) {
			head += l;
			return;
		}
		head_closed = true;
		tail_bytes += l.size();
		tail.push_back(std::move(l));
		while (tail_bytes > half) {
			tail_bytes -= tail.front().size();
			tail.pop_front();
			dropped++;
		}
	} catch (const std::exception &) {
		dropped++;
	}
}

std::string RunLog::str() const
{
	std::string out;
	try {
		out.reserve(head.size() + tail_bytes + 64);
		out += head;
		if (dropped > 0)
			out += "... " + std::to_string(dropped) +
				" lines dropped ...\n";
		for (const auto &l : tail)
			out += l;
	} catch (const std::exception &) {
	}
	return out;
}

void RunLog::clear()
{
	head.clear();
	head_closed = false;
	tail.clear();
	tail_bytes = 0;
	dropped = 0;
}

} // namespace fetchmail
