#include "fetchmail-strings.hh"

#include <algorithm>

namespace fetchmail {

char ascii_tolower(char c)
{
	return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

char ascii_toupper(char c)
{
	return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

std::string ascii_upper(std::string_view s)
{
	std::string out(s);
	for (char &c : out)
		c = ascii_toupper(c);
	return out;
}

std::string ascii_lower(std::string_view s)
{
	std::string out(s);
	for (char &c : out)
		c = ascii_tolower(c);
	return out;
}

bool ascii_iequals(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (size_t i = 0; i < a.size(); i++) {
		if (ascii_tolower(a[i]) != ascii_tolower(b[i]))
			return false;
	}
	return true;
}

bool ascii_istarts_with(std::string_view s, std::string_view prefix)
{
	return s.size() >= prefix.size() &&
		ascii_iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view next_word(std::string_view &rest)
{
	size_t start = rest.find_first_not_of(' ');
	if (start == std::string_view::npos) {
		rest = {};
		return {};
	}
	rest.remove_prefix(start);
	size_t sp = rest.find(' ');
	std::string_view word = rest.substr(0, sp);
	rest = sp == std::string_view::npos ? std::string_view() :
		rest.substr(sp + 1);
	return word;
}

std::string_view trim(std::string_view s, std::string_view chars)
{
	size_t start = s.find_first_not_of(chars);
	if (start == std::string_view::npos)
		return {};
	size_t end = s.find_last_not_of(chars);
	return s.substr(start, end - start + 1);
}

bool parse_u64(std::string_view s, uint64_t max, uint64_t &n_r)
{
	uint64_t n = 0;

	if (s.empty())
		return false;
	for (char c : s) {
		if (c < '0' || c > '9')
			return false;
		uint64_t d = static_cast<uint64_t>(c - '0');
		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	n_r = n;
	return true;
}

bool parse_u32(std::string_view s, uint32_t &n_r)
{
	uint64_t n;

	if (!parse_u64(s, UINT32_MAX, n))
		return false;
	n_r = static_cast<uint32_t>(n);
	return true;
}

bool is_ctrl_char(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

bool has_ctrl_chars(std::string_view s)
{
	return std::any_of(s.begin(), s.end(), [](char c) {
		return is_ctrl_char(static_cast<unsigned char>(c));
	});
}

bool has_line_breaks(std::string_view s)
{
	return s.find_first_of(std::string_view("\r\n\0", 3)) !=
		std::string_view::npos;
}

size_t utf8_char(std::string_view s, size_t pos, uint32_t &cp_r)
{
	if (pos >= s.size())
		return 0;
	unsigned char c = static_cast<unsigned char>(s[pos]);
	size_t len;
	uint32_t cp, min;
	if (c < 0x80) {
		cp_r = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		len = 2; cp = c & 0x1f; min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3; cp = c & 0x0f; min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4; cp = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (s.size() - pos < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		unsigned char cc = static_cast<unsigned char>(s[pos + k]);
		if ((cc & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (cc & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	cp_r = cp;
	return len;
}

bool utf8_valid(std::string_view s)
{
	uint32_t cp;

	for (size_t i = 0, len; i < s.size(); i += len) {
		if ((len = utf8_char(s, i, cp)) == 0)
			return false;
	}
	return true;
}

} // namespace fetchmail
