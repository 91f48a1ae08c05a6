/* HTTPS requests on libcurl's multi socket interface inside the Dovecot
   ioloop: see fetchmail-http.hh.

   The pieces:

     libcurl                          Dovecot ioloop
     CURLMOPT_SOCKETFUNCTION  ----->  one Socket per fd: an io for IO_READ
                                      and/or one for IO_WRITE, as asked
     CURLMOPT_TIMERFUNCTION   ----->  one timeout (to_curl), replaced on
                                      every call, removed when it fires
     curl_multi_socket_action <-----  the io and timeout callbacks
     curl_multi_info_read     ----->  finished requests go to a queue, and
                                      their callbacks are made after
                                      curl_multi_socket_action() returned

   libcurl calls the socket and timer functions from inside
   curl_multi_socket_action(), curl_multi_add_handle() and
   curl_multi_remove_handle(); they only add and remove ios and timeouts
   and never call back into libcurl. The user's callbacks run from
   deliver(), which is only ever called from an ioloop callback of ours,
   with a guard that notices the client being destroyed meanwhile. */

#include "fetchmail-http.hh"

#include <curl/curl.h>

#include <deque>
#include <exception>
#include <map>
#include <unordered_map>

namespace fetchmail {

namespace {

void global_init()
{
	static bool done = false;
	if (!done) {
		/* once per process; Dovecot processes are single-threaded */
		curl_global_init(CURL_GLOBAL_DEFAULT);
		done = true;
	}
}

/* "https://host:port/path" -> "host:port", for error texts. */
std::string url_endpoint(const std::string &url)
{
	size_t start = url.find("://");
	start = start == std::string::npos ? 0 : start + 3;
	size_t end = url.find_first_of("/?#", start);
	std::string host = url.substr(start, end == std::string::npos ?
				      std::string::npos : end - start);
	size_t at = host.rfind('@');
	return at == std::string::npos ? host : host.substr(at + 1);
}

HttpError error_kind(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return HttpError::Connect;
	case CURLE_OPERATION_TIMEDOUT:
		return HttpError::Timeout;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return HttpError::Tls;
	case CURLE_FILESIZE_EXCEEDED:
		return HttpError::TooLarge;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return HttpError::Protocol;
	default:
		return HttpError::Protocol;
	}
}

} // namespace

struct HttpClient::Impl {
	/* One request in flight. */
	struct Request {
		Impl *impl;
		uint64_t id;
		CURL *easy = nullptr;
		struct curl_slist *headers = nullptr;
		std::string url;
		std::string body;
		std::string response;
		bool too_large = false;
		Callback callback;
		char errbuf[CURL_ERROR_SIZE] = "";

		~Request()
		{
			if (easy != nullptr)
				curl_easy_cleanup(easy);
			curl_slist_free_all(headers);
		}
	};
	/* One socket libcurl wants watched. */
	struct Socket {
		Impl *impl;
		curl_socket_t fd;
		struct io *io_read = nullptr;
		struct io *io_write = nullptr;

		~Socket()
		{
			if (io_read != nullptr)
				io_remove(&io_read);
			if (io_write != nullptr)
				io_remove(&io_write);
		}
	};
	struct Done {
		uint64_t id;
		Callback callback;
		HttpResponse response;
	};

	HttpSettings set;
	struct ioloop *ioloop;
	CURLM *multi = nullptr;
	std::string ca_file, ca_dir;
	bool ca_configured = false;

	std::map<uint64_t, std::unique_ptr<Request>> requests;
	std::unordered_map<curl_socket_t, std::unique_ptr<Socket>> sockets;
	std::deque<Done> done;          /* finished, callback not made yet */
	struct timeout *to_curl = nullptr;
	struct timeout *to_deliver = nullptr;
	uint64_t next_id = 1;
	/* false once the client is destroyed (see deliver()) */
	std::shared_ptr<bool> alive = std::make_shared<bool>(true);

	explicit Impl(const HttpSettings &s);
	~Impl();

