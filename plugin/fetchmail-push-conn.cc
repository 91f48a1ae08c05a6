/* A push connection: see fetchmail-push-conn.hh.

   One connection attempt at a time: attempt() (from the reconnect timer,
   never from inside a public call) asks for the OAuth2 token if the
   account needs one, then connect() creates the ImapSession and the
   Transport. Bytes from the Transport go into the session; its events
   drive the rest (drive(), on_event()); its output goes back out.

   Handler calls are never made from inside a Transport callback or a
   public call: state notices are queued and made from a zero timeout
   (deferred()), push_changed() from the changed timer, push_token() from
   the reconnect timer. Each is the last thing its ioloop callback does,
   or is followed by a check of alive_, so the handler may destroy the
   PushConn in any of them. A closed connection's Transport and session
   are released from the same zero timeout, outside their callbacks. */

#include "fetchmail-push-conn.hh"

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <ctime>
#include <utility>

namespace fetchmail {

namespace {

int64_t monotonic_ms()
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return static_cast<int64_t>(ioloop_time) * 1000;
	return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

unsigned int clamp_msecs(int64_t msecs)
{
	return static_cast<unsigned int>(
		std::clamp<int64_t>(msecs, 0, UINT_MAX));
}

/* A server that ends every IDLE this soon after its "+", this many times
   in a row, is treated as a dropped connection (with the backoff), not
   answered with IDLE after IDLE as fast as the network goes. */
constexpr int64_t quick_idle_end_ms = 1000;
constexpr unsigned int quick_idle_ends_max = 3;

/* A call of the handler: what it throws is logged and ends nothing (the
   handler may have destroyed the PushConn: no event_ here). */
template <typename Fn>
void handler_call(const char *name, Fn fn)
{
	char what[256];

	if (!fetchmail_catch(fn, what))
		i_error("fetchmail push: %s failed: %s", name, what);
}

} // namespace

const char *push_state_name(PushState state)
{
	switch (state) {
	case PushState::Connecting: return "connecting";
	case PushState::Idling: return "idling";
	case PushState::Lost: return "lost";
	case PushState::Unsupported: return "unsupported";
	case PushState::Failed: return "failed";
	}
	return "unknown";
}

/* One push_token() call's wait for its answer; conn is cleared when the
   answer is no longer wanted (a new attempt, stop(), destruction). */
struct PushConn::TokenWait {
	PushConn *conn;
};

PushConn::PushConn(const PushConnEnv &env, const Account &account,
		   PushConnHandler &handler, const PushConfig &config)
	: env_(env), account_(account), handler_(handler), config_(config),
	  backoff_(config),
	  folder_(account.folders.empty() ? "INBOX" : account.folders[0])
{
	event_ = event_create(env_.event_parent);
	event_set_append_log_prefix(event_, t_strdup_printf(
		"fetchmail(%s/%s): push: ", env_.username.c_str(),
		account_.id.c_str()));
	event_add_str(event_, "account_id", account_.id.c_str());
	event_add_str(event_, "host", account_.host.c_str());
}

PushConn::~PushConn()
{
	*alive_ = false;
	drop_token();
	timeout_remove(&to_reconnect_);
	timeout_remove(&to_renew_);
	timeout_remove(&to_changed_);
	timeout_remove(&to_logout_);
	timeout_remove(&to_defer_);
	transport_.reset();
	session_.reset();
	safe_memset(account_.password.data(), 0, account_.password.size());
	event_unref(&event_);
}

/* ------------------------------------------------------------- callbacks */

/* Runs an ioloop callback's work: nothing throws into Dovecot. An
   exception ends the connection like a failure (unless the handler
   destroyed the PushConn meanwhile). */
template <typename Fn>
void PushConn::callback_body(Fn fn)
{
	std::shared_ptr<bool> alive = alive_;
	char what[256];

	if (fetchmail_catch(fn, what))
		return;
	if (!*alive) {
		i_error("fetchmail push: internal error: %s", what);
		return;
	}
	e_error(event_, "internal error: %s", what);
	try {
		lost(std::string("internal error: ") + what);
	} catch (...) {
		i_error("fetchmail push: internal error");
	}
}

void PushConn::reconnect_timeout(PushConn *conn)
{
	timeout_remove(&conn->to_reconnect_);
	conn->callback_body([conn] { conn->attempt(); });
}

void PushConn::renew_timeout(PushConn *conn)
{
	timeout_remove(&conn->to_renew_);
	conn->callback_body([conn] { conn->renew_idle(); });
}

void PushConn::changed_timeout(PushConn *conn)
{
	timeout_remove(&conn->to_changed_);
	if (conn->stopping_)
		return;
	/* the handler may destroy conn: nothing follows */
	handler_call("push_changed()",
		     [conn] { conn->handler_.push_changed(*conn); });
}

void PushConn::logout_timeout(PushConn *conn)
{
	timeout_remove(&conn->to_logout_);
	conn->callback_body([conn] {
		e_debug(conn->event_, "no answer to LOGOUT: closing");
		conn->closed();
	});
}

void PushConn::defer_timeout(PushConn *conn)
{
	timeout_remove(&conn->to_defer_);
	conn->callback_body([conn] { conn->deferred(); });
}

/* --------------------------------------------------------------- public */

void PushConn::start()
{
	if (stopping_)
		return;
	if (started_ && (state_ == PushState::Connecting ||
			 state_ == PushState::Idling))
		return;
	started_ = true;
	if (ioloop_ == nullptr)
		ioloop_ = current_ioloop;
	state_ = PushState::Connecting;
	timeout_remove(&to_reconnect_);
	to_reconnect_ = fetchmail_timeout_add_short_to(ioloop_, 0,
		reconnect_timeout, this);
}

void PushConn::stop(std::function<void()> stopped)
{
	if (stopping_)
		return;
	stopping_ = true;
	stopped_ = std::move(stopped);
	stop_pending_ = true;
	if (ioloop_ == nullptr)
		ioloop_ = current_ioloop;
	notices_.clear();
	drop_token();
	timeout_remove(&to_reconnect_);
	timeout_remove(&to_renew_);
	timeout_remove(&to_changed_);
	/* a LOGOUT under way (give_up()) ends it too */
	if (!closing_)
		log_out();
}

/* ------------------------------------------------------------ connecting */

void PushConn::attempt()
{
	close_connection();
	transport_.reset();
	session_.reset();
	drop_token();
	state_ = PushState::Connecting;
	if (account_.auth != AuthMethod::OAuth2) {
		connect(account_.password, "");
		return;
	}
	auto wait = std::make_shared<TokenWait>(TokenWait{ this });
	token_wait_ = wait;
	e_debug(event_, "asking for the access token%s",
		auth_retried_ ? " (forced)" : "");
	handler_.push_token(*this, auth_retried_, [wait](const PushToken &t) {
		PushConn *conn = std::exchange(wait->conn, nullptr);
		if (conn == nullptr)
			return;
		try {
			conn->token_answer(t);
		} catch (...) {
			i_error("fetchmail push: internal error with the token");
		}
	});
}

/* Forget the token asked for or answered: a done() still to come is
   ignored. */
void PushConn::drop_token()
{
	if (token_wait_ != nullptr) {
		token_wait_->conn = nullptr;
		token_wait_.reset();
	}
	if (token_ != nullptr) {
		safe_memset(token_->token.data(), 0, token_->token.size());
		token_.reset();
	}
}

/* The token arrived (maybe inside push_token()): used from the ioloop. */
void PushConn::token_answer(const PushToken &token)
{
	token_wait_.reset();
	token_ = std::make_unique<PushToken>(token);
	defer();
}

void PushConn::connect(const std::string &secret, const std::string &mechanism)
{
	SessionConfig sc;
	TransportSettings tset;

	sc.tls = session_tls_of(account_.tls);
	sc.user = account_.remote_user;
	sc.password = secret;
	sc.sasl_mech = mechanism;
	session_ = std::make_unique<ImapSession>(std::move(sc));

	tset = transport_settings_of(account_);
	tset.timeout_msecs = env_.timeout_msecs;
	tset.ssl = env_.ssl;
	tset.dns_client_socket = env_.dns_client_socket;
	tset.ca_file = env_.ca_file;
	tset.low_memory = true;
	transport_ = std::make_unique<Transport>(
		static_cast<TransportHandler &>(*this), tset);
	open_ = true;
	logged_in_ = false;
	renewing_ = false;
	quick_idle_ends_ = 0;
	e_debug(event_, "connecting to %s:%u", account_.host.c_str(),
		(unsigned int)tset.port);
	transport_->connect();
}

/* ---------------------------------------------------------- the session */

void PushConn::transport_connected()
{
	e_debug(event_, "connected to %s", transport_->info().address.c_str());
}

size_t PushConn::transport_input(std::string_view data)
{
	if (!open_)
		return data.size();
	size_t consumed = session_->feed(data);
	drive();
	return consumed;
}

void PushConn::transport_tls_started()
{
	if (!open_)
		return;
	session_->tls_started();
	drive();
}

void PushConn::transport_failed(TransportError kind, const std::string &error)
{
	if (!open_)
		return;
	if (closing_) {
		closed();
		return;
	}
	/* a certificate that does not verify is the account's problem, not
	   the network's: connecting again will not help */
	if (kind == TransportError::Tls && account_.tls_verify &&
	    !transport_->info().tls_verify_error.empty()) {
		give_up(PushState::Failed, error);
		return;
	}
	lost(error);
}

/* Handles the session's events, then sends its output. */
void PushConn::drive()
{
	Event ev;

	while (open_ && session_->next_event(ev))
		on_event(ev);
	if (!open_)
		return;
	std::string out = session_->take_output();
	if (!out.empty())
		transport_->send(out);
}

void PushConn::on_event(const Event &ev)
{
	if (closing_ && ev.type != EventType::Log) {
		/* logging out: only the end matters */
		if (ev.type == EventType::Done || ev.type == EventType::Error)
			closed();
		return;
	}
	switch (ev.type) {
	case EventType::Log:
		/* the run log's lines, already redacted: kept nowhere */
		e_debug(event_, "%s %s", ev.outgoing ? "C:" : "S:",
			ev.text.c_str());
		break;
	case EventType::NeedTls:
		transport_->start_tls();
		break;
	case EventType::LoggedIn:
		logged_in_ = true;
		session_->select_folder(folder_, true);
		break;
	case EventType::FolderSelected:
		if (folder_state_.selected(ev.uidvalidity, ev.uidnext, ev.count,
					   ev.recent)) {
			e_debug(event_, "new mail since the last connection");
			news();
		}
		start_idle();
		break;
	case EventType::FolderFailed:
		give_up(PushState::Failed, "folder " + folder_ + ": " + ev.text);
		break;
	case EventType::Idling:
		on_idling();
		break;
	case EventType::MailboxChanged:
		if (folder_state_.changed(ev.count, ev.recent))
			news();
		break;
	case EventType::IdleDone:
		if (folder_state_.changed(ev.count, ev.recent))
			news();
		on_idle_done();
		break;
	case EventType::IdleFailed:
		if (ev.error_kind == ErrorKind::Unsupported)
			give_up(PushState::Unsupported, ev.text);
		else
			lost(ev.text);
		break;
	case EventType::Done:
		/* only log_out() quits */
		lost("the session ended");
		break;
	case EventType::Error:
		on_error(ev);
		break;
	default:
		/* a push connection lists and fetches nothing */
		break;
	}
}

void PushConn::on_error(const Event &ev)
{
	switch (ev.error_kind) {
	case ErrorKind::Auth:
		if (account_.auth == AuthMethod::OAuth2 && !auth_retried_) {
			/* revoked or expired early: once more with a token
			   refreshed for sure */
			auth_retried_ = true;
			e_info(event_, "the server refused the access token (%s): "
			       "logging in again with a new one", ev.text.c_str());
			close_connection();
			timeout_remove(&to_reconnect_);
			to_reconnect_ = fetchmail_timeout_add_short_to(ioloop_, 0,
				reconnect_timeout, this);
			return;
		}
		give_up(PushState::Failed, "login failed: " + ev.text);
		return;
	case ErrorKind::TlsUnavailable:
		give_up(PushState::Failed, ev.text);
		return;
	default:
		lost(ev.text);
		return;
	}
}

/* The IDLE with the running renewal timer (start_idle()) is on. */
void PushConn::on_idling()
{
	idle_since_ = monotonic_ms();
	transport_->set_timeout(idle_timeout_msecs());
	if (state_ == PushState::Idling) {
		e_debug(event_, "idling again");
		return;
	}
	state_ = PushState::Idling;
	auth_retried_ = false;
	backoff_.up(idle_since_);
	e_info(event_, "idling in %s", folder_.c_str());
	notify(PushState::Idling, "");
}

void PushConn::on_idle_done()
{
	if (std::exchange(renewing_, false) || closing_)
		return;
	/* the server ended the IDLE by itself: again, unless it always does
	   so at once */
	if (monotonic_ms() - idle_since_ < quick_idle_end_ms) {
		if (++quick_idle_ends_ >= quick_idle_ends_max) {
			lost("the server ends every IDLE at once");
			return;
		}
	} else {
		quick_idle_ends_ = 0;
	}
	e_debug(event_, "the server ended the IDLE: idling again");
	start_idle();
}

/* IDLE now (or once the command before it is done), renewed at
   idle_renew_at(now). */
void PushConn::start_idle()
{
	int64_t now = monotonic_ms();

	session_->idle();
	timeout_remove(&to_renew_);
	to_renew_ = fetchmail_timeout_add_short_to(ioloop_,
		clamp_msecs(idle_renew_at(now, config_) - now),
		renew_timeout, this);
}

/* RFC 2177: DONE and IDLE again before the server's inactivity timer
   logs us out. The server must answer DONE within the usual timeout. */
void PushConn::renew_idle()
{
	if (!open_ || !logged_in_ || closing_)
		return;
	e_debug(event_, "renewing the IDLE");
	renewing_ = true;
	transport_->set_timeout(env_.timeout_msecs);
	session_->idle_done();
	start_idle();
	drive();
}

unsigned int PushConn::idle_timeout_msecs() const
{
	if (env_.timeout_msecs == 0)
		return 0;
	return clamp_msecs(config_.idle_renew_ms + env_.timeout_msecs);
}

/* New mail: one push_changed() for all of it within changed_delay_ms. */
void PushConn::news()
{
	if (to_changed_ != nullptr || stopping_)
		return;
	to_changed_ = fetchmail_timeout_add_short_to(ioloop_,
		clamp_msecs(config_.changed_delay_ms), changed_timeout, this);
}

/* --------------------------------------------------------------- ending */

/* Failed or dropped: Lost, and connect again after the backoff. */
void PushConn::lost(const std::string &error)
{
	if (stopping_) {
		closed();
		return;
	}
	close_connection();
	int64_t delay = backoff_.failed(monotonic_ms(), [](uint32_t limit) {
		return static_cast<uint32_t>(i_rand_limit(limit));
	});
	state_ = PushState::Lost;
	e_warning(event_, "%s (connecting again in %" PRId64 " ms)",
		  error.c_str(), delay);
	timeout_remove(&to_reconnect_);
	to_reconnect_ = fetchmail_timeout_add_short_to(ioloop_,
		clamp_msecs(delay), reconnect_timeout, this);
	notify(PushState::Lost, error);
}

/* Unsupported or Failed: no reconnect; a session that is logged in
   logs out. */
void PushConn::give_up(PushState state, const std::string &detail)
{
	if (stopping_) {
		closed();
		return;
	}
	log_out();
	timeout_remove(&to_reconnect_);
	state_ = state;
	if (state == PushState::Unsupported)
		e_info(event_, "%s: not pushing", detail.c_str());
	else
		e_warning(event_, "%s: not connecting again", detail.c_str());
	notify(state, detail);
}

/* Ends a session that is logged in politely: DONE (when idling), then
   LOGOUT; closed() once the server has answered or closed the connection,
   or after stop_wait_ms. Anything else closes at once. */
void PushConn::log_out()
{
	if (!open_ || !logged_in_) {
		closed();
		return;
	}
	e_debug(event_, "logging out");
	closing_ = true;
	timeout_remove(&to_renew_);
	unsigned int wait = clamp_msecs(config_.stop_wait_ms);
	transport_->set_timeout(wait);
	timeout_remove(&to_logout_);
	to_logout_ = fetchmail_timeout_add_short_to(ioloop_, wait,
		logout_timeout, this);
	session_->quit();
	drive();
}

/* The connection is over (or was never open): close it, and finish a
   stop(). */
void PushConn::closed()
{
	close_connection();
	if (stopping_)
		defer();   /* the stopped callback */
}

/* Closes the connection now; the objects go from the ioloop. */
void PushConn::close_connection()
{
	timeout_remove(&to_logout_);
	closing_ = false;
	if (!open_)
		return;
	open_ = false;
	logged_in_ = false;
	renewing_ = false;
	timeout_remove(&to_renew_);
	transport_->close();
	defer();
}

void PushConn::notify(PushState state, const std::string &detail)
{
	if (stopping_)
		return;
	notices_.push_back(Notice{ state, detail });
	defer();
}

void PushConn::defer()
{
	if (to_defer_ == nullptr) {
		to_defer_ = fetchmail_timeout_add_short_to(ioloop_, 0,
			defer_timeout, this);
	}
}

/* From the ioloop: release a closed connection, use an arrived token,
   make the handler calls. */
void PushConn::deferred()
{
	if (!open_) {
		transport_.reset();
		session_.reset();
	}
	if (stopping_) {
		if (!open_ && std::exchange(stop_pending_, false)) {
			std::function<void()> stopped = std::move(stopped_);
			stopped_ = nullptr;
			/* may destroy this: nothing follows */
			if (stopped)
				stopped();
		}
		return;
	}
	if (token_ != nullptr) {
		std::unique_ptr<PushToken> token = std::move(token_);
		if (token->ok) {
			connect(token->token, token->mechanism);
			safe_memset(token->token.data(), 0, token->token.size());
		} else if (token->permanent) {
			give_up(PushState::Failed, "OAuth2: " + token->error);
		} else {
			lost("OAuth2: " + token->error);
		}
	}
	std::shared_ptr<bool> alive = alive_;
	while (!notices_.empty() && !stopping_) {
		Notice notice = std::move(notices_.front());
		notices_.erase(notices_.begin());
		handler_call("push_state()", [&] {
			handler_.push_state(*this, notice.state, notice.detail);
		});
		if (!*alive)
			return;
	}
}

} // namespace fetchmail
