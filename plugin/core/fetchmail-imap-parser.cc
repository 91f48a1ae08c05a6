#include "fetchmail-imap-parser.hh"

#include "fetchmail-strings.hh"

#include <cstring>
#include <limits>

namespace fetchmail {

namespace {

constexpr size_t no_close = std::numeric_limits<size_t>::max();

bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Where a plain atom ends; '[' ... ']' sections are skipped whole. */
bool atom_stop(unsigned char c)
{
	return c == ' ' || c == '(' || c == ')' || c == '"' || c == '{';
}

} // namespace

ImapRespText imap_parse_resp_text(std::string_view in)
{
	ImapRespText resp{ {}, in };
	if (in.empty() || in[0] != '[')
		return resp;
	size_t close = in.find(']');
	if (close == std::string_view::npos)
		return resp;
	resp.code = in.substr(1, close - 1);
	resp.text = in.substr(close + 1);
	if (!resp.text.empty() && resp.text[0] == ' ')
		resp.text.remove_prefix(1);
	return resp;
}

void ImapParser::reset()
{
	tokens_.clear();
	open_.clear();
	arena_.clear();
	error_.clear();
	literal_size_ = 0;
	literal_pending_ = false;
	broken_ = false;
}

ImapParser::Result ImapParser::parse(std::string_view s)
{
	if (broken_)
		return Result::Error;
	literal_pending_ = false;
	size_t pos = 0;
	while (pos < s.size()) {
		unsigned char c = s[pos];
		if (c == ' ') {
			pos++;
		} else if (c == '{' || (c == '~' && pos + 1 < s.size() &&
					s[pos + 1] == '{')) {
			return parse_literal(s, pos) ? Result::Literal :
				Result::Error;
		} else if (!parse_token(s, pos)) {
			return Result::Error;
		}
	}
	if (!open_.empty()) {
		set_error("unbalanced parentheses");
		return Result::Error;
	}
	return Result::Complete;
}

void ImapParser::literal_append(std::string_view data)
{
	if (!literal_pending_ || tokens_.empty())
		return;
	arena_.append(data);
	tokens_.back().length += data.size();
}

void ImapParser::literal_streamed()
{
	if (!literal_pending_ || tokens_.empty())
		return;
	tokens_.back().type = ImapTokenType::Streamed;
	tokens_.back().length = literal_size_;
}

std::string_view ImapParser::text(const ImapToken &token) const
{
	if (token.type != ImapTokenType::Atom &&
	    token.type != ImapTokenType::String)
		return {};
	return std::string_view(arena_).substr(token.offset, token.length);
}

size_t ImapParser::next_sibling(size_t i) const
{
	if (i >= tokens_.size())
		return tokens_.size();
	if (tokens_[i].type != ImapTokenType::ListBegin)
		return i + 1;
	return tokens_[i].close == no_close ? tokens_.size() :
		tokens_[i].close + 1;
}

bool ImapParser::atom_is(const ImapToken &token, std::string_view word) const
{
	return token.type == ImapTokenType::Atom &&
		ascii_iequals(text(token), word);
}

bool ImapParser::set_error(const char *why)
{
	error_ = why;
	broken_ = true;
	return false;
}

bool ImapParser::parse_token(std::string_view s, size_t &pos)
{
	unsigned char c = s[pos];
	if (c == '(')
		return pos++, open_list();
	if (c == ')')
		return pos++, close_list();
	if (c == '"')
		return parse_quoted(s, pos);
	if (is_ctl(c))
		return set_error("control character in response");
	return parse_atom(s, pos);
}

bool ImapParser::parse_quoted(std::string_view s, size_t &pos)
{
	size_t offset = arena_.size();
	pos++;
	while (pos < s.size()) {
		size_t run = pos;
		while (run < s.size() && s[run] != '"' && s[run] != '\\' &&
		       s[run] != '\r' && s[run] != '\0')
			run++;
		arena_.append(s.substr(pos, run - pos));
		pos = run;
		if (pos == s.size())
			break;
		char c = s[pos];
		if (c == '"') {
			pos++;
			push(ImapTokenType::String, offset, arena_.size() - offset);
			return true;
		}
		if (c != '\\' || pos + 1 == s.size())
			return set_error("invalid character in quoted string");
		char escaped = s[pos + 1];
		if (escaped == '\r' || escaped == '\0')
			return set_error("invalid character in quoted string");
		arena_ += escaped;
		pos += 2;
	}
	return set_error("unterminated quoted string");
}

bool ImapParser::parse_atom(std::string_view s, size_t &pos)
{
	size_t start = pos;
	while (pos < s.size() && !atom_stop(s[pos])) {
		unsigned char c = s[pos];
		if (is_ctl(c))
			return set_error("control character in atom");
		if (c != '[') {
			pos++;
			continue;
		}
		size_t close = s.find(']', pos);
		if (close == std::string_view::npos)
			return set_error("unterminated [ in atom");
		for (size_t i = pos; i < close; i++) {
			if (is_ctl(s[i]))
				return set_error("control character in atom");
		}
		pos = close + 1;
	}
	if (pos == start)
		return set_error("unexpected character in response");
	size_t offset = arena_.size();
	arena_.append(s.substr(start, pos - start));
	push(ImapTokenType::Atom, offset, pos - start);
	return true;
}

bool ImapParser::parse_literal(std::string_view s, size_t &pos)
{
	if (s[pos] == '~')
		pos++;
	size_t start = ++pos;
	while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
		pos++;
	uint64_t size;
	if (!parse_u64(s.substr(start, pos - start), UINT64_MAX, size))
		return set_error("invalid literal size");
	if (pos < s.size() && s[pos] == '+')
		pos++;
	if (pos + 1 != s.size() || s[pos] != '}')
		return set_error("invalid literal");
	pos++;
	push(ImapTokenType::String, arena_.size(), 0);
	literal_size_ = size;
	literal_pending_ = true;
	return true;
}

bool ImapParser::open_list()
{
	if (open_.size() >= max_depth_)
		return set_error("lists nested too deeply");
	push(ImapTokenType::ListBegin, 0, 0);
	open_.push_back(tokens_.size() - 1);
	return true;
}

bool ImapParser::close_list()
{
	if (open_.empty())
		return set_error("unbalanced ')'");
	size_t begin = open_.back();
	open_.pop_back();
	push(ImapTokenType::ListEnd, 0, 0);
	tokens_[begin].close = tokens_.size() - 1;
	return true;
}

void ImapParser::push(ImapTokenType type, size_t offset, uint64_t length)
{
	size_t close = type == ImapTokenType::ListBegin ? no_close : 0;
	tokens_.push_back(ImapToken{ type,
		static_cast<uint32_t>(open_.size()), close, offset, length });
}

} // namespace fetchmail
