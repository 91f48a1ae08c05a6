#ifndef FETCHMAIL_TEST_COMMON_HH
#define FETCHMAIL_TEST_COMMON_HH

/* What the cmocka unit tests of the core share: cmocka itself (with the
   headers it needs first) and string assertions. */

#include <cstring>
#include <string>

#include <cstdarg>
#include <cstddef>
#include <csetjmp>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

/* a and b: anything a std::string can be made of */
#define assert_str(a, b) \
	assert_string_equal(std::string(a).c_str(), std::string(b).c_str())
/* s starts with the C string prefix */
#define assert_prefix(s, prefix) do { \
	std::string s_ = (s); \
	if (s_.compare(0, strlen(prefix), prefix) != 0) \
		fail_msg("'%s' does not start with '%s'", s_.c_str(), prefix); \
	} while (0)

#endif
