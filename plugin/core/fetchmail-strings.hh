#ifndef FETCHMAIL_STRINGS_HH
#define FETCHMAIL_STRINGS_HH

/* Small string helpers shared by the core: ASCII case folding (protocol
   keywords are ASCII and case-insensitive; never locale-dependent), words,
   trimming and strict decimal numbers. Nothing here allocates except the
   functions returning std::string; nothing throws (std::bad_alloc aside). */

#include <cstdint>
#include <string>
#include <string_view>

namespace fetchmail {

char ascii_tolower(char c);
char ascii_toupper(char c);
std::string ascii_upper(std::string_view s);
std::string ascii_lower(std::string_view s);
/* a and b are equal ignoring ASCII case. */
bool ascii_iequals(std::string_view a, std::string_view b);
/* s starts with prefix, ignoring ASCII case. */
bool ascii_istarts_with(std::string_view s, std::string_view prefix);

/* The next space-separated word of rest: leading spaces are skipped, the
   word runs to the next space, and rest continues after that one space
   ("" when there is none). */
std::string_view next_word(std::string_view &rest);

/* s without leading and trailing characters of chars (by default
   spaces, tabs, CRs and LFs). */
std::string_view trim(std::string_view s, std::string_view chars = " \t\r\n");

/* Decimal digits only (no sign, no spaces, at least one digit), at most
   max. False on anything else or on overflow; n_r is then unchanged. */
bool parse_u64(std::string_view s, uint64_t max, uint64_t &n_r);
bool parse_u32(std::string_view s, uint32_t &n_r);

/* Control characters: below 0x20, and DEL. */
bool is_ctrl_char(unsigned char c);
bool has_ctrl_chars(std::string_view s);
/* CR, LF or NUL anywhere in s. */
bool has_line_breaks(std::string_view s);
/* s is well-formed UTF-8 (no overlong forms, no surrogates, nothing above
   U+10FFFF), as Dovecot requires of mailbox names. */
bool utf8_valid(std::string_view s);
/* The length (1..4) of the well-formed UTF-8 character at s[pos], its code
   point in cp_r; 0 when the bytes there are not one (as utf8_valid()
   judges them) or pos is at the end. */
size_t utf8_char(std::string_view s, size_t pos, uint32_t &cp_r);

} // namespace fetchmail

#endif
