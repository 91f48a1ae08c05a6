#ifndef FETCHMAIL_MESSAGE_HH
#define FETCHMAIL_MESSAGE_HH

/* Small pure helpers about fetched messages: header fields, the
   Message-ID, identities and hashes. */

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace fetchmail {

/* The Message-ID header's value (unfolded, trimmed) from the start of a
   message or a header block; empty when there is none. Only the header
   part (up to the first empty line) is looked at. */
std::string message_id_from_header(std::string_view header);

/* The value of the first header field called name (case-insensitive,
   without the colon), unfolded and trimmed; "" when there is none. Only
   the header part (up to the first empty line) is looked at. */
std::string header_value(std::string_view header, std::string_view name);

/* True once text holds the end of a message header (an empty line). */
bool header_complete(std::string_view text);

/* A message's identity, for finding it in the local mailbox after a
   crash (see fetchmail-retrieval.hh, "Exactly once"): 16 lowercase hex
   digits of FNV-1a 64 over the header_value()s of Message-ID, Date, From
   and Subject, each followed by a NUL. It depends only on those values,
   not on line endings or other fields, so it is the same for the bytes
   fetched and for the message as a mail storage (maildir, mbox, dbox)
   gives it back. This definition is frozen: pending records hold it. */
std::string message_identity(std::string_view header);

/* FNV-1a 64 of the parts, each followed by a NUL except the last, as 16
   lowercase hex digits. */
std::string hash_hex16(std::initializer_list<std::string_view> parts);

} // namespace fetchmail

#endif
