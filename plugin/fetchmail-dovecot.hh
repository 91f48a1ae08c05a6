#ifndef FETCHMAIL_DOVECOT_HH
#define FETCHMAIL_DOVECOT_HH

/* The one place that includes Dovecot's C headers into C++. Dovecot's
   headers have no extern "C" guards of their own; they are compiled with
   -include config.h (see cmake/FindDovecot.cmake). In C++ Dovecot's
   callback type checks are off: callbacks are plain function pointers. */

extern "C" {
#include "lib.h"
#include "array.h"
#include "str.h"
#include "strescape.h"
#include "hex-binary.h"
#include "safe-memset.h"
#include "randgen.h"
#include "ioloop.h"
#include "istream.h"
#include "ostream.h"
#include "iostream-temp.h"
#include "iostream-ssl.h"
#include "net.h"
#include "module-dir.h"
#include "module-context.h"
#include "settings-parser.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-storage-hooks.h"
#include "mailbox-attribute.h"
#include "master-service-ssl-settings.h"
}

#include <exception>

/* Makes an ioloop current for a scope. Storage calls made while a private
   ioloop runs (doveadm fetchmail run) must attach their timeouts (e.g.
   mailbox-list-index's refresh) to the long-lived ioloop, not to the
   private one that is destroyed after the run. */
class IoloopScope {
public:
	explicit IoloopScope(struct ioloop *ioloop) : prev_(current_ioloop)
	{
		if (ioloop != nullptr)
			io_loop_set_current(ioloop);
	}
	~IoloopScope() { io_loop_set_current(prev_); }
	IoloopScope(const IoloopScope &) = delete;
	IoloopScope &operator=(const IoloopScope &) = delete;
private:
	struct ioloop *prev_;
};

/* Typed stand-ins for Dovecot's ioloop macros, whose callback type checks
   are off in C++: these check the callback against its context instead. */
template <typename T>
static inline struct timeout *
fetchmail_timeout_add(unsigned int msecs, void (*callback)(T *), T *context)
{
	return (timeout_add)(msecs, __FILE__, __LINE__,
			     (timeout_callback_t *)callback, context);
}

/* The same on a given ioloop, with millisecond resolution (libcurl's timer,
   short retries). */
template <typename T>
static inline struct timeout *
fetchmail_timeout_add_short_to(struct ioloop *ioloop, unsigned int msecs,
			       void (*callback)(T *), T *context)
{
	return (timeout_add_short_to)(ioloop, msecs, __FILE__, __LINE__,
				      (timeout_callback_t *)callback, context);
}

template <typename T>
static inline struct io *
fetchmail_io_add_to(struct ioloop *ioloop, int fd, enum io_condition cond,
		    void (*callback)(T *), T *context)
{
	return (io_add_to)(ioloop, fd, cond, __FILE__, __LINE__,
			   (io_callback_t *)callback, context);
}

/* Runs fn, the body of a callback from Dovecot's C, which no exception may
   cross: true when it returned, false when it threw, with what it threw
   described in what (nothing is allocated for that). */
template <typename Fn>
static inline bool fetchmail_catch(Fn &&fn, char (&what)[256]) noexcept
{
	try {
		fn();
		return true;
	} catch (const std::exception &e) {
		i_strocpy(what, e.what(), sizeof(what));
	} catch (...) {
		i_strocpy(what, "unknown exception", sizeof(what));
	}
	return false;
}

#endif
