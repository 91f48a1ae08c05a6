#ifndef FETCHMAIL_FAILPOINT_HH
#define FETCHMAIL_FAILPOINT_HH

/* Test-only crash points, for the crash tests of the exactly-once rules.

   Built only with -DFETCHMAIL_TEST_FAILPOINTS=ON (scripts/build sets it;
   packages and plain builds leave it off, and then failpoint() is an
   empty inline function). With it, the environment variable
   FETCHMAIL_FAILPOINT=<name>[:<n>] kills the process with SIGKILL the
   n-th time (default: the first) the point <name> is passed (doveadm -c
   re-executes itself through doveconf, which clears the environment: set
   DOVECOT_PRESERVE_ENVS=FETCHMAIL_FAILPOINT too):

     after-commit      a batch is committed to the mailbox, the ledger is
                       not written yet
     after-lmtp-save   LMTP accepted a message, the ledger is not written
     after-pending     the pending record is written, the commit (or the
                       LMTP transaction) not started
     after-ledger      the ledger is written, the deletions not sent */

namespace fetchmail {

#ifdef FETCHMAIL_TEST_FAILPOINTS
void failpoint(const char *name);
#else
static inline void failpoint(const char *) {}
#endif

} // namespace fetchmail

#endif
