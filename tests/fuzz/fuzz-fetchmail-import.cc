/* libFuzzer entry point for the import parsers (plugin/core/
   fetchmail-import*: fetchmailrc, PostfixAdmin and Mailu tables,
   .fetchids). Not part of the CMake build. Build and run by hand with
   clang:

     clang++ -std=gnu++20 -g -O1 -fsanitize=fuzzer,address,undefined \
       -I plugin/core plugin/core/fetchmail-import.cc \
       plugin/core/fetchmail-import-fetchmailrc.cc \
       plugin/core/fetchmail-import-postfixadmin.cc \
       plugin/core/fetchmail-import-mailu.cc \
       plugin/core/fetchmail-account.cc plugin/core/fetchmail-crypto.cc \
       plugin/core/fetchmail-strings.cc \
       tests/fuzz/fuzz-fetchmail-import.cc -lcrypto -o /tmp/fuzz-import
     mkdir -p /tmp/fuzz-import-corpus
     /tmp/fuzz-import -max_total_time=60 -max_len=4096 \
       -dict=tests/fuzz/fuzz-fetchmail-import.dict /tmp/fuzz-import-corpus

   (Any compiler can build a replay binary: add -DFUZZ_STANDALONE and drop
   -fsanitize=fuzzer; it runs the files given as arguments.)

   Input: byte 0 picks the parser (fetchmailrc, postfixadmin, mailu,
   fetchids); the rest is the file. Checked: no crash or overread (ASan),
   parsing twice gives the same result, a failed parse leaves the result
   alone and gives a "line N: " error, every imported account that is not
   skipped has the fields a record needs, and no note or error holds an
   imported password (passwords of 6 bytes or more, to keep short ones
   from matching ordinary words). */

#include "fetchmail-import.hh"
#include "fetchmail-import-fetchmailrc.hh"
#include "fetchmail-import-mailu.hh"
#include "fetchmail-import-postfixadmin.hh"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace fetchmail;

namespace {

void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "check failed: %s\n", what);
		abort();
	}
}

int parse(uint8_t which, const std::string &text, ImportFile &file,
	  std::string &error)
{
	switch (which % 3) {
	case 0: return import_fetchmailrc(text, file, error);
	case 1: return import_postfixadmin(text, file, error);
	default: return import_mailu(text, file, error);
	}
}

void check_file(const ImportFile &file)
{
	for (const ImportedAccount &imp : file.accounts) {
		const std::string &pw = imp.account.password;
		check(imp.line > 0, "account without a line");
		for (const ImportNote &n : imp.notes) {
			check(n.line > 0, "note without a line");
			check(pw.size() < 6 ||
			      n.reason.find(pw) == std::string::npos,
			      "password in a note");
		}
		check(pw.size() < 6 || imp.skip.find(pw) == std::string::npos,
		      "password in a skip reason");
		if (!imp.skip.empty())
			continue;
		check(!imp.account.host.empty(), "no host");
		check(imp.account.protocol_set, "no protocol");
		check(!imp.account.remote_user.empty(), "no remote user");
		check(!pw.empty(), "no password");
		check(!imp.account.folders.empty(), "no folders");
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t which = data[0];
	std::string text(reinterpret_cast<const char *>(data + 1), size - 1);
	std::string error, error2;

	if (which >= 0xc0) {
		FetchIds ids, again;
		int ret = fetchids_parse(text, ids, error);
		check(ret == fetchids_parse(text, again, error2),
		      "fetchids: not deterministic");
		if (ret < 0)
			check(error.compare(0, 5, "line ") == 0,
			      "fetchids: error without a line");
		else
			check(ids.size() == again.size(), "fetchids: sizes");
		return 0;
	}

	ImportFile file, again;
	ImportedAccount marker;
	marker.line = 4242;
	file.accounts.push_back(marker);
	int ret = parse(which, text, file, error);
	if (ret < 0) {
		check(file.accounts.size() == 1 && file.accounts[0].line == 4242,
		      "failed parse changed the result");
		check(error.compare(0, 5, "line ") == 0 ||
		      error == "larger than 32 MiB", "error without a line");
		return 0;
	}
	check(parse(which, text, again, error2) == 0, "not deterministic");
	check(again.accounts.size() == file.accounts.size(), "counts differ");
	check_file(file);
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
