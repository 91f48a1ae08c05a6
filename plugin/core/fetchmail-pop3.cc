#include "fetchmail-pop3.hh"

#include "fetchmail-strings.hh"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace fetchmail {

namespace {

const char cr_byte[] = "\r";
constexpr size_t max_capabilities = 128;
constexpr size_t max_capability_length = 1024;
constexpr size_t max_uidl_bytes = 64 * 1024 * 1024;
constexpr size_t max_uid_length = 255;
constexpr size_t max_initial_response_line = 255;

/* A message number: 1 or more. */
bool parse_number(std::string_view s, uint32_t &n_r)
{
	uint32_t n;
	if (!parse_u32(s, n) || n == 0)
		return false;
	n_r = n;
	return true;
}

bool valid_uid(std::string_view uid)
{
	if (uid.empty() || uid.size() > max_uid_length)
		return false;
	for (unsigned char c : uid) {
		if (c < 0x21 || c > 0x7e)
			return false;
	}
	return true;
}

} // namespace

Pop3Session::Pop3Session(SessionConfig config)
	: SessionBase(std::move(config))
{
	inflight_.push_back(Command{Cmd::Greeting, {}, {}, {}, false});
}

/* ---- the driver's side ---- */

size_t Pop3Session::feed(std::string_view in)
{
	if (in.empty() || reader_ == Reader::Stopped)
		return 0;
	const char *start = in.data(), *p = start, *end = start + in.size();
	while (p < end && reader_ != Reader::Stopped) {
		if (inflight_.empty()) {
			fail(ErrorKind::Protocol, "unexpected data from server");
			break;
		}
		p = reader_ == Reader::Body ? feed_body(p, end) : feed_line(p, end);
	}
	return static_cast<size_t>(p - start);
}

void Pop3Session::eof()
{
	if (finished())
		return;
	if (!inflight_.empty() && inflight_.front().kind == Cmd::Quit)
		done("connection closed before the reply to QUIT");
	else
		fail(ErrorKind::Closed, "connection closed by server");
}

void Pop3Session::tls_started()
{
	if (finished() || phase_ != Phase::AwaitTls)
		return;
	tls_done_ = true;
	phase_ = Phase::Negotiating;
	reader_ = Reader::Status;
	send_capa();
}

void Pop3Session::fetch(const std::vector<RemoteMessage> &messages)
{
	if (finished() || quit_queued_)
		return;
	for (const RemoteMessage &msg : messages) {
		std::string line = "RETR " + std::to_string(msg.number);
		enqueue(Command{Cmd::Retr, line, line, msg, false});
	}
}

void Pop3Session::remove(const std::vector<std::string> &uids)
{
	if (finished() || quit_queued_)
		return;
	std::vector<Command> deles;
	for (const std::string &uid : uids) {
		RemoteMessage msg;
		auto it = uid_index_.find(uid);
		if (it != uid_index_.end())
			msg = listing_[it->second];
		else if (!uidl_ok_ && phase_ == Phase::Ready &&
			 parse_number(uid, msg.number))
			msg.uid = uid;
		if (msg.number == 0) {
			RemoteMessage unknown;
			unknown.uid = uid;
			message_failed(unknown, "not in the listing");
			continue;
		}
		std::string line = "DELE " + std::to_string(msg.number);
		deles.push_back(Command{Cmd::Dele, line, line, msg, false});
	}
	if (deles.empty()) {
		emit(EventType::Removed);
		return;
	}
	deles.back().batch_end = true;
	for (Command &cmd : deles)
		enqueue(std::move(cmd));
}

void Pop3Session::quit()
{
	if (finished() || quit_queued_)
		return;
	quit_queued_ = true;
	enqueue(Command{Cmd::Quit, "QUIT", "QUIT", {}, false});
}

/* ---- input ---- */

/* Reads one line into line_r (without CRLF or LF); false when the line is
   not complete yet (it is kept in line_) or too long (Error). */
