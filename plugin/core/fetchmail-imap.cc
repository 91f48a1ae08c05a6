#include "fetchmail-imap.hh"

#include "fetchmail-crypto.hh"
#include "fetchmail-message.hh"
#include "fetchmail-strings.hh"

#include <algorithm>
#include <cstring>
#include <utility>

namespace fetchmail {

namespace {

constexpr size_t literal_minus_max = 4096;

bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A quoted string can carry 7-bit text without CR, LF and NUL. */
bool quotable(std::string_view value)
{
	for (unsigned char c : value) {
		if (c == 0 || c == '\r' || c == '\n' || c >= 0x80)
			return false;
	}
	return true;
}

std::string quote(std::string_view value)
{
	std::string out = "\"";
	for (char c : value) {
		if (c == '"' || c == '\\')
			out += '\\';
		out += c;
	}
	out += '"';
	return out;
}

/* Decodes one UTF-8 sequence at in[pos]; false when invalid. */
bool utf8_next(std::string_view in, size_t &pos, uint32_t &cp_r)
{
	unsigned char c = in[pos];
	size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 :
		c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	if (len == 0 || pos + len > in.size())
		return false;
	uint32_t cp = len == 1 ? c : c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		unsigned char cc = in[pos + i];
		if ((cc & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (cc & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	pos += len;
	cp_r = cp;
	return true;
}

void mutf7_flush(std::string &utf16be, std::string &out)
{
	if (utf16be.empty())
		return;
	/* modified base64: ',' instead of '/', no padding */
	std::string encoded = base64_encode(utf16be);
	encoded.erase(encoded.find_last_not_of('=') + 1);
	std::replace(encoded.begin(), encoded.end(), '/', ',');
	out += '&';
	out += encoded;
	out += '-';
	utf16be.clear();
}

void utf16be_append(std::string &utf16be, uint32_t cp)
{
	if (cp >= 0x10000) {
		cp -= 0x10000;
		utf16be_append(utf16be, 0xd800 | (cp >> 10));
		cp = 0xdc00 | (cp & 0x3ff);
	}
	utf16be += static_cast<char>(cp >> 8);
	utf16be += static_cast<char>(cp & 0xff);
}

/* The wire name of a folder: ASCII as given (it may be modified UTF-7
   already), UTF-8 encoded to modified UTF-7 (RFC 3501 5.1.3). */
bool folder_wire_name(std::string_view name, std::string &out_r)
{
	out_r.clear();
	if (name.empty())
		return false;
	if (quotable(name)) {
		out_r = name;
		return true;
	}
	std::string utf16be;
	for (size_t pos = 0; pos < name.size(); ) {
		uint32_t cp;
		if (!utf8_next(name, pos, cp) || cp == 0)
			return false;
		if (cp >= 0x20 && cp <= 0x7e) {
			mutf7_flush(utf16be, out_r);
			out_r += static_cast<char>(cp);
			if (cp == '&')
				out_r += '-';
		} else {
			utf16be_append(utf16be, cp);
		}
	}
	mutf7_flush(utf16be, out_r);
	return true;
}

} // namespace

ImapSession::ImapSession(SessionConfig config)
	: SessionBase(std::move(config))
{
}

/* ---- the driver's side ---- */

size_t ImapSession::feed(std::string_view in)
{
	owned_.clear();
	size_t pos = 0;
	while (pos < in.size() && !finished() && !paused_) {
		std::string_view rest = in.substr(pos);
		if (reader_ == Reader::Line)
			pos += read_line(rest);
		else if (reader_ == Reader::Literal)
			pos += read_literal(rest);
		else
			pos += read_body(rest);
	}
	return pos;
}

void ImapSession::eof()
{
	if (finished())
		return;
	if (logout_sent_)
		done();
	else if (phase_ == Phase::Greeting)
		fail(ErrorKind::Closed, "connection closed before the greeting");
	else if (reader_ == Reader::Body)
		fail(ErrorKind::Closed,
		     "connection closed in the middle of a message");
	else
		fail(ErrorKind::Closed, "connection closed unexpectedly");
}

void ImapSession::tls_started()
{
	if (phase_ != Phase::WaitTls)
		return;
	paused_ = false;
	tls_done_ = true;
	caps_.clear();
	caps_known_ = false;
	caps_gen_++;
	phase_ = Phase::Handshake;
	advance();
}

void ImapSession::select_folder(std::string_view folder, bool read_only)
{
	if (finished())
		return;
	Job &job = enqueue(JobKind::Select);
	job.folder = folder;
	job.flag = read_only;
	run_jobs();
}

void ImapSession::list(uint32_t first_uid, bool with_fingerprints)
{
	if (finished())
		return;
	Job &job = enqueue(JobKind::List);
	job.first_uid = std::max<uint32_t>(first_uid, 1);
	job.flag = with_fingerprints;
	run_jobs();
}

void ImapSession::fetch(const std::vector<RemoteMessage> &messages)
{
	if (finished())
		return;
	std::vector<uint32_t> uids;
	for (const RemoteMessage &msg : messages) {
		uint32_t uid = msg.number;
		if (uid == 0 && (!parse_u32(msg.uid, uid) || uid == 0)) {
			Event &ev = emit(EventType::MessageFailed);
			ev.message = msg;
			ev.text = "invalid IMAP UID";
			continue;
		}
		uids.push_back(uid);
	}
	if (uids.empty())
		return;
	if (!jobs_.empty() && jobs_.back().kind == JobKind::Fetch) {
		Job &job = jobs_.back();
		job.uids.insert(job.uids.end(), uids.begin(), uids.end());
		if (job_running_ && jobs_.size() == 1)
			fill_fetch_window(job);
	} else {
		enqueue(JobKind::Fetch).uids = std::move(uids);
	}
	run_jobs();
}

void ImapSession::remove(const std::vector<std::string> &uids)
{
	if (finished())
		return;
	Job &job = enqueue(JobKind::Remove);
	for (const std::string &uid_str : uids) {
		uint32_t uid;
		if (parse_u32(uid_str, uid) && uid != 0)
			job.uids.push_back(uid);
	}
	std::sort(job.uids.begin(), job.uids.end());
	job.uids.erase(std::unique(job.uids.begin(), job.uids.end()),
		       job.uids.end());
	run_jobs();
}

void ImapSession::idle()
{
	if (finished())
		return;
	enqueue(JobKind::Idle);
	run_jobs();
}

void ImapSession::idle_done()
{
	if (!finished())
		end_idle(false);
}

void ImapSession::quit()
{
	if (finished() || logout_sent_)
		return;
	end_idle(true);
	if (phase_ == Phase::Ready || !jobs_.empty()) {
		enqueue(JobKind::Quit);
		run_jobs();
	} else if (phase_ == Phase::Handshake && mech_.empty() &&
		   literal_parts_.empty()) {
		send_logout();
	} else {
		/* no greeting yet, TLS pending or in the middle of an
		   exchange: nothing to log out from cleanly */
		done();
	}
}

/* ---- input ---- */

size_t ImapSession::read_line(std::string_view in)
{
	const void *lf = memchr(in.data(), '\n', in.size());
	size_t len = lf == nullptr ? in.size() :
		static_cast<const char *>(lf) - in.data();
	if (line_.size() + len > config_.max_line + 1) {
		fail(ErrorKind::Protocol, "line too long");
		return len;
	}
	if (lf == nullptr) {
		line_.append(in);
		return len;
	}
	std::string_view line = in.substr(0, len);
	if (!line_.empty()) {
		line_.append(line);
		line = line_;
	}
	if (!line.empty() && line.back() == '\r')
		line.remove_suffix(1);
	if (line.size() > config_.max_line)
		fail(ErrorKind::Protocol, "line too long");
	else
		handle_line(line);
	line_.clear();
	return len + 1;
}

size_t ImapSession::read_literal(std::string_view in)
{
	size_t take = std::min<uint64_t>(in.size(), literal_left_);
	parser_.literal_append(in.substr(0, take));
	literal_left_ -= take;
	if (literal_left_ == 0)
		reader_ = Reader::Line;
	return take;
}

size_t ImapSession::read_body(std::string_view in)
{
	size_t take = std::min<uint64_t>(in.size(), literal_left_);
	if (body_tag_ != 0) {
		emit_message(EventType::MessageData, body_uid_, body_size_).data =
			in.substr(0, take);
	}
	literal_left_ -= take;
	if (literal_left_ == 0)
		reader_ = Reader::Line;
	return take;
}

void ImapSession::handle_line(std::string_view line)
{
	if (in_response_) {
		response_bytes_ += line.size();
		if (response_bytes_ > config_.max_line)
			fail(ErrorKind::Protocol, "response too long");
		else
			parse_data(line);
	} else if (line.empty()) {
		fail(ErrorKind::Protocol, "empty line from the server");
	} else if (phase_ == Phase::Greeting) {
		handle_greeting(line);
	} else if (line[0] == '+') {
		handle_continuation(line);
	} else if (line.size() > 1 && line[0] == '*' && line[1] == ' ') {
		handle_untagged(line);
	} else {
		handle_tagged(line);
	}
}

void ImapSession::handle_greeting(std::string_view line)
{
	log(false, line);
	std::string_view rest = line.substr(std::min<size_t>(2, line.size()));
	std::string_view word = next_word(rest);
	if (line.size() < 2 || line[0] != '*' || line[1] != ' ') {
		fail(ErrorKind::Protocol, "unexpected greeting: " + std::string(line));
		return;
	}
	if (ascii_iequals(word, "BYE")) {
		fail(ErrorKind::Closed, "server refused the connection: " + std::string(rest));
		return;
	}
	bool preauth = ascii_iequals(word, "PREAUTH");
	if (!preauth && !ascii_iequals(word, "OK")) {
		fail(ErrorKind::Protocol, "unexpected greeting: " + std::string(line));
		return;
	}
	phase_ = Phase::Handshake;
	on_resp_code(imap_parse_resp_text(rest).code);
	if (preauth && config_.tls == SessionConfig::Tls::StartTls) {
		fail(ErrorKind::TlsUnavailable,
		     "server sent PREAUTH: STARTTLS is impossible");
		return;
	}
	authenticated_ = preauth;
	advance();
}

void ImapSession::handle_continuation(std::string_view line)
{
	log(false, line);
	if (!literal_parts_.empty()) {
		write(literal_parts_.front());
		literal_parts_.pop_front();
	} else if (!mech_.empty()) {
		sasl_continue();
	} else if (current_job(JobKind::Idle) != nullptr && !idle_plus_) {
		idle_plus_ = true;
		emit(EventType::Idling);
		if (current_job(JobKind::Idle)->flag)
			send_done();
	} else {
		fail(ErrorKind::Protocol, "unexpected continuation request");
	}
}

void ImapSession::handle_tagged(std::string_view line)
{
	std::string_view rest = line;
	std::string_view tag = next_word(rest);
	std::string_view word = next_word(rest);
	uint32_t num = 0;
	Command *found = nullptr;
	if (tag.size() > 1 && tag[0] == 'a' &&
	    parse_u32(tag.substr(1), num))
		found = find_command(num);
	if (found != nullptr && found->kind == Cmd::List && listing_lines_ > 0)
		log(false, "(" + std::to_string(listing_lines_) +
		    " FETCH lines not logged)");
	log(false, line);
	if (found == nullptr && stray_done_ && ascii_iequals(tag, "DONE")) {
		/* the server had ended the IDLE when our DONE came */
		stray_done_ = false;
		return;
	}
	if (found == nullptr) {
		fail(ErrorKind::Protocol, "unexpected tag: " + std::string(line));
		return;
	}
	stray_done_ = false;
	Status st = ascii_iequals(word, "OK") ? Status::Ok :
		ascii_iequals(word, "NO") ? Status::No : Status::Bad;
	if (st == Status::Bad && !ascii_iequals(word, "BAD")) {
		fail(ErrorKind::Protocol, "invalid tagged response: " + std::string(line));
		return;
	}
	Command cmd = *found;
	for (auto it = pending_.begin(); it != pending_.end(); ++it) {
		if (it->tag == cmd.tag) {
			pending_.erase(it);
			break;
		}
	}
	if (st == Status::Ok && cmd.kind != Cmd::StartTls)
		on_resp_code(imap_parse_resp_text(rest).code);
	if (finished() || (phase_ == Phase::LoggingOut && cmd.kind != Cmd::Logout))
		return;
	dispatch(cmd, st, rest);
	run_jobs();
}

void ImapSession::dispatch(const Command &cmd, Status st,
			   std::string_view rest)
{
	switch (cmd.kind) {
	case Cmd::Capability: on_capability_done(st, rest); break;
	case Cmd::StartTls: on_starttls_done(st, rest); break;
	case Cmd::Login:
	case Cmd::Authenticate: on_auth_done(st, rest, cmd.caps_gen); break;
	case Cmd::Select: on_select_done(st, rest); break;
	case Cmd::List: on_list_done(st, rest); break;
	case Cmd::Fetch: on_fetch_done(cmd, st, rest); break;
	case Cmd::Store: on_store_done(st, rest); break;
	case Cmd::Expunge: on_expunge_done(st, rest); break;
	case Cmd::Idle: on_idle_done(st, rest); break;
	case Cmd::Logout: done(); break;
	}
}

void ImapSession::handle_untagged(std::string_view line)
{
	std::string_view rest = line.substr(2);
	std::string_view word = next_word(rest);
	if (word.empty()) {
		fail(ErrorKind::Protocol, "malformed untagged response");
	} else if (is_digit(word[0])) {
		uint32_t num;
		if (!parse_u32(word, num))
			fail(ErrorKind::Protocol, "invalid number: " + std::string(line));
		else
			handle_numbered(num, rest, line);
	} else if (ascii_iequals(word, "OK") || ascii_iequals(word, "NO") ||
		   ascii_iequals(word, "BAD") || ascii_iequals(word, "BYE") ||
		   ascii_iequals(word, "PREAUTH")) {
		on_status(word, rest, line);
	} else if (ascii_iequals(word, "CAPABILITY")) {
		log(false, line);
		set_capabilities(rest);
	} else {
		log(false, line);
		begin_data(Response::Other, 0, rest, line);
	}
}

void ImapSession::handle_numbered(uint32_t num, std::string_view rest,
				  std::string_view line)
{
	std::string_view word = next_word(rest);
	if (ascii_iequals(word, "FETCH")) {
		begin_data(Response::Fetch, num, rest, line);
		return;
	}
	log(false, line);
	if (ascii_iequals(word, "EXISTS")) {
		if (std::exchange(exists_, num) != num)
			mailbox_changed("EXISTS");
	} else if (ascii_iequals(word, "RECENT")) {
		if (std::exchange(recent_, num) != num)
			mailbox_changed("RECENT");
	} else if (ascii_iequals(word, "EXPUNGE")) {
		exists_ -= exists_ > 0 ? 1 : 0;
		mailbox_changed("EXPUNGE");
	} else {
		begin_data(Response::Other, num, rest, line);
	}
}

/* ---- responses with data ---- */

void ImapSession::begin_data(Response kind, uint32_t seq,
			     std::string_view data, std::string_view line)
{
	parser_.reset();
	in_response_ = true;
	response_ = kind;
	response_seq_ = seq;
	response_bytes_ = line.size();
	response_body_ = false;
	if (kind == Response::Fetch)
		response_line_ = line;
	parse_data(data);
}

void ImapSession::parse_data(std::string_view segment)
{
	switch (parser_.parse(segment)) {
	case ImapParser::Result::Complete:
		in_response_ = false;
		if (response_ == Response::Fetch)
			on_fetch();
		break;
	case ImapParser::Result::Literal:
		on_literal();
		break;
	case ImapParser::Result::Error:
		fail(ErrorKind::Protocol, "malformed response: " +
		     parser_.error());
		break;
	}
}

void ImapSession::on_literal()
{
	uint64_t size = parser_.literal_size();
	if (response_ == Response::Fetch && at_body_literal()) {
		start_body(size);
		return;
	}
	if (size > config_.max_message) {
		fail(ErrorKind::Protocol, "literal too big (" +
		     std::to_string(size) + " bytes)");
		return;
	}
	if (size > config_.max_line - std::min(response_bytes_,
					       config_.max_line)) {
		fail(ErrorKind::Protocol, "response too long");
		return;
	}
	response_bytes_ += size;
	literal_left_ = size;
	if (size > 0)
		reader_ = Reader::Literal;
}

/* The literal just announced is the value of a BODY[] item of the FETCH
   list (not nested, in a name/value pair's value position). */
bool ImapSession::at_body_literal() const
{
	const std::vector<ImapToken> &tokens = parser_.tokens();
	size_t n = tokens.size();
	if (n < 3 || parser_.depth() != 1 ||
	    tokens[0].type != ImapTokenType::ListBegin ||
	    !parser_.atom_is(tokens[n - 2], "BODY[]"))
		return false;
	bool name = true;
	size_t i = 1;
	for (; i < n - 2; i = parser_.next_sibling(i))
		name = !name;
	return i == n - 2 && name;
}

void ImapSession::start_body(uint64_t size)
{
	if (size > config_.max_message) {
		fail(ErrorKind::Protocol, "message too big (" +
		     std::to_string(size) + " bytes)");
		return;
	}
	if (response_body_) {
		fail(ErrorKind::Protocol, "FETCH response with two BODY[]");
		return;
	}
	response_body_ = true;
	parser_.literal_streamed();
	body_size_ = size;
	literal_left_ = size;
	body_tag_ = 0;
	if (size > 0)
		reader_ = Reader::Body;
	FetchItems items;
	if (!collect_items(items, false))
		return;
	Command *cmd = find_fetch(items.uid, !items.has_uid);
	if (cmd == nullptr) {
		log(false, response_line_ + " ...) ignored: not requested");
		return;
	}
	log(false, response_line_ + " ...)");
	cmd->body_seen = true;
	body_tag_ = cmd->tag;
	body_uid_ = cmd->uid;
	Event &ev = emit_message(EventType::MessageBegin, cmd->uid, size);
	ev.internal_date = items.internal_date;
	copy_flags(items, ev.flags);
}

/* Walks the name/value pairs of the FETCH list; complete = the list is
   closed, else it ends with the body literal being read. */
bool ImapSession::collect_items(FetchItems &items_r, bool complete)
{
	const std::vector<ImapToken> &tokens = parser_.tokens();
	if (complete && (tokens.size() < 2 ||
			 tokens[0].type != ImapTokenType::ListBegin ||
			 tokens[0].close != tokens.size() - 1)) {
		fail(ErrorKind::Protocol, "malformed FETCH response");
		return false;
	}
	size_t end = complete ? tokens.size() - 1 : tokens.size();
	for (size_t i = 1; i < end; ) {
		size_t value = parser_.next_sibling(i);
		if (tokens[i].type != ImapTokenType::Atom || value >= end) {
			fail(ErrorKind::Protocol, "malformed FETCH response");
			return false;
		}
		if (!collect_item(items_r, parser_.text(tokens[i]), value))
			return false;
		i = parser_.next_sibling(value);
	}
	return true;
}

bool ImapSession::collect_item(FetchItems &items_r, std::string_view name,
			       size_t value)
{
	const ImapToken &token = parser_.tokens()[value];
	std::string_view text = parser_.text(token);
	bool atom = token.type == ImapTokenType::Atom;
	if (ascii_iequals(name, "UID")) {
		items_r.has_uid = atom && parse_u32(text, items_r.uid) &&
			items_r.uid != 0;
		if (!items_r.has_uid)
			fail(ErrorKind::Protocol, "invalid UID in FETCH");
		return items_r.has_uid;
	}
	if (ascii_iequals(name, "RFC822.SIZE")) {
		items_r.has_size = atom && parse_u64(text, UINT64_MAX, items_r.size);
		if (!items_r.has_size)
			fail(ErrorKind::Protocol, "invalid RFC822.SIZE in FETCH");
		return items_r.has_size;
	}
	if (ascii_iequals(name, "INTERNALDATE")) {
		if (token.type == ImapTokenType::String)
			items_r.internal_date = text;
	} else if (ascii_iequals(name, "FLAGS")) {
		if (token.type != ImapTokenType::ListBegin) {
			fail(ErrorKind::Protocol, "invalid FLAGS in FETCH");
			return false;
		}
		items_r.flags = value;
	} else if (ascii_iequals(name, "BODY[]")) {
		if (items_r.body != 0) {
			fail(ErrorKind::Protocol, "FETCH response with two BODY[]");
			return false;
		}
		items_r.body = value;
	} else if (name.size() >= 18 &&
		   ascii_iequals(name.substr(0, 18), "BODY[HEADER.FIELDS")) {
		items_r.header = value;
	}
	return true;
}

/* System flags of the FLAGS list, as sent, without \Recent. */
void ImapSession::copy_flags(const FetchItems &items,
			     std::vector<std::string> &flags_r) const
{
	if (items.flags == 0)
		return;
	const std::vector<ImapToken> &tokens = parser_.tokens();
	size_t end = tokens[items.flags].close;
	for (size_t i = items.flags + 1; i < end && i < tokens.size();
	     i = parser_.next_sibling(i)) {
		std::string_view flag = parser_.text(tokens[i]);
		if (tokens[i].type == ImapTokenType::Atom && flag.size() > 1 &&
		    flag[0] == '\\' && !ascii_iequals(flag, "\\Recent"))
			flags_r.emplace_back(flag);
	}
}

void ImapSession::on_fetch()
{
	FetchItems items;
	if (!collect_items(items, true))
		return;
	const std::vector<ImapToken> &tokens = parser_.tokens();
	ImapTokenType body = items.body == 0 ? ImapTokenType::ListEnd :
		tokens[items.body].type;
	if (body == ImapTokenType::Streamed)
		on_body_end(items);
	else if (current_job(JobKind::List) != nullptr)
		on_listing_fetch(items);
	else if (body == ImapTokenType::String)
		on_quoted_body(items);
	else
		log(false, response_line_);
	mailbox_changed("FETCH");
}

void ImapSession::on_listing_fetch(const FetchItems &items)
{
	Job &job = *current_job(JobKind::List);
	listing_lines_++;
	if (!items.has_uid || !items.has_size || items.uid < job.first_uid)
		return;
	if (listing_.size() >= config_.max_listing) {
		fail(ErrorKind::Protocol, "more than " +
		     std::to_string(config_.max_listing) + " messages in " +
		     folder_ + " (the most a run lists, "
		     "fetchmail_max_messages)");
		return;
	}
	RemoteMessage &msg = listing_.emplace_back();
	msg.uid = std::to_string(items.uid);
	msg.number = items.uid;
	msg.size = items.size;
	if (!job.flag)
		return;
	msg.internal_date = items.internal_date;
	if (items.header != 0)
		msg.message_id = message_id_from_header(
			parser_.text(parser_.tokens()[items.header]));
}

void ImapSession::on_body_end(const FetchItems &items)
{
	Command *cmd = body_tag_ == 0 ? nullptr : find_command(body_tag_);
	body_tag_ = 0;
	if (cmd == nullptr)
		return;
	if (items.has_uid && items.uid != cmd->uid) {
		fail(ErrorKind::Protocol, "FETCH response for UID " +
		     std::to_string(items.uid) + " while expecting UID " +
		     std::to_string(cmd->uid));
		return;
	}
	cmd->body_done = true;
	Event &ev = emit_message(EventType::MessageEnd, cmd->uid, body_size_);
	ev.internal_date = items.internal_date;
	copy_flags(items, ev.flags);
}

/* BODY[] sent as a quoted string instead of a literal. */
void ImapSession::on_quoted_body(const FetchItems &items)
{
	Command *cmd = find_fetch(items.uid, !items.has_uid);
	if (cmd == nullptr) {
		log(false, response_line_);
		return;
	}
	log(false, "* " + std::to_string(response_seq_) + " FETCH (UID " +
	    std::to_string(cmd->uid) + " BODY[] \"...\" ...)");
	cmd->body_seen = cmd->body_done = true;
	const std::string &body = owned_.emplace_back(
		parser_.text(parser_.tokens()[items.body]));
	emit_message(EventType::MessageBegin, cmd->uid, body.size());
	if (!body.empty()) {
		emit_message(EventType::MessageData, cmd->uid,
			     body.size()).data = body;
	}
	Event &end = emit_message(EventType::MessageEnd, cmd->uid, body.size());
	end.internal_date = items.internal_date;
	copy_flags(items, end.flags);
}

/* ---- untagged ---- */

void ImapSession::on_status(std::string_view word, std::string_view text,
			    std::string_view line)
{
	log(false, line);
	if (ascii_iequals(word, "OK")) {
		on_resp_code(imap_parse_resp_text(text).code);
	} else if (ascii_iequals(word, "BYE")) {
		if (!logout_sent_)
			fail(ErrorKind::Closed, "server closed the connection: " + std::string(text));
	} else if (ascii_iequals(word, "PREAUTH")) {
		fail(ErrorKind::Protocol, "unexpected PREAUTH");
	}
}

void ImapSession::on_resp_code(std::string_view code)
{
	std::string_view args = code;
	std::string_view name = next_word(args);
	uint32_t num;
	if (ascii_iequals(name, "CAPABILITY")) {
		set_capabilities(args);
	} else if (ascii_iequals(name, "UIDVALIDITY")) {
		if (!parse_u32(args, num))
			fail(ErrorKind::Protocol, "invalid UIDVALIDITY");
		else if (selecting_)
			uidvalidity_ = num;
	} else if (ascii_iequals(name, "UIDNEXT")) {
		if (!parse_u32(args, num))
			fail(ErrorKind::Protocol, "invalid UIDNEXT");
		else if (selecting_)
			uidnext_ = num;
	}
}

void ImapSession::set_capabilities(std::string_view list)
{
	caps_.clear();
	while (!list.empty()) {
		std::string_view cap = next_word(list);
		if (!cap.empty())
			caps_.push_back(ascii_upper(cap));
	}
	caps_known_ = true;
	caps_gen_++;
}

/* ---- tagged replies ---- */

void ImapSession::on_capability_done(Status st, std::string_view text)
{
	handshake_wait_ = false;
	if (st != Status::Ok) {
		fail(ErrorKind::Server, "CAPABILITY failed: " + std::string(text));
		return;
	}
	caps_known_ = true;
	advance();
}

void ImapSession::on_starttls_done(Status st, std::string_view text)
{
	handshake_wait_ = false;
	if (st != Status::Ok) {
		fail(ErrorKind::TlsUnavailable, "STARTTLS failed: " + std::string(text));
		return;
	}
	phase_ = Phase::WaitTls;
	paused_ = true;
	emit(EventType::NeedTls);
}

void ImapSession::on_auth_done(Status st, std::string_view text,
			       unsigned caps_gen)
{
	handshake_wait_ = false;
	std::string what = mech_.empty() ? "LOGIN" : "AUTHENTICATE " + mech_;
	mech_.clear();
	literal_parts_.clear();
	if (st != Status::Ok) {
		/* RFC 5530: the server failed, the credentials may be fine */
		std::string_view code = imap_parse_resp_text(text).code;
		bool server = ascii_iequals(code, "UNAVAILABLE") ||
			ascii_iequals(code, "SERVERBUG") ||
			ascii_iequals(code, "INUSE");
		/* a refused login says what the server said; the driver
		   adds "login failed" */
		if (server)
			fail(ErrorKind::Server, what + " failed: " +
			     std::string(text));
		else
			fail(ErrorKind::Auth, text.empty() ?
			     "authentication failed" : text);
		return;
	}
	authenticated_ = true;
	caps_known_ = caps_gen != caps_gen_;
	advance();
}

void ImapSession::on_select_done(Status st, std::string_view text)
{
	selecting_ = false;
	selected_ = st == Status::Ok && uidvalidity_ != 0;
	if (st != Status::Ok) {
		folder_failed(select_verb_ + " failed: " + std::string(text));
	} else if (!selected_) {
		folder_failed("server sent no UIDVALIDITY");
	} else {
		Event &ev = emit(EventType::FolderSelected);
		ev.folder = folder_;
		ev.uidvalidity = uidvalidity_;
		ev.uidnext = uidnext_;
		ev.count = exists_;
		ev.recent = recent_;
	}
	job_done();
}

void ImapSession::on_list_done(Status st, std::string_view text)
{
	if (st != Status::Ok) {
		folder_failed("UID FETCH failed: " + std::string(text));
	} else {
		std::stable_sort(listing_.begin(), listing_.end(),
			[](const RemoteMessage &a, const RemoteMessage &b) {
				return a.number < b.number;
			});
		listing_.erase(std::unique(listing_.begin(), listing_.end(),
			[](const RemoteMessage &a, const RemoteMessage &b) {
				return a.number == b.number;
			}), listing_.end());
		emit(EventType::Listing).messages = std::move(listing_);
	}
	listing_.clear();
	job_done();
}

void ImapSession::on_fetch_done(const Command &cmd, Status st,
				std::string_view text)
{
	if (!cmd.body_done) {
		message_failed(cmd.uid, st == Status::Ok ?
			"message not returned by the server (expunged?)" :
			"UID FETCH failed: " + std::string(text));
	}
	Job *job = current_job(JobKind::Fetch);
	if (job != nullptr) {
		job->outstanding--;
		fill_fetch_window(*job);
	}
}

/* A reply to one of the Remove job's UID STORE or EXPUNGE commands. The
   job once its last reply came and all were OK, else nullptr; when one
   failed, the folder failed with the first failure and the job is done. */
ImapSession::Job *ImapSession::remove_reply(Status st, const char *what,
					    std::string_view text)
{
	Job *job = current_job(JobKind::Remove);
	if (job == nullptr)
		return nullptr;
	if (st != Status::Ok && job->failure.empty())
		job->failure = std::string(what) + " failed: " + std::string(text);
	if (--job->outstanding > 0)
		return nullptr;
	if (job->failure.empty())
		return job;
	folder_failed(job->failure);
	job_done();
	return nullptr;
}

void ImapSession::on_store_done(Status st, std::string_view text)
{
	Job *job = remove_reply(st, "UID STORE", text);
	if (job != nullptr)
		send_expunge(*job);
}

void ImapSession::on_expunge_done(Status st, std::string_view text)
{
	Job *job = remove_reply(st, "EXPUNGE", text);
	if (job == nullptr)
		return;
	Event &ev = emit(EventType::Removed);
	for (uint32_t uid : job->uids)
		ev.uids.push_back(std::to_string(uid));
	job_done();
}

void ImapSession::on_idle_done(Status st, std::string_view text)
{
	Job *job = current_job(JobKind::Idle);
	/* DONE went out: a server that had ended the IDLE meanwhile answers
	   it as a command */
	stray_done_ = job != nullptr && job->flag && idle_plus_;
	idle_plus_ = false;
	if (st == Status::Ok)
		idle_ended();
	else
		idle_failed(ErrorKind::Server, "IDLE failed: " + std::string(text));
	job_done();
}

/* ---- handshake ---- */

/* The next step before LoggedIn, unless a reply is awaited. */
void ImapSession::advance()
{
	if (phase_ != Phase::Handshake || handshake_wait_)
		return;
	if (!caps_known_)
		send(Cmd::Capability, "CAPABILITY", "");
	else if (authenticated_)
		logged_in();
	else if (config_.tls == SessionConfig::Tls::StartTls && !tls_done_)
		start_tls();
	else
		authenticate();
}

void ImapSession::logged_in()
{
	phase_ = Phase::Ready;
	emit(EventType::LoggedIn);
	run_jobs();
}

void ImapSession::start_tls()
{
	if (!has_cap("STARTTLS")) {
		fail(ErrorKind::TlsUnavailable, "server does not offer STARTTLS");
		return;
	}
	send(Cmd::StartTls, "STARTTLS", "");
}

void ImapSession::authenticate()
{
	if (!config_.sasl_mech.empty())
		send_authenticate(config_.sasl_mech);
	else if (!has_cap("LOGINDISABLED"))
		send_login();
	else if (has_cap("AUTH=PLAIN"))
		send_authenticate("PLAIN");
	else
		fail(ErrorKind::Auth, "server disabled LOGIN (LOGINDISABLED) "
		     "and offers no AUTH=PLAIN");
}

void ImapSession::send_login()
{
	std::vector<std::string> parts{ "LOGIN " };
	append_astring(config_.user, parts);
	parts.back() += ' ';
	append_astring(config_.password, parts);
	for (size_t i = 1; i < parts.size(); i++)
		parts[i] += "\r\n";
	send(Cmd::Login, parts[0], "LOGIN " + quote(config_.user) + " ***");
	literal_parts_.assign(parts.begin() + 1, parts.end());
}

/* A quoted string, or a literal: non-synchronizing when the server allows
   it, else synchronizing, which starts a new part sent after "+". */
void ImapSession::append_astring(std::string_view value,
				 std::vector<std::string> &parts) const
{
	if (quotable(value)) {
		parts.back() += quote(value);
		return;
	}
	std::string size = std::to_string(value.size());
	if (has_cap("LITERAL+") || (has_cap("LITERAL-") &&
				    value.size() <= literal_minus_max)) {
		parts.back() += "{" + size + "+}\r\n";
		parts.back() += value;
	} else {
		parts.back() += "{" + size + "}";
		parts.emplace_back(value);
	}
}

void ImapSession::send_authenticate(std::string_view mech)
{
	if (!start_sasl(mech))
		return;
	mech_ = sasl_.name();
	const std::string &first = sasl_.initial_response();
	if (first.empty() || !has_cap("SASL-IR")) {
		send(Cmd::Authenticate, "AUTHENTICATE " + mech_, "");
		return;
	}
	std::string line = "AUTHENTICATE " + mech_ + " " + first;
	sasl_.take_initial_response();
	send(Cmd::Authenticate, line, "AUTHENTICATE " + mech_ + " ***");
}

/* Answers a "+" during AUTHENTICATE. */
void ImapSession::sasl_continue()
{
	bool secret;
	std::string reply = sasl_.answer(secret);
	write(reply + "\r\n");
	log(true, secret ? "***" : reply.empty() ? "(empty response)" : reply);
}

/* ---- jobs ---- */

ImapSession::Job &ImapSession::enqueue(JobKind kind)
{
	Job &job = jobs_.emplace_back();
	job.kind = kind;
	return job;
}

void ImapSession::run_jobs()
{
	while (phase_ == Phase::Ready && !job_running_ && !jobs_.empty()) {
		job_running_ = true;
		start_job(jobs_.front());
	}
}

void ImapSession::start_job(Job &job)
{
	switch (job.kind) {
	case JobKind::Select: start_select(job); break;
	case JobKind::List: start_list(job); break;
	case JobKind::Fetch: start_fetch(job); break;
	case JobKind::Remove: start_remove(job); break;
	case JobKind::Idle: start_idle(job); break;
	case JobKind::Quit: send_logout(); break;
	}
}

void ImapSession::job_done()
{
	if (!jobs_.empty())
		jobs_.pop_front();
	job_running_ = false;
}

void ImapSession::start_select(Job &job)
{
	folder_ = job.folder;
	select_verb_ = job.flag ? "EXAMINE" : "SELECT";
	selected_ = false;
	exists_ = 0;
	recent_ = 0;
	uidvalidity_ = 0;
	uidnext_ = 0;
	std::string wire;
	if (!folder_wire_name(folder_, wire)) {
		folder_failed("invalid folder name");
		job_done();
		return;
	}
	selecting_ = true;
	send(Cmd::Select, select_verb_ + " " + quote(wire), "");
}

void ImapSession::start_list(Job &job)
{
	if (!selected_) {
		folder_failed("no folder selected");
		job_done();
		return;
	}
	listing_.clear();
	listing_lines_ = 0;
	if (exists_ == 0) {
		log(false, "(folder is empty: no UID FETCH)");
		emit(EventType::Listing);
		job_done();
		return;
	}
	std::string items = job.flag ? " INTERNALDATE "
		"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]" : "";
	send(Cmd::List, "UID FETCH " + std::to_string(job.first_uid) +
	     ":* (UID RFC822.SIZE" + items + ")", "");
}

void ImapSession::start_fetch(Job &job)
{
	if (selected_) {
		fill_fetch_window(job);
		return;
	}
	for (uint32_t uid : job.uids)
		message_failed(uid, "no folder selected");
	job_done();
}

void ImapSession::fill_fetch_window(Job &job)
{
	while (job.outstanding < fetch_window && job.next < job.uids.size()) {
		uint32_t uid = job.uids[job.next++];
		send(Cmd::Fetch, "UID FETCH " + std::to_string(uid) +
		     " (BODY.PEEK[] INTERNALDATE FLAGS)", "");
		pending_.back().uid = uid;
		job.outstanding++;
	}
	if (job.outstanding == 0 && job.next == job.uids.size())
		job_done();
}

void ImapSession::start_remove(Job &job)
{
	if (!selected_) {
		folder_failed("no folder selected");
		job_done();
		return;
	}
	if (job.uids.empty()) {
		emit(EventType::Removed);
		job_done();
		return;
	}
	std::string set;
	for (size_t i = 0; i < job.uids.size(); ) {
		size_t j = i;
		while (j + 1 < job.uids.size() && job.uids[j + 1] == job.uids[j] + 1)
			j++;
		if (!set.empty())
			set += ',';
		set += std::to_string(job.uids[i]);
		if (j > i)
			set += ":" + std::to_string(job.uids[j]);
		i = j + 1;
		if (set.size() >= remove_set_max || i == job.uids.size()) {
			job.sets.push_back(std::move(set));
			set.clear();
		}
	}
	for (const std::string &uid_set : job.sets) {
		send(Cmd::Store, "UID STORE " + uid_set +
		     " +FLAGS.SILENT (\\Deleted)", "");
		job.outstanding++;
	}
}

void ImapSession::send_expunge(Job &job)
{
	if (!has_cap("UIDPLUS")) {
		send(Cmd::Expunge, "EXPUNGE", "");
		job.outstanding = 1;
		return;
	}
	for (const std::string &uid_set : job.sets) {
		send(Cmd::Expunge, "UID EXPUNGE " + uid_set, "");
		job.outstanding++;
	}
}

void ImapSession::start_idle(Job &job)
{
	if (has_cap("IDLE") && selected_ && !job.flag) {
		idle_plus_ = false;
		send(Cmd::Idle, "IDLE", "");
		return;
	}
	if (!has_cap("IDLE"))
		idle_failed(ErrorKind::Unsupported, "server does not offer IDLE");
	else if (!selected_)
		idle_failed(ErrorKind::Server, "no folder selected");
	else
		idle_ended();   /* ended before it was sent */
	job_done();
}

/* Ends the oldest IDLE not yet ended (every one with all): DONE now when
   the server is idling, else when its "+" comes; one not yet sent will
   not be. */
void ImapSession::end_idle(bool all)
{
	for (Job &job : jobs_) {
		if (job.kind != JobKind::Idle || job.flag)
			continue;
		job.flag = true;
		if (&job == current_job(JobKind::Idle) && idle_plus_)
			send_done();
		if (!all)
			return;
	}
}

/* IdleDone, with the counts as they are now: changes announced after
   idle_done() made no MailboxChanged. */
void ImapSession::idle_ended()
{
	Event &ev = emit(EventType::IdleDone);
	ev.count = exists_;
	ev.recent = recent_;
}

void ImapSession::send_done()
{
	write("DONE\r\n");
	log(true, "DONE");
}

void ImapSession::send_logout()
{
	send(Cmd::Logout, "LOGOUT", "");
	logout_sent_ = true;
	phase_ = Phase::LoggingOut;
	jobs_.clear();
	job_running_ = false;
}

ImapSession::Job *ImapSession::current_job(JobKind kind)
{
	if (!job_running_ || jobs_.empty() || jobs_.front().kind != kind)
		return nullptr;
	return &jobs_.front();
}

/* The outstanding UID FETCH for uid whose body has not started; with any,
   the oldest such. */
ImapSession::Command *ImapSession::find_fetch(uint32_t uid, bool any)
{
	for (Command &cmd : pending_) {
		if (cmd.kind == Cmd::Fetch && !cmd.body_seen &&
		    (any || cmd.uid == uid))
			return &cmd;
	}
	return nullptr;
}

ImapSession::Command *ImapSession::find_command(uint32_t tag)
{
	for (Command &cmd : pending_) {
		if (cmd.tag == tag)
			return &cmd;
	}
	return nullptr;
}

/* ---- output and events ---- */

void ImapSession::send(Cmd kind, std::string_view text, std::string_view log_text)
{
	std::string tag = "a" + std::to_string(next_tag_);
	write(tag);
	write(" ");
	write(text);
	write("\r\n");
	Command &cmd = pending_.emplace_back();
	cmd.tag = next_tag_++;
	cmd.kind = kind;
	cmd.caps_gen = caps_gen_;
	if (kind == Cmd::Capability || kind == Cmd::StartTls ||
	    kind == Cmd::Login || kind == Cmd::Authenticate)
		handshake_wait_ = true;
	log(true, tag + " " + std::string(log_text.empty() ? text : log_text));
}

/* An event about the message with this UID (uid, number and size). */
Event &ImapSession::emit_message(EventType type, uint32_t uid, uint64_t size)
{
	Event &ev = emit(type);
	ev.message.uid = std::to_string(uid);
	ev.message.number = uid;
	ev.message.size = size;
	return ev;
}

void ImapSession::message_failed(uint32_t uid, std::string_view text)
{
	Event &ev = emit_text(EventType::MessageFailed, text);
	ev.message.uid = std::to_string(uid);
	ev.message.number = uid;
}

void ImapSession::folder_failed(std::string_view text)
{
	emit_text(EventType::FolderFailed, text).folder = folder_;
}

void ImapSession::idle_failed(ErrorKind kind, std::string_view text)
{
	emit_text(EventType::IdleFailed, text).error_kind = kind;
}

/* An untagged response changed the folder: news while idling, unless
   idle_done() was called. */
void ImapSession::mailbox_changed(const char *what)
{
	Job *job = current_job(JobKind::Idle);
	if (finished() || job == nullptr || job->flag)
		return;
	Event &ev = emit_text(EventType::MailboxChanged, what);
	ev.count = exists_;
	ev.recent = recent_;
}

/* The session has ended. */
void ImapSession::stopped()
{
	phase_ = Phase::Finished;
}

bool ImapSession::has_cap(std::string_view name) const
{
	for (const std::string &cap : caps_) {
		if (ascii_iequals(cap, name))
			return true;
	}
	return false;
}

} // namespace fetchmail
