/* Unit tests for the bounded, expiring LRU map (fetchmail-lru), the pure
   part of the transport's TLS session cache. */

#include "fetchmail-lru.hh"

#include <memory>

#include "test-common.hh"

using namespace fetchmail;

namespace {

/* The value of key, or -1 when get() finds none. */
int value_of(LruCache<int> &cache, const std::string &key, time_t now)
{
	int *v = cache.get(key, now);
	return v == nullptr ? -1 : *v;
}

void test_bound(void **)
{
	LruCache<int> cache(3);

	for (int i = 0; i < 10; i++) {
		cache.put("k" + std::to_string(i), i, 1000, 0);
		assert_true(cache.size() <= 3);
	}
	assert_int_equal(cache.size(), 3);
	assert_int_equal(cache.evictions(), 7);
	/* the three put last are left */
	assert_int_equal(value_of(cache, "k6", 0), -1);
	assert_int_equal(value_of(cache, "k7", 0), 7);
	assert_int_equal(value_of(cache, "k8", 0), 8);
	assert_int_equal(value_of(cache, "k9", 0), 9);
}

void test_least_recently_used_first(void **)
{
	LruCache<int> cache(2);

	cache.put("a", 1, 1000, 0);
	cache.put("b", 2, 1000, 0);
	/* a is used: b is now the least recently used */
	assert_int_equal(value_of(cache, "a", 0), 1);
	cache.put("c", 3, 1000, 0);
	assert_int_equal(value_of(cache, "b", 0), -1);
	assert_int_equal(value_of(cache, "a", 0), 1);
	assert_int_equal(value_of(cache, "c", 0), 3);

	/* replacing a value makes it the most recently used, and does not
	   count as one more entry */
	cache.put("a", 10, 1000, 0);
	cache.put("c", 30, 1000, 0);
	assert_int_equal(cache.size(), 2);
	cache.put("d", 4, 1000, 0);
	assert_int_equal(value_of(cache, "a", 0), -1);
	assert_int_equal(value_of(cache, "c", 0), 30);
	assert_int_equal(value_of(cache, "d", 0), 4);
}

void test_expiry(void **)
{
	LruCache<int> cache(10);

	cache.put("a", 1, 100, 50);
	assert_int_equal(value_of(cache, "a", 99), 1);
	/* at the expiry time it is gone, also for later calls */
	assert_int_equal(value_of(cache, "a", 100), -1);
	assert_int_equal(cache.size(), 0);
	assert_int_equal(value_of(cache, "a", 0), -1);

	/* an already expired value is not kept, and drops the older one */
	cache.put("b", 2, 200, 0);
	cache.put("b", 3, 100, 100);
	assert_int_equal(cache.size(), 0);
	assert_int_equal(value_of(cache, "b", 0), -1);
	assert_int_equal(cache.evictions(), 0);
}

void test_erase_clear_resize(void **)
{
	LruCache<int> cache(4);

	for (int i = 0; i < 4; i++)
		cache.put(std::to_string(i), i, 1000, 0);
	assert_true(cache.erase("2"));
	assert_false(cache.erase("2"));
	assert_int_equal(cache.size(), 3);

	/* shrinking evicts the least recently used at once */
	assert_int_equal(value_of(cache, "0", 0), 0);
	cache.set_max_entries(1);
	assert_int_equal(cache.size(), 1);
	assert_int_equal(value_of(cache, "0", 0), 0);

	/* 0 keeps nothing */
	cache.set_max_entries(0);
	assert_int_equal(cache.size(), 0);
	cache.put("x", 1, 1000, 0);
	assert_int_equal(cache.size(), 0);
	assert_int_equal(value_of(cache, "x", 0), -1);

	cache.set_max_entries(5);
	cache.put("x", 1, 1000, 0);
	cache.put("y", 2, 1000, 0);
	cache.clear();
	assert_int_equal(cache.size(), 0);
	assert_int_equal(value_of(cache, "x", 0), -1);
}

/* Move-only values (the TLS sessions are) are freed when dropped. */
void test_move_only(void **)
{
	LruCache<std::unique_ptr<int>> cache(1);
	auto first = std::make_unique<int>(1);
	std::weak_ptr<int> probe;
	auto shared = std::make_shared<int>(2);

	cache.put("a", std::move(first), 1000, 0);
	assert_int_equal(**cache.get("a", 0), 1);

	LruCache<std::shared_ptr<int>> shared_cache(1);
	probe = shared;
	shared_cache.put("s", std::move(shared), 1000, 0);
	assert_false(probe.expired());
	shared_cache.put("t", std::make_shared<int>(3), 1000, 0);
	assert_true(probe.expired());   /* evicted and freed */
	shared_cache.put("u", std::make_shared<int>(4), 5, 0);
	probe = *shared_cache.get("u", 0);
	assert_null(shared_cache.get("u", 5));
	assert_true(probe.expired());   /* expired and freed */
}

} // namespace

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_least_recently_used_first),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_erase_clear_resize),
		cmocka_unit_test(test_move_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
