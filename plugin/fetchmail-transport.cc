/* The connection to one remote server: see fetchmail-transport.hh.

   One Impl per Transport. It lives in the current ioloop and runs through
   these states:

     Idle -> Connecting -> (Handshake) -> Connected -> (Handshake) ->
     Connected ... -> Closed

   Everything is attached to the ioloop that is current when connect() is
   called, also when the handler calls in while another ioloop is current
   (the driver makes its storage ioloop current around storage calls).

   Handler callbacks are made only from ioloop callbacks (never from inside
   connect(), send(), start_tls() or resume()): what arises there is
   deferred through a zero timeout. The handler may delete the Transport in
   any callback; a Guard on the stack notices that, and the code returns
   without touching the Impl again.

   TLS session resumption: tls_wrap() offers the session kept under the
   connection's key (fetchmail-tls-cache), tls_check() tells a resumed
   handshake from a full one and checks each as it must be checked, and
   tls_keep_session() keeps the connection's session once it is resumable:
   after the handshake (TLS 1.2), after the first read that follows it
   (TLS 1.3 tickets come after the handshake), and at the close (the newest
   ticket). */

#include "fetchmail-transport.hh"
#include "fetchmail-dns.hh"
#include "fetchmail-ostream-compat.hh"
#include "fetchmail-ssl-compat.hh"
#include "fetchmail-tls-cache.hh"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace fetchmail {

namespace {

/* Lines are bounded by the protocol sessions (64 kB); message bodies are
   consumed as they arrive. A full buffer pauses reading until resume(). */
constexpr size_t input_max_buffer = 256 * 1024;
/* TransportSettings::low_memory: the input buffer's bound, the socket
   output's bound during a TLS handshake (the buffer it allocates then is
   kept), the BIO pair's buffers */
constexpr size_t low_memory_buffer = 2048;
constexpr size_t low_memory_bio_size = 4096;
/* The most read in one ioloop pass: a server that sends faster than the
   handler takes it (a large fetch saved to slow storage) must not keep the
   ioloop from everything else in the process (other connections,
   timeouts, the fetch service's "stop"). */
constexpr size_t read_pass_max = 64 * 1024;

enum class State { Idle, Connecting, Handshake, Connected, Closed };

std::string ip_port(const struct ip_addr &ip, in_port_t port)
{
	std::string addr = net_ip2addr(&ip);
	if (IPADDR_IS_V6(&ip))
		addr = "[" + addr + "]";
	return addr + ":" + std::to_string(port);
}

std::string errno_text(int err)
{
	return strerror(err);
}

/* Dovecot's io_add() / timeout_add() macros are bypassed: in C++ they lose
   their type checks anyway, and the callbacks here take void *. */
struct io *add_io(struct ioloop *ioloop, int fd, enum io_condition cond,
		  io_callback_t *cb, void *context)
{
	return (io_add_to)(ioloop, fd, cond, __FILE__, __LINE__, cb, context);
}

struct io *add_io_istream(struct ioloop *ioloop, struct istream *input,
			  io_callback_t *cb, void *context)
{
	return (io_add_istream_to)(ioloop, input, __FILE__, __LINE__, cb,
				   context);
}

struct timeout *add_timeout(struct ioloop *ioloop, unsigned int msecs,
			    timeout_callback_t *cb, void *context)
{
	return (timeout_add_to)(ioloop, msecs, __FILE__, __LINE__, cb, context);
}

} // namespace

struct Transport::Impl {
	Transport &transport;
	TransportHandler &handler;
	TransportSettings set;
	std::string peer;              /* "host:port" for error texts */

	State state = State::Idle;
	struct ioloop *ioloop;         /* current at connect() */
	DnsRequest *dns = nullptr;
	std::vector<struct ip_addr> ips;
	size_t next_ip = 0;
	std::string connect_errors;
	TransportError connect_error_kind = TransportError::Connect;

	int fd = -1;
	struct io *io = nullptr;
	struct timeout *to = nullptr;       /* connect, handshake, inactivity */
	struct timeout *to_defer = nullptr; /* deferred work, see on_defer() */
	struct istream *input = nullptr;
	struct ostream *output = nullptr;
	struct ssl_iostream *ssl_io = nullptr;

