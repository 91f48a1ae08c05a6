/* libFuzzer target: the IMAP session (plugin/core/fetchmail-imap.hh).

   Input: byte 0 picks the configuration and how far a canned Dovecot
   exchange takes the session before the fuzzed bytes (greeting, login,
   SELECT, listing; after the listing the driver fetches, or removes the
   messages at once, or logs out); byte 1
   seeds the chunk sizes; the rest is what the server sends. The driver
   answers events like the retrieval driver: SELECT/EXAMINE (an ASCII or a
   UTF-8 folder name), list with or without fingerprints, fetch every
   message or every other one, remove what was fetched, LOGOUT.

   Checked, besides what fuzz-session.hh checks for both sessions: a
   message's data adds up to the size its MessageBegin announced, a
   Listing is sorted by UID with number = UID and never lists a UID below
   the one asked for, and Removed names only UIDs that were asked for, in
   ascending order. */

#include "fuzz-session.hh"

#include "fetchmail-imap.hh"

#include <algorithm>

using namespace fetchmail;
using fuzz_session::password;

namespace {

class ImapDriver : public fuzz_session::SessionDriver<ImapSession> {
public:
	ImapDriver(const SessionConfig &config, uint8_t mode, unsigned state)
		: SessionDriver(config), mode_(mode), state_(state),
		  fingerprints_((mode & 1) != 0) {}

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
			s.list(first_uid_, fingerprints_);
			break;
		case EventType::FolderFailed:
			s.quit();
			break;
		case EventType::Listing: {
			if (state_ == 6) {
				s.quit();
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
			if (msgs.empty())
				s.quit();
			break;
		}
		case EventType::MessageEnd:
			ended_.push_back(ev.message.number);
			if (ended_.size() % 3 == 0)
				remove_uids(ended_);
			break;
		case EventType::Removed:
			s.quit();
			break;
		default:
			break;
		}
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

	uint8_t mode_;
	unsigned state_;
	bool fingerprints_;
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
	unsigned state = (mode & 7) % 7;
	bool plain = config.tls == SessionConfig::Tls::Implicit &&
		config.sasl_mech.empty();
	if (!plain)
		state = std::min(state, 1u);
	std::string server;
	for (unsigned i = 0; i < state && i < 4; i++)
		server += canned[i];
	server += in.rest();

	fuzz_session::run_both<ImapDriver>(server, chunk, config, mode, state);
	return 0;
}
