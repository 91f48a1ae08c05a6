#ifndef FETCHMAIL_PROTO_HH
#define FETCHMAIL_PROTO_HH

/* The vocabulary shared by the POP3 and IMAP protocol sessions.

   A session is a pure state machine in the nghttp2 style: it does no I/O.
   The driver (the Dovecot glue) connects, then loops:

     - feed(bytes) hands it what the server sent; it returns how many bytes
       it consumed (it may stop early, e.g. right after the reply to STLS or
       STARTTLS, so that the rest can be read through TLS);
     - take_output() returns the bytes to send to the server;
     - next_event() pops the events that feeding produced.

   The driver answers events with actions (tls_started(), fetch(), remove(),
   select_folder(), idle(), idle_done(), quit()), each of which queues
   output. Everything that comes from the server is untrusted: lines and
   literals are bounded, and anything malformed ends the session with an
   Error event, never a crash.

   Body bytes are handed out as string_views into the buffer given to feed():
   drain all events of one feed() before reusing or freeing that buffer. */

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

/* One message on the server as listed by UIDL/LIST or UID FETCH. */
struct RemoteMessage {
	std::string uid;        /* POP3 UIDL, or the IMAP UID in decimal */
	uint32_t number = 0;    /* POP3 message number, or the IMAP UID */
	uint64_t size = 0;      /* octets as the server states them */
	/* IMAP listings with fingerprints only (after a UIDVALIDITY change):
	   the Message-ID header value and INTERNALDATE, as sent. */
	std::string message_id;
	std::string internal_date;
};

enum class ErrorKind {
	None,
	Protocol,        /* malformed or unexpected server data, or too long */
	Auth,            /* the server refused the credentials */
	TlsUnavailable,  /* STARTTLS/STLS required but not offered or refused */
	Server,          /* a command failed with -ERR / NO / BAD */
	Closed,          /* the server said BYE or the stream ended early */
	Unsupported,     /* IdleFailed only: the server lacks the extension
	                    (IMAP IDLE); nothing was sent */
};

enum class EventType {
	NeedTls,         /* start TLS on the connection now, then tls_started() */
	LoggedIn,        /* authenticated; IMAP: call select_folder() next */
	FolderSelected,  /* IMAP: folder, uidvalidity, uidnext, message count,
	                    recent (RECENT) */
	Listing,         /* messages on the server (POP3) / in the folder (IMAP) */
	MessageBegin,    /* uid, size; IMAP also internal_date and flags */
	MessageData,     /* data: the next chunk of the message, wire form undone */
	MessageEnd,      /* the message is complete */
	Removed,         /* uids: deletion completed on the server (DELE/EXPUNGE) */
	Done,            /* the session ended cleanly after quit() */
	Error,           /* error_kind, text (sanitized server text, no secrets) */
	Log,             /* text: one protocol line for the run log, redacted */
	MessageFailed,   /* message, text: fetching or deleting this one message
	                    failed on the server (RETR/DELE -ERR, UID FETCH NO);
	                    the session goes on with the next */
	FolderFailed,    /* IMAP: folder, text: the folder could not be selected,
	                    listed or expunged (NO/BAD, no UIDVALIDITY); the
	                    session goes on, e.g. with the next folder */
	Idling,          /* IMAP: the server accepted IDLE ("+") */
	MailboxChanged,  /* IMAP, while idling: text (EXISTS, RECENT, EXPUNGE
	                    or FETCH), count (EXISTS after it), recent
	                    (RECENT after it) */
	IdleDone,        /* IMAP: the IDLE ended with its tagged OK; count
	                    (EXISTS), recent (RECENT) */
	IdleFailed,      /* IMAP: error_kind (Unsupported, Server), text: no
	                    IDLE; the session goes on */
};

struct Event {
	EventType type;
	ErrorKind error_kind = ErrorKind::None;
	std::string text;
	std::string folder;
	uint32_t uidvalidity = 0;
	uint32_t uidnext = 0;            /* FolderSelected: 0 when not sent */
	uint32_t count = 0;
	uint32_t recent = 0;             /* IMAP: the last RECENT count */
	std::vector<RemoteMessage> messages;
	RemoteMessage message;
	std::string_view data;
	std::string internal_date;       /* IMAP INTERNALDATE as sent, or empty */
	std::vector<std::string> flags;  /* IMAP system flags as sent, e.g. \Seen */
	std::vector<std::string> uids;   /* for Removed */
	bool outgoing = false;           /* Log: true for C: lines, false for S: */
};

/* What a session needs to know. No I/O, no Dovecot types. */
struct SessionConfig {
	enum class Tls { Implicit, StartTls, None };
	Tls tls = Tls::Implicit;
	std::string user;
	std::string password;      /* or the OAuth2 access token for XOAUTH2 */
	std::string sasl_mech;     /* empty: best of what the server offers */
	size_t max_line = 64 * 1024;           /* longest status/response line */
	/* messages listed at most (POP3 UIDL/LIST, IMAP UID FETCH of a
	   folder); a longer listing is Error(Protocol) */
	size_t max_listing = 250000;
	size_t max_message = 1024ull * 1024 * 1024; /* longest message accepted */
};

} // namespace fetchmail

#endif
