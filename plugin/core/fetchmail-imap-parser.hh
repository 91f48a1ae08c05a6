#ifndef FETCHMAIL_IMAP_PARSER_HH
#define FETCHMAIL_IMAP_PARSER_HH

/* The IMAP response tokenizer under ImapSession (fetchmail-imap.hh). Pure,
   no I/O; everything it sees is untrusted.

   An IMAP response is line segments with literals between them:

     * 1 FETCH (UID 5 BODY[] {3}\r\nabc FLAGS (\Seen))\r\n

   is the segment "(UID 5 BODY[] {3}" (after the "* 1 FETCH " that the
   session reads itself), the 3-byte literal "abc" and the segment
   " FLAGS (\Seen))". The session splits lines (it owns line length and
   literal size limits) and hands each segment, without CRLF, to parse().
   parse() appends tokens to one flat list:

     Complete  the response ends here (parentheses balanced);
     Literal   the segment ended with {n}, {n+} or ~{n}: a String token
               of length 0 was appended; the session either copies the n
               bytes into it with literal_append() or, for a message body
               that it streams, calls literal_streamed(), which turns it
               into a Streamed token of length n. Then the next segment
               goes to parse() again;
     Error     malformed: error() says why. The parser stays unusable
               until reset().

   Tokens: Atom (anything unquoted: NIL, numbers, flags, BODY[...]<..>;
   brackets may hold spaces and parentheses), String (quoted, escapes
   undone, or a literal), ListBegin/ListEnd, Streamed. Token text lives in
   the parser's arena: use text(). Nesting is bounded by max_depth. */

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

enum class ImapTokenType : uint8_t { Atom, String, ListBegin, ListEnd, Streamed };

struct ImapToken {
	ImapTokenType type;
	uint32_t depth;   /* open lists around it; a ListBegin has its parent's */
	size_t close;     /* ListBegin: index of the matching ListEnd */
	size_t offset;    /* text in the arena (Atom, String) */
	uint64_t length;  /* text length; Streamed: the literal size */
};

class ImapParser {
public:
	enum class Result { Complete, Literal, Error };
	static constexpr uint32_t default_max_depth = 32;

	explicit ImapParser(uint32_t max_depth = default_max_depth)
		: max_depth_(max_depth) {}

	/* Forget the current response (keeps allocated memory). */
	void reset();
	/* Tokenize the next segment of the current response. */
	Result parse(std::string_view segment);

	/* After Result::Literal. */
	uint64_t literal_size() const { return literal_size_; }
	void literal_append(std::string_view data);
	void literal_streamed();

	const std::string &error() const { return error_; }
	uint32_t depth() const { return static_cast<uint32_t>(open_.size()); }
	const std::vector<ImapToken> &tokens() const { return tokens_; }
	std::string_view text(const ImapToken &token) const;
	/* Index of the token after token i and its contents. */
	size_t next_sibling(size_t i) const;
	/* Atom text equals word, ASCII case-insensitively. */
	bool atom_is(const ImapToken &token, std::string_view word) const;

private:
	bool set_error(const char *why);
	bool parse_token(std::string_view s, size_t &pos);
	bool parse_quoted(std::string_view s, size_t &pos);
	bool parse_atom(std::string_view s, size_t &pos);
	bool parse_literal(std::string_view s, size_t &pos);
	bool open_list();
	bool close_list();
	void push(ImapTokenType type, size_t offset, uint64_t length);

	uint32_t max_depth_;
	std::vector<ImapToken> tokens_;
	std::vector<size_t> open_;   /* indexes of open ListBegin tokens */
	std::string arena_;
	std::string error_;
	uint64_t literal_size_ = 0;
	bool literal_pending_ = false;
	bool broken_ = false;
};

/* Splits resp-text "[CODE args] text". Without a well-formed leading
   [code], code is empty and text is all of it. */
struct ImapRespText {
	std::string_view code;  /* "UIDVALIDITY 42" without brackets, or "" */
	std::string_view text;  /* the human-readable rest */
};
ImapRespText imap_parse_resp_text(std::string_view in);

} // namespace fetchmail

#endif
