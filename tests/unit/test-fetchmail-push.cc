/* Unit tests for fetchmail-push: IDLE renewal, the reconnect backoff, push
   slots and the fallback to polling for servers without IDLE. */
#include "fetchmail-push.hh"

#include "test-common.hh"

#include <algorithm>
#include <set>
#include <vector>

using namespace fetchmail;

static const int64_t second = 1000, minute = 60 * second;

static std::string join(const std::vector<std::string> &v)
{
	std::string s;
	for (const auto &x : v)
		s += (s.empty() ? "" : ",") + x;
	return s;
}

/* random(limit) at its lowest and highest */
static uint32_t lowest(uint32_t)
{
	return 0;
}

static uint32_t highest(uint32_t limit)
{
	return limit - 1;
}

static void test_idle_renew(void **)
{
	/* RFC 2177: at least every 29 minutes */
	assert_int_equal(PUSH_IDLE_RENEW_MS, 28 * minute);
	assert_int_equal(idle_renew_at(5 * second), 5 * second + 28 * minute);
	PushConfig config;
	config.idle_renew_ms = 10 * minute;
	assert_int_equal(idle_renew_at(5 * second, config),
			 5 * second + 10 * minute);
}

static void test_backoff_doubles(void **)
{
	PushBackoff backoff;
	const int64_t want[] = {
		1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300,
	};
	int64_t now = 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		/* the full delay at the top of the jitter, half at its
		   bottom */
		PushBackoff low = backoff;
		assert_int_equal(low.failed(now, lowest), want[i] * second / 2);
		assert_int_equal(backoff.failed(now, highest), want[i] * second);
		assert_int_equal(backoff.failures(), i + 1);
		now += want[i] * second;
	}
}

static void test_backoff_jitter(void **)
{
	/* every delay lies in [half, all], the limit asked for covers that
	   range exactly, and the random source spreads the delays */
	uint32_t state = 12345, asked = 0;
	auto lcg = [&](uint32_t limit) {
		asked = limit;
		state = state * 1103515245u + 12345u;
		return (state >> 8) % limit;
	};
	std::set<int64_t> seen;
	for (int run = 0; run < 50; run++) {
		PushBackoff backoff;
		int64_t full = second;
		for (int i = 0; i < 12; i++) {
			int64_t delay = backoff.failed(0, lcg);
			assert_true(delay >= full / 2 && delay <= full);
			assert_int_equal(asked, full / 2 + 1);
			if (i == 3)
				seen.insert(delay);
			full = std::min(full * 2, PUSH_BACKOFF_MAX_MS);
		}
	}
	assert_true(seen.size() > 40);
}

static void test_backoff_reset(void **)
{
	PushBackoff backoff;
	int64_t now = 0;
	backoff.failed(now, highest);
	backoff.failed(now, highest);
	assert_int_equal(backoff.failures(), 2);

	/* up, then dropped a second too soon: one more failure */
	backoff.up(now);
	now += PUSH_STABLE_MS - second;
	assert_int_equal(backoff.failed(now, highest), 4 * second);

	/* up for the whole minute: the first delay again */
	backoff.up(now);
	now += PUSH_STABLE_MS;
	assert_int_equal(backoff.failed(now, highest), second);
	assert_int_equal(backoff.failures(), 1);

	/* a failure long after the last one, without up() between: still
	   counted (the connection never came up) */
	now += 60 * minute;
	assert_int_equal(backoff.failed(now, highest), 2 * second);

	/* the clock going back is no stability */
	backoff.up(now);
	assert_int_equal(backoff.failed(now - 10 * minute, highest), 4 * second);

	/* the numbers are parameters */
	PushConfig config;
	config.backoff_first_ms = 50;
	config.backoff_max_ms = 120;
	config.stable_ms = 10;
	PushBackoff custom(config);
	assert_int_equal(custom.failed(0, highest), 50);
	assert_int_equal(custom.failed(0, highest), 100);
	assert_int_equal(custom.failed(0, highest), 120);
	custom.up(100);
	assert_int_equal(custom.failed(110, highest), 50);

	/* nonsense settings still give a delay of at least 1 ms */
	config.backoff_first_ms = 0;
	config.backoff_max_ms = -5;
	PushBackoff zero(config);
	assert_int_equal(zero.failed(0, highest), 1);
	assert_int_equal(zero.failed(0, lowest), 1);
}

static void test_slots(void **)
{
	PushSlots slots;
	int64_t now = 1000;
	assert_str(join(slots.pick({ "b", "c", "d" }, 2, now)), "b,c");
	/* a new account ahead in the order does not take a slot away */
	assert_str(join(slots.pick({ "a", "b", "c", "d" }, 2, now)), "b,c");
	/* a freed slot goes to the first that waits */
	assert_str(join(slots.pick({ "a", "c", "d" }, 2, now)), "a,c");
	/* more slots: filled in order; a repeated key counts once */
	assert_str(join(slots.pick({ "d", "a", "d", "c", "e" }, 3, now)),
		   "d,a,c");
	/* fewer: the holders earliest in the order keep theirs */
	assert_str(join(slots.pick({ "e", "d", "a", "c" }, 2, now)), "d,a");
	assert_str(join(slots.pick({ "e", "d", "a", "c" }, 0, now)), "");
	/* after none held a slot, the order decides again */
	assert_str(join(slots.pick({ "e", "d", "a", "c" }, 2, now)), "e,d");
	assert_str(join(slots.pick({}, 2, now)), "");
}

static void test_no_idle_fallback(void **)
{
	PushSlots slots;
	int64_t now = 1000;
	const std::vector<std::string> accounts = { "a", "b", "c" };
	assert_str(join(slots.pick(accounts, 2, now)), "a,b");

	/* a's server lacks IDLE: polled, its slot goes to c */
	slots.no_idle("a", now);
	assert_true(slots.lacks_idle("a", now));
	assert_false(slots.lacks_idle("b", now));
	assert_str(join(slots.pick(accounts, 2, now)), "b,c");
	/* not retried at every poll for a day */
	int64_t day = PUSH_NO_IDLE_RETRY_MS;
	assert_int_equal(day, 24 * 60 * minute);
	assert_true(slots.lacks_idle("a", now + day - 1));
	assert_str(join(slots.pick(accounts, 3, now + day - 1)), "b,c");
	/* then it is tried again */
	assert_false(slots.lacks_idle("a", now + day));
	assert_str(join(slots.pick(accounts, 3, now + day)), "a,b,c");

	/* a holder that turns out to lack IDLE frees its slot at once */
	slots.no_idle("b", now + day);
	assert_str(join(slots.pick({ "b", "d", "a", "c" }, 3, now + day)),
		   "d,a,c");

	/* the retry time is a parameter */
	PushConfig config;
	config.no_idle_retry_ms = 5 * second;
	PushSlots quick(config);
	quick.no_idle("x", 0);
	assert_str(join(quick.pick({ "x", "y" }, 1, 4999)), "y");
	assert_true(quick.lacks_idle("x", 4999));
	assert_false(quick.lacks_idle("x", 5000));
	/* y holds the only slot: x waits for it */
	assert_str(join(quick.pick({ "x", "y" }, 1, 5000)), "y");
	assert_str(join(quick.pick({ "x", "y" }, 2, 5000)), "x,y");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_renew),
		cmocka_unit_test(test_backoff_doubles),
		cmocka_unit_test(test_backoff_jitter),
		cmocka_unit_test(test_backoff_reset),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_no_idle_fallback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