	bool starttls = false;     /* the handshake in progress is STARTTLS */
	/* TLS session resumption (fetchmail-tls-cache) */
	std::string session_key;   /* set by tls_wrap() */
	bool session_offered = false;
	bool offered_verified = false;   /* what the offered session had */
	std::string offered_error;
	time_t offered_authenticated = 0;
	bool tls_accepted = false; /* the handshake passed tls_check() */
	bool session_pending = false; /* none kept from this connection yet */
	bool in_input = false;     /* inside handler.transport_input() */
	bool tls_requested = false;/* start_tls() while in_input */
	bool paused = false;       /* not reading: input buffer full, or
				      this pass read read_pass_max */
	bool defer_tls = false;
	bool defer_resume = false;
	bool defer_fail = false;
	TransportError fail_kind = TransportError::Io;
	std::string fail_error;

	/* Becomes false when this Impl is destroyed (see Guard). */
	std::shared_ptr<bool> alive = std::make_shared<bool>(true);
	class Guard;

	/* The C callbacks (context: the Impl). */
	template <typename Fn> static void callback_body(Impl *impl, Fn fn);
	/* an io or timeout callback calling one member */
	template <void (Impl::*member)()> static void event_cb(void *context);
	static int flush_cb(void *context);
	static int handshake_cb(const char **error_r, void *context);

	Impl(Transport &t, TransportHandler &h, const TransportSettings &s);
	~Impl();

	/* connect() */
	void resolved(const std::string &error,
		      const std::vector<struct ip_addr> &found);
	void connect_next();
	void connect_failed(TransportError kind, const std::string &error);
	void connected();
	/* TLS */
	bool tls_wrap(std::string &error_r);
	void tls_offer_session();
	void tls_keep_session();
	void tls_begin();
	void tls_upgrade();
	void tls_start(bool upgrade);
	void tls_continue();
	void tls_finished();
	int tls_check(const char **error_r);
	void tls_fill_info();
	std::string tls_error(const char *what) const;
	/* reading and writing */
	void on_input();
	void read_loop(bool offer_first);
	bool offer();
	void read_failed();
	void pause_input();
	void resume_input();
	void send(std::string_view data);
	int on_flush();
	void on_timeout();
	void timeout_start();
	/* failing and closing */
	void fail(TransportError kind, const std::string &error);
	void fail_later(TransportError kind, const std::string &error);
	void defer();
	void on_defer();
	void close_connection();
	void close();
};

/* Notices the destruction of an Impl while a handler callback runs. */
class Transport::Impl::Guard {
public:
	explicit Guard(const Impl *impl) : alive_(impl->alive) {}
	bool destroyed() const { return !*alive_; }

private:
	std::shared_ptr<bool> alive_;
};

/* The C callbacks. Nothing may throw into Dovecot: an exception ends the
   connection with an Io error (unless the Transport is already gone). */
template <typename Fn>
void Transport::Impl::callback_body(Impl *impl, Fn fn)
{
	Guard guard(impl);
	char what[256];

	if (fetchmail_catch(fn, what))
		return;
	if (guard.destroyed() || impl->state == State::Closed) {
		i_error("fetchmail transport: internal error: %s", what);
		return;
	}
	try {
		impl->fail(TransportError::Io,
			   std::string("internal error: ") + what);
	} catch (...) {
		i_error("fetchmail transport: internal error: %s", what);
	}
}

template <void (Transport::Impl::*member)()>
void Transport::Impl::event_cb(void *context)
{
	auto *impl = static_cast<Impl *>(context);
	callback_body(impl, [impl] { (impl->*member)(); });
}

int Transport::Impl::flush_cb(void *context)
{
	auto *impl = static_cast<Impl *>(context);
	try {
		return impl->on_flush();
	} catch (...) {
		return -1;
	}
}

int Transport::Impl::handshake_cb(const char **error_r, void *context)
{
	auto *impl = static_cast<Impl *>(context);
	try {
		return impl->tls_check(error_r);
	} catch (...) {
		*error_r = "internal error in certificate check";
		return -1;
	}
}

Transport::Impl::Impl(Transport &t, TransportHandler &h,
		      const TransportSettings &s)
	: transport(t), handler(h), set(s), ioloop(current_ioloop)
{
	if (set.host.find(':') != std::string::npos)
		peer = "[" + set.host + "]:" + std::to_string(set.port);
	else
		peer = set.host + ":" + std::to_string(set.port);
}

Transport::Impl::~Impl()
{
	close();
	*alive = false;
}

/* ---------------------------------------------------------------- connect */

