/* fetchmail-transport-probe: exercises plugin/fetchmail-transport.cc
   against a real server, outside Dovecot.

   fetchmail-transport-probe --host H --port P
	[--tls implicit|starttls-pop3|starttls-imap|none] [--no-verify|--verify]
	[--ca-file F] [--dns-socket S] [--timeout-ms N] [--send "CAPA\r\n"]

   Connects, prints the TransportInfo and the server's greeting; with
   starttls-pop3/-imap sends STLS / a STARTTLS, upgrades and prints the
   info again; with --send sends the data (\r, \n, \t and \\ escapes) and
   prints the reply lines until the server is quiet for --quiet-ms
   (default 500).

   --hold-ms N consumes nothing of the reply to --send for N ms (the input
   buffer fills up and reading pauses), then calls Transport::resume().
   Only the first 20 reply lines are shown, then a summary.

   --slow-input-ms N sleeps N ms in every input callback of the reply (a
   handler slower than the server, as saves to slow storage are);
   --tick-ms N runs a timeout every N ms and prints "ticks during the
   reply: N", how often it ran between the reply's first and last line
   (0 when reading keeps the ioloop from its timeouts).

   For tests of the ownership rules, --drop-in connected|input|tls deletes
   the Transport inside that handler callback (then exits 0).

   Several connections in one process, sharing the TLS session cache
   (fetchmail-tls-cache.hh): --repeat N makes the connection N times, one
   after the other; --next starts another connection that takes every
   option given so far (but --repeat) unless given again after it, e.g.
   "--host A --port 1 --repeat 2 --next --port 2". Each connection is
   headed "connection N: HOST:PORT" and followed by "tls_cache: N" (the
   sessions kept); the info shows "tls_resumed: yes|no"; at the end
   "summary:" lists one word per connection: new or resumed (TLS up),
   plain (no TLS), error, refused (STARTTLS refused).
   Process-wide options: --tls-cache-max N and --tls-cache-max-age SECS
   (the cache's bounds; --tls-cache-max 0 turns resumption off),
   --pause-ms N between connections, --brief (only errors and the
   summary), --rusage (the process's CPU time after the first connection
   and at the end, "cpu: first|end USER SYS" in seconds, for the
   benchmark).

   Exit status: 0 success, 1 transport failure (the error on stderr as
   "error: KIND: TEXT"), 2 usage, 3 the server refused STARTTLS; with
   several connections the first of these that is not 0. */

#include "fetchmail-transport.hh"
#include "fetchmail-tls-cache.hh"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

using namespace fetchmail;

namespace {

enum class Mode { Implicit, StartTlsPop3, StartTlsImap, None };

struct Options {
	TransportSettings set;
	Mode mode = Mode::Implicit;
	std::string send;
	std::string drop_in;   /* "connected", "input", "tls" or empty */
	unsigned int quiet_msecs = 500;
	unsigned int hold_msecs = 0;
	unsigned int slow_input_msecs = 0;
	unsigned int tick_msecs = 0;
	unsigned int repeat = 1;
	bool brief = false;
};

/* The connections to make and what applies to all of them. */
struct Plan {
	std::vector<Options> connections;
	bool cache_limits = false;
	size_t cache_max = TLS_SESSION_CACHE_MAX;
	unsigned int cache_max_age = TLS_SESSION_MAX_AGE_SECS;
	unsigned int pause_msecs = 0;
	bool rusage = false;
};

constexpr unsigned int reply_lines_shown = 20;

const char *kind_name(TransportError kind)
{
	switch (kind) {
	case TransportError::Resolve: return "resolve";
	case TransportError::Connect: return "connect";
	case TransportError::Timeout: return "timeout";
	case TransportError::Tls: return "tls";
	case TransportError::Closed: return "closed";
	case TransportError::Io: return "io";
	}
	return "unknown";
}

/* Server text made printable. */
std::string printable(std::string_view text)
{
	std::string out;

	for (unsigned char c : text) {
		if (c >= 0x20 && c < 0x7f)
			out += static_cast<char>(c);
		else
			out += '?';
	}
	return out;
}

std::string unescape(const char *arg)
{
	std::string out;

	for (const char *p = arg; *p != '\0'; p++) {
		if (*p != '\\' || p[1] == '\0') {
			out += *p;
			continue;
		}
		switch (*++p) {
		case 'r': out += '\r'; break;
		case 'n': out += '\n'; break;
		case 't': out += '\t'; break;
		default: out += *p; break;
		}
	}
	return out;
}

class Probe : public TransportHandler {
public:
	explicit Probe(const Options &opt)
		: opt_(opt), transport_(new Transport(*this, opt.set)) {}

