/* libFuzzer target: the IMAP response tokenizer
   (plugin/core/fetchmail-imap-parser.hh).

   Input: byte 0 sets max_depth (0..39); byte 1 chooses, bit by bit, which
   literals are streamed (literal_streamed()) rather than copied
   (literal_append()); the rest is responses the way the session hands
   them over: each line without its CRLF is a segment for parse(); after
   Result::Literal the next literal_size() bytes (or what is left) are the
   literal, and the next line continues the response.

   Checked for every complete response: the tokens are well formed (a
   ListBegin's close is its matching ListEnd at the same depth,
   next_sibling() skips exactly to after it, atoms are non-empty without
   control characters, text() has the token's length) and the response
   written back out as IMAP (atoms as they are, strings quoted or as
   literals, the same streamed literals) parses to the same tokens. After
   Result::Error: error() says why and the parser refuses everything
   until reset(). Each segment also goes through imap_parse_resp_text()
   and the number and case helpers of fetchmail-strings the parser and
   the session use, which are checked against simple references. */

#include "fuzz-common.hh"

#include "fetchmail-imap-parser.hh"
#include "fetchmail-strings.hh"

#include <charconv>
#include <vector>

using namespace fetchmail;

namespace {

/* A response as segments and the literals after them. */
struct Wire {
	struct Literal {
		std::string data;
		bool streamed;
		uint64_t size;
	};
	std::vector<std::string> segments{ "" };
	std::vector<Literal> literals;
};

/* The tokens written back out as IMAP. */
Wire write_back(const ImapParser &p)
{
	Wire w;
	const std::vector<ImapToken> &tokens = p.tokens();
	for (size_t i = 0; i < tokens.size(); i++) {
		const ImapToken &t = tokens[i];
		std::string &seg = w.segments.back();
		if (!seg.empty() && seg.back() != '(' &&
		    t.type != ImapTokenType::ListEnd)
			seg += ' ';
		std::string_view text = p.text(t);
		switch (t.type) {
		case ImapTokenType::Atom:
			seg += text;
			break;
		case ImapTokenType::ListBegin:
			seg += '(';
			break;
		case ImapTokenType::ListEnd:
			seg += ')';
			break;
		case ImapTokenType::String:
			if (text.find_first_of(std::string_view("\r\n\0", 3)) ==
			    text.npos) {
				seg += '"';
				for (char c : text) {
					if (c == '"' || c == '\\')
						seg += '\\';
					seg += c;
				}
				seg += '"';
				break;
			}
			[[fallthrough]];
		case ImapTokenType::Streamed: {
			bool streamed = t.type == ImapTokenType::Streamed;
			uint64_t size = streamed ? t.length : text.size();
			seg += "{" + std::to_string(size) + "}";
			w.literals.push_back({ std::string(text), streamed, size });
			w.segments.emplace_back();
			break;
		}
		}
	}
	return w;
}

void check_tokens(const ImapParser &p)
{
	const std::vector<ImapToken> &tokens = p.tokens();
	FUZZ_CHECK(p.depth() == 0);
	for (size_t i = 0; i < tokens.size(); i++) {
		const ImapToken &t = tokens[i];
		std::string_view text = p.text(t);
		switch (t.type) {
		case ImapTokenType::ListBegin:
			FUZZ_CHECK(t.close > i && t.close < tokens.size());
			FUZZ_CHECK(tokens[t.close].type == ImapTokenType::ListEnd);
			FUZZ_CHECK(tokens[t.close].depth == t.depth);
			FUZZ_CHECK(p.next_sibling(i) == t.close + 1);
			break;
		case ImapTokenType::ListEnd:
			FUZZ_CHECK(i > 0);
			break;
		case ImapTokenType::Atom:
			FUZZ_CHECK(!text.empty() && fuzz_printable(text));
			FUZZ_CHECK(text.size() == t.length);
			FUZZ_CHECK(p.atom_is(t, text));
			FUZZ_CHECK(p.next_sibling(i) == i + 1);
			break;
		case ImapTokenType::String:
			FUZZ_CHECK(text.size() == t.length);
			FUZZ_CHECK(!p.atom_is(t, text));
			break;
		case ImapTokenType::Streamed:
			FUZZ_CHECK(text.empty());
			break;
		}
	}
}

/* Parse a written-back response; true when it completed. */
bool parse_wire(ImapParser &p, const Wire &w)
{
	p.reset();
	for (size_t i = 0; i < w.segments.size(); i++) {
		ImapParser::Result r = p.parse(w.segments[i]);
		if (i + 1 == w.segments.size())
			return r == ImapParser::Result::Complete;
		if (r != ImapParser::Result::Literal ||
		    p.literal_size() != w.literals[i].size)
			return false;
		if (w.literals[i].streamed)
			p.literal_streamed();
		else
			p.literal_append(w.literals[i].data);
	}
	return false;
}

void check_round_trip(const ImapParser &p, uint32_t max_depth)
{
	ImapParser again(max_depth);
	FUZZ_CHECK(parse_wire(again, write_back(p)));
	const std::vector<ImapToken> &a = p.tokens(), &b = again.tokens();
	FUZZ_CHECK(a.size() == b.size());
	for (size_t i = 0; i < a.size(); i++) {
		FUZZ_CHECK(a[i].type == b[i].type && a[i].depth == b[i].depth);
		FUZZ_CHECK(p.text(a[i]) == again.text(b[i]));
		FUZZ_CHECK(a[i].type != ImapTokenType::ListBegin ||
			   a[i].close == b[i].close);
		FUZZ_CHECK(a[i].type != ImapTokenType::Streamed ||
			   a[i].length == b[i].length);
	}
}

/* parse_u64(s, max) and parse_u32(s) against std::from_chars */
void check_number(std::string_view s, uint64_t max)
{
	uint64_t want = 0, got = 7;
	bool digits = !s.empty() &&
		s.find_first_not_of("0123456789") == s.npos;
	auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), want);
	bool ok = digits && ec == std::errc() && end == s.data() + s.size() &&
		want <= max;
	FUZZ_CHECK(parse_u64(s, max, got) == ok);
	FUZZ_CHECK(ok ? got == want : got == 7);
	if (max == UINT32_MAX) {
		uint32_t got32 = 7;
		FUZZ_CHECK(parse_u32(s, got32) == ok);
		FUZZ_CHECK(got32 == (ok ? want : 7));
	}
}

