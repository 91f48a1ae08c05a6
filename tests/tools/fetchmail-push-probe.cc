/* fetchmail-push-probe: holds a push connection (plugin/fetchmail-push-
   conn.cc) to a real IMAP server, outside Dovecot, and prints what it
   reports.

   fetchmail-push-probe --host H --port P --user U [--password-file F]
	[--tls implicit|starttls|none] [--verify|--no-verify] [--ca-file F]
	[--folder F] [--id ID] [--dns-socket S] [--timeout-ms N]
	[--renew-ms N] [--backoff-first-ms N] [--backoff-max-ms N]
	[--stable-ms N] [--changed-delay-ms N] [--stop-wait-ms N]
	[--oauth2 MECH (--token-file F | --token-error TEXT [--permanent])]
	[--stop-after-ms N] [--count N] [--debug]

   The password is the first line of --password-file, or of stdin (never
   an argument). With --oauth2 the account logs in with auth oauth2 and
   SASL mechanism MECH (XOAUTH2, OAUTHBEARER); every push_token() call is
   printed and answered with a line of --token-file (read again each time:
   the first call gets the first line, the second the second, ..., the
   last line then stays), or with a failure (--token-error; --permanent:
   one that a retry will not help).

   Output, one line per event, prefixed with the milliseconds since the
   start:

     123 state idling            push_state(): idling, lost, unsupported,
     456 state lost: ERROR       failed (with the detail)
     789 changed                 push_changed()
     800 token force=0|1         push_token()
     900 stopped                 the stop() callback

   The connection is stopped (DONE, LOGOUT) on SIGTERM or SIGINT, or after
   --stop-after-ms; the probe then prints "stopped" and exits 0 (also
   after "state failed" and "state unsupported": what the connection does
   then is part of the test). Status 2 is a usage error.

   --count N holds N connections of the same account instead of one, for
   measuring: it prints only "idling N" once all of them idle, then
   "rss_kb: BEFORE AFTER" (the process's resident memory before the first
   connection and with all of them idling) and "heap_in_use_kb: N"
   (malloc's bytes in use then), and failures. --debug shows
   the connection's debug log (the protocol lines, redacted) on stderr. */

#include "fetchmail-push-conn.hh"
#include "fetchmail-tls-cache.hh"

extern "C" {
#include "lib-signals.h"
#include "event-log.h"
}

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <malloc.h>
#include <sys/resource.h>

using namespace fetchmail;

namespace {

struct Options {
	PushConnEnv env;
	Account account;
	PushConfig config;
	std::string password_file;
	std::string mechanism;   /* --oauth2 */
	std::string token_file;
	std::string token_error;
	bool permanent = false;
	unsigned int stop_after_msecs = 0;
	unsigned int count = 1;
	bool debug = false;
};

int64_t start_ms;

int64_t now_ms()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void say(const std::string &line)
{
	printf("%lld %s\n", (long long)(now_ms() - start_ms), line.c_str());
	fflush(stdout);
}

/* VmRSS of this process in kB, or 0. */
long rss_kb()
{
	std::ifstream status("/proc/self/status");
	std::string line;

	while (std::getline(status, line)) {
		if (line.compare(0, 6, "VmRSS:") == 0)
			return strtol(line.c_str() + 6, nullptr, 10);
	}
	return 0;
}

/* Line n (from 0) of a file (or of stdin: "-"), without its line end;
   the last one when there are fewer. */
bool nth_line(const std::string &path, unsigned int n, std::string &line_r)
{
	FILE *f = path == "-" ? stdin : fopen(path.c_str(), "r");
	char buf[4096];
	bool ok = false;

	if (f == nullptr)
		return false;
	for (unsigned int i = 0; i <= n; i++) {
		if (fgets(buf, sizeof(buf), f) == nullptr)
			break;
		ok = true;
		line_r = buf;
	}
	if (f != stdin)
		fclose(f);
	safe_memset(buf, 0, sizeof(buf));
	if (!ok)
		return false;
	while (!line_r.empty() &&
	       (line_r.back() == '\n' || line_r.back() == '\r'))
		line_r.pop_back();
	return true;
}

class Probe : public PushConnHandler {
public:
	explicit Probe(const Options &opt) : opt_(opt) {}