	/* libcurl's callbacks */
	static int socket_cb(CURL *easy, curl_socket_t fd, int what,
			     void *userp, void *socketp);
	static int timer_cb(CURLM *multi, long timeout_ms, void *userp);
	static size_t write_cb(char *data, size_t size, size_t nmemb,
			       void *userp);
	/* the ioloop's callbacks */
	static void read_io_cb(Socket *sock);
	static void write_io_cb(Socket *sock);
	static void curl_timeout_cb(Impl *impl);
	static void deliver_timeout_cb(Impl *impl);

	void watch(curl_socket_t fd, int what);
	void action(curl_socket_t fd, int events);
	void collect();
	void deliver();
	void deliver_later();
	bool setup(Request &req, std::string &error_r);
	void finish(std::unique_ptr<Request> req, CURLcode code);
};

HttpClient::Impl::Impl(const HttpSettings &s)
	: set(s), ioloop(current_ioloop)
{
	global_init();
	if (set.user != nullptr) {
		struct ssl_iostream_settings ssl_set;
		i_zero(&ssl_set);
		mail_user_init_ssl_client_settings(set.user, &ssl_set);
		if (ssl_set.ca_file != nullptr)
			ca_file = ssl_set.ca_file;
		if (ssl_set.ca_dir != nullptr)
			ca_dir = ssl_set.ca_dir;
	}
	if (!set.ca_file.empty())
		ca_file = set.ca_file;
	if (!set.ca_dir.empty())
		ca_dir = set.ca_dir;
	ca_configured = !ca_file.empty() || !ca_dir.empty();

	multi = curl_multi_init();
	if (multi != nullptr) {
		curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
		curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
		curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
		curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
	}
}

HttpClient::Impl::~Impl()
{
	*alive = false;
	if (to_curl != nullptr)
		timeout_remove(&to_curl);
	if (to_deliver != nullptr)
		timeout_remove(&to_deliver);
	/* libcurl must not call back into what is going away */
	if (multi != nullptr) {
		curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, nullptr);
		curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, nullptr);
	}
	sockets.clear();
	for (auto &[id, req] : requests)
		curl_multi_remove_handle(multi, req->easy);
	requests.clear();
	if (multi != nullptr)
		curl_multi_cleanup(multi);
}

int HttpClient::Impl::socket_cb(CURL *, curl_socket_t fd, int what,
				void *userp, void *)
{
	static_cast<Impl *>(userp)->watch(fd, what);
	return 0;
}

/* libcurl wants fd watched for what (CURL_POLL_IN, _OUT, _INOUT), or no
   longer (CURL_POLL_REMOVE, before it closes the socket). */
void HttpClient::Impl::watch(curl_socket_t fd, int what)
{
	auto it = sockets.find(fd);
	if (what == CURL_POLL_REMOVE) {
		if (it != sockets.end())
			sockets.erase(it);
		return;
	}
	if (it == sockets.end()) {
		auto sock = std::make_unique<Socket>();
		sock->impl = this;
		sock->fd = fd;
		it = sockets.emplace(fd, std::move(sock)).first;
	}
	Socket &sock = *it->second;
	bool want_read = (what & CURL_POLL_IN) != 0;
	bool want_write = (what & CURL_POLL_OUT) != 0;
	if (want_read && sock.io_read == nullptr)
		sock.io_read = fetchmail_io_add_to(ioloop, fd, IO_READ,
						   read_io_cb, &sock);
	else if (!want_read && sock.io_read != nullptr)
		io_remove(&sock.io_read);
	if (want_write && sock.io_write == nullptr)
		sock.io_write = fetchmail_io_add_to(ioloop, fd, IO_WRITE,
						    write_io_cb, &sock);
	else if (!want_write && sock.io_write != nullptr)
		io_remove(&sock.io_write);
}

int HttpClient::Impl::timer_cb(CURLM *, long timeout_ms, void *userp)
{
	Impl *impl = static_cast<Impl *>(userp);

	if (impl->to_curl != nullptr)
		timeout_remove(&impl->to_curl);
	if (timeout_ms >= 0) {
		impl->to_curl = fetchmail_timeout_add_short_to(impl->ioloop,
			(unsigned int)timeout_ms, curl_timeout_cb, impl);
	}
	return 0;
}