bool Pop3Session::read_line(const char *&p, const char *end,
			    std::string_view &line_r)
{
	/* one byte more than max_line may be the CR of CRLF */
	size_t limit = config_.max_line < SIZE_MAX ? config_.max_line + 1 :
		SIZE_MAX;
	const char *nl = static_cast<const char *>(memchr(p, '\n', end - p));
	if (nl == nullptr) {
		if (line_.size() + (end - p) > limit)
			fail(ErrorKind::Protocol, "line too long");
		else
			line_.append(p, end);
		p = end;
		return false;
	}
	if (line_.empty()) {
		line_r = std::string_view(p, nl - p);
	} else {
		if (line_.size() + (nl - p) > limit) {
			fail(ErrorKind::Protocol, "line too long");
			p = nl + 1;
			return false;
		}
		line_.append(p, nl);
		line_r = line_;
	}
	p = nl + 1;
	if (!line_r.empty() && line_r.back() == '\r')
		line_r.remove_suffix(1);
	if (line_r.size() > config_.max_line) {
		fail(ErrorKind::Protocol, "line too long");
		return false;
	}
	return true;
}

const char *Pop3Session::feed_line(const char *p, const char *end)
{
	std::string_view line;
	if (!read_line(p, end, line))
		return p;
	if (reader_ == Reader::Lines) {
		if (line == ".")
			end_lines();
		else
			handle_list_line(!line.empty() && line[0] == '.' ?
					 line.substr(1) : line);
	} else {
		handle_status(line);
	}
	line_.clear();
	return p;
}

/* Streams a RETR body: data runs between line starts that begin with a
   dot are handed out as views into the input; the dot of a stuffed line
   and the terminating ".\r\n" are dropped. */
const char *Pop3Session::feed_body(const char *p, const char *end)
{
	const char *run = p;
	while (p < end && reader_ == Reader::Body) {
		switch (body_state_) {
		case BodyState::MidLine: {
			const void *nl = memchr(p, '\n', end - p);
			if (nl == nullptr) {
				p = end;
			} else {
				p = static_cast<const char *>(nl) + 1;
				body_state_ = BodyState::LineStart;
			}
			break;
		}
		case BodyState::LineStart:
			if (*p != '.') {
				body_state_ = BodyState::MidLine;
				break;
			}
			emit_data(run, p - run);
			run = ++p;
			body_state_ = BodyState::Dot;
			break;
		case BodyState::Dot:
			if (*p == '\n') {
				end_body();
				return p + 1;
			}
			if (*p == '\r') {
				run = ++p;
				body_state_ = BodyState::DotCr;
			} else {
				body_state_ = BodyState::MidLine;
			}
			break;
		case BodyState::DotCr:
			if (*p == '\n') {
				end_body();
				return p + 1;
			}
			/* ".\r" that did not end the message: the CR is data */
			emit_data(cr_byte, 1);
			body_state_ = BodyState::MidLine;
			break;
		}
	}
	if (reader_ == Reader::Body)
		emit_data(run, p - run);
	return p;
}

void Pop3Session::emit_data(const char *p, size_t size)
{
	if (size == 0 || reader_ != Reader::Body)
		return;
	/* what fits goes out first, so that the events do not depend on
	   how the input was split */
	uint64_t room = config_.max_message - body_bytes_;
	size_t part = size <= room ? size : static_cast<size_t>(room);
	if (part > 0) {
		body_bytes_ += part;
		emit(EventType::MessageData).data = std::string_view(p, part);
	}
	if (part < size) {
		fail(ErrorKind::Protocol, "message " +
		     std::to_string(inflight_.front().message.number) +
		     " is larger than the maximum message size");
	}
}

void Pop3Session::end_body()
{
	emit(EventType::MessageEnd).message =
		std::move(inflight_.front().message);
	reader_ = Reader::Status;
	complete();
}