/* The host name's addresses are known (dns_resolve(); IP literals too). */
void Transport::Impl::resolved(const std::string &error,
			       const std::vector<struct ip_addr> &found)
{
	dns = nullptr;
	if (!error.empty()) {
		state = State::Closed;
		fail(TransportError::Resolve, error);
		return;
	}
	ips = found;
	connect_next();
}

/* Starts a non-blocking connect to the next address; addresses that fail
   at once are skipped. When none is left, the failure (all attempts named)
   is reported through the deferred path: this also runs inside connect(). */
void Transport::Impl::connect_next()
{
	while (next_ip < ips.size()) {
		const struct ip_addr &ip = ips[next_ip++];
		fd = net_connect_ip(&ip, set.port, nullptr);
		int err = errno;
		if (fd != -1) {
			transport.info_.address = ip_port(ip, set.port);
			io = add_io(ioloop, fd, IO_WRITE,
				    event_cb<&Impl::connected>, this);
			timeout_start();
			return;
		}
		connect_failed(TransportError::Connect, errno_text(err));
	}
	state = State::Closed;
	fail_later(connect_error_kind, connect_errors);
}

void Transport::Impl::connect_failed(TransportError kind,
				     const std::string &error)
{
	const struct ip_addr &ip = ips[next_ip - 1];
	std::string what = ip_port(ip, set.port);

	if (what != peer)
		what = peer + " (" + what + ")";
	if (!connect_errors.empty())
		connect_errors += "; ";
	connect_errors += "connect(" + what + ") " +
		(kind == TransportError::Timeout ? "" : "failed: ") + error;
	connect_error_kind = kind;
}

/* The socket became writable: connected, or the connect failed. */
void Transport::Impl::connected()
{
	int err = net_geterror(fd);

	io_remove(&io);
	timeout_remove(&to);
	if (err != 0) {
		net_disconnect(fd);
		fd = -1;
		connect_failed(TransportError::Connect, err < 0 ?
			       "getsockopt(SO_ERROR) failed" : errno_text(err));
		connect_next();
		return;
	}

	input = i_stream_create_fd(fd, set.low_memory ? low_memory_buffer :
				   input_max_buffer);
	output = o_stream_create_fd(fd, SIZE_MAX);
	ostream_compat_no_cork(output, fd);
	i_stream_switch_ioloop_to(input, ioloop);
	o_stream_switch_ioloop_to(output, ioloop);
	i_stream_set_name(input, peer.c_str());
	o_stream_set_name(output, peer.c_str());
	o_stream_set_no_error_handling(output, TRUE);
	(o_stream_set_flush_callback)(output, flush_cb, this);

	if (set.implicit_tls) {
		tls_begin();
		return;
	}
	state = State::Connected;
	io = add_io_istream(ioloop, input, event_cb<&Impl::on_input>, this);
	timeout_start();
	handler.transport_connected();
}

/* -------------------------------------------------------------------- TLS */

/* Wraps input/output in TLS. Verification of chain and name happens in
   tls_check(); invalid certificates are let through OpenSSL
   (allow_invalid_cert) so that the reason and the certificate subject can
   be reported, also with verify off.

   The SSL streams take over the plain streams' references. A failing
   io_stream_create_ssl_client() may or may not have dropped them already
   (openssl_iostream_free()), so an extra reference is held across the
   call and kept on failure: at worst a stream leaks, never a double free. */
