#include "fetchmail-failpoint.hh"

#ifdef FETCHMAIL_TEST_FAILPOINTS

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include <unistd.h>

namespace fetchmail {

void failpoint(const char *name)
{
	static std::map<std::string, unsigned long> passed;
	const char *env = getenv("FETCHMAIL_FAILPOINT");

	if (env == nullptr)
		return;
	const char *colon = strchr(env, ':');
	std::string wanted = colon == nullptr ? env : std::string(env, colon);
	unsigned long nth = colon == nullptr ? 1 : strtoul(colon + 1, nullptr, 10);
	if (wanted != name || ++passed[wanted] != nth)
		return;
	(void)kill(getpid(), SIGKILL);
}

} // namespace fetchmail

#endif
