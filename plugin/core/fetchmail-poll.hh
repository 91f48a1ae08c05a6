#ifndef FETCHMAIL_POLL_HH
#define FETCHMAIL_POLL_HH

/* What a remote mailbox looked like after the last complete run, so that
   the fetch service can tell "nothing new" with a cheap look at it (a
   Check run: log in, list or EXAMINE, log out) instead of a full run that
   opens the local user's storage for the ledger.

     POP3: the number of messages and a digest of their UIDLs in order.
     IMAP: per configured folder UIDVALIDITY, UIDNEXT and EXISTS.

   A summary is only ever compared for equality: equal means the server
   shows exactly the mailbox the last full run left behind (everything on
   it was either delivered or deliberately left, e.g. over max-size), so
   there is nothing to do. Anything else, or an unknown summary, means a
   full run. A server that changes a mailbox without changing any of
   these (an IMAP server that expunges one message and appends another
   keeps EXISTS but moves UIDNEXT; a POP3 server changes the UIDL list)
   is still seen.

   JSON, as the service keeps it:
     {"pop3":{"count":3,"digest":"..."}}
     {"imap":[{"folder":"INBOX","uidvalidity":7,"uidnext":42,"exists":3}]}
   Nothing throws out of the API (std::bad_alloc aside). */

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

struct FolderSummary {
	std::string folder;
	uint32_t uidvalidity = 0;
	uint32_t uidnext = 0;
	uint32_t exists = 0;

	bool operator==(const FolderSummary &) const = default;
};

struct PollSummary {
	bool known = false;
	uint32_t pop3_count = 0;
	std::string pop3_digest;          /* POP3: of the UIDLs, in order */
	std::vector<FolderSummary> folders;  /* IMAP, in configured order */

	bool operator==(const PollSummary &) const = default;
};

/* 32 hex digits of SHA-256 over the UIDLs, each followed by a newline. */
std::string poll_uidl_digest(const std::vector<std::string> &uidls);

std::string poll_summary_encode(const PollSummary &summary);
/* -1 with error_r on malformed input; summary_r unchanged then. */
int poll_summary_decode(std::string_view json, PollSummary &summary_r,
			std::string &error_r);

} // namespace fetchmail

#endif