bool Transport::Impl::tls_wrap(std::string &error_r)
{
	struct istream *plain_input = input;
	struct ostream *plain_output = output;
	bool ok = false;

	i_stream_ref(plain_input);
	o_stream_ref(plain_output);
	if (set.low_memory)
		o_stream_set_max_buffer_size(plain_output, low_memory_buffer);
	T_BEGIN {
		struct ssl_iostream_settings ssl_set;
		struct ssl_iostream_context *ctx;
		const char *error;

		i_zero(&ssl_set);
		/* without a user (tools), ssl_options' default: tickets on */
		ssl_set.tickets = TRUE;
		if (set.user != nullptr)
			mail_user_init_ssl_client_settings(set.user, &ssl_set);
		else if (set.ssl != nullptr) {
			master_service_ssl_client_settings_to_iostream_set(
				set.ssl, pool_datastack_create(), &ssl_set);
		}
		if (!set.ca_file.empty())
			ssl_set.ca_file = t_strdup(set.ca_file.c_str());
		ssl_set.verify_remote_cert = TRUE;
		ssl_set.allow_invalid_cert = TRUE;

		if (ssl_iostream_client_context_cache_get(&ssl_set, &ctx,
							  &error) < 0) {
			error_r = std::string("ssl_iostream_client_context_cache_get() failed: ") + error;
		} else if (io_stream_create_ssl_client(ctx, set.host.c_str(),
						       &ssl_set, &input,
						       &output, &ssl_io,
						       &error) < 0) {
			error_r = std::string("io_stream_create_ssl_client() failed: ") + error;
			ssl_iostream_context_unref(&ctx);
		} else {
			ssl_iostream_context_unref(&ctx);
			ssl_iostream_set_handshake_callback(ssl_io,
							    handshake_cb, this);
			session_key = tls_session_key(set.host, set.port,
						      set.verify, ssl_set);
			ok = true;
		}
	} T_END;
	if (ok) {
		i_stream_unref(&plain_input);
		o_stream_unref(&plain_output);
		i_stream_switch_ioloop_to(input, ioloop);
		o_stream_switch_ioloop_to(output, ioloop);
		if (set.low_memory &&
		    !ssl_compat_low_memory(ssl_io, low_memory_bio_size)) {
			error_r = "making the TLS buffers smaller failed";
			return false;
		}
		tls_offer_session();
	}
	return ok;
}

/* Offers the session kept under this connection's key, if any, and notes
   what its connection's checks found (tls_check() needs it when the server
   resumes it; the cache entry may be replaced meanwhile). */
void Transport::Impl::tls_offer_session()
{
	const TlsCachedSession *kept = tls_session_lookup(session_key);

	session_offered = false;
	if (kept == nullptr || !ssl_compat_offer_session(ssl_io, *kept->session))
		return;
	session_offered = true;
	offered_verified = kept->verified;
	offered_error = kept->verify_error;
	offered_authenticated = kept->authenticated;
}

/* Keeps the connection's session under its key once the server has made
   it resumable, with the outcome of this connection's checks. A session
   that comes from a resumed handshake keeps the time of the full handshake
   behind it (the cache's age bound counts from there). Losing a session
   costs only a full handshake: nothing here fails the connection. */
void Transport::Impl::tls_keep_session()
{
	if (!tls_accepted || ssl_io == nullptr)
		return;
	try {
		SslSessionPtr session = ssl_compat_get_session(ssl_io);
		if (session == nullptr)
			return;
		const TransportInfo &info = transport.info_;
		TlsCachedSession kept;
		kept.session = std::move(session);
		kept.verified = info.tls_verified;
		kept.verify_error = info.tls_verify_error;
		kept.authenticated = info.tls_resumed ? offered_authenticated :
			time(nullptr);
		tls_session_store(session_key, std::move(kept));
		session_pending = false;
	} catch (const std::exception &e) {
		i_error("fetchmail transport: TLS session not kept: %s", e.what());
	} catch (...) {
		i_error("fetchmail transport: TLS session not kept");
	}
}

/* Implicit TLS: right after the TCP connect. */
void Transport::Impl::tls_begin()
{
	tls_start(false);
}

/* STARTTLS: the server accepted STLS/STARTTLS and its reply is consumed. */
void Transport::Impl::tls_upgrade()
{
	if (state != State::Connected || ssl_io != nullptr) {
		fail(TransportError::Tls, "start_tls(" + peer + ") failed: " +
		     (ssl_io != nullptr ? "TLS is already on" : "not connected"));
		return;
	}
	if (i_stream_get_data_size(input) > 0) {
		fail(TransportError::Tls, "TLS upgrade with " + peer +
		     " failed: server sent data after the STARTTLS reply");
		return;
	}
	io_remove(&io);
	tls_start(true);
}

/* Wraps the connection in TLS and starts the handshake. */
void Transport::Impl::tls_start(bool upgrade)
{
	std::string error;

	starttls = upgrade;
	if (!tls_wrap(error)) {
		fail(TransportError::Tls, tls_error(error.c_str()));
		return;
	}
	state = State::Handshake;
	io = add_io_istream(ioloop, input, event_cb<&Impl::on_input>, this);
	timeout_start();
	tls_continue();
}

