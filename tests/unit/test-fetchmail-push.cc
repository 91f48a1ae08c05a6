/* Unit tests for fetchmail-push: IDLE renewal, the reconnect backoff, and
   what counts as new mail (PushFolder). */
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

static void test_folder_changes(void **)
{
	PushFolder folder;

	/* the first connection: nothing to compare with */
	assert_false(folder.selected(7, 11, 10, 0));

	/* Dovecot's announcement of one message: EXISTS, then RECENT */
	assert_true(folder.changed(11, 0));
	assert_true(folder.changed(11, 1));
	/* flags and expunges are no mail */
	assert_false(folder.changed(11, 1));
	assert_false(folder.changed(10, 1));
	assert_false(folder.changed(9, 0));
	/* a count that comes back after expunges is mail: 9 -> 10 */
	assert_true(folder.changed(10, 0));
	/* RECENT going down is not, going up again is */
	assert_false(folder.changed(10, 0));
	assert_true(folder.changed(10, 2));
	/* an EXISTS that does not grow is not */
	assert_false(folder.changed(10, 2));
	assert_false(folder.changed(8, 2));
}

static void test_folder_reconnect(void **)
{
	PushFolder folder;

	assert_false(folder.selected(7, 11, 10, 0));
	/* two messages announced while idling: UIDNEXT 13 expected */
	assert_true(folder.changed(12, 0));
	assert_true(folder.changed(12, 1));
	assert_true(folder.changed(13, 1));
	/* reconnected: nothing new since */
	assert_false(folder.selected(7, 13, 12, 0));
	/* reconnected after mail came while no connection idled */
	assert_true(folder.selected(7, 14, 12, 0));
	/* a new UIDVALIDITY: everything may be new */
	assert_true(folder.selected(8, 14, 12, 0));
	/* UIDNEXT unchanged, fewer messages: nothing new */
	assert_false(folder.selected(8, 14, 3, 0));
	/* a server without UIDNEXT: EXISTS decides */
	assert_false(folder.selected(8, 0, 3, 0));
	assert_true(folder.selected(8, 0, 4, 0));
	assert_false(folder.selected(8, 0, 4, 0));
	/* UIDNEXT known again: nothing to compare it with yet */
	assert_false(folder.selected(8, 20, 4, 0));
	assert_false(folder.selected(8, 20, 4, 0));
	/* the expected UIDNEXT does not wrap */
	PushFolder top;
	assert_false(top.selected(1, UINT32_MAX - 1, 1, 0));
	assert_true(top.changed(5, 0));
	assert_false(top.selected(1, UINT32_MAX, 5, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_renew),
		cmocka_unit_test(test_backoff_doubles),
		cmocka_unit_test(test_backoff_jitter),
		cmocka_unit_test(test_backoff_reset),
		cmocka_unit_test(test_folder_changes),
		cmocka_unit_test(test_folder_reconnect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
