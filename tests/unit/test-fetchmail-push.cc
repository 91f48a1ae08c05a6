/* Unit tests for fetchmail-push: IDLE renewal and the reconnect backoff. */
#include "fetchmail-push.hh"

#include "test-common.hh"

#include <algorithm>
#include <set>

using namespace fetchmail;

static const int64_t second = 1000, minute = 60 * second;

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_renew),
		cmocka_unit_test(test_backoff_doubles),
		cmocka_unit_test(test_backoff_jitter),
		cmocka_unit_test(test_backoff_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