void Pop3Session::handle_status(std::string_view line)
{
	Status st = Status::Bad;
	std::string_view text;
	if (ascii_istarts_with(line, "+OK") &&
	    (line.size() == 3 || line[3] == ' ' || line[3] == '\t')) {
		st = Status::Ok;
		text = line.substr(std::min<size_t>(4, line.size()));
	} else if (ascii_istarts_with(line, "-ERR") &&
		   (line.size() == 4 || line[4] == ' ' || line[4] == '\t')) {
		st = Status::Err;
		text = line.substr(std::min<size_t>(5, line.size()));
	} else if (line == "+" || (line.size() >= 2 && line[0] == '+' &&
				   line[1] == ' ')) {
		st = Status::Cont;
		text = line.substr(std::min<size_t>(2, line.size()));
	}
	log(false, line);
	Cmd kind = inflight_.front().kind;
	if (st == Status::Bad || (st == Status::Cont && kind != Cmd::Auth)) {
		fail(ErrorKind::Protocol, "unexpected reply from server: " +
		     std::string(line));
		return;
	}
	switch (kind) {
	case Cmd::Greeting: on_greeting(st, text); break;
	case Cmd::Capa: on_capa(st, text); break;
	case Cmd::Stls: on_stls(st, text); break;
	case Cmd::User: on_user(st, text); break;
	case Cmd::Pass: on_pass(st, text); break;
	case Cmd::Auth: on_auth(st, text); break;
	case Cmd::Uidl: on_uidl(st, text); break;
	case Cmd::List: on_list(st, text); break;
	case Cmd::Retr: on_retr(st, text); break;
	case Cmd::Dele: on_dele(st, text); break;
	case Cmd::Quit: on_quit(st, text); break;
	}
}

void Pop3Session::handle_list_line(std::string_view line)
{
	switch (inflight_.front().kind) {
	case Cmd::Capa: add_capability(line); break;
	case Cmd::Uidl: add_uidl(line); break;
	case Cmd::List: add_list(line); break;
	default: break;
	}
}

void Pop3Session::end_lines()
{
	reader_ = Reader::Status;
	Cmd kind = inflight_.front().kind;
	if (kind == Cmd::Capa) {
		std::string summary = "(capabilities:";
		for (const std::string &cap : caps_)
			summary += " " + cap;
		log(false, summary + ")");
		complete();
		after_capa();
		return;
	}
	log(false, "(" + std::to_string(lines_seen_) +
	    (kind == Cmd::Uidl ? " UIDL" : " LIST") + " lines not logged)");
	complete();
	if (kind == Cmd::Uidl && !pipelining_)
		send(Cmd::List, "LIST", "LIST");
	else if (kind == Cmd::List)
		make_listing();
}

/* ---- replies ---- */

void Pop3Session::on_greeting(Status st, std::string_view text)
{
	if (st != Status::Ok) {
		fail(ErrorKind::Server, "server refused the connection: " +
		     std::string(text));
		return;
	}
	complete();
	send_capa();
}

void Pop3Session::on_capa(Status st, std::string_view)
{
	if (st == Status::Ok) {
		reader_ = Reader::Lines;
		return;
	}
	complete();
	after_capa();
}

void Pop3Session::on_stls(Status st, std::string_view text)
{
	if (st != Status::Ok) {
		fail(ErrorKind::TlsUnavailable, "STLS failed: " +
		     std::string(text));
		return;
	}
	complete();
	phase_ = Phase::AwaitTls;
	reader_ = Reader::Stopped;
	emit(EventType::NeedTls);
}

void Pop3Session::on_user(Status st, std::string_view text)
{
	if (st != Status::Ok) {
		fail_auth(text);
		return;
	}
	complete();
	send(Cmd::Pass, "PASS " + config_.password, "PASS ***");
}

void Pop3Session::on_pass(Status st, std::string_view text)
{
	if (st != Status::Ok) {
		fail_auth(text);
		return;
	}
	complete();
	logged_in();
}

void Pop3Session::on_auth(Status st, std::string_view text)
{
	if (st == Status::Err) {
		fail_auth(text);
		return;
	}
	complete();
	if (st == Status::Ok) {
		logged_in();
		return;
	}
	bool secret;
	std::string reply = sasl_.answer(secret);
	/* only the cancel "*" is logged as sent */
	send(Cmd::Auth, reply, secret || reply != "*" ? "***" : "*");
}

void Pop3Session::on_uidl(Status st, std::string_view)
{
	lines_seen_ = 0;
	if (st == Status::Ok) {
		uidl_ok_ = true;
		reader_ = Reader::Lines;
		return;
	}
	uidl_ok_ = false;
	complete();
	if (!pipelining_)
		send(Cmd::List, "LIST", "LIST");
}

void Pop3Session::on_list(Status st, std::string_view text)
{
	lines_seen_ = 0;
	if (st != Status::Ok) {
		fail(ErrorKind::Server, "LIST failed: " +
		     std::string(text));
		return;
	}
	reader_ = Reader::Lines;
}