	int run()
	{
		rss_before_ = rss_kb();
		for (unsigned int i = 0; i < opt_.count; i++) {
			conns_.push_back(std::make_unique<PushConn>(
				opt_.env, opt_.account, *this, opt_.config));
			conns_.back()->start();
		}
		const auto flags =
			static_cast<enum libsig_flags>(LIBSIG_FLAGS_SAFE);
		lib_signals_set_handler(SIGTERM, flags, signal_cb, this);
		lib_signals_set_handler(SIGINT, flags, signal_cb, this);
		/* after failed or unsupported nothing else may be waited
		   for (the ioloop refuses to wait for nothing) */
		lib_signals_set_expected(SIGTERM, TRUE, signal_cb, this);
		lib_signals_set_expected(SIGINT, TRUE, signal_cb, this);
		if (opt_.stop_after_msecs > 0) {
			to_stop_ = fetchmail_timeout_add_short_to(current_ioloop,
				opt_.stop_after_msecs, stop_timeout, this);
		}
		io_loop_run(current_ioloop);
		lib_signals_unset_handler(SIGTERM, signal_cb, this);
		lib_signals_unset_handler(SIGINT, signal_cb, this);
		timeout_remove(&to_stop_);
		conns_.clear();
		return 0;
	}

	void push_state(PushConn &conn, PushState state,
			const std::string &detail) override
	{
		if (opt_.count > 1) {
			count_state(state, detail);
			return;
		}
		say(std::string("state ") + push_state_name(state) +
		    (detail.empty() ? "" : ": " + detail));
	}

	void push_changed(PushConn &) override
	{
		if (opt_.count == 1)
			say("changed");
	}

	void push_token(PushConn &, bool force,
			std::function<void(const PushToken &)> done) override
	{
		PushToken token;

		if (opt_.count == 1)
			say(std::string("token force=") + (force ? "1" : "0"));
		if (!opt_.token_error.empty()) {
			token.error = opt_.token_error;
			token.permanent = opt_.permanent;
		} else if (nth_line(opt_.token_file, token_calls_++,
				    token.token)) {
			token.ok = true;
			token.mechanism = opt_.mechanism;
		} else {
			token.error = "cannot read " + opt_.token_file;
		}
		done(token);
		safe_memset(token.token.data(), 0, token.token.size());
	}

private:
	void count_state(PushState state, const std::string &detail)
	{
		if (state == PushState::Idling) {
			if (++idling_ == opt_.count) {
				say("idling " + std::to_string(idling_));
				say("rss_kb: " + std::to_string(rss_before_) +
				    " " + std::to_string(rss_kb()));
				struct mallinfo2 mi = mallinfo2();
				say("heap_in_use_kb: " + std::to_string(
					(mi.uordblks + mi.hblkhd) / 1024));

			}
			return;
		}
		say(std::string("state ") + push_state_name(state) + ": " +
		    detail);
	}

	static void signal_cb(const siginfo_t *, void *context)
	{
		static_cast<Probe *>(context)->stop_all();
	}

	static void stop_timeout(Probe *probe)
	{
		timeout_remove(&probe->to_stop_);
		probe->stop_all();
	}

	void stop_all()
	{
		if (stopping_)
			return;
		stopping_ = true;
		stopped_left_ = conns_.size();
		for (auto &conn : conns_) {
			conn->stop([this] {
				if (--stopped_left_ == 0) {
					say("stopped");
					io_loop_stop(current_ioloop);
				}
			});
		}
	}

	const Options &opt_;
	std::vector<std::unique_ptr<PushConn>> conns_;
	struct timeout *to_stop_ = nullptr;
	unsigned int idling_ = 0;
	unsigned int token_calls_ = 0;
	size_t stopped_left_ = 0;
	long rss_before_ = 0;
	bool stopping_ = false;
};

[[noreturn]] void usage()
{
	fprintf(stderr,
		"usage: fetchmail-push-probe --host H --port P --user U [--password-file F]\n"
		"       [--tls implicit|starttls|none] [--verify|--no-verify] [--ca-file F]\n"
		"       [--folder F] [--id ID] [--dns-socket S] [--timeout-ms N]\n"
		"       [--renew-ms N] [--backoff-first-ms N] [--backoff-max-ms N]\n"
		"       [--stable-ms N] [--changed-delay-ms N] [--stop-wait-ms N]\n"
		"       [--oauth2 MECH (--token-file F | --token-error TEXT [--permanent])]\n"
		"       [--stop-after-ms N] [--count N] [--debug]\n");
	exit(2);
}

/* A number of milliseconds or connections: 0 to 2^31 - 1. */
unsigned int number(const char *arg)
{
	std::string_view v = arg;
	unsigned int n = 0;
	auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);

