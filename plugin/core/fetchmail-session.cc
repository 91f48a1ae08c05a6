#include "fetchmail-session.hh"

#include "fetchmail-strings.hh"

#include <utility>

namespace fetchmail {

namespace {

/* error and failure texts may be longer than a log line */
constexpr size_t ERROR_TEXT_MAX = 1024;

} // namespace

SessionBase::SessionBase(SessionConfig config)
	: config_(std::move(config))
{
	redactor_.add_secret(config_.password);
}

std::string SessionBase::take_output()
{
	return std::exchange(out_, std::string());
}

bool SessionBase::next_event(Event &event_r)
{
	if (events_.empty())
		return false;
	event_r = std::move(events_.front());
	events_.pop_front();
	return true;
}

void SessionBase::write(std::string_view bytes)
{
	if (!finished_)
		out_ += bytes;
}

Event &SessionBase::emit(EventType type)
{
	Event &ev = events_.emplace_back();
	ev.type = type;
	return ev;
}

Event &SessionBase::emit_text(EventType type, std::string_view text)
{
	Event &ev = emit(type);
	ev.text = redactor_.server_text(text, ERROR_TEXT_MAX);
	return ev;
}

void SessionBase::log(bool outgoing, std::string_view text)
{
	Event &ev = emit(EventType::Log);
	ev.outgoing = outgoing;
	ev.text = server_text(text);
}

std::string SessionBase::server_text(std::string_view text) const
{
	return redactor_.server_text(text);
}

void SessionBase::fail(ErrorKind kind, std::string_view text)
{
	if (finished_)
		return;
	emit_text(EventType::Error, text).error_kind = kind;
	finish();
}

void SessionBase::done(std::string_view text)
{
	if (finished_)
		return;
	emit_text(EventType::Done, text);
	finish();
}

void SessionBase::finish()
{
	finished_ = true;
	stopped();
}

bool SessionBase::start_sasl(std::string_view mech)
{
	std::string name = ascii_upper(mech);

	if (!sasl_.start(name, config_.user, config_.password, redactor_)) {
		fail(ErrorKind::Auth, "unsupported SASL mechanism " + name);
		return false;
	}
	return true;
}

} // namespace fetchmail
