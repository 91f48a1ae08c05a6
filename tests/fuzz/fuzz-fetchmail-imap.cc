/* libFuzzer target: the IMAP session (plugin/core/fetchmail-imap.hh).

   Input: byte 0 picks the configuration and how far a canned Dovecot
   exchange takes the session before the fuzzed bytes (greeting, login,
   SELECT, listing; after the listing the driver fetches, or removes the
   messages at once, or logs out); byte 1
   seeds the chunk sizes and, with bit 0x80, picks push mode; the rest is
   what the server sends. The driver answers events like the retrieval
   driver: SELECT/EXAMINE (an ASCII or a UTF-8 folder name), list with or
   without fingerprints, fetch every message or every other one, remove
   what was fetched, LOGOUT; in push mode (and in state 7: idling after
   the select) IDLE after the select and after each fetch, idle_done()
   (or, with bit 0x40 of byte 1, quit()) on MailboxChanged, list() after
   the IDLE ended.

   Checked, besides what fuzz-session.hh checks for both sessions: a
   message's data adds up to the size its MessageBegin announced, a
   Listing is sorted by UID with number = UID and never lists a UID below
   the one asked for, and Removed names only UIDs that were asked for, in
   ascending order; Idling, MailboxChanged (EXISTS, RECENT, EXPUNGE or
   FETCH) and IdleDone/IdleFailed come only for an idle() and never from
   bytes fed after idle_done(); the client sends DONE only after the
   server's "+" and an idle_done() or quit(). */

#include "fuzz-session.hh"

#include "fetchmail-imap.hh"

#include <algorithm>

using namespace fetchmail;
using fuzz_session::password;

namespace {

class ImapDriver : public fuzz_session::SessionDriver<ImapSession> {
public:
	ImapDriver(const SessionConfig &config, uint8_t mode, unsigned state,
		   uint8_t choices)
		: SessionDriver(config), mode_(mode), state_(state),
		  choices_(choices), fingerprints_((mode & 1) != 0),
		  push_(state == 7 || (choices & 0x80) != 0) {}

private:
	void react(const Event &ev) override
	{
		if (actions++ > 64)
			return;
		switch (ev.type) {
		case EventType::LoggedIn:
			s.select_folder((mode_ & 0x80) ?
				"Entw\xc3\xbc" "rfe \xe2\x82\xac\xf0\x9d\x84\x9e &" :
				"INBOX", fingerprints_);
			break;
		case EventType::FolderSelected:
			first_uid_ = ev.uidvalidity % 3;
			if (push_)
				idle();
			else
				s.list(first_uid_, fingerprints_);
			break;
		case EventType::MailboxChanged:
			if (choices_ & 0x40)
				quit();
			else
				end_idle();
			break;
		case EventType::IdleDone:
			first_uid_ = 1 + ended_.size() % 3;
			s.list(first_uid_, fingerprints_);
			break;
		case EventType::IdleFailed:
		case EventType::FolderFailed:
			quit();
			break;
		case EventType::Listing: {
			if (state_ == 6) {
				quit();
				break;
			}
			std::vector<RemoteMessage> msgs;
			size_t step = (mode_ & 0x40) ? 2 : 1;
			for (size_t i = 0; i < ev.messages.size() && i < 80;
			     i += step)
				msgs.push_back(ev.messages[i]);
			if (state_ == 5) {
				std::vector<uint32_t> uids;
				for (const RemoteMessage &m : msgs)
					uids.push_back(m.number);
				remove_uids(uids);
				break;
			}
			fetch(msgs);
			if (push_)
				idle();
			else if (msgs.empty())
				quit();
			break;
		}
		case EventType::MessageEnd:
			ended_.push_back(ev.message.number);
			if (ended_.size() % 3 == 0)
				remove_uids(ended_);
			break;
		case EventType::Removed:
			quit();
			break;
		default:
			break;
		}
	}

	void idle()
	{
		if (idle_sent_)
			return;
		idle_sent_ = true;
		s.idle();
	}

	void end_idle()
	{
		if (idle_sent_ && !idle_ending_)
			endings_++;
		idle_ending_ = idle_sent_;
		s.idle_done();
	}

	void quit()
	{
		end_idle();
		s.quit();
	}

	void remove_uids(const std::vector<uint32_t> &uids)
	{
		std::vector<std::string> list;
		for (uint32_t uid : uids) {
			removing_.push_back(uid);
			list.push_back(std::to_string(uid));
		}
		s.remove(list);
	}

