/* Unit tests for fetchmail-message: Message-ID extraction and backoff. */
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <csetjmp>
extern "C" {
#include <cmocka.h>
}

#include "fetchmail-message.hh"

using namespace fetchmail;

static void test_message_id(void **)
{
	static const struct {
		const char *header;
		const char *id;
	} cases[] = {
		{ "Message-ID: <a@b>\r\nSubject: x\r\n\r\nbody", "<a@b>" },
		{ "subject: x\nmessage-id:   <c@d>  \n\n", "<c@d>" },
		{ "MESSAGE-ID:\r\n <folded@x>\r\n\r\n", "<folded@x>" },
		{ "Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n", "" },
		{ "Subject: x\r\n", "" },
		{ "X-Message-ID: <no@x>\r\n\r\n", "" },
		{ "", "" },
	};

	for (const auto &c : cases)
		assert_string_equal(message_id_from_header(c.header).c_str(), c.id);
}

static void test_header_complete(void **)
{
	assert_true(header_complete("A: b\r\n\r\n"));
	assert_true(header_complete("A: b\n\n"));
	assert_true(header_complete("\r\nbody"));
	assert_false(header_complete("A: b\r\nC: d\r\n"));
	assert_false(header_complete(""));
}

static void test_backoff(void **)
{
	static const struct {
		uint64_t interval;
		uint32_t failures;
		uint64_t delay;
	} cases[] = {
		{ 300, 0, 300 },
		{ 300, 1, 600 },
		{ 300, 2, 1200 },
		{ 300, 6, 19200 },
		{ 300, 7, 21600 },      /* capped at 6 hours */
		{ 300, 4000000000u, 21600 },
		{ 86400, 3, 86400 },    /* an interval above the cap stays */
		{ 1, 0, 1 },
	};

	for (const auto &c : cases)
		assert_int_equal(next_run_delay(c.interval, c.failures), c.delay);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_header_complete),
		cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
