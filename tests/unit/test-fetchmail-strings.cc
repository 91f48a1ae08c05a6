/* Unit tests for the core's string helpers (fetchmail-strings). */

#include "fetchmail-strings.hh"

#include "test-common.hh"

using namespace fetchmail;

namespace {

void test_case(void **)
{
	assert_true(ascii_iequals("CaPa", "capa"));
	assert_false(ascii_iequals("capa", "cap"));
	/* ASCII only: no locale folding of 8-bit bytes */
	assert_false(ascii_iequals("\xc4", "\xe4"));
	assert_true(ascii_istarts_with("+ok fine", "+OK"));
	assert_false(ascii_istarts_with("+O", "+OK"));
	assert_str(ascii_upper("auth=plain \xe4"), "AUTH=PLAIN \xe4");
	assert_str(ascii_lower("UIDVALIDITY"), "uidvalidity");
}

void test_words(void **)
{
	std::string_view rest = "  a1  OK [CODE] text ";
	assert_str(std::string(next_word(rest)), "a1");
	assert_str(std::string(next_word(rest)), "OK");
	assert_str(std::string(rest), "[CODE] text ");
	assert_str(std::string(next_word(rest)), "[CODE]");
	assert_str(std::string(next_word(rest)), "text");
	assert_str(std::string(next_word(rest)), "");
	assert_true(rest.empty());

	assert_str(std::string(trim(" \t x y \r\n")), "x y");
	assert_str(std::string(trim("\r x \r", " ")), "\r x \r");
	assert_str(std::string(trim("   ")), "");
}

void test_numbers(void **)
{
	uint32_t n32 = 7;
	uint64_t n64 = 7;

	assert_true(parse_u32("4294967295", n32));
	assert_int_equal(n32, 4294967295u);
	assert_true(parse_u32("0", n32));
	assert_int_equal(n32, 0);
	n32 = 7;
	assert_false(parse_u32("4294967296", n32));
	assert_false(parse_u32("99999999999999999999", n32));
	assert_false(parse_u32("", n32));
	assert_false(parse_u32("-1", n32));
	assert_false(parse_u32("+1", n32));
	assert_false(parse_u32(" 1", n32));
	assert_false(parse_u32("1a", n32));
	assert_int_equal(n32, 7);
	assert_true(parse_u64("18446744073709551615", UINT64_MAX, n64));
	assert_false(parse_u64("18446744073709551616", UINT64_MAX, n64));
	assert_true(parse_u64("65535", 65535, n64));
	assert_false(parse_u64("65536", 65535, n64));
	assert_int_equal(n64, 65535);
}

void test_control_chars(void **)
{
	assert_false(has_ctrl_chars("plain text \xff"));
	assert_true(has_ctrl_chars("a\tb"));
	assert_true(has_ctrl_chars("esc\x1b"));
	assert_true(has_ctrl_chars("del\x7f"));
	assert_true(has_line_breaks(std::string_view("nul\0x", 5)));
	assert_true(has_line_breaks("cr\r"));
	assert_false(has_line_breaks("tab\t"));
}

void test_utf8(void **)
{
	assert_true(utf8_valid(""));
	assert_true(utf8_valid("INBOX"));
	assert_true(utf8_valid("Entw\xc3\xbcrfe \xe2\x82\xac \xf0\x9f\x93\xa7"));
	assert_false(utf8_valid("Box\xff"));
	assert_false(utf8_valid("\xc3"));                 /* cut short */
	assert_false(utf8_valid("\xc0\xaf"));             /* overlong '/' */
	assert_false(utf8_valid("\xe0\x80\xaf"));         /* overlong */
	assert_false(utf8_valid("\xed\xa0\x80"));         /* a surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80"));     /* above U+10FFFF */
	assert_false(utf8_valid("\x80"));                 /* a lone continuation */

	/* one character at a time */
	static const struct {
		const char *s;
		size_t pos, len;
		uint32_t cp;
	} cases[] = {
		{ "a\xc3\xbc", 0, 1, 'a' },
		{ "a\xc3\xbc", 1, 2, 0xfc },
		{ "\xe2\x82\xac", 0, 3, 0x20ac },
		{ "\xf0\x9f\x93\xa7", 0, 4, 0x1f4e7 },
		{ "\xc2\x85", 0, 2, 0x85 },           /* C1 NEL: well-formed */
		{ "a\xc3\xbc", 2, 0, 0 },             /* a continuation byte */
		{ "\xe2\x82", 0, 0, 0 },               /* cut short */
		{ "\xc0\xaf", 0, 0, 0 },               /* overlong */
		{ "\xed\xa0\x80", 0, 0, 0 },           /* a surrogate */
		{ "ab", 2, 0, 0 },                     /* at the end */
	};
	for (const auto &c : cases) {
		uint32_t cp = 0;
		assert_int_equal(utf8_char(c.s, c.pos, cp), c.len);
		if (c.len > 0)
			assert_int_equal(cp, c.cp);
	}
}

} // namespace

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_case),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_control_chars),
		cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
