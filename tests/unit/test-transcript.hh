#ifndef FETCHMAIL_TEST_TRANSCRIPT_HH
#define FETCHMAIL_TEST_TRANSCRIPT_HH

/* The transcript harness shared by the tests of everything that is fed
   server bytes: the POP3 and IMAP sessions and the retrieval core.

   A test runs a scenario into a Transcript (what happened, as lines, the
   message bodies and the client's bytes) with a Chunker that decides how
   the server's bytes are cut into feed() calls. check_splits() runs it
   whole, split in two at every byte position, and byte by byte, and fails
   unless every run gives the same transcript: the state machines must not
   depend on how their input arrives. feed_copy() hands each chunk over in
   an exact-size heap buffer, so that a view kept past its feed() shows up
   under ASan, and in_buffer() checks that data views point into it.

   ScriptedServer plays a server that answers each complete command line
   with a scripted reply, checking the command against the script, and
   feeds the client what it sent, chunk by chunk. */

#include "fetchmail-proto.hh"

#include <algorithm>
#include <cstring>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "test-common.hh"

namespace fetchmail_test {

using fetchmail::Event;
using fetchmail::EventType;
using fetchmail::ErrorKind;

/* The size of the next chunk to feed, given what was fed and what is
   there to feed. */
using Chunker = std::function<size_t(size_t fed, size_t avail)>;

inline size_t whole(size_t fed, size_t avail)
{
	return avail - fed;
}

inline size_t bytewise(size_t, size_t)
{
	return 1;
}

/* The first chunk ends at byte k of the stream, the rest is whole. */
inline Chunker split_at(size_t k)
{
	return [k](size_t fed, size_t avail) {
		return fed < k && k < avail ? k - fed : avail - fed;
	};
}

struct Transcript {
	std::vector<std::string> lines;   /* events or actions, described */
	std::vector<std::string> bodies;  /* messages, as their data came */
	std::string output;               /* every byte the client sent */
	/* with a script of server steps (IMAP's): the bytes the client
	   took of each, -1 where it had finished */
	std::vector<long> consumed;
	std::string problems;             /* contract violations seen */

	void add(std::string line) { lines.push_back(std::move(line)); }
	void problem(const std::string &what) { problems += what + "; "; }
};

/* Feeds bytes through feed (a session's or the core's feed()) from an
   exact-size heap copy; calls drain(buf, len) while the copy is alive.
   Returns what feed() consumed. */
template <typename Feed, typename Drain>
size_t feed_copy(std::string_view bytes, Feed &&feed, Drain &&drain,
		 Transcript &t)
{
	std::unique_ptr<char[]> buf(new char[bytes.size() + 1]);
	memcpy(buf.get(), bytes.data(), bytes.size());
	size_t used = feed(std::string_view(buf.get(), bytes.size()));
	if (used > bytes.size())
		t.problem("feed() consumed more than it was given");
	drain(buf.get(), bytes.size());
	return used;
}

/* data lies inside the buffer fed last (or is the session's static
   "\r"). */
inline bool in_buffer(std::string_view data, const char *buf, size_t len)
{
	return data == "\r" || (buf != nullptr && data.data() >= buf &&
				data.data() + data.size() <= buf + len);
}

inline const char *error_kind_name(ErrorKind kind)
{
	static const char *const names[] = {
		"None", "Protocol", "Auth", "TlsUnavailable", "Server", "Closed",
		"Unsupported",
	};
	static_assert(std::size(names) == size_t(ErrorKind::Unsupported) + 1);
	return names[static_cast<int>(kind)];
}

inline std::string join(const std::vector<std::string> &list,
			const char *sep = "\n  ")
{
	std::string out;
	for (const std::string &s : list)
		out += (out.empty() ? "" : sep) + s;
	return out;
}

/* Fails unless got is expected, line by line. */
inline void expect_lines(const std::vector<std::string> &got,
			 const std::vector<std::string> &expected)
{
	for (size_t i = 0; i < got.size() || i < expected.size(); i++) {
		const char *x = i < expected.size() ? expected[i].c_str() :
			"(none)";
		const char *y = i < got.size() ? got[i].c_str() : "(none)";
		if (strcmp(x, y) != 0)
			fail_msg("line %zu:\n  expected %s\n  got      %s\nall:\n  %s",
				 i, x, y, join(got).c_str());
	}
}

inline bool has_line(const Transcript &t, const std::string &line)
{
	return std::find(t.lines.begin(), t.lines.end(), line) !=
		t.lines.end();
}

inline void expect_same(const Transcript &base, const Transcript &t,
			const char *how, size_t k)
{
	if (!t.problems.empty())
		fail_msg("%s %zu: %s", how, k, t.problems.c_str());
	for (size_t i = 0; i < base.lines.size() || i < t.lines.size(); i++) {
		const char *x = i < base.lines.size() ? base.lines[i].c_str() :
			"(none)";
		const char *y = i < t.lines.size() ? t.lines[i].c_str() :
			"(none)";
		if (strcmp(x, y) != 0)
			fail_msg("%s %zu: line %zu differs:\n  whole: %s\n  here:  %s",
				 how, k, i, x, y);
	}
	if (base.bodies != t.bodies)
		fail_msg("%s %zu: the bodies differ:\n%s\n---\n%s", how, k,
			 join(base.bodies, "\n--\n").c_str(),
			 join(t.bodies, "\n--\n").c_str());
	if (base.output != t.output)
		fail_msg("%s %zu: the client's bytes differ:\n%s\n---\n%s", how,
			 k, base.output.c_str(), t.output.c_str());
	if (base.consumed != t.consumed)
		fail_msg("%s %zu: the bytes taken of a step differ", how, k);
}

/* Runs run(chunker), which returns a Transcript (or a struct derived
   from it), whole, split at every position below longest (the length of
   the longest server stream), and byte by byte; returns the whole run
   after checking that all agree. */
template <typename RunFn>
auto check_splits(const RunFn &run, size_t longest)
{
	auto base = run(whole);
	if (!base.problems.empty())
		fail_msg("%s\n  %s", base.problems.c_str(),
			 join(base.lines).c_str());
	for (size_t k = 1; k < longest; k++)
		expect_same(base, run(split_at(k)), "split at", k);
	expect_same(base, run(bytewise), "byte by byte", 0);
	return base;
}

/* A server that answers each complete client line with the next scripted
   reply, and feeds the client what it sent. */
class ScriptedServer {
public:
	/* (the command line expected, the reply to it) */
	using Steps = std::vector<std::pair<std::string, std::string>>;