size_t HttpClient::Impl::write_cb(char *data, size_t size, size_t nmemb,
				  void *userp)
{
	Request *req = static_cast<Request *>(userp);
	size_t n = size * nmemb;

	if (req->response.size() + n > req->impl->set.max_response) {
		/* a short count makes libcurl abort with CURLE_WRITE_ERROR */
		req->too_large = true;
		return 0;
	}
	req->response.append(data, n);
	return n;
}

void HttpClient::Impl::read_io_cb(Socket *sock)
{
	/* the Socket may be gone when action() returns */
	sock->impl->action(sock->fd, CURL_CSELECT_IN);
}

void HttpClient::Impl::write_io_cb(Socket *sock)
{
	sock->impl->action(sock->fd, CURL_CSELECT_OUT);
}

void HttpClient::Impl::curl_timeout_cb(Impl *impl)
{
	/* Dovecot's timeouts repeat: this one is one-shot */
	timeout_remove(&impl->to_curl);
	impl->action(CURL_SOCKET_TIMEOUT, 0);
}

void HttpClient::Impl::deliver_timeout_cb(Impl *impl)
{
	timeout_remove(&impl->to_deliver);
	impl->deliver();
}

void HttpClient::Impl::action(curl_socket_t fd, int events)
{
	int running = 0;

	curl_multi_socket_action(multi, fd, events, &running);
	collect();
	deliver();
}

/* Move every finished transfer to the done queue. */
void HttpClient::Impl::collect()
{
	CURLMsg *msg;
	int left = 0;

	while ((msg = curl_multi_info_read(multi, &left)) != nullptr) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		Request *req = nullptr;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &req);
		CURLcode code = msg->data.result;
		auto it = req == nullptr ? requests.end() :
			requests.find(req->id);
		if (it == requests.end()) {
			curl_multi_remove_handle(multi, msg->easy_handle);
			continue;
		}
		std::unique_ptr<Request> owned = std::move(it->second);
		requests.erase(it);
		curl_multi_remove_handle(multi, owned->easy);
		finish(std::move(owned), code);
	}
}

void HttpClient::Impl::finish(std::unique_ptr<Request> req, CURLcode code)
{
	Done d;
	d.id = req->id;
	d.callback = std::move(req->callback);
	HttpResponse &r = d.response;
	std::string where = "token endpoint " + url_endpoint(req->url) + ": ";

	if (code == CURLE_OK) {
		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &r.status);
		r.body = std::move(req->response);
	} else if (req->too_large || code == CURLE_FILESIZE_EXCEEDED) {
		r.error = HttpError::TooLarge;
		r.error_text = where + "response larger than " +
			std::to_string(set.max_response) + " bytes";
	} else {
		r.error = error_kind(code);
		r.error_text = where + (req->errbuf[0] != '\0' ? req->errbuf :
					curl_easy_strerror(code));
	}
	done.push_back(std::move(d));
}

void HttpClient::Impl::deliver_later()
{
	if (to_deliver == nullptr)
		to_deliver = fetchmail_timeout_add_short_to(ioloop, 0,
			deliver_timeout_cb, this);
}

/* Make the callbacks of finished requests. Only ever called from an
   ioloop callback of this client. */
void HttpClient::Impl::deliver()
{
	std::shared_ptr<bool> guard = alive;

	while (*guard && !done.empty()) {
		Done d = std::move(done.front());
		done.pop_front();
		try {
			d.callback(d.response);
		} catch (const std::exception &e) {
			i_error("fetchmail http: callback failed: %s", e.what());
		} catch (...) {
			i_error("fetchmail http: callback failed");
		}
	}
}

