/* libFuzzer target: the POP3 session (plugin/core/fetchmail-pop3.hh).

   Input: byte 0 picks the configuration and how far a canned, well-formed
   Dovecot exchange takes the session before the fuzzed bytes (from the
   greeting, after CAPA, after login, after the listing); byte 1 seeds the
   chunk sizes; the rest is what the server sends. The driver answers a
   Listing like the retrieval driver: RETR (every message or every other
   one), DELE of them and of a UID the server never listed, QUIT.

   Checked, besides what fuzz-session.hh checks for both sessions: body
   data views point into the buffer given to feed() (or are the session's
   static "\r"), and a message body never exceeds max_message. */

#include "fuzz-session.hh"

#include "fetchmail-pop3.hh"

using namespace fetchmail;
using fuzz_session::password;

namespace {

class Pop3Driver : public fuzz_session::SessionDriver<Pop3Session> {
public:
	Pop3Driver(const SessionConfig &config, uint8_t mode)
		: SessionDriver(config), config_(config), mode_(mode) {}

private:
	void react(const Event &ev) override
	{
		if (ev.type != EventType::Listing || actions++ > 0)
			return;
		std::vector<RemoteMessage> fetched;
		std::vector<std::string> uids;
		size_t step = (mode_ & 0x20) ? 2 : 1;
		for (size_t i = 0; i < ev.messages.size(); i += step) {
			const RemoteMessage &m = ev.messages[i];
			fetched.push_back(m);
			uids.push_back(m.uid.empty() ? std::to_string(m.number) :
				       m.uid);
		}
		uids.push_back("no-such-uid");
		fetch(fetched);
		s.remove(uids);
		s.quit();
	}

	void check_event(const Event &ev) override
	{
		if (ev.type == EventType::MessageBegin)
			body_size_ = 0;
		if (ev.type == EventType::MessageData) {
			body_size_ += ev.data.size();
			FUZZ_CHECK(body_size_ <= config_.max_message);
		}
	}

	void check_data(std::string_view data, const char *buf,
			size_t size) override
	{
		FUZZ_CHECK(data == "\r" ||
			   (buf != nullptr && data.data() >= buf &&
			    data.data() + data.size() <= buf + size));
	}

	SessionConfig config_;
	uint8_t mode_;
	uint64_t body_size_ = 0;
};

/* A Dovecot exchange up to state 1 (CAPA), 2 (logged in), 3 (listed). */
std::string prefix(unsigned state, bool pipelining)
{
	std::string p = "+OK Dovecot ready.\r\n+OK\r\nTOP\r\nUIDL\r\n"
		"RESP-CODES\r\n" + std::string(pipelining ? "PIPELINING\r\n" : "") +
		"USER\r\nSASL PLAIN LOGIN\r\n.\r\n";
	if (state >= 2)
		p += "+OK\r\n+OK Logged in.\r\n";
	if (state >= 3) {
		p += "+OK\r\n1 000000014f3a\r\n2 000000024f3a\r\n.\r\n"
			"+OK 2 messages:\r\n1 312\r\n2 4096\r\n.\r\n";
	}
	return p;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput in(data, size);
	uint8_t mode = in.byte();
	uint8_t chunk = in.byte();

	static const char *const mechs[] = { "", "PLAIN", "LOGIN", "XOAUTH2",
					     "OAUTHBEARER", "", "", "" };
	unsigned state = mode & 3;
	SessionConfig config;
	config.user = (mode & 0x40) ? "b\xc3\xb6" "b,user=" : "bob";
	config.password = password;
	if (state == 0) {
		/* the whole exchange is fuzzed: any TLS mode and mechanism */
		config.tls = (mode & 4) ? SessionConfig::Tls::StartTls :
			SessionConfig::Tls::Implicit;
		config.sasl_mech = mechs[(mode >> 3) & 7];
	}
	if (mode & 0x80) {
		config.max_line = 40;
		config.max_message = 100;
	}
	std::string server = (state > 0 ? prefix(state, mode & 4) : "");
	server += in.rest();
	fuzz_session::run_both<Pop3Driver>(server, chunk, config, mode);
	return 0;
}