void check_helpers(std::string_view s)
{
	check_number(s, UINT64_MAX);
	check_number(s, UINT32_MAX);
	check_number(s, 65535);

	ImapRespText rt = imap_parse_resp_text(s);
	if (rt.code.empty() && (s.size() < 2 || s.substr(0, 2) != "[]")) {
		FUZZ_CHECK(rt.text == s);
	} else {
		std::string code = "[" + std::string(rt.code) + "]";
		FUZZ_CHECK(s.substr(0, code.size()) == code);
		FUZZ_CHECK(rt.code.find(']') == rt.code.npos);
		std::string_view rest = s.substr(code.size());
		FUZZ_CHECK(rest == rt.text ||
			   (rest.size() == rt.text.size() + 1 && rest[0] == ' ' &&
			    rest.substr(1) == rt.text));
	}

	std::string lower(s), upper(s);
	for (char &c : lower)
		c = (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
	for (char &c : upper)
		c = (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
	FUZZ_CHECK(ascii_iequals(lower, upper) && ascii_iequals(s, lower));
	if (!s.empty()) {
		/* flipping bit 0x20 changes the case of a letter only */
		std::string other(s);
		other.back() ^= 0x20;
		char c = static_cast<char>(s.back() | 0x20);
		FUZZ_CHECK(ascii_iequals(s, other) == (c >= 'a' && c <= 'z'));
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput in(data, size);
	uint32_t max_depth = in.byte() % 40;
	uint8_t streamed_bits = in.byte();
	ImapParser p(max_depth);

	unsigned literals = 0, responses = 0;
	while (!in.empty() && responses < 64) {
		std::string_view seg = in.until('\n');
		if (!seg.empty() && seg.back() == '\r')
			seg.remove_suffix(1);
		check_helpers(seg);
		switch (p.parse(seg)) {
		case ImapParser::Result::Literal: {
			std::string_view lit = in.bytes(p.literal_size());
			if (streamed_bits & (1u << (literals++ % 8)))
				p.literal_streamed();
			else
				p.literal_append(lit);
			break;
		}
		case ImapParser::Result::Complete:
			check_tokens(p);
			check_round_trip(p, max_depth);
			p.reset();
			responses++;
			break;
		case ImapParser::Result::Error:
			FUZZ_CHECK(!p.error().empty());
			FUZZ_CHECK(p.parse("x") == ImapParser::Result::Error);
			p.reset();
			FUZZ_CHECK(p.parse("x") == ImapParser::Result::Complete);
			p.reset();
			responses++;
			break;
		}
	}
	return 0;
}