/* Drives the handshake; it also runs when data arrives (on_input()). */
void Transport::Impl::tls_continue()
{
	int ret = ssl_iostream_handshake(ssl_io);

	if (ret < 0) {
		const char *error = ssl_iostream_get_last_error(ssl_io);
		if (error == nullptr)
			error = i_stream_get_error(input);
		/* whatever failed, the next handshake is a full one */
		if (session_offered)
			tls_session_forget(session_key);
		fail(TransportError::Tls, tls_error(error));
		return;
	}
	if (ret > 0)
		tls_finished();
}

/* The handshake callback. After a full handshake the certificate chain is
   already checked for issuer and validity; check it and the host name
   again as a whole and record the outcome.

   A resumed handshake sends no certificate: ssl-iostream's certificate
   callback did not run, and ssl_iostream_check_cert_validity() would say
   "SSL certificate not received". Its checks are then the session's own:
   it was kept under this connection's key (host name as given, port,
   verify setting, TLS client settings) by a connection whose checks found
   it verified, and the chain result and certificate it kept still pass
   (ssl_compat_check_resumed()). Nothing less counts as verified.

   Fails the handshake only when verify is on; then the key's session is
   dropped, so that the next attempt is a full handshake. */
int Transport::Impl::tls_check(const char **error_r)
{
	const char *error;
	TransportInfo &info = transport.info_;

	tls_fill_info();
	info.tls_resumed = session_offered && ssl_compat_session_resumed(ssl_io);
	if (info.tls_resumed) {
		std::string reason;
		bool good = ssl_compat_check_resumed(ssl_io, set.host.c_str(),
						     reason);
		info.tls_verified = offered_verified && good;
		info.tls_verify_error = info.tls_verified ? "" :
			!good ? reason : offered_error;
	} else {
		info.tls_verified = ssl_iostream_check_cert_validity(
			ssl_io, set.host.c_str(), &error) == 0;
		info.tls_verify_error = info.tls_verified ? "" : error;
	}
	if (info.tls_verified || !set.verify) {
		tls_accepted = true;
		return 0;
	}
	tls_session_forget(session_key);
	*error_r = t_strconcat("certificate verify failed: ",
			       info.tls_verify_error.c_str(), nullptr);
	return -1;
}

void Transport::Impl::tls_fill_info()
{
	transport.info_.tls_subject = ssl_compat_peer_subject(ssl_io);
}

void Transport::Impl::tls_finished()
{
	TransportInfo &info = transport.info_;
	unsigned int bits;
	const char *protocol = ssl_iostream_get_protocol_name(ssl_io);
	const char *cipher = ssl_iostream_get_cipher(ssl_io, &bits);

	info.tls = true;
	info.tls_cipher = std::string(protocol != nullptr ? protocol : "TLS") +
		" " + (cipher != nullptr ? cipher : "unknown");
	state = State::Connected;
	/* commands may be larger than the handshake's bound (the SSL
	   output's buffer is allocated by the first one) */
	if (set.low_memory)
		o_stream_set_max_buffer_size(output, SIZE_MAX);
	timeout_start();
	/* TLS 1.2: resumable now; TLS 1.3: once the ticket is read */
	session_pending = true;
	tls_keep_session();

	Guard guard(this);
	if (starttls)
		handler.transport_tls_started();
	else
		handler.transport_connected();
	if (guard.destroyed() || state != State::Connected)
		return;
	/* Application data may have come along with the last handshake
	   records: it is already buffered and no fd event would announce it. */
	read_loop(false);
}

std::string Transport::Impl::tls_error(const char *what) const
{
	return "TLS handshake with " + peer + " failed: " + what;
}

/* ---------------------------------------------------- reading and writing */

void Transport::Impl::on_input()
{
	if (state == State::Handshake) {
		if (!ssl_iostream_is_handshaked(ssl_io)) {
			timeout_start();
			tls_continue();
			return;
		}
		tls_finished();
		return;
	}
	if (state != State::Connected)
		return;
	read_loop(false);
}

/* Reads what there is and offers it to the handler after every read, up
   to read_pass_max bytes; then reading pauses until the next ioloop pass,
   after the other events and timeouts. (A TLS stream must be read empty:
   plaintext it has buffered gets no socket event, so it marks its io
   pending, and a pending io is called again in the same pass unless it
   is removed.) */
