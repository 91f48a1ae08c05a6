#ifndef FETCHMAIL_TEST_TRANSCRIPT_HH
#define FETCHMAIL_TEST_TRANSCRIPT_HH

/* The transcript harness shared by the tests of everything that is fed
   server bytes: the POP3 and IMAP sessions and the retrieval core.

   A test runs a scenario into a Transcript (what happened, as lines, and
   the client's bytes) with a Chunker that decides how the server's bytes
   are cut into feed() calls. check_splits() runs it whole, split in two at
   every byte position, and byte by byte, and fails unless every run gives
   the same transcript: the state machines must not depend on how their
   input arrives. feed_copy() hands each chunk over in an exact-size heap
   buffer, so that a view kept past its feed() shows up under ASan, and
   in_buffer() checks that data views point into it.

   ScriptedServer plays a server that answers each complete command line
   with a scripted reply, checking the command against the script. */

#include "fetchmail-proto.hh"

#include <cstring>
#include <functional>
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
	std::string output;               /* every byte the client sent */
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
	if (base.output != t.output)
		fail_msg("%s %zu: the client's bytes differ:\n%s\n---\n%s", how,
			 k, base.output.c_str(), t.output.c_str());
}

/* Runs run(chunker) whole, split at every position below the length of
   the longest server stream (longest(whole run)), and byte by byte;
   returns the whole run after checking that all agree. */
inline Transcript
check_splits(const std::function<Transcript(const Chunker &)> &run,
	     size_t longest)
{
	Transcript base = run(whole);
	if (!base.problems.empty())
		fail_msg("%s\n  %s", base.problems.c_str(),
			 join(base.lines).c_str());
	for (size_t k = 1; k < longest; k++)
		expect_same(base, run(split_at(k)), "split at", k);
	expect_same(base, run(bytewise), "byte by byte", 0);
	return base;
}

/* A server that answers each complete client line with the next scripted
   reply. */
class ScriptedServer {
public:
	using Steps = std::vector<std::pair<std::string, std::string>>;

	ScriptedServer(std::string greeting, Steps steps)
		: stream_(std::move(greeting)), steps_(std::move(steps)) {}

	/* The client sent bytes: answer every complete line. */
	void client(std::string_view bytes, Transcript &t)
	{
		pending_ += bytes;
		size_t pos;
		while ((pos = pending_.find("\r\n")) != std::string::npos) {
			std::string line = pending_.substr(0, pos);
			pending_.erase(0, pos + 2);
			if (used_ >= steps_.size()) {
				t.problem("unexpected command [" + line + "]");
				continue;
			}
			const auto &[expected, reply] = steps_[used_++];
			if (line != expected)
				t.problem("expected [" + expected + "] got [" +
					  line + "]");
			stream_ += reply;
		}
	}
	/* Everything the server sent so far, and how much the client read. */
	const std::string &stream() const { return stream_; }
	size_t &fed() { return fed_; }
	bool all_used() const { return used_ == steps_.size(); }
	size_t used() const { return used_; }

private:
	std::string stream_;
	std::string pending_;
	Steps steps_;
	size_t used_ = 0;
	size_t fed_ = 0;
};

} // namespace fetchmail_test

#endif