	int run()
	{
		transport_->connect();
		io_loop_run(current_ioloop);
		timeout_remove(&to_quiet_);
		timeout_remove(&to_hold_);
		timeout_remove(&to_tick_);
		if (phase_ == Phase::Reply && !opt_.brief) {
			printf("reply: %u lines, %llu bytes, last: %s\n",
			       reply_lines_, (unsigned long long)reply_bytes_,
			       last_line_.c_str());
			if (opt_.tick_msecs > 0)
				printf("ticks during the reply: %u\n",
				       ticks_at_last_ - ticks_at_first_);
		}
		if (transport_ && !opt_.brief) {
			printf("bytes_in: %llu\n",
			       (unsigned long long)transport_->bytes_in());
		}
		transport_.reset();
		return exit_code_;
	}

	/* One word for the summary line. */
	const char *result() const
	{
		switch (exit_code_) {
		case 0:
			return !tls_ ? "plain" : resumed_ ? "resumed" : "new";
		case 3:
			return "refused";
		default:
			return "error";
		}
	}

	void transport_connected() override
	{
		print_info("connected");
		drop_if("connected");
	}

	size_t transport_input(std::string_view data) override
	{
		size_t pos = 0;

		if (drop_if("input"))
			return 0;
		if (to_hold_ != nullptr)
			return 0;
		if (phase_ == Phase::Reply && opt_.slow_input_msecs > 0)
			usleep(opt_.slow_input_msecs * 1000);

		while (!finished_) {
			size_t end = data.find('\n', pos);
			if (end == std::string_view::npos)
				break;
			std::string_view line = data.substr(pos, end - pos);
			if (!line.empty() && line.back() == '\r')
				line.remove_suffix(1);
			pos = end + 1;
			if (!line_received(line))
				break;
		}
		return pos;
	}

	void transport_tls_started() override
	{
		print_info("tls started");
		if (drop_if("tls"))
			return;
		after_greeting();
	}

	void transport_failed(TransportError kind,
			      const std::string &error) override
	{
		fflush(stdout);
		fprintf(stderr, "error: %s: %s\n", kind_name(kind), error.c_str());
		finish(1);
	}

private:
	enum class Phase { Greeting, StartTls, Reply };

	/* Deletes the Transport from inside the callback named `where`. */
	bool drop_if(const char *where)
	{
		if (opt_.drop_in != where)
			return false;
		if (!opt_.brief)
			printf("dropped in %s\n", where);
		finish(0);
		transport_.reset();
		return true;
	}

	/* What was sent, without the line end. */
	static std::string shown(std::string_view data)
	{
		while (!data.empty() &&
		       (data.back() == '\n' || data.back() == '\r'))
			data.remove_suffix(1);
		return printable(data);
	}

	/* Returns false to stop parsing (TLS starts after this line). */
	bool line_received(std::string_view line)
	{
		if (phase_ == Phase::Reply) {
			if (reply_lines_ == 0)
				ticks_at_first_ = ticks_;
			ticks_at_last_ = ticks_;
			reply_bytes_ += line.size() + 2;
			last_line_ = printable(line);
			if (++reply_lines_ > reply_lines_shown) {
				restart_quiet_timer();
				return true;
			}
		}
		if (!opt_.brief) {
			printf("S: %s\n", printable(line).c_str());
			fflush(stdout);
		}
		switch (phase_) {
		case Phase::Greeting:
			return greeting();
		case Phase::StartTls:
			return starttls_reply(line);
		case Phase::Reply:
			restart_quiet_timer();
			return true;
		}
		return true;
	}

	bool greeting()
	{
		const char *cmd = opt_.mode == Mode::StartTlsPop3 ? "STLS" :
			opt_.mode == Mode::StartTlsImap ? "a STARTTLS" : nullptr;

		if (cmd == nullptr) {
			after_greeting();
			return true;
		}
		if (!opt_.brief)
			printf("C: %s\n", cmd);
		transport_->send(std::string(cmd) + "\r\n");
		phase_ = Phase::StartTls;
		return true;
	}

	bool starttls_reply(std::string_view line)
	{
		bool pop3 = opt_.mode == Mode::StartTlsPop3;

		if (!pop3 && line.substr(0, 2) != "a ")
			return true; /* untagged */
		if (line.substr(0, pop3 ? 3 : 4) == (pop3 ? "+OK" : "a OK")) {
			transport_->start_tls();
			return false;
		}
		fflush(stdout);
		fprintf(stderr, "error: server refused STARTTLS\n");
		finish(3);
		return false;
	}