void Transport::Impl::read_loop(bool offer_first)
{
	size_t read_now = 0;

	if (offer_first && i_stream_get_data_size(input) > 0) {
		if (!offer())
			return;
	}
	for (;;) {
		ssize_t ret = i_stream_read(input);
		if (ret > 0) {
			transport.bytes_in_ += ret;
			timeout_start();
			if (session_pending)
				tls_keep_session();
			if (!offer())
				return;
			read_now += static_cast<size_t>(ret);
			if (read_now >= read_pass_max) {
				/* resume() goes on in the next pass */
				pause_input();
				transport.resume();
				return;
			}
			continue;
		}
		if (ret == 0)
			return;
		if (ret == -2) {
			pause_input();
			return;
		}
		read_failed();
		return;
	}
}

/* Offers the buffered input to the handler. Returns false when the caller
   must stop: the Transport is gone, closed, or upgrading to TLS. */
bool Transport::Impl::offer()
{
	size_t size;
	const unsigned char *data = i_stream_get_data(input, &size);

	if (size == 0)
		return true;

	Guard guard(this);
	in_input = true;
	size_t consumed = handler.transport_input(std::string_view(
		reinterpret_cast<const char *>(data), size));
	if (guard.destroyed())
		return false;
	in_input = false;
	if (state != State::Connected)
		return false;
	i_stream_skip(input, consumed < size ? consumed : size);
	if (tls_requested) {
		tls_requested = false;
		tls_upgrade();
		return false;
	}
	return true;
}

void Transport::Impl::read_failed()
{
	int err = input->stream_errno;
	const char *error = nullptr;

	if (ssl_io != nullptr)
		error = ssl_iostream_get_last_error(ssl_io);
	if (error == nullptr && err != 0)
		error = i_stream_get_error(input);

	if (err == 0) {
		fail(TransportError::Closed,
		     "read(" + peer + ") failed: connection closed by server");
	} else if (err == EPIPE || err == ECONNRESET) {
		fail(TransportError::Closed, "read(" + peer +
		     ") failed: connection closed by server (" + error + ")");
	} else {
		fail(TransportError::Io,
		     "read(" + peer + ") failed: " + error);
	}
}

/* The buffer is full and the handler takes nothing: stop reading (and the
   inactivity timeout, the server is not to blame) until resume(). */
void Transport::Impl::pause_input()
{
	paused = true;
	io_remove(&io);
	timeout_remove(&to);
}

void Transport::Impl::resume_input()
{
	if (state != State::Connected)
		return;
	if (paused) {
		paused = false;
		io = add_io_istream(ioloop, input, event_cb<&Impl::on_input>, this);
		timeout_start();
	}
	read_loop(true);
}

void Transport::Impl::send(std::string_view data)
{
	if (output == nullptr || state == State::Closed)
		return;
	o_stream_nsend(output, data.data(), data.size());
	if (o_stream_flush(output) < 0) {
		fail_later(TransportError::Io, "write(" + peer + ") failed: " +
			   o_stream_get_error(output));
		return;
	}
	if (!paused)
		timeout_start();
}

/* The output stream's buffer drained (or failed) from the ioloop. This may
   run deep inside the stream code: errors are deferred. */
int Transport::Impl::on_flush()
{
	if (output == nullptr)
		return 1;

	int ret = o_stream_flush(output);

	if (ret < 0 && !defer_fail) {
		fail_later(TransportError::Io, "write(" + peer + ") failed: " +
			   o_stream_get_error(output));
	}
	return ret;
}

/* (Re)arms the one timeout: connect, handshake and inactivity alike. */
void Transport::Impl::timeout_start()
{
	if (to != nullptr)
		timeout_reset(to);
	else if (set.timeout_msecs > 0)
		to = add_timeout(ioloop, set.timeout_msecs,
				 event_cb<&Impl::on_timeout>, this);
}

void Transport::Impl::on_timeout()
{
	std::string ms = std::to_string(set.timeout_msecs);

	timeout_remove(&to);
	switch (state) {
	case State::Connecting:
		io_remove(&io);
		net_disconnect(fd);
		fd = -1;
		connect_failed(TransportError::Timeout,
			       "timed out after " + ms + " ms");
		connect_next();
		return;
	case State::Handshake:
		fail(TransportError::Timeout, "TLS handshake with " + peer +
		     " timed out after " + ms + " ms");
		return;
	case State::Connected:
		fail(TransportError::Timeout, "read(" + peer +
		     ") timed out: no data for " + ms + " ms");
		return;
	case State::Idle:
	case State::Closed:
		return;
	}
}

/* ----------------------------------------------------- failing, deferring */

/* Closes and reports. The handler may delete the Transport: nothing may
   follow this call. */
