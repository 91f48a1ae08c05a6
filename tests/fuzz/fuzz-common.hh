#ifndef FETCHMAIL_FUZZ_COMMON_HH
#define FETCHMAIL_FUZZ_COMMON_HH

/* What every libFuzzer target in tests/fuzz/ shares (as the unit tests
   share tests/unit/test-common.hh): a check that aborts with its
   condition, a reader that cuts the fuzz input into parameters, the
   text properties the core promises, an account's fields for
   comparisons, and the replay main().

   A target defines LLVMFuzzerTestOneInput() and includes this header
   once. Built with -DFUZZ_STANDALONE (the REPLAY build, any compiler),
   the header adds a main() that runs every file given on the command
   line, and every file in a directory given, through the target: the
   corpus as a regression test without libFuzzer. See docs/fuzzing.md. */

#include "fetchmail-account.hh"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <tuple>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the code under test. A failure prints the condition and
   aborts: libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(cond) \
	((cond) ? (void)0 : fuzz_fail(#cond, __FILE__, __LINE__))

[[noreturn]] inline void fuzz_fail(const char *what, const char *file,
				   int line)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	abort();
}

/* The fuzz input as a stream of parameters. Reads past the end give
   zeros and empty strings, so a target never has to check the size. */
class FuzzInput {
public:
	FuzzInput(const uint8_t *data, size_t size)
		: in_(reinterpret_cast<const char *>(data), size) {}

	bool empty() const { return in_.empty(); }
	size_t size() const { return in_.size(); }

	uint8_t byte()
	{
		if (in_.empty())
			return 0;
		uint8_t b = static_cast<uint8_t>(in_[0]);
		in_.remove_prefix(1);
		return b;
	}

	uint32_t u32()
	{
		uint32_t v = 0;
		for (int i = 0; i < 4; i++)
			v = (v << 8) | byte();
		return v;
	}

	/* Up to n bytes. */
	std::string_view bytes(size_t n)
	{
		std::string_view out = in_.substr(0, n);
		in_.remove_prefix(out.size());
		return out;
	}

	/* Up to the next delim (dropped), or the rest. */
	std::string_view until(char delim)
	{
		size_t end = in_.find(delim);
		std::string_view out = in_.substr(0, end);
		in_.remove_prefix(end == in_.npos ? in_.size() : end + 1);
		return out;
	}

	std::string_view rest() { return bytes(in_.size()); }

private:
	std::string_view in_;
};

/* No control characters: what sanitized server text and one-line error
   messages look like. */
inline bool fuzz_printable(std::string_view text)
{
	for (unsigned char c : text) {
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

inline bool fuzz_contains(std::string_view text, std::string_view part)
{
	return !part.empty() && text.find(part) != text.npos;
}

/* Every field of an account, to compare two with ==. */
inline auto fuzz_account_fields(const fetchmail::Account &a)
{
	return std::tie(a.id, a.host, a.port, a.protocol, a.protocol_set,
			a.remote_user, a.password, a.tls, a.tls_verify, a.keep,
			a.folders, a.mailbox, a.max_size, a.active, a.auth,
			a.oauth2_provider, a.push, a.revision);
}

#ifdef FUZZ_STANDALONE
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

/* Replay: each argument is an input file or a directory of them. */
int main(int argc, char **argv)
{
	namespace fs = std::filesystem;
	unsigned runs = 0;
	auto run = [&](const fs::path &path) {
		std::ifstream f(path, std::ios::binary);
		std::vector<char> buf((std::istreambuf_iterator<char>(f)),
				      std::istreambuf_iterator<char>());
		LLVMFuzzerTestOneInput(
			reinterpret_cast<const uint8_t *>(buf.data()),
			buf.size());
		runs++;
	};
	for (int i = 1; i < argc; i++) {
		if (!fs::is_directory(argv[i])) {
			run(argv[i]);
			continue;
		}
		for (const auto &entry : fs::directory_iterator(argv[i])) {
			if (entry.is_regular_file())
				run(entry.path());
		}
	}
	printf("%u inputs replayed, no check failed\n", runs);
	return runs > 0 ? 0 : 1;
}
#endif

#endif
