/* libFuzzer entry point for the POP3 session (plugin/core/fetchmail-pop3).
   Not part of the CMake build. Build and run by hand with clang:

     clang++ -std=gnu++20 -g -O1 -fsanitize=fuzzer,address,undefined \
       -I plugin/core plugin/core/fetchmail-proto.cc \
       plugin/core/fetchmail-pop3.cc plugin/core/fetchmail-sasl.cc \
       plugin/core/fetchmail-crypto.cc tests/fuzz/fuzz-fetchmail-pop3.cc \
       -lcrypto -o /tmp/fuzz-pop3
     mkdir -p /tmp/fuzz-pop3-corpus
     /tmp/fuzz-pop3 -max_total_time=60 -max_len=4096 /tmp/fuzz-pop3-corpus

   (Any compiler can build a replay binary: add -DFUZZ_STANDALONE and drop
   -fsanitize=fuzzer; it runs the files given as arguments.)

   Input: byte 0 picks the configuration and the state the session is
   driven to with a canned, well-formed server prefix before the fuzzed
   bytes are fed (from the greeting, after CAPA, after login, or with
   RETR/DELE/QUIT outstanding); byte 1 seeds the chunk sizes; the rest is
   what the server sends. The driver reacts to events like the Dovecot
   glue. Checked: no crash or overread (ASan), feed() never consumes more
   than given, a finished session stays inert, body views lie inside the
   fed buffer, and the password never appears in Log, Error or
   MessageFailed text. */

#include "fetchmail-pop3.hh"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace fetchmail;

namespace {

const char secret[] = "Fuzz-S3cret!pw";

void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "invariant failed: %s\n", what);
		abort();
	}
}

class Driver {
public:
	explicit Driver(const SessionConfig &config) : s(config) {}

	/* Feeds data in chunks, reacting to events; returns bytes consumed. */
	size_t feed(const uint8_t *data, size_t size, uint32_t &seed)
	{
		size_t pos = 0;
		for (int stalls = 0; pos < size && stalls < 3;) {
			seed = seed * 1103515245u + 12345u;
			size_t n = 1 + (seed >> 16) % 64;
			if ((seed & 0x300) == 0)
				n = size - pos;
			n = std::min(n, size - pos);
			std::unique_ptr<char[]> buf(new char[n]);
			memcpy(buf.get(), data + pos, n);
			bool was_finished = s.finished();
			size_t used = s.feed(std::string_view(buf.get(), n));
			check(used <= n, "feed consumed more than given");
			check(!was_finished || used == 0, "finished session read");
			pos += used;
			stalls = used == 0 ? stalls + 1 : 0;
			drain(buf.get(), n);
		}
		return pos;
	}

	void drain(const char *buf, size_t size)
	{
		std::string out = s.take_output();
		check(!s.finished() || out.empty(), "output after finish");
		Event ev;
		while (s.next_event(ev)) {
			check(!done, "event after Done/Error");
			switch (ev.type) {
			case EventType::MessageData:
				check(!ev.data.empty(), "empty data");
				check((buf != nullptr && ev.data.data() >= buf &&
				       ev.data.data() + ev.data.size() <= buf + size) ||
				      ev.data == "\r", "data view outside the buffer");
				sum += static_cast<unsigned char>(ev.data.back());
				break;
			case EventType::NeedTls:
				s.tls_started();
				break;
			case EventType::Listing:
				act(ev.messages);
				break;
			case EventType::Done:
			case EventType::Error:
				done = true;
				break;
			default:
				break;
			}
			check(ev.text.find(secret) == std::string::npos,
			      "secret in event text");
		}
		check(s.finished() == done, "finished() disagrees with events");
	}

	void act(const std::vector<RemoteMessage> &messages)
	{
		std::vector<std::string> uids;
		for (const RemoteMessage &m : messages)
			uids.push_back(m.uid.empty() ? std::to_string(m.number) : m.uid);
		uids.push_back("no-such-uid");
		s.fetch(messages);
		s.remove(uids);
		s.quit();
	}

	Pop3Session s;
	bool done = false;
	unsigned sum = 0;
};

std::string prefix(unsigned state, bool pipelining)
{
	std::string caps = pipelining ? "PIPELINING\r\n" : "";
	std::string p = "+OK ready\r\n+OK\r\nUSER\r\nUIDL\r\n" + caps + ".\r\n";
	if (state >= 2)
		p += "+OK\r\n+OK logged in\r\n";
	if (state >= 3) {
		p += "+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n"
			"+OK\r\n1 10\r\n2 20\r\n3 30\r\n.\r\n";
	}
	return p;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t mode = data[0];
	uint32_t seed = data[1];
	data += 2;
	size -= 2;

	static const char *const mechs[] = {"", "PLAIN", "LOGIN", "XOAUTH2"};
	unsigned state = mode & 3;
	bool pipelining = mode & 4;
	SessionConfig config;
	config.user = "fuzz,user=";
	config.password = secret;
	if (state == 0) {
		/* the whole exchange is fuzzed: any TLS mode and mechanism */
		config.tls = (mode & 8) ? SessionConfig::Tls::StartTls :
			SessionConfig::Tls::Implicit;
		config.sasl_mech = mechs[(mode >> 4) & 3];
		if (mode & 0x40)
			config.sasl_mech = "OAUTHBEARER";
	}
	if (mode & 0x80) {
		config.max_line = 40;
		config.max_message = 100;
	}

	Driver d(config);
	if (state > 0) {
		std::string p = prefix(state, pipelining);
		uint32_t pseed = seed;
		size_t used = d.feed(reinterpret_cast<const uint8_t *>(p.data()),
				     p.size(), pseed);
		check(d.done || used == p.size(), "canned prefix not consumed");
	}
	d.feed(data, size, seed);
	d.s.eof();
	d.drain(nullptr, 0);
	check(d.s.finished(), "not finished after eof()");
	/* everything after the end is ignored */
	check(d.s.feed("+OK\r\n") == 0, "feed after finish");
	d.s.fetch({RemoteMessage{}});
	d.s.quit();
	check(d.s.take_output().empty(), "output after finish");
	return 0;
}

#ifdef FUZZ_STANDALONE
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (f == nullptr)
			continue;
		std::vector<uint8_t> buf;
		int c;
		while ((c = fgetc(f)) != EOF)
			buf.push_back(static_cast<uint8_t>(c));
		fclose(f);
		LLVMFuzzerTestOneInput(buf.data(), buf.size());
	}
	return 0;
}
#endif
