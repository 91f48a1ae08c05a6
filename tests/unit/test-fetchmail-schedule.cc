/* Unit tests for fetchmail-schedule: backoff, jitter, status, due times. */
#include "fetchmail-schedule.hh"

#include "test-common.hh"

using namespace fetchmail;

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

static void test_jitter_and_status(void **)
{
	uint32_t last_limit = 0;
	auto low = [&](uint32_t limit) { last_limit = limit; return 0u; };
	auto high = [&](uint32_t limit) { last_limit = limit; return limit - 1; };

	assert_int_equal(jittered(1000, low), 950);
	assert_int_equal(last_limit, 101);
	assert_int_equal(jittered(1000, high), 1050);
	assert_int_equal(jittered(0, high), 0);

	AccountStatus before;
	before.failures = 2;
	before.last_error = "old";
	AccountStatus st = status_after_run(before, 1000, 1010, true, "", 5,
					    false, 300, low);
	assert_int_equal(st.last_run, 1000);
	assert_int_equal(st.last_status, RunStatus::Ok);
	assert_str(st.last_error, "");
	assert_int_equal(st.last_fetched, 5);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.next_run, 1010 + 285);
	assert_false(st.held);

	st = status_after_run(before, 1000, 1010, false, "login failed", 0,
			      false, 300, low);
	assert_int_equal(st.failures, 3);
	assert_str(st.last_error, "login failed");
	assert_int_equal(st.next_run, 1010 + 2400 - 120);

	st = status_after_run(before, 1000, 1010, false, "consent needed: x",
			      0, true, 300, high);
	assert_true(st.held);
	assert_int_equal(st.next_run, 0);

	/* the failure episode (fetchmail-notice): begun by a failed run,
	   kept by the next one, ended by a good one */
	AccountStatus fresh;
	st = status_after_run(fresh, 1000, 1010, false, "login failed", 0,
			      false, 300, low);
	assert_int_equal(st.failing_since, 1000);
	st.notified = true;
	st = status_after_run(st, 2000, 2010, false, "login failed", 0,
			      false, 300, low);
	assert_int_equal(st.failing_since, 1000);
	assert_true(st.notified);
	st = status_after_run(st, 3000, 3010, true, "", 0, false, 300, low);
	assert_int_equal(st.failing_since, 0);
	assert_false(st.notified);
	st = status_after_run(st, 4000, 4010, false, "consent needed: x", 0,
			      true, 300, low);
	assert_int_equal(st.failing_since, 4000);

}

static void test_due(void **)
{
	Account active, inactive;
	inactive.active = false;
	AccountStatus never, later, held;
	later.next_run = 2000;
	held.next_run = 0;
	held.held = true;

	assert_int_equal(account_due_time(active, never), 1);
	assert_int_equal(account_due_time(active, later), 2000);
	assert_int_equal(account_due_time(inactive, never), 0);
	assert_int_equal(account_due_time(active, held), 0);
	assert_true(account_due(active, never, 1500));
	assert_false(account_due(active, later, 1999));
	assert_true(account_due(active, later, 2000));
	assert_false(account_due(active, held, 99999));

}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_jitter_and_status),
		cmocka_unit_test(test_due),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
