/* Unit tests for the IMAP response tokenizer (fetchmail-imap-parser.hh). */

#include "fetchmail-imap-parser.hh"

#include "fetchmail-strings.hh"

#include <string>

#include "test-common.hh"

using namespace fetchmail;

namespace {

/* The tokens as one string: atoms bare, strings quoted, lists in (),
   streamed literals as <n>. */
std::string dump(const ImapParser &parser)
{
	std::string out;
	for (const ImapToken &t : parser.tokens()) {
		if (!out.empty() && out.back() != '(' &&
		    t.type != ImapTokenType::ListEnd)
			out += ' ';
		switch (t.type) {
		case ImapTokenType::Atom:
			out += parser.text(t);
			break;
		case ImapTokenType::String:
			out += "\"" + std::string(parser.text(t)) + "\"";
			break;
		case ImapTokenType::ListBegin:
			out += "(";
			break;
		case ImapTokenType::ListEnd:
			out += ")";
			break;
		case ImapTokenType::Streamed:
			out += "<" + std::to_string(t.length) + ">";
			break;
		}
	}
	return out;
}

void test_atoms_strings_lists(void **)
{
	ImapParser p;
	assert_true(p.parse("(UID 5 FLAGS (\\Seen \\Answered $Label1) "
			    "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
			    "BODY[HEADER.FIELDS (MESSAGE-ID)] NIL)") ==
		    ImapParser::Result::Complete);
	assert_string_equal(dump(p).c_str(),
		"(UID 5 FLAGS (\\Seen \\Answered $Label1) INTERNALDATE "
		"\"17-Jul-1996 02:44:25 -0700\" "
		"BODY[HEADER.FIELDS (MESSAGE-ID)] NIL)");
	const auto &t = p.tokens();
	assert_int_equal(t[0].depth, 0);
	assert_int_equal(t[0].close, t.size() - 1);
	assert_int_equal(t[1].depth, 1);
	assert_int_equal(p.next_sibling(3), 4);
	assert_int_equal(p.next_sibling(4), 9);   /* skips the FLAGS list */
	assert_true(p.atom_is(t[1], "uid"));
	assert_false(p.atom_is(t[2], "uid"));
}

void test_quoted_escapes(void **)
{
	ImapParser p;
	assert_true(p.parse("\"a\\\"b\\\\c\" \"\" \"x y\"") ==
		    ImapParser::Result::Complete);
	assert_int_equal(p.tokens().size(), 3);
	assert_true(p.text(p.tokens()[0]) == "a\"b\\c");
	assert_true(p.text(p.tokens()[1]).empty());
	assert_true(p.text(p.tokens()[2]) == "x y");
}

void test_literals(void **)
{
	ImapParser p;
	assert_true(p.parse("(BODY[HEADER] {5}") == ImapParser::Result::Literal);
	assert_int_equal(p.literal_size(), 5);
	p.literal_append("ab");
	p.literal_append("cde");
	assert_true(p.parse(" BODY[] ~{7}") == ImapParser::Result::Literal);
	assert_int_equal(p.literal_size(), 7);
	p.literal_streamed();
	assert_true(p.parse(" X {0+}") == ImapParser::Result::Literal);
	assert_true(p.parse(")") == ImapParser::Result::Complete);
	assert_string_equal(dump(p).c_str(),
			    "(BODY[HEADER] \"abcde\" BODY[] <7> X \"\")");
	p.reset();
	assert_int_equal(p.tokens().size(), 0);
	assert_true(p.parse("A") == ImapParser::Result::Complete);
}

void test_malformed(void **)
{
	static const char *const bad[] = {
		"(UID 5", "UID 5)", "\"unterminated", "BODY[HEADER", "{5", "{5}x",
		"{}", "{x}", "{99999999999999999999}", "(a \"b\\", ("a\x01" "b"),
		"\"a\rb\"", "BODY[a\x01]",
	};
	for (const char *line : bad) {
		ImapParser p;
		if (p.parse(line) != ImapParser::Result::Error)
			fail_msg("accepted: %s", line);
		assert_false(p.error().empty());
		/* stays broken until reset */
		assert_true(p.parse("A") == ImapParser::Result::Error);
	}
}

void test_depth(void **)
{
	ImapParser p(4);
	assert_true(p.parse("(((((x)))))") == ImapParser::Result::Error);
	p.reset();
	assert_true(p.parse("((((x))))") == ImapParser::Result::Complete);
	ImapParser deep;
	std::string s(100000, '(');
	assert_true(deep.parse(s) == ImapParser::Result::Error);
}

void test_resp_text(void **)
{
	ImapRespText r = imap_parse_resp_text("[UIDVALIDITY 42] UIDs valid");
	assert_true(r.code == "UIDVALIDITY 42");
	assert_true(r.text == "UIDs valid");
	r = imap_parse_resp_text("Logged in");
	assert_true(r.code.empty());
	assert_true(r.text == "Logged in");
	r = imap_parse_resp_text("[ALERT unterminated");
	assert_true(r.code.empty());
	assert_true(r.text == "[ALERT unterminated");
	r = imap_parse_resp_text("[READ-WRITE]");
	assert_true(r.code == "READ-WRITE");
	assert_true(r.text.empty());
}

} // namespace

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atoms_strings_lists),
		cmocka_unit_test(test_quoted_escapes),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_resp_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
