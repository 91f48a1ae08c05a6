#ifndef FETCHMAIL_PUSH_HH
#define FETCHMAIL_PUSH_HH

/* The push connection's policy (IMAP IDLE, RFC 2177), without I/O: when
   an IDLE is issued again, how long a push connection that failed or
   dropped waits before it reconnects, and which changes of the folder are
   new mail (PushFolder). The connection itself is PushConn
   (plugin/fetchmail-push-conn.hh). Which accounts hold one of the
   fetchmail_max_push connections, and that an account whose server lacks
   IDLE is polled for a while, is the service's decision
   (ServicePlan::push_wanted(), push_unsupported() in
   fetchmail-service.hh). The clock (milliseconds, any epoch that does not
   jump, e.g. the ioloop's) and the random source are passed in; the
   numbers are a PushConfig, whose defaults are the constants below.

   How the worker that holds an account's push connection uses it, with
   ImapSession (fetchmail-imap.hh):

     - LoggedIn, FolderSelected: idle().
     - FolderSelected: PushFolder::selected(); idle().
     - Idling: PushBackoff::up(). The IDLE is ended (idle_done()) and
       issued again (idle()) at idle_renew_at(the time idle() was
       called).
     - MailboxChanged, IdleDone: PushFolder::changed() says whether it
       is new mail; new mail within changed_delay_ms is one notice.
     - IdleFailed(Unsupported): the service's push_unsupported(); the
       connection is closed and the account polled.
     - Error, or IdleFailed(Server): PushBackoff::failed() says when to
       connect again.

   Nothing throws (std::bad_alloc aside). */

#include <cstdint>
#include <functional>

namespace fetchmail {

/* RFC 2177: a client issues IDLE again at least every 29 minutes (a server
   may log out a client that was idle for 30); 28 leave a minute for the
   DONE to get there. */
constexpr int64_t PUSH_IDLE_RENEW_MS = 28 * 60 * 1000;
/* Reconnect backoff: the first delay, doubled per consecutive failure up
   to the cap. */
constexpr int64_t PUSH_BACKOFF_FIRST_MS = 1000;
constexpr int64_t PUSH_BACKOFF_MAX_MS = 5 * 60 * 1000;
/* A connection that was up this long before it dropped was no failure:
   the backoff starts over. Long enough that a server which accepts IDLE
   and drops the connection at once is not hammered, short against the
   hours a good connection lasts. */
constexpr int64_t PUSH_STABLE_MS = 60 * 1000;
/* New mail is announced in a burst of untagged responses (Dovecot: EXISTS
   and RECENT, collected over half a second): the first one starts this
   wait, and the burst is one notice at its end. */
constexpr int64_t PUSH_CHANGED_DELAY_MS = 200;
/* How long a stopping connection waits for the server to answer DONE and
   LOGOUT before it just closes. */
constexpr int64_t PUSH_STOP_WAIT_MS = 2000;

struct PushConfig {
	int64_t idle_renew_ms = PUSH_IDLE_RENEW_MS;
	int64_t backoff_first_ms = PUSH_BACKOFF_FIRST_MS;
	int64_t backoff_max_ms = PUSH_BACKOFF_MAX_MS;
	int64_t stable_ms = PUSH_STABLE_MS;
	int64_t changed_delay_ms = PUSH_CHANGED_DELAY_MS;
	int64_t stop_wait_ms = PUSH_STOP_WAIT_MS;
};

/* When the IDLE issued at idle_ms must be ended (idle_done()) and issued
   again: idle_ms + idle_renew_ms. */
int64_t idle_renew_at(int64_t idle_ms, const PushConfig &config = {});

/* The reconnect backoff of one push connection.

   failed() is called when an attempt failed (connect, login, select,
   IDLE refused) or an established connection dropped; it returns the
   milliseconds to wait before the next attempt: backoff_first_ms after
   the first failure, doubled per consecutive failure, at most
   backoff_max_ms (1, 2, 4, ... 256 s, then 5 min with the defaults),
   then jittered down to between half and all of it with random(limit)
   (a number below limit), so that the connections a server restart
   dropped do not all come back in the same second. up() is called when
   the connection works (the server said "+" to IDLE); when it then stays
   up for stable_ms or longer before it drops, the failures are
   forgotten and the delay is the first one again. A connection that
   drops sooner (or never came up) counts as one more failure. */
class PushBackoff {
public:
	explicit PushBackoff(const PushConfig &config = {});

	/* The connection is up since now. */
	void up(int64_t now_ms);
	/* It failed or dropped at now: the delay before the next attempt. */
	int64_t failed(int64_t now_ms,
		       const std::function<uint32_t(uint32_t limit)> &random);
	/* Consecutive failures counted by the last failed(). */
	uint32_t failures() const { return failures_; }

private:
	PushConfig config_;
	uint32_t failures_ = 0;
	bool up_ = false;
	int64_t up_since_ = 0;
};

/* What a push connection knows of its folder, across its reconnects, to
   tell new mail from other changes.

   selected() is called with what each EXAMINE found (FolderSelected):
   on the first connection it returns false (the caller fetches at start
   anyway); on a later one, true when mail arrived while no connection
   was idling: the UIDVALIDITY changed, or UIDNEXT is past what the last
   connection saw (its UIDNEXT plus the messages announced since), or,
   when a server sends no UIDNEXT, EXISTS is larger than it was. A UID
   that was assigned and expunged meanwhile counts as mail too (one
   needless run, never a missed message).

   changed() is called with the counts after every MailboxChanged while
   idling, and after IdleDone (what the server announced between our DONE
   and its OK made no MailboxChanged); true when they announce new mail:
   EXISTS grew (expunges counted), or RECENT grew. Expunges, flag changes
   and a repeated or shrinking count are not new mail. */
class PushFolder {
public:
	bool selected(uint32_t uidvalidity, uint32_t uidnext, uint32_t exists,
		      uint32_t recent);
	bool changed(uint32_t exists, uint32_t recent);

private:
	bool known_ = false;
	uint32_t uidvalidity_ = 0;
	uint32_t uidnext_ = 0;   /* expected: the last UIDNEXT + new mail since */
	uint32_t exists_ = 0;
	uint32_t recent_ = 0;
};

} // namespace fetchmail

#endif
