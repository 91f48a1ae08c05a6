#ifndef FETCHMAIL_MAILBOX_HH
#define FETCHMAIL_MAILBOX_HH

/* One instance of each of a user's mailboxes in a process.

   The account store (INBOX attributes), the deliveries and the state
   checks of a pending batch all open mailboxes; with several instances of
   one mailbox in one process, mbox goes wrong: file-dotlock takes a lock
   file that holds its own pid for a stale one of its own and takes it
   over, and one instance's sync finds another's appends before they are
   committed (mbox appends go into the file at once). So they share one
   instance per mailbox and user, counted; the last close frees it.

   Saves into a mailbox file (mbox) must moreover never overlap within a
   process: mailbox_saves_take_turns() says so, and runs of one user that
   deliver through lib-storage are then made one after another (see
   run_accounts() and the fetch service's worker). */

#include "fetchmail-dovecot.hh"

#include <string>

namespace fetchmail {

/* The user's mailbox name ("INBOX" in any case is INBOX), opened, created
   first when missing and create is set; nullptr with error_r. */
struct mailbox *shared_mailbox_open(struct mail_user *user,
				    const std::string &name, bool create,
				    std::string &error_r);
/* Give an instance back; *box is set to nullptr. */
void shared_mailbox_close(struct mail_user *user, struct mailbox **box);

/* Whether saves into the user's INBOX storage must take turns within a
   process: its mailboxes are files (mbox). */
bool mailbox_saves_take_turns(struct mail_user *user);

/* Everything still open of the user (the user is going away). */
void shared_mailbox_close_all(struct mail_user *user);

} // namespace fetchmail

#endif