void Pop3Session::on_retr(Status st, std::string_view text)
{
	const RemoteMessage &msg = inflight_.front().message;
	if (st != Status::Ok) {
		message_failed(msg, text);
		complete();
		return;
	}
	emit(EventType::MessageBegin).message = msg;
	body_bytes_ = 0;
	body_state_ = BodyState::LineStart;
	reader_ = Reader::Body;
}

void Pop3Session::on_dele(Status st, std::string_view text)
{
	const Command &cmd = inflight_.front();
	if (st == Status::Ok)
		removed_.push_back(cmd.message.uid);
	else
		message_failed(cmd.message, text);
	if (cmd.batch_end)
		emit(EventType::Removed).uids = std::exchange(removed_, {});
	complete();
}

void Pop3Session::on_quit(Status st, std::string_view text)
{
	if (st != Status::Ok) {
		fail(ErrorKind::Server, "QUIT failed, deletions not committed: " +
		     std::string(text));
		return;
	}
	complete();
	done();
}

/* ---- multi-line reply contents ---- */

void Pop3Session::add_capability(std::string_view line)
{
	if (caps_.size() < max_capabilities)
		caps_.emplace_back(line.substr(0, max_capability_length));
}

void Pop3Session::add_uidl(std::string_view line)
{
	std::string_view rest = line;
	uint32_t number;
	std::string_view uid;
	if (!parse_number(next_word(rest), number) ||
	    !valid_uid(uid = next_word(rest))) {
		fail(ErrorKind::Protocol, "malformed UIDL line: " +
		     std::string(line));
		return;
	}
	uidl_bytes_ += uid.size();
	if (++lines_seen_ > config_.max_listing ||
	    uidl_bytes_ > max_uidl_bytes) {
		listing_too_long();
		return;
	}
	uidl_.emplace_back(number, std::string(uid));
}

void Pop3Session::add_list(std::string_view line)
{
	std::string_view rest = line;
	RemoteMessage msg;
	if (!parse_number(next_word(rest), msg.number) ||
	    !parse_u64(next_word(rest), UINT64_MAX, msg.size)) {
		fail(ErrorKind::Protocol, "malformed LIST line: " +
		     std::string(line));
		return;
	}
	if (++lines_seen_ > config_.max_listing) {
		listing_too_long();
		return;
	}
	listing_.push_back(std::move(msg));
}

void Pop3Session::listing_too_long()
{
	fail(ErrorKind::Protocol, "more than " +
	     std::to_string(config_.max_listing) + " messages on the server "
	     "(the most a run lists, fetchmail_max_messages)");
}

/* ---- steps ---- */

void Pop3Session::send_capa()
{
	caps_.clear();
	send(Cmd::Capa, "CAPA", "CAPA");
}

void Pop3Session::after_capa()
{
	if (config_.tls == SessionConfig::Tls::StartTls && !tls_done_) {
		if (!has_cap("STLS"))
			fail(ErrorKind::TlsUnavailable,
			     "server does not offer STLS");
		else
			send(Cmd::Stls, "STLS", "STLS");
		return;
	}
	pipelining_ = has_cap("PIPELINING");
	authenticate();
}

void Pop3Session::authenticate()
{
	if (has_line_breaks(config_.user) || has_line_breaks(config_.password)) {
		fail(ErrorKind::Auth,
		     "user name or password contains CR, LF or NUL");
		return;
	}
	std::string mech = ascii_upper(config_.sasl_mech);
	if (mech.empty() && sasl_offers("PLAIN") && !has_cap("USER"))
		mech = "PLAIN";
	if (mech.empty())
		send(Cmd::User, "USER " + config_.user, "USER " + config_.user);
	else
		send_sasl(mech);
}

void Pop3Session::send_sasl(const std::string &mech)
{
	if (!start_sasl(mech))
		return;
	/* an initial response goes with AUTH when the server announced SASL
	   and the line stays short enough (RFC 5034), else after a "+" */
	std::string cmd = "AUTH " + mech;
	const std::string &first = sasl_.initial_response();
	if (!first.empty() && has_cap("SASL") &&
	    cmd.size() + 1 + first.size() + 2 <= max_initial_response_line) {
		std::string line = cmd + " " + first;
		sasl_.take_initial_response();
		send(Cmd::Auth, std::move(line), cmd + " ***");
	} else {
		send(Cmd::Auth, cmd, cmd);
	}
}