	void after_greeting()
	{
		if (opt_.send.empty()) {
			finish(0);
			return;
		}
		if (!opt_.brief)
			printf("C: %s\n", shown(opt_.send).c_str());
		transport_->send(opt_.send);
		phase_ = Phase::Reply;
		restart_quiet_timer();
		if (opt_.hold_msecs > 0) {
			to_hold_ = (timeout_add)(opt_.hold_msecs, __FILE__,
						 __LINE__, hold_timeout, this);
		}
		if (opt_.tick_msecs > 0) {
			to_tick_ = (timeout_add_short)(opt_.tick_msecs, __FILE__,
						       __LINE__, tick, this);
		}
	}

	static void tick(void *context)
	{
		static_cast<Probe *>(context)->ticks_++;
	}

	static void hold_timeout(void *context)
	{
		auto *probe = static_cast<Probe *>(context);

		timeout_remove(&probe->to_hold_);
		if (!probe->opt_.brief)
			printf("resume after %u ms\n", probe->opt_.hold_msecs);
		probe->restart_quiet_timer();
		probe->transport_->resume();
	}

	void restart_quiet_timer()
	{
		timeout_remove(&to_quiet_);
		to_quiet_ = (timeout_add_short)(opt_.quiet_msecs, __FILE__, __LINE__,
						quiet_timeout, this);
	}

	static void quiet_timeout(void *context)
	{
		static_cast<Probe *>(context)->finish(0);
	}

	void finish(int code)
	{
		if (finished_)
			return;
		finished_ = true;
		exit_code_ = code;
		fflush(stdout);
		io_loop_stop(current_ioloop);
	}

	void print_info(const char *what)
	{
		const TransportInfo &info = transport_->info();

		tls_ = info.tls;
		resumed_ = info.tls_resumed;
		if (opt_.brief)
			return;
		printf("%s\n", what);
		printf("  address: %s\n", info.address.c_str());
		printf("  tls: %s\n", info.tls ? "yes" : "no");
		if (info.tls) {
			printf("  tls_subject: %s\n", info.tls_subject.c_str());
			printf("  tls_cipher: %s\n", info.tls_cipher.c_str());
			printf("  tls_verified: %s\n", info.tls_verified ? "yes" : "no");
			if (!info.tls_verified) {
				printf("  tls_verify_error: %s\n",
				       info.tls_verify_error.c_str());
			}
			printf("  tls_resumed: %s\n", info.tls_resumed ? "yes" : "no");
		}
		fflush(stdout);
	}

	const Options &opt_;
	std::unique_ptr<Transport> transport_;
	Phase phase_ = Phase::Greeting;
	struct timeout *to_quiet_ = nullptr;
	struct timeout *to_hold_ = nullptr;
	struct timeout *to_tick_ = nullptr;
	unsigned int ticks_ = 0, ticks_at_first_ = 0, ticks_at_last_ = 0;
	unsigned int reply_lines_ = 0;
	uint64_t reply_bytes_ = 0;
	std::string last_line_;
	bool finished_ = false;
	bool tls_ = false;
	bool resumed_ = false;
	int exit_code_ = 1;
};

[[noreturn]] void usage()
{
	fprintf(stderr,
		"usage: fetchmail-transport-probe --host H --port P\n"
		"       [--tls implicit|starttls-pop3|starttls-imap|none] [--no-verify|--verify]\n"
		"       [--ca-file F] [--dns-socket S] [--timeout-ms N] [--send DATA]\n"
		"       [--quiet-ms N] [--hold-ms N] [--slow-input-ms N] [--tick-ms N]\n"
		"       [--drop-in connected|input|tls]\n"
		"       [--repeat N] [--next CONNECTION-OPTIONS...]\n"
		"       [--tls-cache-max N] [--tls-cache-max-age SECS] [--pause-ms N]\n"
		"       [--brief] [--rusage]\n");
	exit(2);
}

bool parse_mode(const char *arg, Options &opt)
{
	std::string_view a = arg;

	if (a == "implicit")
		opt.mode = Mode::Implicit;
	else if (a == "starttls-pop3")
		opt.mode = Mode::StartTlsPop3;
	else if (a == "starttls-imap")
		opt.mode = Mode::StartTlsImap;
	else if (a == "none")
		opt.mode = Mode::None;
	else
		return false;
	opt.set.implicit_tls = opt.mode == Mode::Implicit;
	return true;
}

unsigned int parse_uint(const char *v)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (*v == '\0' || *end != '\0' || n > 100000000)
		usage();
	return static_cast<unsigned int>(n);
}