	ScriptedServer(std::string greeting, Steps steps)
		: stream_(std::move(greeting)), steps_(std::move(steps)) {}

	/* How long the server's stream gets when every step is used. */
	static size_t script_size(const std::string &greeting,
				  const Steps &steps)
	{
		size_t size = greeting.size();
		for (const auto &[command, reply] : steps)
			size += reply.size();
		return size;
	}

	/* Takes what client (anything with take_output()) sent, adds it to
	   t.output and answers every complete line. Returns what it took. */
	template <typename Client>
	std::string take_output(Client &client, Transcript &t)
	{
		std::string out = client.take_output();
		t.output += out;
		pending_ += out;
		size_t pos;
		while ((pos = pending_.find("\r\n")) != std::string::npos) {
			std::string line = pending_.substr(0, pos);
			pending_.erase(0, pos + 2);
			answer(line, t);
		}
		return out;
	}

	/* The server sent bytes that the client has not taken. */
	bool unread() const { return fed_ < stream_.size(); }

	/* Feeds client (anything with feed()) the next chunk of what it has
	   not taken, as chunk cuts it, through feed_copy() (drain as there).
	   Returns what the client took. */
	template <typename Client, typename Drain>
	size_t feed(Client &client, const Chunker &chunk, Drain &&drain,
		    Transcript &t)
	{
		size_t avail = stream_.size();
		size_t n = std::min(chunk(fed_, avail), avail - fed_);
		size_t used = feed_copy(std::string_view(stream_).substr(fed_, n),
			[&](std::string_view bytes) { return client.feed(bytes); },
			drain, t);
		fed_ += used;
		return used;
	}

	/* Everything the server sent so far, and how much the client took. */
	const std::string &stream() const { return stream_; }
	size_t fed() const { return fed_; }
	bool all_used() const { return used_ == steps_.size(); }
	size_t used() const { return used_; }

private:
	void answer(const std::string &line, Transcript &t)
	{
		if (used_ >= steps_.size()) {
			t.problem("unexpected command [" + line + "]");
			return;
		}
		const auto &[expected, reply] = steps_[used_++];
		if (line != expected)
			t.problem("expected [" + expected + "] got [" + line + "]");
		stream_ += reply;
	}

	std::string stream_;
	std::string pending_;
	Steps steps_;
	size_t used_ = 0;
	size_t fed_ = 0;
};

} // namespace fetchmail_test

#endif
