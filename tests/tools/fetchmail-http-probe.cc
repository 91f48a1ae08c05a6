/* fetchmail-http-probe: exercises plugin/fetchmail-http.cc (the libcurl
   client inside the Dovecot ioloop) against a real server, outside
   Dovecot.

   fetchmail-http-probe --url URL [--body DATA] [--count N]
	[--ca-file F] [--timeout-ms N] [--max-response N]
	[--parse token|device] [--cancel N] [--destroy-in-callback]

   Sends N POSTs of DATA to URL at once (default 1) in one ioloop and
   prints one line per request as it completes:

     3 status=200 bytes=87
     4 error=timeout token endpoint 127.0.0.1:4443: Operation timed out...

   With --parse, the body is parsed as a token or device authorization
   response (plugin/core/fetchmail-oauth2) and the outcome is printed
   instead of the size (never a token): "outcome=ok expires_in=5" or
   "outcome=consent needed error=invalid_grant: ...".

   --cancel N cancels the first N requests right after posting them
   (their callbacks must not come). --destroy-in-callback destroys the
   client inside the first callback (no further callback may come).

   A heartbeat timeout of 10 ms runs while requests are in flight; the
   summary line shows the longest gap between two heartbeats, which stays
   small unless something blocked the ioloop:

     done 100/100 in 1043 ms, errors 0, max_gap_ms 12

   Exit status: 0 when every request that was not cancelled got an HTTP
   answer, 1 when any failed, 2 usage, 3 a callback broke a rule. */

#include "fetchmail-http.hh"
#include "fetchmail-oauth2.hh"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

using namespace fetchmail;

namespace {

struct Options {
	HttpSettings set;
	std::string url;
	std::string body = "grant_type=refresh_token&refresh_token=probe";
	unsigned int count = 1;
	unsigned int cancel = 0;
	std::string parse;
	bool destroy_in_callback = false;
};

int64_t now_ms()
{
	struct timeval tv;
	gettimeofday(&tv, nullptr);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

class Probe {
public:
	explicit Probe(const Options &opt) : opt_(opt) {}

	int run()
	{
		http_ = std::make_unique<HttpClient>(opt_.set);
		started_ = last_beat_ = now_ms();
		to_beat_ = fetchmail_timeout_add_short_to(current_ioloop, 10,
							  heartbeat_cb, this);
		for (unsigned int i = 1; i <= opt_.count; i++) {
			uint64_t id = http_->post_form(opt_.url, opt_.body,
				[this, i](HttpResponse &r) { answer(i, r); });
			if (i <= opt_.cancel)
				http_->cancel(id);
			else
				expected_++;
		}
		if (http_->pending() != expected_) {
			printf("pending %zu, expected %u\n", http_->pending(),
			       expected_);
			broken_ = true;
		}
		if (expected_ > 0)
			io_loop_run(current_ioloop);
		timeout_remove(&to_beat_);
		/* a cancelled request must never call back, also not later */
		if (http_ != nullptr && http_->pending() != 0) {
			printf("still pending: %zu\n", http_->pending());
			broken_ = true;
		}
		http_.reset();
		printf("done %u/%u in %lld ms, errors %u, max_gap_ms %lld\n",
		       answered_, expected_, (long long)(now_ms() - started_),
		       errors_, (long long)max_gap_);
		if (broken_)
			return 3;
		if (opt_.destroy_in_callback)
			return answered_ == 1 ? 0 : 1;
		return errors_ > 0 || answered_ != expected_ ? 1 : 0;
	}

private:
	static void heartbeat_cb(Probe *p)
	{
		int64_t now = now_ms();
		if (now - p->last_beat_ > p->max_gap_)
			p->max_gap_ = now - p->last_beat_;
		p->last_beat_ = now;
	}

	void answer(unsigned int i, HttpResponse &r)
	{
		answered_++;
		if (i <= opt_.cancel || stopped_) {
			printf("%u callback after cancel or destroy\n", i);
			broken_ = true;
		}
		if (r.error != HttpError::None) {
			errors_++;
			printf("%u error=%s %s\n", i, http_error_name(r.error),
			       r.error_text.c_str());
		} else if (opt_.parse.empty()) {
			printf("%u status=%ld bytes=%zu\n", i, r.status,
			       r.body.size());
		} else {
			print_parsed(i, r);
		}
		fflush(stdout);
		if (opt_.destroy_in_callback) {
			stopped_ = true;
			http_.reset();
			io_loop_stop(current_ioloop);
			return;
		}
		if (answered_ == expected_)
			io_loop_stop(current_ioloop);
	}

	void print_parsed(unsigned int i, const HttpResponse &r)
	{
		std::string error;
		OAuth2Outcome o;
		if (opt_.parse == "device") {
			OAuth2DeviceAuthorization d;
			o = oauth2_parse_device_response(r.status, r.body, {},
							 d, error);
			printf("%u status=%ld outcome=%s user_code=%s "
			       "interval=%lld error=%s\n", i, r.status,
			       oauth2_outcome_name(o), d.user_code.c_str(),
			       (long long)d.interval, error.c_str());
			return;
		}
		OAuth2TokenResponse t;
		o = oauth2_parse_token_response(r.status, r.body, {}, t, error);
		printf("%u status=%ld outcome=%s expires_in=%lld rotated=%s "
		       "error=%s\n", i, r.status, oauth2_outcome_name(o),
		       (long long)t.expires_in,
		       t.refresh_token.empty() ? "no" : "yes", error.c_str());
	}

	const Options &opt_;
	std::unique_ptr<HttpClient> http_;
	struct timeout *to_beat_ = nullptr;
	int64_t started_ = 0, last_beat_ = 0, max_gap_ = 0;
	unsigned int expected_ = 0, answered_ = 0, errors_ = 0;
	bool stopped_ = false, broken_ = false;
};

[[noreturn]] void usage()
{
	fprintf(stderr,
		"usage: fetchmail-http-probe --url URL [--body DATA] [--count N]\n"
		"       [--ca-file F] [--timeout-ms N] [--max-response N]\n"
		"       [--parse token|device] [--cancel N] [--destroy-in-callback]\n");
	exit(2);
}

Options parse_args(int argc, char *argv[])
{
	Options opt;

	for (int i = 1; i < argc; i++) {
		std::string_view a = argv[i];
		if (a == "--destroy-in-callback") {
			opt.destroy_in_callback = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (a == "--url")
			opt.url = v;
		else if (a == "--body")
			opt.body = v;
		else if (a == "--count")
			opt.count = strtoul(v, nullptr, 10);
		else if (a == "--cancel")
			opt.cancel = strtoul(v, nullptr, 10);
		else if (a == "--ca-file")
			opt.set.ca_file = v;
		else if (a == "--timeout-ms")
			opt.set.timeout_msecs = strtoul(v, nullptr, 10);
		else if (a == "--max-response")
			opt.set.max_response = strtoul(v, nullptr, 10);
		else if (a == "--parse" && (strcmp(v, "token") == 0 ||
					    strcmp(v, "device") == 0))
			opt.parse = v;
		else
			usage();
	}
	if (opt.url.empty() || opt.count == 0 || opt.cancel > opt.count)
		usage();
	return opt;
}

} // namespace

int main(int argc, char *argv[])
{
	Options opt = parse_args(argc, argv);
	int ret;

	lib_init();
	struct ioloop *ioloop = io_loop_create();
	{
		Probe probe(opt);
		ret = probe.run();
	}
	io_loop_destroy(&ioloop);
	lib_deinit();
	return ret;
}