bool HttpClient::Impl::setup(Request &req, std::string &error_r)
{
	CURL *e = req.easy = curl_easy_init();
	if (e == nullptr || multi == nullptr) {
		error_r = "curl_easy_init() failed";
		return false;
	}
#ifndef FETCHMAIL_VERSION
#  define FETCHMAIL_VERSION "0.0.0"
#endif
	static const char user_agent[] = "dovecot-fetchmail/" FETCHMAIL_VERSION;
	struct curl_slist *h = nullptr;
	for (const char *line : { "Accept: application/json",
				  "Content-Type: application/x-www-form-urlencoded",
				  "Expect:" }) {
		struct curl_slist *n = curl_slist_append(h, line);
		if (n == nullptr) {
			curl_slist_free_all(h);
			error_r = "curl_slist_append() failed";
			return false;
		}
		h = n;
	}
	req.headers = h;
	long timeout = (long)set.timeout_msecs;
	bool ok =
		curl_easy_setopt(e, CURLOPT_URL, req.url.c_str()) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_PRIVATE, &req) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https") == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)req.body.size()) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data()) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, req.headers) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
				 (curl_off_t)set.max_response) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &req) == CURLE_OK &&
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req.errbuf) == CURLE_OK;
	/* the mail transport's CAs: then only those, like ssl-iostream */
	if (ok && ca_configured) {
		ok = curl_easy_setopt(e, CURLOPT_CAINFO, ca_file.empty() ?
				      nullptr : ca_file.c_str()) == CURLE_OK &&
			curl_easy_setopt(e, CURLOPT_CAPATH, ca_dir.empty() ?
					 nullptr : ca_dir.c_str()) == CURLE_OK;
	}
	if (!ok) {
		error_r = "libcurl refused the request options (is it built "
			"with HTTPS?)";
		return false;
	}
	return true;
}

HttpClient::HttpClient(const HttpSettings &set)
	: impl_(std::make_unique<Impl>(set))
{
}

HttpClient::~HttpClient() = default;

uint64_t HttpClient::post_form(const std::string &url, std::string body,
			       Callback callback)
{
	Impl &impl = *impl_;
	auto req = std::make_unique<Impl::Request>();
	std::string error;

	req->impl = &impl;
	req->id = impl.next_id++;
	req->url = url;
	req->body = std::move(body);
	req->callback = std::move(callback);
	uint64_t id = req->id;
	if (!impl.setup(*req, error)) {
		/* fail from the ioloop, not from here */
		Impl::Done d;
		d.id = id;
		d.callback = std::move(req->callback);
		d.response.error = HttpError::Internal;
		d.response.error_text = "token endpoint " + url_endpoint(url) +
			": " + error;
		impl.done.push_back(std::move(d));
		impl.deliver_later();
		return id;
	}
	Impl::Request *raw = req.get();
	impl.requests.emplace(id, std::move(req));
	CURLMcode mc = curl_multi_add_handle(impl.multi, raw->easy);
	if (mc != CURLM_OK) {
		auto it = impl.requests.find(id);
		std::unique_ptr<Impl::Request> owned = std::move(it->second);
		impl.requests.erase(it);
		Impl::Done d;
		d.id = id;
		d.callback = std::move(owned->callback);
		d.response.error = HttpError::Internal;
		d.response.error_text = "token endpoint " + url_endpoint(url) +
			": " + curl_multi_strerror(mc);
		impl.done.push_back(std::move(d));
		impl.deliver_later();
	}
	return id;
}

void HttpClient::cancel(uint64_t id)
{
	Impl &impl = *impl_;
	auto it = impl.requests.find(id);

	if (it != impl.requests.end()) {
		curl_multi_remove_handle(impl.multi, it->second->easy);
		impl.requests.erase(it);
	}
	for (auto d = impl.done.begin(); d != impl.done.end(); ++d) {
		if (d->id == id) {
			impl.done.erase(d);
			break;
		}
	}
}

size_t HttpClient::pending() const
{
	return impl_->requests.size() + impl_->done.size();
}

const char *http_error_name(HttpError error)
{
	switch (error) {
	case HttpError::None: return "none";
	case HttpError::Connect: return "connect";
	case HttpError::Timeout: return "timeout";
	case HttpError::Tls: return "tls";
	case HttpError::TooLarge: return "too large";
	case HttpError::Protocol: return "protocol";
	case HttpError::Internal: return "internal";
	}
	return "internal";
}

} // namespace fetchmail