	void check_event(const Event &ev) override
	{
		switch (ev.type) {
		case EventType::MessageBegin:
			body_size_ = ev.message.size;
			body_data_ = 0;
			break;
		case EventType::MessageData:
			body_data_ += ev.data.size();
			FUZZ_CHECK(body_data_ <= body_size_);
			break;
		case EventType::MessageEnd:
			FUZZ_CHECK(body_data_ == body_size_);
			break;
		case EventType::Listing:
			for (size_t i = 0; i < ev.messages.size(); i++) {
				const RemoteMessage &m = ev.messages[i];
				FUZZ_CHECK(m.uid == std::to_string(m.number));
				FUZZ_CHECK(m.number >= first_uid_);
				FUZZ_CHECK(i == 0 ||
					   ev.messages[i - 1].number < m.number);
			}
			break;
		case EventType::Idling:
			FUZZ_CHECK(idle_sent_ && !idling_);
			idling_ = true;
			idlings_++;
			break;
		case EventType::MailboxChanged:
			/* reactions come between feeds: an ending before this
			   event's feed means bytes after idle_done() changed it */
			FUZZ_CHECK(idle_sent_ && !idle_ending_);
			FUZZ_CHECK(ev.text == "EXISTS" || ev.text == "RECENT" ||
				   ev.text == "EXPUNGE" || ev.text == "FETCH");
			break;
		case EventType::IdleDone:
		case EventType::IdleFailed:
			FUZZ_CHECK(idle_sent_);
			FUZZ_CHECK(ev.type == EventType::IdleDone ||
				   ev.error_kind == ErrorKind::Server ||
				   ev.error_kind == ErrorKind::Unsupported);
			idle_sent_ = idling_ = idle_ending_ = false;
			break;
		case EventType::Removed:
			for (size_t i = 0; i < ev.uids.size(); i++) {
				uint32_t uid = std::stoul(ev.uids[i]);
				FUZZ_CHECK(std::find(removing_.begin(),
						     removing_.end(), uid) !=
					   removing_.end());
				FUZZ_CHECK(i == 0 ||
					   std::stoul(ev.uids[i - 1]) < uid);
			}
			break;
		default:
			break;
		}
	}

	/* DONE only after a "+" to IDLE and an idle_done() or quit() */
	void check_sent(std::string_view out) override
	{
		for (size_t pos = 0; pos < out.size();) {
			size_t eol = out.find("\r\n", pos);
			if (eol == out.npos)
				break;
			dones_ += out.substr(pos, eol - pos) == "DONE";
			pos = eol + 2;
		}
		FUZZ_CHECK(dones_ <= idlings_ && dones_ <= endings_);
	}

	uint8_t mode_;
	unsigned state_;
	uint8_t choices_;
	bool fingerprints_;
	bool push_;
	/* push mode: at most one idle() outstanding */
	bool idle_sent_ = false;     /* idle() called, not yet ended */
	bool idling_ = false;        /* Idling came for it */
	bool idle_ending_ = false;   /* idle_done() or quit() called */
	unsigned idlings_ = 0, endings_ = 0, dones_ = 0;
	uint32_t first_uid_ = 0;
	uint64_t body_size_ = 0, body_data_ = 0;
	std::vector<uint32_t> ended_, removing_;
};

const char *const canned[] = {
	"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	"LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN] Dovecot ready.\r\n",
	"a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	"SORT UIDPLUS LITERAL+ MOVE] Logged in\r\n",
	"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
	"* 3 EXISTS\r\n* 0 RECENT\r\n"
	"* OK [UIDVALIDITY 1700000001] UIDs valid\r\n"
	"* OK [UIDNEXT 4] Predicted next UID\r\n"
	"a2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n",
	"* 1 FETCH (UID 1 RFC822.SIZE 3)\r\n* 2 FETCH (UID 2 RFC822.SIZE 4)\r\n"
	"* 3 FETCH (UID 3 RFC822.SIZE 5)\r\n"
	"a3 OK Fetch completed (0.001 + 0.000 secs).\r\n",
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput in(data, size);
	uint8_t mode = in.byte();
	uint8_t chunk = in.byte();

	SessionConfig config;
	config.user = (mode & 0x80) ? "b\xc3\xb6" "b" : "bob";
	config.password = password;
	config.tls = (mode & 0x40) ? SessionConfig::Tls::StartTls :
		SessionConfig::Tls::Implicit;
	static const char *const mechs[] = { "", "PLAIN", "LOGIN", "XOAUTH2",
					     "OAUTHBEARER", "" };
	config.sasl_mech = mechs[(mode >> 3) % 6];
	if (mode & 0x20) {
		config.max_line = 300;
		config.max_message = 200;
	}

	/* how far the canned exchange goes: only a plain LOGIN over
	   implicit TLS follows it past the greeting */
	unsigned state = mode & 7;
	bool plain = config.tls == SessionConfig::Tls::Implicit &&
		config.sasl_mech.empty();
	if (!plain)
		state = std::min(state, 1u);
	std::string server;
	for (unsigned i = 0; i < state && i < 4; i++)
		server += state == 7 && i == 3 ? "+ idling\r\n" : canned[i];
	server += in.rest();

	fuzz_session::run_both<ImapDriver>(server, chunk, config, mode, state,
					   chunk);
	return 0;
}
