#ifndef FETCHMAIL_TEST_WIRE_HH
#define FETCHMAIL_TEST_WIRE_HH

/* Wire forms that tests and fuzz targets build for a scripted server.
   Needs neither cmocka nor libFuzzer: the unit tests and the fuzz targets
   both include it. */

#include <string>
#include <string_view>

namespace fetchmail_test {

/* The wire form of a message in a POP3 multi-line reply (RFC 1939): a
   '.' at the start of a line doubled, then the terminating ".\r\n". raw
   ends with a line break (or is empty) for the terminator to stand on a
   line of its own. */
inline std::string pop3_stuffed(std::string_view raw)
{
	std::string out;
	bool line_start = true;
	for (char c : raw) {
		if (line_start && c == '.')
			out += '.';
		out += c;
		line_start = c == '\n';
	}
	return out + ".\r\n";
}

} // namespace fetchmail_test

#endif