Plan parse_args(int argc, char *argv[])
{
	Plan plan;
	Options opt;

	for (int i = 1; i < argc; i++) {
		std::string_view a = argv[i];
		if (a == "--no-verify" || a == "--verify") {
			opt.set.verify = a == "--verify";
			continue;
		}
		if (a == "--brief") {
			opt.brief = true;
			continue;
		}
		if (a == "--rusage") {
			plan.rusage = true;
			continue;
		}
		if (a == "--next") {
			if (opt.set.host.empty() || opt.set.port == 0)
				usage();
			plan.connections.push_back(opt);
			opt.repeat = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (a == "--repeat") {
			opt.repeat = parse_uint(v);
			if (opt.repeat == 0)
				usage();
		} else if (a == "--tls-cache-max") {
			plan.cache_limits = true;
			plan.cache_max = parse_uint(v);
		} else if (a == "--tls-cache-max-age") {
			plan.cache_limits = true;
			plan.cache_max_age = parse_uint(v);
		} else if (a == "--pause-ms")
			plan.pause_msecs = parse_uint(v);
		else if (a == "--host")
			opt.set.host = v;
		else if (a == "--port") {
			unsigned long port = strtoul(v, nullptr, 10);
			if (port == 0 || port > 65535)
				usage();
			opt.set.port = static_cast<uint16_t>(port);
		} else if (a == "--tls") {
			if (!parse_mode(v, opt))
				usage();
		} else if (a == "--ca-file")
			opt.set.ca_file = v;
		else if (a == "--dns-socket")
			opt.set.dns_client_socket = v;
		else if (a == "--timeout-ms")
			opt.set.timeout_msecs = strtoul(v, nullptr, 10);
		else if (a == "--send")
			opt.send = unescape(v);
		else if (a == "--quiet-ms")
			opt.quiet_msecs = strtoul(v, nullptr, 10);
		else if (a == "--hold-ms")
			opt.hold_msecs = strtoul(v, nullptr, 10);
		else if (a == "--slow-input-ms")
			opt.slow_input_msecs = strtoul(v, nullptr, 10);
		else if (a == "--tick-ms")
			opt.tick_msecs = strtoul(v, nullptr, 10);
		else if (a == "--drop-in")
			opt.drop_in = v;
		else
			usage();
	}
	if (opt.set.host.empty() || opt.set.port == 0)
		usage();
	plan.connections.push_back(opt);
	return plan;
}

void print_cpu(const char *when)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return;
	printf("cpu: %s %ld.%06ld %ld.%06ld\n", when,
	       (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
	       (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
}

/* Makes the planned connections one after the other; returns the exit
   status. */
int run_plan(const Plan &plan)
{
	std::string summary;
	unsigned int n = 0;
	int ret = 0;

	if (plan.cache_limits)
		tls_session_cache_set_limits(plan.cache_max, plan.cache_max_age);
	for (const Options &opt : plan.connections) {
		for (unsigned int r = 0; r < opt.repeat; r++) {
			if (n > 0 && plan.pause_msecs > 0)
				usleep(plan.pause_msecs * 1000);
			if (!opt.brief) {
				printf("connection %u: %s:%u\n", n + 1,
				       opt.set.host.c_str(), opt.set.port);
				fflush(stdout);
			}
			Probe probe(opt);
			int code = probe.run();
			if (ret == 0)
				ret = code;
			summary += std::string(n > 0 ? " " : "") + probe.result();
			if (!opt.brief)
				printf("tls_cache: %zu\n", tls_session_cache_size());
			if (n++ == 0 && plan.rusage)
				print_cpu("first");
			fflush(stdout);
		}
	}
	if (plan.rusage)
		print_cpu("end");
	printf("summary: %s\n", summary.c_str());
	return ret;
}

} // namespace

int main(int argc, char *argv[])
{
	Plan plan = parse_args(argc, argv);
	int ret;

	lib_init();
	struct ioloop *ioloop = io_loop_create();
	ret = run_plan(plan);
	/* the sessions are OpenSSL objects: before the SSL module goes */
	tls_session_cache_clear();
	io_loop_destroy(&ioloop);
	lib_deinit();
	return ret;
}
