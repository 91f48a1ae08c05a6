/* Unit tests for fetchmail-schedule: which users the scheduler starts. */
#include "fetchmail-schedule.hh"

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <csetjmp>
extern "C" {
#include <cmocka.h>
}

using namespace fetchmail;

static std::string join(const std::vector<std::string> &v)
{
	std::string s;
	for (const auto &x : v)
		s += (s.empty() ? "" : ",") + x;
	return s;
}

static void test_pick(void **)
{
	const std::vector<std::pair<std::string, int64_t>> registry = {
		{ "late", 100 }, { "early", 50 }, { "future", 1000 },
		{ "none", 0 }, { "busy", 10 }, { "held", 20 }, { "now", 500 },
	};
	ScheduleState state;
	state.running = { "busy" };
	state.not_before = { { "held", 600 }, { "late", 400 } };

	static const struct {
		int64_t now;
		size_t slots;
		const char *want;
	} cases[] = {
		{ 500, 10, "early,late,now" }, /* late's hold ended at 400 */
		{ 300, 10, "early" },
		{ 500, 1, "early" },
		{ 500, 0, "" },
		{ 1000, 10, "held,early,late,now,future" }, /* hold ended at 600 */
		{ 5, 10, "" },
	};
	for (const auto &c : cases) {
		std::string got = join(schedule_pick(registry, c.now, state,
						     c.slots));
		assert_string_equal(got.c_str(), c.want);
	}
}

static void test_tick(void **)
{
	assert_int_equal(schedule_tick_secs(300), 10);
	assert_int_equal(schedule_tick_secs(60), 6);
	assert_int_equal(schedule_tick_secs(2), 1);
	assert_int_equal(schedule_tick_secs(0), 1);
	assert_int_equal(schedule_tick_secs(86400), 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_tick),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
