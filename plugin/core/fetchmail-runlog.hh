#ifndef FETCHMAIL_RUNLOG_HH
#define FETCHMAIL_RUNLOG_HH

/* The run log of one account: the transaction with the remote server
   during the last run, for `doveadm fetchmail log`.

   Each line reads

     2026-11-22T03:40:00.123Z C: USER bob
     2026-11-22T03:40:00.140Z S: +OK
     2026-11-22T03:40:00.141Z *: connected to pop.example.com:995

   (C = client, S = server, * = note by the plugin). The text has a
   trailing CR/LF removed, every registered secret replaced by "***", and
   every remaining control character written as \xNN, in that order.

   Secrets: add_secret() registers a password or token before the run;
   it is redacted in every form a Redactor knows (fetchmail-redact.hh:
   the plain text and its base64 alignments).

   Bounded: the log keeps the first max_bytes/2 bytes of whole lines (the
   head: connect, greeting, login) and the most recent lines up to
   max_bytes/2 bytes (the tail), with "... N lines dropped ..." between
   them when lines were dropped. A single line longer than max_bytes/2 is
   cut. str() is at most max_bytes plus the marker line. max_bytes below
   256 counts as 256. Nothing throws out of the API (on allocation failure
   a line is dropped and counted). */

#include "fetchmail-redact.hh"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

class RunLog {
public:
	explicit RunLog(size_t max_bytes = 64 * 1024);

	/* Redact s (and its base64 forms) in all lines added from now on.
	   Empty secrets are ignored. */
	void add_secret(std::string_view s);
	/* Add one line. direction: 'C' client, 'S' server, '*' note (any
	   other character is written as '*'). */
	void line(int64_t unix_ms, char direction, std::string_view text);
	/* The whole log, lines ending with '\n'. */
	std::string str() const;

	/* What line() does to text: secrets to "***", control characters
	   to \xNN (a trailing CR/LF is dropped first). */
	std::string redact(std::string_view text) const;

	size_t dropped_lines() const { return dropped; }
	bool empty() const { return head.empty() && tail.empty(); }
	/* Forget all lines (the secrets stay registered). */
	void clear();

private:
	size_t max_bytes;
	Redactor redactor_;
	std::string head;
	bool head_closed = false;
	std::deque<std::string> tail;
	size_t tail_bytes = 0;
	size_t dropped = 0;
};

} // namespace fetchmail

#endif
