/* Unit tests for fetchmail-runlog: line format, redaction, bounding. */

#include "fetchmail-runlog.hh"
#include "fetchmail-crypto.hh"
#include "test-common.hh"

using namespace fetchmail;

static const int64_t T0 = 1795318800123LL; /* 2026-11-22T03:40:00.123Z */

static size_t count_lines(const std::string &s)
{
	size_t n = 0;
	for (char c : s)
		n += c == '\n';
	return n;
}

static void test_format(void **)
{
	RunLog log;
	assert_true(log.empty());
	log.line(T0, 'C', "USER bob\r\n");
	log.line(T0 + 17, 'S', "+OK hello\x01there\x7f");
	log.line(T0 + 1000, '*', "connected to pop.example.com:995");
	log.line(T0 + 1001, 'x', "tab\there");
	assert_false(log.empty());
	assert_str(log.str(),
		   "2026-11-22T03:40:00.123Z C: USER bob\n"
		   "2026-11-22T03:40:00.140Z S: +OK hello\\x01there\\x7f\n"
		   "2026-11-22T03:40:01.123Z *: connected to pop.example.com:995\n"
		   "2026-11-22T03:40:01.124Z *: tab\\x09here\n");
	assert_int_equal(log.dropped_lines(), 0);

	/* embedded CR/LF/NUL cannot forge lines */
	RunLog log2;
	log2.line(T0, 'S', std::string("a\r\n2026-01-01T00:00:00.000Z C: fake\0z", 37));
	assert_int_equal(count_lines(log2.str()), 1);
	assert_str(log2.str(), "2026-11-22T03:40:00.123Z S: a\\x0d\\x0a2026-01-01T00:00:00.000Z C: fake\\x00z\n");

	log2.clear();
	assert_true(log2.empty());
	assert_str(log2.str(), "");
}

static void test_redaction(void **)
{
	RunLog log;
	log.line(T0, 'C', "PASS hunter2secret");      /* before add_secret */
	log.add_secret("hunter2secret");
	log.add_secret("tok\tEN.x9");
	log.add_secret("");
	log.line(T0, 'C', "PASS hunter2secret");
	log.line(T0, 'C', "a hunter2secret b hunter2secret");
	log.line(T0, 'S', "-ERR bad password 'hunter2secret'");
	log.line(T0, 'C', "AUTH tok\tEN.x9");
	std::string s = log.str();
	assert_str(s,
		   "2026-11-22T03:40:00.123Z C: PASS hunter2secret\n"
		   "2026-11-22T03:40:00.123Z C: PASS ***\n"
		   "2026-11-22T03:40:00.123Z C: a *** b ***\n"
		   "2026-11-22T03:40:00.123Z S: -ERR bad password '***'\n"
		   "2026-11-22T03:40:00.123Z C: AUTH ***\n");
	assert_str(log.redact("x hunter2secret\r\n"), "x ***");

	/* base64 forms: SASL PLAIN and XOAUTH2 initial responses */
	const std::string prefixes[] = { std::string("\0bob\0", 5),
					 std::string("\0bo\0", 4),
					 std::string("\0b\0", 3),
					 "user=bob\001auth=Bearer " };
	for (const auto &prefix : prefixes) {
		std::string b64 = base64_encode(prefix + "hunter2secret");
		std::string red = log.redact("AUTHENTICATE PLAIN " + b64);
		assert_non_null(strstr(red.c_str(), "***"));
		assert_null(strstr(red.c_str(), b64.c_str()));
		/* what is left cannot be decoded to the secret */
		std::string rest = red.substr(strlen("AUTHENTICATE PLAIN "));
		std::string decoded;
		if (base64_decode(rest, decoded) == 0)
			assert_null(strstr(decoded.c_str(), "hunter2"));
		b64 = base64_encode(prefix + "hunter2secret" + "\001\001");
		red = log.redact(b64);
		assert_non_null(strstr(red.c_str(), "***"));
	}
	/* short secrets: only the plain text */
	RunLog log3;
	log3.add_secret("abc");
	assert_str(log3.redact("xabcx YWJj"), "x***x YWJj");
}

static void test_bounds(void **)
{
	const size_t MAX = 1024;
	RunLog log(MAX);
	const int N = 200;
	for (int i = 0; i < N; i++)
		log.line(T0, i % 2 ? 'S' : 'C', "line " + std::to_string(i) + " some protocol text");
	std::string s = log.str();
	size_t marker = s.find("... ");
	assert_true(marker != s.npos);
	size_t dropped = log.dropped_lines();
	assert_true(dropped > 0);
	std::string marker_line = "... " + std::to_string(dropped) + " lines dropped ...\n";
	assert_int_equal(s.compare(marker, marker_line.size(), marker_line), 0);
	assert_true(s.size() <= MAX + marker_line.size());
	assert_true(s.size() > MAX - 200);
	/* head: the first lines, tail: the last lines, nothing lost unnoticed */
	std::string first = "2026-11-22T03:40:00.123Z C: line 0 some protocol text\n";
	assert_int_equal(s.compare(0, first.size(), first), 0);
	std::string last = "2026-11-22T03:40:00.123Z S: line 199 some protocol text\n";
	assert_int_equal(s.compare(s.size() - last.size(), last.size(), last), 0);
	assert_int_equal(count_lines(s) - 1 + dropped, N);
	/* the head is at most half */
	assert_true(marker <= MAX / 2);
	assert_true(s.size() - marker - marker_line.size() <= MAX / 2);
	/* lines kept are consecutive: head 0..h-1, tail N-t..N-1 */
	size_t head_lines = count_lines(s.substr(0, marker));
	std::string first_tail = "line " + std::to_string(head_lines + dropped) + " ";
	assert_int_equal(s.compare(marker + marker_line.size() + 28, first_tail.size(), first_tail), 0);

	/* a small log has no marker */
	RunLog small(MAX);
	small.line(T0, 'C', "CAPA");
	assert_null(strstr(small.str().c_str(), "dropped"));

	/* one huge line is cut */
	RunLog huge(MAX);
	huge.line(T0, 'S', std::string(5000, 'x'));
	std::string h = huge.str();
	assert_true(h.size() <= MAX / 2);
	assert_int_equal(h.compare(h.size() - 4, 4, "...\n"), 0);
	assert_int_equal(count_lines(h), 1);

	/* tiny bounds are raised to 256 */
	RunLog tiny(0);
	for (int i = 0; i < 50; i++)
		tiny.line(T0, 'C', "NOOP");
	assert_true(tiny.str().size() <= 256 + 40);
	assert_true(tiny.dropped_lines() > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_redaction),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
