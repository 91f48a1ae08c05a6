#ifndef FETCHMAIL_NOTICE_HH
#define FETCHMAIL_NOTICE_HH

/* Failures that people notice: when an account has been failing for
   longer than fetchmail_notify_after, its user gets one short message in
   the INBOX saying which account fails, since when, the last error and
   where to fix it.

   A failure episode begins with the first failed run after a good one (or
   after none) and ends with the next good run. A run that needs the
   user's OAuth2 consent is a failed run like any other. One notice per
   episode: none while the account keeps failing, none again until it has
   recovered and failed anew. The episode lives in AccountStatus
   (failing_since, notified), stored in the status record (see
   fetchmail-record.hh).

   The caller's part, after a run (status_after_run() has done the
   bookkeeping):

     if (notice_due(status, now, set.notify_after_secs)) {
             save notice_message(account, status, ctx) into the INBOX;
             on success notice_sent(status);
     }
     store status

   Delivering first and storing the mark afterwards means that a crash
   in between delivers the notice once more at the next run (at least
   once); storing first would risk never delivering it.

   A held account (consent needed) is not polled, so no later run finds
   its notice due: the caller wakes the user at notice_due_time() of its
   held accounts (the registry's due time) and delivers the due notices
   of accounts that did not run. A notice whose delivery fails stays due;
   a caller that wakes users for it backs off like for a failed run.

   Everything here is pure: no I/O, the clock and the random part are
   passed in, nothing throws (std::bad_alloc aside). */

#include "fetchmail-account.hh"

#include <cstdint>
#include <string>
#include <string_view>

namespace fetchmail {

/* fetchmail_notify_after's default: one day. 0 turns notices off. */
const uint32_t NOTICE_AFTER_DEFAULT_SECS = 24 * 60 * 60;
/* fetchmail_notify_from's default; an address without a domain gets the
   user's (see notice_message()). */
const char *const NOTICE_FROM_DEFAULT = "Mail fetching <postmaster>";

/* The episode after a run that started at started (unix seconds), with
   status as it was before the run. ok = the run was good; a run that
   needs consent is not. A failed run starts an episode unless one is
   under way (failing_since = started, at least 1; notified = false); a
   good run ends it (failing_since = 0, notified = false). A status
   written before episodes were recorded that shows failed runs (failures
   > 0, no failing_since) is dated from its last run, the latest moment
   its episode can have begun. status_after_run() calls this; nothing
   else needs to. */
void notice_after_run(AccountStatus &status, int64_t started, bool ok);

/* When the notice of the current episode becomes due: failing_since +
   notify_after_secs (saturating); 0 when none is pending: no episode
   (failing_since <= 0), notified already, or notify_after_secs 0. */
int64_t notice_due_time(const AccountStatus &status,
			uint32_t notify_after_secs);

/* A notice is due at now: notice_due_time() is not 0 and has come (the
   episode is at least notify_after_secs old). */
bool notice_due(const AccountStatus &status, int64_t now,
		uint32_t notify_after_secs);

/* The notice of the current episode was delivered: it is not due again
   until a new episode (notified = true). Does nothing without an
   episode. */
void notice_sent(AccountStatus &status);

/* Check a fetchmail_notify_from value: "" (the default), an address, or
   a display name and an address in angle brackets:

     postmaster@example.org
     Mail fetching <postmaster>
     "Mail fetching (example.org)" <noreply@example.org>

   The address is local[@domain], each part a dot-atom (RFC 5322: letters,
   digits and !#$%&'*+-/=?^_`{|}~, dots between them); without a domain
   the user's is added when the message is made. The display name is any
   UTF-8 text without control characters, '<', '>' or '"' other than the
   quotes around it. At most 256 bytes in all. Returns 0, or -1 with
   error_r ("must be an address or Name <address> (got '...')"). */
int notice_from_check(std::string_view from, std::string &error_r);

/* What the message is made from, besides the account and its status. */
struct NoticeContext {
	/* the local user (Dovecot's username): To, the default From's
	   domain (the part after the last '@'), and the admin command */
	std::string user;
	/* the domain when user has none (Dovecot's my_hostname); when
	   neither is a domain, "localhost" */
	std::string hostname;
	/* fetchmail_notify_from; "" or a value notice_from_check() refuses:
	   NOTICE_FROM_DEFAULT */
	std::string from;
	/* fetchmail_notify_url: where the user fixes the account (the
	   webmail's Fetchmail page); "" = ask the administrator */
	std::string url;
	int64_t now = 0;          /* unix seconds: the Date */
	/* the Message-ID's random part (e.g. two calls of a rand32) */
	uint64_t random = 0;
};

/* The complete message (RFC 5322, CRLF line ends) to save into the user's
   INBOX:

     From: Mail fetching <postmaster@example.org>
     To: alice@example.org
     Date: Wed, 2 Dec 2026 03:40:00 +0000
     Subject: Fetching mail from bob@pop.example.net has been failing
      since 1 Dec 2026
     Message-ID: <fetchmail-notice.fm-abcdefgh.1796096400.
                  00000000deadbeef@example.org>   (on one line)
     Auto-Submitted: auto-generated
     MIME-Version: 1.0
     Content-Type: text/plain; charset=UTF-8
     Content-Transfer-Encoding: quoted-printable

   From is ctx.from (see NoticeContext), an address without a domain
   completed with the user's domain. To is the user's address (without a
   domain, ctx.hostname's), or "undisclosed-recipients:;" when the user
   name cannot be an address (non-ASCII, control characters). Date is
   ctx.now. The Subject names the remote account: remote-user@host, or
   "remote-user (host)" when the remote user is an address already, and
   the UTC day the episode began (failing_since; ctx.now without an
   episode). The Subject and From's display name are RFC 2047 encoded
   (UTF-8, Q) when they are not ASCII or hold "=?" (which a reader would
   decode); a display name with specials is a quoted string. Header
   fields are folded at spaces to 76 columns where they can be. The
   Message-ID is unique per account, episode and random part, on the
   user's domain. Auto-Submitted keeps vacation responders and Sieve
   from answering it (RFC 3834).

   The body (UTF-8, quoted-printable, so any line length and byte is
   safe) says since when (UTC) it fails, the account id, the remote
   user, the server (host, protocol, port), the last error ("unknown"
   when there is none), that the provider wants a new consent when the
   account is held, and where to fix it: ctx.url, or to ask the
   administrator, who can look with "doveadm fetchmail show -u <user>
   <id>" (shell-quoted). Then that no further notice follows in this
   episode.

   status.last_error must be redacted by the caller (it is: the stored
   last-error is, see fetchmail-redact.hh); no password or token is ever
   passed in, and none is added. Every text from the account, the status,
   the user or the settings is made safe first: control characters
   (C0, DEL, C1, Unicode line and bidi controls) become '?', bytes that
   are not UTF-8 become '?', and each text is cut (at a character) with
   "...": the last error after 300 bytes, the remote user after 100, the
   user after 256. So no text can add a header field or a line to the
   header, or break the body's encoding. */
std::string notice_message(const Account &account,
			   const AccountStatus &status,
			   const NoticeContext &ctx);

} // namespace fetchmail

#endif