	if (ec != std::errc() || end != v.data() + v.size() || n > INT32_MAX)
		usage();
	return n;
}

Options parse_args(int argc, char *argv[])
{
	Options opt;
	Account &a = opt.account;

	a.id = "probe";
	a.protocol = Protocol::Imap;
	a.protocol_set = true;
	for (int i = 1; i < argc; i++) {
		std::string_view arg = argv[i];
		if (arg == "--verify" || arg == "--no-verify") {
			a.tls_verify = arg == "--verify";
			continue;
		}
		if (arg == "--permanent") {
			opt.permanent = true;
			continue;
		}
		if (arg == "--debug") {
			opt.debug = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (arg == "--host")
			a.host = v;
		else if (arg == "--port") {
			unsigned int port = number(v);
			if (port == 0 || port > 65535)
				usage();
			a.port = static_cast<uint16_t>(port);
		}
		else if (arg == "--user")
			a.remote_user = v;
		else if (arg == "--password-file")
			opt.password_file = v;
		else if (arg == "--tls") {
			std::string_view t = v;
			if (t == "implicit")
				a.tls = TlsMode::Implicit;
			else if (t == "starttls")
				a.tls = TlsMode::StartTls;
			else if (t == "none")
				a.tls = TlsMode::None;
			else
				usage();
		} else if (arg == "--ca-file")
			opt.env.ca_file = v;
		else if (arg == "--folder")
			a.folders = { v };
		else if (arg == "--id")
			a.id = v;
		else if (arg == "--dns-socket")
			opt.env.dns_client_socket = v;
		else if (arg == "--timeout-ms")
			opt.env.timeout_msecs = number(v);
		else if (arg == "--renew-ms")
			opt.config.idle_renew_ms = number(v);
		else if (arg == "--backoff-first-ms")
			opt.config.backoff_first_ms = number(v);
		else if (arg == "--backoff-max-ms")
			opt.config.backoff_max_ms = number(v);
		else if (arg == "--stable-ms")
			opt.config.stable_ms = number(v);
		else if (arg == "--changed-delay-ms")
			opt.config.changed_delay_ms = number(v);
		else if (arg == "--stop-wait-ms")
			opt.config.stop_wait_ms = number(v);
		else if (arg == "--oauth2") {
			a.auth = AuthMethod::OAuth2;
			opt.mechanism = v;
		} else if (arg == "--token-file")
			opt.token_file = v;
		else if (arg == "--token-error")
			opt.token_error = v;
		else if (arg == "--stop-after-ms")
			opt.stop_after_msecs = number(v);
		else if (arg == "--count") {
			opt.count = number(v);
			if (opt.count == 0)
				usage();
		} else
			usage();
	}
	if (a.host.empty() || a.remote_user.empty())
		usage();
	if (a.auth == AuthMethod::OAuth2 && opt.token_file.empty() &&
	    opt.token_error.empty())
		usage();
	opt.env.username = "probe";
	return opt;
}

/* Room for --count connections (two descriptors may be open at once
   while one is replaced). */
void raise_fd_limit(unsigned int count)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = static_cast<rlim_t>(count) * 2 + 64;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ?
		want : rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

} // namespace

int main(int argc, char *argv[])
{
	Options opt = parse_args(argc, argv);
	int ret;

	if (opt.account.auth == AuthMethod::Password &&
	    !nth_line(opt.password_file.empty() ? "-" : opt.password_file, 0,
		      opt.account.password)) {
		fprintf(stderr, "fetchmail-push-probe: no password given\n");
		return 2;
	}
	raise_fd_limit(opt.count);
	start_ms = now_ms();
	lib_init();
	lib_signals_init();
	struct ioloop *ioloop = io_loop_create();
	struct event *event = event_create(nullptr);
	if (opt.debug)
		event_set_forced_debug(event, TRUE);
	opt.env.event_parent = event;
	{
		Probe probe(opt);
		ret = probe.run();
	}
	safe_memset(opt.account.password.data(), 0,
		    opt.account.password.size());
	event_unref(&event);
	/* the sessions are OpenSSL objects: before the SSL module goes */
	tls_session_cache_clear();
	io_loop_destroy(&ioloop);
	lib_signals_deinit();
	lib_deinit();
	return ret;
}
