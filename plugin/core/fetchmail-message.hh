#ifndef FETCHMAIL_MESSAGE_HH
#define FETCHMAIL_MESSAGE_HH

/* Small pure helpers about fetched messages and run timing. */

#include <cstdint>
#include <string>
#include <string_view>

namespace fetchmail {

/* The Message-ID header's value (unfolded, trimmed) from the start of a
   message or a header block; empty when there is none. Only the header
   part (up to the first empty line) is looked at. */
std::string message_id_from_header(std::string_view header);

/* True once text holds the end of a message header (an empty line). */
bool header_complete(std::string_view text);

/* Seconds until the next poll of an account: the interval after a good
   run; after failures consecutive failures the interval doubled per
   failure, capped at max(interval, 6 hours), so that a wrong password
   does not hammer the remote server. */
uint64_t next_run_delay(uint64_t interval_secs, uint32_t failures);

} // namespace fetchmail

#endif