void Pop3Session::fail_auth(std::string_view text)
{
	bool server = text.starts_with("[IN-USE]") || text.starts_with("[SYS/");
	fail(server ? ErrorKind::Server : ErrorKind::Auth,
	     text.empty() ? "authentication failed" : text);
}

void Pop3Session::logged_in()
{
	emit(EventType::LoggedIn);
	phase_ = Phase::Listing;
	send(Cmd::Uidl, "UIDL", "UIDL");
	if (pipelining_)
		send(Cmd::List, "LIST", "LIST");
}

void Pop3Session::make_listing()
{
	std::stable_sort(uidl_.begin(), uidl_.end(),
			 [](const auto &a, const auto &b) {
				 return a.first < b.first;
			 });
	for (size_t i = 0; i < listing_.size(); i++) {
		RemoteMessage &msg = listing_[i];
		auto it = std::lower_bound(uidl_.begin(), uidl_.end(), msg.number,
			[](const auto &a, uint32_t n) { return a.first < n; });
		if (it != uidl_.end() && it->first == msg.number)
			msg.uid = it->second;
		if (!msg.uid.empty())
			uid_index_.emplace(msg.uid, i);
	}
	uidl_.clear();
	uidl_.shrink_to_fit();
	Event &ev = emit(EventType::Listing);
	ev.messages = listing_;
	ev.count = static_cast<uint32_t>(listing_.size());
	phase_ = Phase::Ready;
	pump();
}

/* ---- commands ---- */

/* Sends a command of the negotiation at once (never more than two are
   outstanding there). */
void Pop3Session::send(Cmd kind, std::string line, std::string log_text)
{
	transmit(Command{kind, std::move(line), std::move(log_text), {}, false});
}

/* Writes cmd out and logs it; its reply is awaited from now on. */
void Pop3Session::transmit(Command cmd)
{
	write(cmd.line);
	write("\r\n");
	log(true, cmd.log);
	inflight_bytes_ += cmd.line.size() + 2;
	inflight_.push_back(std::move(cmd));
}

void Pop3Session::enqueue(Command cmd)
{
	queue_.push_back(std::move(cmd));
	pump();
}

/* Sends queued driver commands while the window allows. */
void Pop3Session::pump()
{
	if (phase_ != Phase::Ready)
		return;
	while (!queue_.empty()) {
		size_t bytes = queue_.front().line.size() + 2;
		if (!inflight_.empty() &&
		    (!pipelining_ ||
		     inflight_.size() >= max_pipelined_commands ||
		     inflight_bytes_ + bytes > max_pipelined_bytes))
			break;
		transmit(std::move(queue_.front()));
		queue_.pop_front();
	}
}

/* The reply to the oldest outstanding command is complete. */
void Pop3Session::complete()
{
	inflight_bytes_ -= std::min(inflight_bytes_,
				    inflight_.front().line.size() + 2);
	inflight_.pop_front();
	pump();
}

/* ---- events ---- */

void Pop3Session::message_failed(const RemoteMessage &message,
				 std::string_view text)
{
	Event &ev = emit_text(EventType::MessageFailed, text);
	ev.error_kind = ErrorKind::Server;
	ev.message = message;
}

/* The session is over: nothing more is read, sent or awaited. */
void Pop3Session::stopped()
{
	phase_ = Phase::Finished;
	reader_ = Reader::Stopped;
	queue_.clear();
	inflight_.clear();
	line_.clear();
}

bool Pop3Session::has_cap(std::string_view name) const
{
	for (const std::string &cap : caps_) {
		std::string_view rest = cap;
		if (ascii_iequals(next_word(rest), name))
			return true;
	}
	return false;
}

bool Pop3Session::sasl_offers(std::string_view mech) const
{
	for (const std::string &cap : caps_) {
		std::string_view rest = cap;
		if (!ascii_iequals(next_word(rest), "SASL"))
			continue;
		for (std::string_view w = next_word(rest); !w.empty();
		     w = next_word(rest)) {
			if (ascii_iequals(w, mech))
				return true;
		}
	}
	return false;
}

} // namespace fetchmail