void Transport::Impl::fail(TransportError kind, const std::string &error)
{
	close();
	handler.transport_failed(kind, error);
}

void Transport::Impl::fail_later(TransportError kind, const std::string &error)
{
	if (defer_fail)
		return;
	defer_fail = true;
	fail_kind = kind;
	fail_error = error;
	defer();
}

void Transport::Impl::defer()
{
	if (to_defer == nullptr)
		to_defer = (timeout_add_short_to)(ioloop, 0, __FILE__, __LINE__,
						  event_cb<&Impl::on_defer>, this);
}

void Transport::Impl::on_defer()
{
	timeout_remove(&to_defer);
	if (defer_fail) {
		TransportError kind = fail_kind;
		std::string error = fail_error;
		fail(kind, error);
		return;
	}
	if (defer_tls) {
		defer_tls = false;
		defer_resume = false;
		tls_upgrade();
		return;
	}
	if (defer_resume) {
		defer_resume = false;
		resume_input();
	}
}

void Transport::Impl::close_connection()
{
	io_remove(&io);
	timeout_remove(&to);
	if (ssl_io != nullptr) {
		/* the newest ticket, and TLS 1.3 sessions whose ticket
		   came with no reply read after it */
		tls_keep_session();
		ssl_iostream_destroy(&ssl_io);
	}
	if (input != nullptr)
		i_stream_destroy(&input);
	if (output != nullptr)
		o_stream_destroy(&output);
	if (fd != -1) {
		net_disconnect(fd);
		fd = -1;
	}
}

void Transport::Impl::close()
{
	dns_cancel(&dns);
	close_connection();
	timeout_remove(&to_defer);
	defer_fail = defer_tls = defer_resume = false;
	tls_requested = false;
	in_input = false;
	paused = false;
	state = State::Closed;
}

/* -------------------------------------------------------------- Transport */

Transport::Transport(TransportHandler &handler, const TransportSettings &set)
	: impl_(new Impl(*this, handler, set))
{
}

Transport::~Transport()
{
	delete impl_;
}

void Transport::connect()
{
	Impl *impl = impl_;

	if (impl->state != State::Idle)
		return;
	impl->ioloop = current_ioloop;
	impl->state = State::Connecting;
	if (impl->set.host.empty()) {
		impl->state = State::Closed;
		impl->fail_later(TransportError::Resolve, "no host name given");
		return;
	}
	if (impl->set.port == 0) {
		impl->state = State::Closed;
		impl->fail_later(TransportError::Connect, "connect(" +
				 impl->peer + ") failed: no port given");
		return;
	}
	impl->dns = dns_resolve(impl->set.host, impl->set.dns_client_socket,
		impl->set.timeout_msecs,
		[impl](const std::string &error,
		       const std::vector<struct ip_addr> &ips) {
			Impl::callback_body(impl, [&] {
				impl->resolved(error, ips);
			});
		});
}

void Transport::send(std::string_view data)
{
	impl_->send(data);
}

void Transport::start_tls()
{
	if (impl_->state == State::Closed)
		return;
	if (impl_->in_input) {
		impl_->tls_requested = true;
		return;
	}
	impl_->defer_tls = true;
	impl_->defer();
}

void Transport::resume()
{
	if (impl_->state != State::Connected)
		return;
	impl_->defer_resume = true;
	impl_->defer();
}

void Transport::set_timeout(unsigned int msecs)
{
	Impl *impl = impl_;
	bool armed = impl->to != nullptr;

	impl->set.timeout_msecs = msecs;
	timeout_remove(&impl->to);
	/* only where one runs: not while reading is paused, nor during the
	   name lookup (it has its own) */
	if (armed || (impl->state == State::Connected && !impl->paused))
		impl->timeout_start();
}

void Transport::close()
{
	impl_->close();
}

TransportSettings transport_settings_of(const Account &account)
{
	TransportSettings set;

	set.host = account.host;
	set.port = account.effective_port();
	set.implicit_tls = account.tls == TlsMode::Implicit;
	set.verify = account.tls_verify;
	return set;
}

SessionConfig::Tls session_tls_of(TlsMode mode)
{
	switch (mode) {
	case TlsMode::StartTls: return SessionConfig::Tls::StartTls;
	case TlsMode::None: return SessionConfig::Tls::None;
	case TlsMode::Implicit: break;
	}
	return SessionConfig::Tls::Implicit;
}

} // namespace fetchmail
