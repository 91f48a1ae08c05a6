/* libFuzzer target: whole runs of the retrieval core
   (plugin/core/fetchmail-retrieval.hh) against a model POP3 or IMAP
   server, with the local side (saves, commits, stores, tokens) answered
   as the input says.

   Input:
   - byte 0: bit 0 IMAP (else POP3), 1 keep, 2 saves are final (LMTP),
     3 OAuth2 login, 4 STARTTLS, 5 the server offers PIPELINING (POP3) or
     UIDPLUS (IMAP), bits 6-7 the mode (Fetch, Fetch, Baseline, and Test
     or Check by bit 0 of byte 2);
   - byte 1: commit_batch_min 1..4, commits_per_fetch 1/2/4/8, max_size
     (none, 100, 160, 300 bytes), the folders (INBOX; INBOX Work;
     INBOX Work Archive; Gone INBOX, where Gone does not exist);
   - byte 2: Test or Check, a pending POP3 baseline, a ledger folder
     that is no longer configured;
   - the mailbox: per server folder (POP3: one; IMAP: INBOX, Work,
     Archive) a byte (0-7 messages, UIDVALIDITY 7 or 9, what the ledger
     has for the folder: nothing, the same UIDVALIDITY, another one; a
     pending baseline), then two bytes per message (its size; whether
     the ledger knows its UID or its fingerprint, whether it is in the
     pending record of an interrupted batch, the gap before its UID, a
     Message-ID shared with the message before);
   - then a program, one byte an operation: feed the next n bytes of
     what the server sent (the split points), answer the oldest
     outstanding local step well or badly (or one chosen by index; saves
     are answered in order), interrupt(), deadline(),
     transport_failed(), abort(), a fault in the server's next reply
     (an error, an error that echoes the command with the credentials,
     the reply cut off and the connection closed, the connection reset),
     raw bytes injected into the server's stream, a note, and "settle"
     (answer everything, feed everything). Whenever the core asks for a
     local step, the next input byte says whether it is answered at once
     (well or badly) or later. When the input ends, everything is
     answered and fed, the server closes, and a deadline comes.

   The model server speaks enough POP3 (CAPA, STLS, USER/PASS, AUTH,
   UIDL, LIST, RETR, DELE, QUIT) and IMAP (CAPABILITY, STARTTLS, LOGIN,
   AUTHENTICATE, SELECT/EXAMINE, UID FETCH of listings with or without
   fingerprints and of bodies, UID STORE, UID EXPUNGE/EXPUNGE, LOGOUT) to
   take a run through every step, and knows which message each command
   names. The harness keeps what is durable: the ledger and the pending
   record as last stored (each store writes what the core held when the
   step was carried out), the messages saved, the saves each commit
   covered (those answered before the Commit was carried out).

   Checked, besides no crash, leak or undefined behaviour:
   - never a delete (DELE, UID STORE +FLAGS (\Deleted), UID EXPUNGE,
     EXPUNGE) of a message that the stored ledger does not record (or
     match by fingerprint), so never before its save is committed and
     the ledger that records it is stored; none with keep = yes or in a
     Test, Check or Baseline run; a range never covers a message that is
     not recorded;
   - a stored ledger records only what is durable: saved and committed
     (saved, for final saves), found by Reconcile, matched by
     fingerprint, or marked by a baseline;
   - no message is saved twice, nor one the stored ledger records, nor
     one Reconcile found;
   - a pending record is stored only with (or after) a ledger that has
     its folders' current UIDVALIDITY: Reconcile files the UIDs it finds
     under the stored ledger's; every message saved (and committed) is in the
     ledger the run leaves (stored at Finish) or in the stored pending
     record, and so is a final save answered after Finish;
   - a message's data lie in the buffer last fed (unless a store was
     answered later: then the core may hand out its own copies) and add
     up to its body as the server has it, with the size announced; IMAP saves carry the
     INTERNALDATE and flags;
   - Finish comes once, last; after it nothing: no action, no output,
     every input ignored, the report unchanged; after a Close no output
     until the next Connect;
   - after interrupt(), deadline(), transport_failed() or abort() the run
     finishes within a few answers (the outstanding ones, at most eight
     more, and four for each message received whole before a close and
     delivered after it), and any run finishes once the server closed
     and everything was answered;
   - the report adds up: fetched is exactly the messages made durable
     while the run went on (and at most the saves), bytes the data
     handed over, deleted at most the deletes sent, skipped at most the
     messages over max-size; ok exactly when there is no error; nothing
     is saved or stored in Test and Check runs and nothing fetched in a
     Baseline run;
   - the password, the OAuth2 tokens and the SASL responses carrying them
     never appear in the run log, the report's error or the status, even
     when the server echoes them; message bodies never reach the run
     log; the client's output is CRLF-terminated lines.

   With FUZZ_TRACE set in the environment the actions, answers and the
   protocol exchange are printed (to see what a seed does). */

#include "fuzz-common.hh"

#include "fetchmail-ledger.hh"
#include "fetchmail-message.hh"
#include "fetchmail-retrieval.hh"
#include "fetchmail-sasl.hh"
#include "fetchmail-strings.hh"

#include "test-wire.hh"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace fetchmail;
using fetchmail_test::pop3_stuffed;

namespace {

const std::string PASSWORD = "pw-S3cret-Zq7";
const std::string TOKEN1 = "tok-Acc3ss-Wx5";
const std::string TOKEN2 = "tok-Fr3sh-Yv2";
const std::string USER = "alice";
const std::string DATE = "02-Nov-2026 10:00:00 +0000";
const std::string BODY_MARK = "Zb0dy-";
const char *const SERVER_FOLDERS[] = { "INBOX", "Work", "Archive" };

bool trace_on()
{
	static bool on = getenv("FUZZ_TRACE") != nullptr;
	return on;
}

void trace(const std::string &what)
{
	if (trace_on())
		fprintf(stderr, "%s\n", what.c_str());
}

/* ---- the mailbox ---- */

struct Msg {
	std::string uid;        /* POP3 UIDL, IMAP UID in decimal */
	uint32_t number = 0;    /* IMAP UID */
	std::string mid;        /* Message-ID */
	std::string body;
	bool deleted = false;   /* POP3 DELE (this session), IMAP \Deleted */
	bool gone = false;      /* expunged, or deleted at QUIT */
};

struct Folder {
	std::string name;
	uint32_t uidvalidity = 7;
	std::vector<Msg> msgs;

	uint32_t max_uid() const
	{
		return msgs.empty() ? 0 : msgs.back().number;
	}
};

/* A message as the harness names it: folder ("" for POP3) and uid. */
using Ref = std::pair<std::string, std::string>;

std::string describe(const Ref &r)
{
	return (r.first.empty() ? "" : r.first + "/") + r.second;
}

std::string make_body(int k, const std::string &mid, uint8_t pad)
{
	std::string body = "Message-ID: " + mid + "\r\nSubject: message " +
		std::to_string(k) + "\r\n\r\n" + BODY_MARK +
		std::to_string(k) + "\r\n";
	for (int i = 0; i < pad / 32; i++)
		body += ".dot-stuffed line " + std::to_string(i) +
			" of the body\r\n";
	return body + "end\r\n";
}

/* "4:6,8" and "1:*" against the folder's UIDs */
std::set<uint32_t> parse_set(std::string_view set, uint32_t max_uid)
{
	std::set<uint32_t> uids;
	auto num = [&](std::string_view s) -> uint32_t {
		if (s == "*")
			return max_uid;
		uint32_t v = 0;
		return parse_u32(s, v) ? v : 0;
	};
	while (!set.empty()) {
		size_t comma = set.find(',');
		std::string_view item = set.substr(0, comma);
		set.remove_prefix(comma == set.npos ? set.size() : comma + 1);
		size_t colon = item.find(':');
		uint32_t lo = num(item.substr(0, colon));
		uint32_t hi = colon == item.npos ? lo : num(item.substr(colon + 1));
		if (lo > hi)
			std::swap(lo, hi);
		for (uint32_t u = lo; u <= hi && u != 0 && uids.size() < 4096; u++)
			uids.insert(u);
	}
	return uids;
}

class Run;

/* ---- the model server ---- */

class Server {
public:
	enum class Fault { None, Error, Echo, Cut, Reset };

	Server(Run &run, bool imap) : run_(run), imap_(imap) {}

	std::vector<Folder> folders;
	bool offer_extra = false;   /* PIPELINING / UIDPLUS */
	bool offer_tls = false;
	Fault fault = Fault::None;
	uint8_t fault_param = 0;

	/* the connection */
	bool up = false;
	std::string out;            /* what the server sent */
	size_t fed = 0;             /* how much of it was fed */
	bool closing = false;       /* EOF once out is fed */
	bool reset = false;         /* a reset once out is fed */
	std::map<uint32_t, Ref> pop3_numbers; /* the session's numbering */
	std::string selected;

	void connect();
	void disconnect();
	void client(std::string_view bytes);

	Folder *folder(std::string_view name)
	{
		for (Folder &f : folders) {
			if (f.name == name)
				return &f;
		}
		return nullptr;
	}

	const Folder *folder(std::string_view name) const
	{
		return const_cast<Server *>(this)->folder(name);
	}

	Msg *find(const Ref &r)
	{
		Folder *f = folder(r.first.empty() ? "INBOX" : r.first);
		if (f == nullptr)
			return nullptr;
		for (Msg &m : f->msgs) {
			if (m.uid == r.second)
				return &m;
		}
		return nullptr;
	}

private:
	void line(const std::string &text);
	void reply(std::string text);
	void pop3(const std::string &text);
	void imap(const std::string &text);
	std::string capabilities() const;
	Folder *selected_folder() { return folder(selected); }
	void imap_fetch(const std::string &tag, std::string_view args);
	void imap_store(const std::string &tag, std::string_view args);
	void imap_expunge(const std::string &tag, std::string_view set);

	Run &run_;
	bool imap_;
	std::string in_;
	bool sasl_wait_ = false;
	std::string sasl_tag_;
	bool read_only_ = false;
	std::vector<Ref> pop3_list_;
};

/* ---- the run ---- */

struct Outstanding {
	Action::Type type;
	bool force = false;
	/* what the step writes, as the core held it when carried out */
	Ledger ledger;
	std::vector<PendingMessage> pending;
	Ref message;                 /* Save */
	std::vector<Ref> covered;    /* Commit: the saves it makes durable */
};

class Run {
public:
	Run(FuzzInput &in) : in_(in), server_(*this, (peek_config(in) & 1) != 0) {}

	void go();

	/* from the server: a delete of r (nullptr for a delete the harness
	   cannot attribute) */
	void deleting(const Ref &r, const char *command);
	bool raw() const { return raw_; }
	void count_delete() { deletes_sent_++; }

private:
	static uint8_t peek_config(const FuzzInput &in)
	{
		FuzzInput copy = in;
		return copy.byte();
	}

	void setup();
	void setup_folder(Folder &f, uint8_t fb, bool in_ledger);
	void op();
	void endgame();

	void drain();
	void carry_out(Action &a);
	void answer(size_t index, bool ok);
	void answer_now(Outstanding o, bool ok);
	void stop();
	void feed(size_t n);
	void deliver_eof();
	void take_output();
	void check_finished_inert();
	void check_finish();
	void check_stored_ledger(const Ledger &snapshot);
	void check_pending_uidvalidity(const Ledger &stored,
				       const std::vector<PendingMessage> &pending);
	bool stale_pending(const PendingMessage &p) const;
	void check_text(const std::string &text, bool log);
	void decide(Outstanding o);
	std::string known_secret() const;

	bool pop3() const { return !imap_; }
	uint32_t uidvalidity_of(const std::string &folder)
	{
		Folder *f = server_.folder(folder);
		return f == nullptr ? 0 : f->uidvalidity;
	}
	std::string fingerprint(const Ref &r)
	{
		Msg *m = server_.find(r);
		return m == nullptr ? std::string() :
			message_fingerprint(m->mid, m->body.size(), DATE);
	}
	bool ledger_has(const Ledger &l, const Ref &r);
	bool ledger_fp(const Ledger &l, const Ref &r);
	bool in_pending(const std::vector<PendingMessage> &p, const Ref &r)
	{
		for (const PendingMessage &m : p) {
			if (m.folder == r.first && m.uid == r.second)
				return true;
		}
		return false;
	}
	std::vector<Ref> all_messages();
	/* an IMAP folder the run's ledger dropped, not being configured */
	bool forgotten_folder(const Ref &r) const
	{
		return !r.first.empty() &&
			std::find(config_.folders.begin(), config_.folders.end(),
				  r.first) == config_.folders.end() &&
			final_ledger_.find_folder(r.first) == nullptr;
	}

	FuzzInput &in_;
	RetrievalConfig config_;
	bool imap_ = false;
	Server server_;
	std::unique_ptr<Retrieval> r_;
	int64_t now_ms_ = 1800000000000;

	/* durable state */
	Ledger stored_;                     /* the ledger as last stored */
	Ledger initial_;
	std::vector<PendingMessage> initial_pending_;
	std::vector<PendingMessage> stored_pending_;
	Ledger final_ledger_;               /* as the run leaves it */
	std::set<Ref> found_;               /* Reconcile: delivered before */
	std::set<Ref> saved_;               /* a Save asked for it */
	std::vector<Ref> uncommitted_;      /* saved, no Commit carried out */
	std::set<Ref> durable_;
	std::set<Ref> late_;                /* final saves after Finish */
	std::set<std::string> durable_fps_;
	uint64_t durable_count_ = 0;        /* made durable before Finish */
	bool baseline_pop3_ = false;
	std::set<std::string> baseline_folders_;

	/* the run */
	std::deque<Outstanding> outstanding_;
	uint64_t saves_ok_ = 0;
	bool in_message_ = false;
	Ref current_;
	RemoteMessage begun_;
	std::string body_;
	std::string last_buf_;              /* the buffer last fed */
	std::map<uint32_t, std::string> begun_numbers_; /* POP3 number -> uid */
	uint64_t data_bytes_ = 0;
	uint64_t deletes_sent_ = 0;
	bool raw_ = false;
	bool deadline_sent_ = false;
	bool store_answered_later_ = false;
	std::string token_given_;           /* the last token handed over */
	bool closed_ = false;               /* Close carried out */
	bool finished_ = false;
	RunReport final_report_;
	bool stopped_ = false;
	uint64_t answers_ = 0, answers_at_stop_ = 0;
	size_t outstanding_at_stop_ = 0;
	uint64_t begun_after_stop_ = 0;
	int actions_ = 0;
	std::vector<std::string> secrets_;
};

/* ---- server ---- */

std::string Server::capabilities() const
{
	return std::string("IMAP4rev1 SASL-IR LITERAL+ ID IDLE AUTH=PLAIN "
			   "AUTH=XOAUTH2") + (offer_extra ? " UIDPLUS" : "") +
		(offer_tls ? " STARTTLS" : "");
}

void Server::connect()
{
	up = true;
	out.clear();
	fed = 0;
	closing = reset = false;
	in_.clear();
	sasl_wait_ = false;
	selected.clear();
	pop3_list_.clear();
	pop3_numbers.clear();
	for (Folder &f : folders) {
		for (Msg &m : f.msgs)
			if (!imap_)
				m.deleted = false;
	}
	if (imap_) {
		out = "* OK [CAPABILITY " + capabilities() + "] model ready\r\n";
		return;
	}
	for (Msg &m : folders[0].msgs) {
		if (!m.gone) {
			pop3_list_.push_back(Ref("", m.uid));
			pop3_numbers[pop3_list_.size()] = pop3_list_.back();
		}
	}
	out = "+OK POP3 model ready <1.2@example.net>\r\n";
}

void Server::disconnect()
{
	up = false;
	/* POP3: deletions happen at QUIT only */
	for (Folder &f : folders) {
		for (Msg &m : f.msgs)
			if (!imap_)
				m.deleted = false;
	}
}

void Server::client(std::string_view bytes)
{
	in_ += bytes;
	size_t nl;
	while (up && !closing && !reset && (nl = in_.find("\r\n")) != in_.npos) {
		std::string text = in_.substr(0, nl);
		in_.erase(0, nl + 2);
		trace("C: " + text);
		line(text);
	}
}

void Server::reply(std::string text)
{
	Fault f = std::exchange(fault, Fault::None);
	switch (f) {
	case Fault::None:
	case Fault::Error:
	case Fault::Echo:
		break;
	case Fault::Cut:
		text.resize(std::min<size_t>(text.size(), fault_param));
		closing = true;
		break;
	case Fault::Reset:
		text.clear();
		reset = true;
		break;
	}
	trace("S: " + text.substr(0, 200));
	out += text;
}

void Server::line(const std::string &text)
{
	if (fault == Fault::Error || fault == Fault::Echo) {
		Fault f = std::exchange(fault, Fault::None);
		std::string what = f == Fault::Echo ? "bad command: " + text :
			"temporary failure";
		bool auth = text.find("PASS") != text.npos ||
			text.find("AUTH") != text.npos ||
			text.find("LOGIN") != text.npos;
		sasl_wait_ = false;
		if (!imap_) {
			reply("-ERR " + std::string(auth ? "[AUTH] " : "[SYS/TEMP] ") +
			      what + "\r\n");
			return;
		}
		std::string tag = sasl_wait_ ? sasl_tag_ : text.substr(0, text.find(' '));
		reply(tag + (auth ? " NO [AUTHENTICATIONFAILED] " : " NO [UNAVAILABLE] ") +
		      what + "\r\n");
		return;
	}
	if (imap_)
		imap(text);
	else
		pop3(text);
}

void Server::pop3(const std::string &text)
{
	if (sasl_wait_) {
		sasl_wait_ = false;
		reply("+OK logged in\r\n");
		return;
	}
	size_t sp = text.find(' ');
	std::string cmd = ascii_upper(text.substr(0, sp));
	std::string arg = sp == text.npos ? "" : text.substr(sp + 1);
	uint32_t n = 0;
	auto numbered = [&]() -> Msg * {
		if (!parse_u32(arg, n) || !pop3_numbers.count(n))
			return nullptr;
		Msg *m = find(pop3_numbers[n]);
		return m == nullptr || m->deleted ? nullptr : m;
	};

	if (cmd == "CAPA") {
		reply(std::string("+OK\r\nUIDL\r\nUSER\r\nSASL PLAIN XOAUTH2\r\n") +
		      (offer_extra ? "PIPELINING\r\n" : "") +
		      (offer_tls ? "STLS\r\n" : "") + ".\r\n");
	} else if (cmd == "STLS") {
		reply("+OK begin TLS\r\n");
	} else if (cmd == "USER") {
		reply("+OK\r\n");
	} else if (cmd == "PASS") {
		reply(arg == PASSWORD ? "+OK logged in\r\n" :
		      "-ERR [AUTH] invalid password\r\n");
	} else if (cmd == "AUTH") {
		if (arg.find(' ') != arg.npos) {
			reply("+OK logged in\r\n");
		} else {
			sasl_wait_ = true;
			reply("+ \r\n");
		}
	} else if (cmd == "UIDL" || cmd == "LIST") {
		std::string r = "+OK\r\n";
		for (size_t i = 0; i < pop3_list_.size(); i++) {
			Msg *m = find(pop3_list_[i]);
			if (m->deleted)
				continue;
			r += std::to_string(i + 1) + " " + (cmd == "UIDL" ? m->uid :
				std::to_string(m->body.size())) + "\r\n";
		}
		reply(r + ".\r\n");
	} else if (cmd == "RETR") {
		Msg *m = numbered();
		reply(m == nullptr ? "-ERR no such message\r\n" :
		      "+OK " + std::to_string(m->body.size()) + " octets\r\n" +
		      pop3_stuffed(m->body));
	} else if (cmd == "DELE") {
		Msg *m = numbered();
		if (m == nullptr) {
			reply("-ERR no such message\r\n");
			return;
		}
		Ref r = pop3_numbers[n];
		run_.count_delete();
		run_.deleting(run_.raw() ? Ref("", "") : r, "DELE");
		m->deleted = true;
		reply("+OK deleted\r\n");
	} else if (cmd == "QUIT") {
		for (Msg &m : folders[0].msgs) {
			if (m.deleted)
				m.gone = true;
		}
		reply("+OK bye\r\n");
		closing = true;
	} else {
		reply("-ERR unknown command\r\n");
	}
}

void Server::imap(const std::string &text)
{
	if (sasl_wait_) {
		sasl_wait_ = false;
		reply(sasl_tag_ + " OK logged in\r\n");
		return;
	}
	std::vector<std::string> words;
	size_t pos = 0;
	while (pos < text.size() && words.size() < 3) {
		size_t sp = text.find(' ', pos);
		words.push_back(text.substr(pos, sp == text.npos ? sp : sp - pos));
		pos = sp == text.npos ? text.size() : sp + 1;
	}
	std::string rest = text.substr(std::min(pos, text.size()));
	if (words.size() < 2) {
		reply("* BAD no command\r\n");
		return;
	}
	const std::string &tag = words[0];
	std::string cmd = ascii_upper(words[1]);
	std::string arg = words.size() > 2 ? words[2] : "";
	std::string args = arg + (rest.empty() ? "" : " " + rest);

	if (cmd == "CAPABILITY") {
		reply("* CAPABILITY " + capabilities() + "\r\n" + tag + " OK done\r\n");
	} else if (cmd == "STARTTLS") {
		reply(tag + " OK begin TLS\r\n");
	} else if (cmd == "LOGIN") {
		reply(text.find(PASSWORD) != text.npos ?
		      tag + " OK [CAPABILITY " + capabilities() + "] in\r\n" :
		      tag + " NO [AUTHENTICATIONFAILED] invalid\r\n");
	} else if (cmd == "AUTHENTICATE") {
		if (!rest.empty()) {
			reply(tag + " OK logged in\r\n");
		} else {
			sasl_wait_ = true;
			sasl_tag_ = tag;
			reply("+ \r\n");
		}
	} else if (cmd == "SELECT" || cmd == "EXAMINE") {
		std::string name = args;
		if (name.size() >= 2 && name.front() == '"')
			name = name.substr(1, name.size() - 2);
		Folder *f = folder(name);
		selected.clear();
		if (f == nullptr) {
			reply(tag + " NO [NONEXISTENT] no such mailbox\r\n");
			return;
		}
		selected = name;
		read_only_ = cmd == "EXAMINE";
		size_t exists = 0;
		for (const Msg &m : f->msgs)
			exists += m.gone ? 0 : 1;
		reply("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* " +
		      std::to_string(exists) + " EXISTS\r\n* 0 RECENT\r\n"
		      "* OK [UIDVALIDITY " + std::to_string(f->uidvalidity) +
		      "] ok\r\n* OK [UIDNEXT " + std::to_string(f->max_uid() + 1) +
		      "] ok\r\n" + tag + (read_only_ ? " OK [READ-ONLY] done\r\n" :
					    " OK [READ-WRITE] done\r\n"));
	} else if (cmd == "UID" && ascii_upper(arg) == "FETCH") {
		imap_fetch(tag, rest);
	} else if (cmd == "UID" && ascii_upper(arg) == "STORE") {
		imap_store(tag, rest);
	} else if (cmd == "UID" && ascii_upper(arg) == "EXPUNGE") {
		imap_expunge(tag, rest);
	} else if (cmd == "EXPUNGE") {
		imap_expunge(tag, "1:*");
	} else if (cmd == "LOGOUT") {
		reply("* BYE logging out\r\n" + tag + " OK bye\r\n");
		closing = true;
	} else if (cmd == "NOOP" || cmd == "ID" || cmd == "CLOSE") {
		reply(tag + " OK done\r\n");
	} else {
		reply(tag + " BAD unknown command\r\n");
	}
}

void Server::imap_fetch(const std::string &tag, std::string_view args)
{
	Folder *f = selected_folder();
	if (f == nullptr) {
		reply(tag + " BAD no mailbox selected\r\n");
		return;
	}
	size_t sp = args.find(' ');
	std::set<uint32_t> uids = parse_set(args.substr(0, sp), f->max_uid());
	std::string items(sp == args.npos ? "" : args.substr(sp + 1));
	bool body = items.find("BODY.PEEK[]") != items.npos;
	bool fps = items.find("HEADER.FIELDS") != items.npos;
	std::string r;
	size_t seq = 0;
	for (const Msg &m : f->msgs) {
		if (m.gone)
			continue;
		seq++;
		if (!uids.count(m.number))
			continue;
		r += "* " + std::to_string(seq) + " FETCH (UID " + m.uid;
		if (body) {
			r += " INTERNALDATE \"" + DATE + "\" FLAGS (\\Seen) BODY[] {" +
				std::to_string(m.body.size()) + "}\r\n" + m.body + ")\r\n";
			continue;
		}
		r += " RFC822.SIZE " + std::to_string(m.body.size());
		if (fps) {
			std::string h = "Message-ID: " + m.mid + "\r\n\r\n";
			r += " INTERNALDATE \"" + DATE + "\" BODY[HEADER.FIELDS "
				"(MESSAGE-ID)] {" + std::to_string(h.size()) + "}\r\n" + h;
		}
		r += ")\r\n";
	}
	reply(r + tag + " OK fetch done\r\n");
}

void Server::imap_store(const std::string &tag, std::string_view args)
{
	Folder *f = selected_folder();
	if (f == nullptr || read_only_) {
		reply(tag + " NO read-only or no mailbox\r\n");
		return;
	}
	size_t sp = args.find(' ');
	std::set<uint32_t> uids = parse_set(args.substr(0, sp), f->max_uid());
	bool del = args.find("\\Deleted") != args.npos;
	for (Msg &m : f->msgs) {
		if (m.gone || !uids.count(m.number) || !del)
			continue;
		run_.count_delete();
		run_.deleting(Ref(f->name, m.uid), "UID STORE \\Deleted");
		m.deleted = true;
	}
	reply(tag + " OK store done\r\n");
}

void Server::imap_expunge(const std::string &tag, std::string_view set)
{
	Folder *f = selected_folder();
	if (f == nullptr || read_only_) {
		reply(tag + " NO read-only or no mailbox\r\n");
		return;
	}
	std::set<uint32_t> uids = parse_set(set, f->max_uid());
	std::string r;
	size_t seq = 0;
	for (Msg &m : f->msgs) {
		if (m.gone)
			continue;
		seq++;
		if (!m.deleted || !uids.count(m.number))
			continue;
		run_.deleting(Ref(f->name, m.uid), "EXPUNGE");
		m.gone = true;
		r += "* " + std::to_string(seq) + " EXPUNGE\r\n";
		seq--;
	}
	reply(r + tag + " OK expunge done\r\n");
}

/* ---- run: the model's knowledge ---- */

bool Run::ledger_has(const Ledger &l, const Ref &r)
{
	if (pop3())
		return l.pop3_has(r.second);
	const FolderLedger *f = l.find_folder(r.first);
	Msg *m = server_.find(r);
	/* UIDVALIDITY 0 is "not yet known": Reconcile records the UIDs of
	   a folder that no stored ledger had yet, and the next SELECT
	   adopts the server's UIDVALIDITY for them (the model's never
	   changes between runs) */
	return f != nullptr && m != nullptr &&
		(raw_ || f->uidvalidity == 0 ||
		 f->uidvalidity == uidvalidity_of(r.first)) &&
		f->has(m->number);
}

bool Run::ledger_fp(const Ledger &l, const Ref &r)
{
	if (pop3())
		return false;
	const FolderLedger *f = l.find_folder(r.first);
	return f != nullptr && f->has_fingerprint(fingerprint(r));
}

std::vector<Ref> Run::all_messages()
{
	std::vector<Ref> refs;
	for (const Folder &f : server_.folders) {
		for (const Msg &m : f.msgs)
			refs.emplace_back(pop3() ? "" : f.name, m.uid);
	}
	return refs;
}

void Run::deleting(const Ref &r, const char *command)
{
	trace(std::string("delete ") + command + " " + describe(r));
	FUZZ_CHECK(config_.mode == RunMode::Fetch && !config_.keep);
	if (r.second.empty()) {
		/* POP3 after injected bytes: only what was fetched is known */
		return;
	}
	/* recorded in the ledger as stored (or matched by a fingerprint it
	   holds): saved, committed and recorded before */
	FUZZ_CHECK(ledger_has(stored_, r) || ledger_fp(stored_, r));
}

/* ---- run: setup ---- */

void Run::setup_folder(Folder &f, uint8_t fb, bool in_ledger)
{
	size_t n = fb & 7;
	f.uidvalidity = (fb & 8) ? 9 : 7;
	FolderLedger *fl = nullptr;
	if (imap_ && in_ledger && ((fb >> 4) & 3) != 0) {
		fl = &initial_.folder(f.name);
		fl->uidvalidity = ((fb >> 4) & 3) == 2 ? 8 : f.uidvalidity;
		fl->baseline = (fb & 0x40) != 0;
		if (fl->baseline)
			baseline_folders_.insert(f.name);
	}
	uint32_t uid = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t size = in_.byte(), q = in_.byte();
		Msg m;
		uid += 1 + ((q >> 3) & 3);
		m.number = uid;
		int k = static_cast<int>(m.number);
		if (imap_) {
			m.uid = std::to_string(uid);
		} else {
			m.uid = "UID" + std::to_string(i + 1) +
				std::string(i % 3, 'x');
		}
		m.mid = (q & 0x20) && !f.msgs.empty() ? f.msgs.back().mid :
			"<m" + std::to_string(k) + "." + f.name + "@example.net>";
		m.body = make_body(k, m.mid, size);
		Ref ref(imap_ ? f.name : "", m.uid);
		if (!imap_ && (q & 1))
			initial_.pop3_add(m.uid);
		if (fl != nullptr && (q & 1))
			fl->add(m.number);
		if (fl != nullptr && (q & 2))
			fl->add_fingerprint(message_fingerprint(m.mid, m.body.size(),
								DATE));
		if ((q & 4) && config_.mode != RunMode::Test) {
			PendingMessage p{ ref.first, m.uid, message_identity(m.body) };
			initial_pending_.push_back(p);
		}
		f.msgs.push_back(std::move(m));
	}
}

void Run::setup()
{
	uint8_t c0 = in_.byte(), c1 = in_.byte(), c2 = in_.byte();
	imap_ = (c0 & 1) != 0;
	config_.protocol = imap_ ? Protocol::Imap : Protocol::Pop3;
	config_.keep = (c0 & 2) != 0;
	config_.saves_are_final = (c0 & 4) != 0;
	config_.oauth2 = (c0 & 8) != 0;
	config_.session.tls = (c0 & 0x10) ? SessionConfig::Tls::StartTls :
		SessionConfig::Tls::None;
	server_.offer_tls = (c0 & 0x10) != 0;
	server_.offer_extra = (c0 & 0x20) != 0;
	switch (c0 >> 6) {
	case 2: config_.mode = RunMode::Baseline; break;
	case 3: config_.mode = (c2 & 1) ? RunMode::Check : RunMode::Test; break;
	default: config_.mode = RunMode::Fetch; break;
	}
	config_.session.user = USER;
	config_.session.password = config_.oauth2 ? "" : PASSWORD;
	config_.commit_batch_min = 1 + (c1 & 3);
	static const size_t per_fetch[] = { 1, 2, 4, 8 };
	config_.commits_per_fetch = per_fetch[(c1 >> 2) & 3];
	static const uint64_t max_sizes[] = { 0, 100, 160, 300 };
	config_.max_size = max_sizes[(c1 >> 4) & 3];
	static const std::vector<std::string> folder_sets[] = {
		{ "INBOX" }, { "INBOX", "Work" }, { "INBOX", "Work", "Archive" },
		{ "Gone", "INBOX" },
	};
	config_.folders = folder_sets[c1 >> 6];
	config_.interval_secs = 300;
	config_.max_log_size = 16 * 1024;
	config_.now_ms = [this] { return now_ms_; };
	config_.random = [](uint32_t limit) { return limit / 2; };

	if (!imap_ && (c2 & 2)) {
		initial_.set_pop3_baseline(true);
		baseline_pop3_ = true;
	}
	if (imap_ && (c2 & 4))
		initial_.folder("Old").uidvalidity = 3;
	for (int i = 0; i < (imap_ ? 3 : 1); i++) {
		Folder &f = server_.folders.emplace_back();
		f.name = SERVER_FOLDERS[i];
		bool configured = std::find(config_.folders.begin(),
					    config_.folders.end(), f.name) !=
			config_.folders.end();
		setup_folder(f, in_.byte(), configured);
	}
	if (!imap_)
		initial_.pop3_add("UID-gone-from-server");
	stored_ = initial_;
	stored_pending_ = initial_pending_;

	secrets_ = { PASSWORD, TOKEN1, TOKEN2 };
	for (const std::string &s : { PASSWORD, TOKEN1, TOKEN2 }) {
		for (SaslMech mech : { SaslMech::Plain, SaslMech::Login,
				       SaslMech::XOAuth2,
				       SaslMech::OAuthBearer }) {
			for (std::string &resp : sasl_responses(mech, USER, s)) {
				if (resp.size() >= 8)
					secrets_.push_back(std::move(resp));
			}
		}
	}
	r_ = std::make_unique<Retrieval>(config_, initial_, initial_pending_);
	trace(std::string("config: ") + (imap_ ? "imap" : "pop3") +
	      (config_.keep ? " keep" : " nokeep") +
	      (config_.saves_are_final ? " final" : "") +
	      (config_.oauth2 ? " oauth2" : "") + " mode " +
	      std::to_string(static_cast<int>(config_.mode)));
}

/* ---- run: driving ---- */

void Run::go()
{
	setup();
	r_->start();
	drain();
	for (int steps = 0; steps < 4000 && !in_.empty(); steps++)
		op();
	endgame();
	FUZZ_CHECK(finished_);
	/* what was delivered is recorded: in the ledger the run leaves, or
	   in the pending record (the next run's Reconcile finds it) */
	std::set<Ref> delivered = durable_;
	delivered.insert(found_.begin(), found_.end());
	delivered.insert(late_.begin(), late_.end());
	for (const Ref &m : delivered) {
		/* a folder no longer configured is dropped from the ledger
		   as a whole (Ledger::retain_folders(), by design: the ledger
		   follows the configuration); Reconcile may still find
		   messages of it that an earlier run left pending */
		if (forgotten_folder(m))
			continue;
		if (!ledger_has(final_ledger_, m) && !in_pending(stored_pending_, m))
			trace("not recorded: " + describe(m));
		FUZZ_CHECK(ledger_has(final_ledger_, m) ||
			   in_pending(stored_pending_, m));
	}
	check_finished_inert();
}

void Run::op()
{
	now_ms_ += 1000;
	uint8_t op = in_.byte();
	switch (op % 16) {
	case 0: case 1: case 2: case 3: case 4:
		feed(in_.byte());
		break;
	case 5:
		if (!outstanding_.empty())
			answer(0, true);
		break;
	case 6:
		if (!outstanding_.empty())
			answer(0, false);
		break;
	case 7:
		if (!outstanding_.empty())
			answer(in_.byte() % outstanding_.size(), true);
		break;
	case 8:
		trace("(interrupt)");
		r_->interrupt();
		stop();
		break;
	case 9:
		trace("(deadline)");
		r_->deadline();
		stop();
		break;
	case 10: {
		static const NetError kinds[] = {
			NetError::Resolve, NetError::Connect, NetError::Timeout,
			NetError::Tls, NetError::Closed, NetError::Io,
		};
		NetError kind = kinds[in_.byte() % 6];
		trace("(transport failed)");
		server_.disconnect();
		r_->transport_failed(kind, "timed out after " + known_secret());
		stop();
		break;
	}
	case 11: {
		uint8_t b = in_.byte();
		static const Server::Fault faults[] = {
			Server::Fault::Error, Server::Fault::Echo,
			Server::Fault::Cut, Server::Fault::Reset,
		};
		server_.fault = faults[b % 4];
		server_.fault_param = in_.byte();
		break;
	}
	case 12: {
		std::string raw(in_.bytes(in_.byte() % 64));
		for (const std::string &secret : secrets_) {
			/* injected bytes are not the core's to redact */
			if (raw.find(secret.substr(0, 4)) != raw.npos)
				return;
		}
		if (server_.up && !closed_ && !raw.empty()) {
			raw_ = true;
			server_.out += raw;
			trace("S (injected): " + raw);
		}
		break;
	}
	case 13:
		trace("(abort)");
		r_->abort("the destination mailbox is gone");
		stop();
		break;
	case 14:
		r_->note("DNS: mail.example.net is 192.0.2.1");
		break;
	default: {
		/* settle: answer and feed what there is */
		for (int i = 0; i < 32; i++) {
			if (!outstanding_.empty())
				answer(0, true);
			else if (server_.up && !closed_ &&
				 server_.fed < server_.out.size())
				feed(0);
			else
				break;
		}
		break;
	}
	}
	drain();
}

/* When the input ends: everything answered and fed, then the server
   hangs up, then the deadline. The run must finish. */
void Run::endgame()
{
	bool hung_up = false;
	for (int i = 0; i < 256 && !finished_; i++) {
		now_ms_ += 1000;
		if (!outstanding_.empty()) {
			answer(0, true);
			drain();
			continue;
		}
		if (server_.up && !closed_) {
			if (server_.fed < server_.out.size() || server_.closing ||
			    server_.reset) {
				size_t before = server_.fed;
				feed(0);
				if (server_.fed != before || !server_.up)
					continue;
			}
			if (!hung_up) {
				trace("(the server hangs up)");
				hung_up = true;
				server_.closing = true;
				server_.fault = Server::Fault::None;
				continue;
			}
		}
		if (!deadline_sent_) {
			deadline_sent_ = true;
			trace("(deadline at the end)");
			r_->deadline();
			stop();
			drain();
			continue;
		}
		break;
	}
	/* answers the core no longer waits for (final saves in flight) */
	while (!outstanding_.empty()) {
		answer(0, true);
		drain();
	}
}

void Run::stop()
{
	if (stopped_ || finished_)
		return;
	stopped_ = true;
	answers_at_stop_ = answers_;
	outstanding_at_stop_ = outstanding_.size();
}

std::string Run::known_secret() const
{
	if (!config_.oauth2)
		return PASSWORD;
	return token_given_.empty() ? "nothing" : token_given_;
}

void Run::feed(size_t n)
{
	if (!server_.up || closed_)
		return;
	if (server_.fed >= server_.out.size()) {
		if (server_.closing || server_.reset)
			deliver_eof();
		return;
	}
	size_t avail = server_.out.size() - server_.fed;
	size_t len = n == 0 ? avail : std::min(n, avail);
	/* a fresh buffer: views into the last one must not be used */
	last_buf_ = server_.out.substr(server_.fed, len);
	size_t used = r_->feed(last_buf_);
	FUZZ_CHECK(used <= len);
	server_.fed += used;
	drain();
}

void Run::deliver_eof()
{
	bool reset = server_.reset;
	server_.disconnect();
	trace(reset ? "(connection reset)" : "(server closes)");
	if (reset)
		r_->transport_failed(NetError::Io, "connection reset by peer");
	else
		r_->transport_failed(NetError::Closed, "connection closed");
	stop();
	drain();
}

void Run::drain()
{
	Action a;
	while (r_->next_action(a)) {
		FUZZ_CHECK(!finished_);
		FUZZ_CHECK(++actions_ < 100000);
		carry_out(a);
	}
	take_output();
}

void Run::take_output()
{
	std::string out = r_->take_output();
	if (out.empty())
		return;
	FUZZ_CHECK(!finished_ && !closed_);
	FUZZ_CHECK(out.size() >= 2 && out.substr(out.size() - 2) == "\r\n");
	for (size_t i = 0; i < out.size(); i++) {
		FUZZ_CHECK(out[i] != '\0');
		if (out[i] == '\r')
			FUZZ_CHECK(i + 1 < out.size() && out[i + 1] == '\n');
		if (out[i] == '\n')
			FUZZ_CHECK(i > 0 && out[i - 1] == '\r');
	}
	if (server_.up)
		server_.client(out);
}

void Run::decide(Outstanding o)
{
	uint8_t b = in_.byte();
	/* saved()/save_failed() name no message: they answer the Saves in
	   the order they were asked for, so one cannot be answered before
	   an earlier one still outstanding */
	if (o.type == Action::Type::Save) {
		for (const Outstanding &e : outstanding_) {
			if (e.type == Action::Type::Save)
				b = 2;
		}
	}
	switch (b & 3) {
	case 2:
		trace("  (answered later)");
		if (o.type == Action::Type::StorePending ||
		    o.type == Action::Type::Commit ||
		    o.type == Action::Type::StoreLedger)
			store_answered_later_ = true;
		outstanding_.push_back(std::move(o));
		break;
	case 1:
		answer_now(std::move(o), false);
		break;
	default:
		answer_now(std::move(o), true);
		break;
	}
}

void Run::carry_out(Action &a)
{
	static const char *const names[] = {
		"Reconcile", "RefreshToken", "Connect", "StartTls", "Begin",
		"Data", "Discard", "StorePending", "Save", "Commit",
		"StoreLedger", "Close", "Finish",
	};
	if (a.type != Action::Type::Data)
		trace(std::string("action ") + names[static_cast<int>(a.type)]);
	Outstanding o;
	o.type = a.type;
	bool fetching = config_.mode == RunMode::Fetch;
	bool storing = config_.mode == RunMode::Fetch ||
		config_.mode == RunMode::Baseline;

	switch (a.type) {
	case Action::Type::Reconcile:
		FUZZ_CHECK(storing);
		o.pending = r_->pending();
		decide(std::move(o));
		break;
	case Action::Type::RefreshToken:
		FUZZ_CHECK(config_.oauth2);
		o.force = a.force;
		decide(std::move(o));
		break;
	case Action::Type::Connect:
		closed_ = false;
		decide(std::move(o));
		break;
	case Action::Type::StartTls:
		decide(std::move(o));
		break;
	case Action::Type::Begin:
		FUZZ_CHECK(fetching);
		FUZZ_CHECK(!in_message_);
		in_message_ = true;
		begun_after_stop_ += stopped_;
		begun_ = a.message;
		body_.clear();
		current_ = Ref(imap_ ? server_.selected : "", a.message.uid);
		trace("  " + describe(current_));
		if (!imap_)
			begun_numbers_[a.message.number] = a.message.uid;
		if (!raw_) {
			Msg *m = server_.find(current_);
			FUZZ_CHECK(m != nullptr);
			FUZZ_CHECK(a.message.size == m->body.size());
			FUZZ_CHECK(config_.max_size == 0 ||
				   a.message.size <= config_.max_size);
		}
		break;
	case Action::Type::Data:
		FUZZ_CHECK(in_message_ && !a.data.empty());
		/* events the core could not take before a store was
		   answered come from its own copies (ASan and the body
		   check below still catch a view of a freed buffer) */
		if (!store_answered_later_)
			FUZZ_CHECK(a.data.data() >= last_buf_.data() &&
				   a.data.data() + a.data.size() <=
				   last_buf_.data() + last_buf_.size());
		body_ += a.data;
		data_bytes_ += a.data.size();
		break;
	case Action::Type::Discard:
		FUZZ_CHECK(in_message_);
		in_message_ = false;
		break;
	case Action::Type::StorePending:
		FUZZ_CHECK(storing);
		o.pending = r_->pending();
		check_pending_uidvalidity(stored_, o.pending);
		decide(std::move(o));
		break;
	case Action::Type::Save: {
		FUZZ_CHECK(fetching && in_message_);
		in_message_ = false;
		if (!raw_) {
			Msg *m = server_.find(current_);
			FUZZ_CHECK(m != nullptr && body_ == m->body);
			if (imap_) {
				FUZZ_CHECK(a.internal_date == DATE);
				FUZZ_CHECK(a.flags == std::vector<std::string>{ "\\Seen" });
			}
		}
		/* exactly once: never saved twice, never one recorded or
		   found delivered */
		FUZZ_CHECK(!saved_.count(current_));
		FUZZ_CHECK(!ledger_has(stored_, current_));
		FUZZ_CHECK(!found_.count(current_));
		FUZZ_CHECK(!durable_.count(current_));
		/* a final save cannot be taken back: pending first */
		if (config_.saves_are_final)
			FUZZ_CHECK(in_pending(stored_pending_, current_));
		saved_.insert(current_);
		o.message = current_;
		decide(std::move(o));
		break;
	}
	case Action::Type::Commit:
		FUZZ_CHECK(storing);
		o.covered = std::move(uncommitted_);
		uncommitted_.clear();
		decide(std::move(o));
		break;
	case Action::Type::StoreLedger:
		FUZZ_CHECK(storing);
		o.ledger = r_->ledger();
		o.pending = r_->pending();
		check_stored_ledger(o.ledger);
		check_pending_uidvalidity(o.ledger, o.pending);
		decide(std::move(o));
		break;
	case Action::Type::Close:
		closed_ = true;
		server_.disconnect();
		break;
	case Action::Type::Finish:
		FUZZ_CHECK(!finished_);
		finished_ = true;
		check_finish();
		break;
	}
}

/* A pending record names UIDs without their UIDVALIDITY: the next run's
   Reconcile files them under the stored ledger's, so that must be the
   one they belong to (the model's server never changes it). */
void Run::check_pending_uidvalidity(const Ledger &stored,
				    const std::vector<PendingMessage> &pending)
{
	for (const PendingMessage &p : pending) {
		if (p.folder.empty() || raw_)
			continue;
		const FolderLedger *f = stored.find_folder(p.folder);
		FUZZ_CHECK(f != nullptr &&
			   f->uidvalidity == uidvalidity_of(p.folder));
	}
}

bool Run::stale_pending(const PendingMessage &p) const
{
	if (p.folder.empty())
		return false;
	const FolderLedger *f = initial_.find_folder(p.folder);
	const Folder *sf = server_.folder(p.folder);
	return f != nullptr && f->uidvalidity != 0 && sf != nullptr &&
		f->uidvalidity != sf->uidvalidity;
}

/* The ledger about to be stored records nothing that is not durable. */
void Run::check_stored_ledger(const Ledger &snapshot)
{
	for (const Ref &m : all_messages()) {
		if (!ledger_has(snapshot, m) || ledger_has(stored_, m))
			continue;
		bool baseline = config_.mode == RunMode::Baseline ||
			(pop3() ? baseline_pop3_ :
			 baseline_folders_.count(m.first) > 0);
		if (!(durable_.count(m) || found_.count(m) || baseline ||
		      ledger_fp(stored_, m) || durable_fps_.count(fingerprint(m))))
			trace("recorded, not durable: " + describe(m));
		FUZZ_CHECK(durable_.count(m) || found_.count(m) || baseline ||
			   ledger_fp(stored_, m) ||
			   durable_fps_.count(fingerprint(m)));
	}
}

void Run::answer(size_t index, bool ok)
{
	/* saves are answered in order */
	if (outstanding_[index].type == Action::Type::Save) {
		for (size_t i = 0; i < outstanding_.size(); i++) {
			if (outstanding_[i].type == Action::Type::Save) {
				index = i;
				break;
			}
		}
	}
	Outstanding o = std::move(outstanding_[index]);
	outstanding_.erase(outstanding_.begin() + index);
	answer_now(std::move(o), ok);
}

void Run::answer_now(Outstanding o, bool ok)
{
	answers_++;
	/* A network failure or the server's close is the session's to
	   report (transport_failed(Closed) and EOF): its error comes after
	   the messages it had already received whole, and the run delivers
	   those first, a few answers each. Nothing is fed after a stop, so
	   they are bounded by what was fed before. */
	if (stopped_ && !finished_)
		FUZZ_CHECK(answers_ - answers_at_stop_ <=
			   outstanding_at_stop_ + 8 + 4 * begun_after_stop_);
	trace(std::string("  answer ") + (ok ? "ok" : "failed"));

	switch (o.type) {
	case Action::Type::Reconcile:
		if (ok) {
			uint8_t b = in_.byte();
			std::vector<PendingMessage> found;
			for (size_t i = 0; i < o.pending.size(); i++) {
				if (!((b >> (i % 8)) & 1))
					continue;
				found.push_back(o.pending[i]);
				/* UIDs pending in a folder whose stored ledger
				   has another UIDVALIDITY were pending under
				   that one (the core stores a new UIDVALIDITY
				   before anything of it is pending): they name
				   no message the server has now */
				if (!stale_pending(o.pending[i]))
					found_.insert(Ref(o.pending[i].folder,
							  o.pending[i].uid));
			}
			r_->reconciled(found);
		} else {
			r_->abort("looking for the messages of an interrupted "
				  "batch failed");
		}
		break;
	case Action::Type::RefreshToken:
		if (ok) {
			token_given_ = o.force ? TOKEN2 : TOKEN1;
			r_->token_ready(token_given_, "XOAUTH2");
		} else {
			uint8_t b = in_.byte();
			TokenError kind = b % 3 == 0 ? TokenError::Temporary :
				b % 3 == 1 ? TokenError::ConsentNeeded :
				TokenError::Config;
			r_->token_failed(kind, "invalid_grant: revoked for " +
					 known_secret());
		}
		break;
	case Action::Type::Connect:
		if (ok) {
			server_.connect();
			r_->connected("192.0.2.1:143");
		} else {
			r_->transport_failed(NetError::Connect, "connection refused");
		}
		break;
	case Action::Type::StartTls:
		if (ok) {
			r_->tls_up("TLSv1.3 model, CN=mail.example.net, verified");
			r_->tls_started();
		} else {
			server_.disconnect();
			r_->transport_failed(NetError::Tls, "handshake failed");
		}
		break;
	case Action::Type::StorePending:
		if (ok) {
			stored_pending_ = o.pending;
			r_->pending_stored();
		} else {
			r_->pending_store_failed("dict write failed");
		}
		break;
	case Action::Type::Save:
		if (ok) {
			saves_ok_++;
			if (!config_.saves_are_final) {
				uncommitted_.push_back(o.message);
			} else if (finished_) {
				late_.insert(o.message);
			} else {
				durable_.insert(o.message);
				durable_count_++;
			}
			r_->saved();
		} else {
			r_->save_failed("Quota exceeded for " + known_secret());
		}
		break;
	case Action::Type::Commit:
		if (ok) {
			for (const Ref &m : o.covered) {
				durable_.insert(m);
				if (!pop3() && config_.keep)
					durable_fps_.insert(fingerprint(m));
			}
			if (!finished_)
				durable_count_ += o.covered.size();
			r_->committed();
		} else {
			r_->commit_failed("disk full");
		}
		break;
	case Action::Type::StoreLedger:
		if (ok) {
			stored_ = o.ledger;
			stored_pending_ = o.pending;
			r_->ledger_stored();
		} else {
			r_->ledger_store_failed("dict write failed");
		}
		break;
	default:
		break;
	}
}

void Run::check_text(const std::string &text, bool log)
{
	for (const std::string &secret : secrets_)
		FUZZ_CHECK(!fuzz_contains(text, secret));
	if (log && !raw_)
		FUZZ_CHECK(!fuzz_contains(text, BODY_MARK));
}

void Run::check_finish()
{
	const RunReport &rep = r_->report();
	trace("finish: " + std::string(rep.ok ? "ok" : "error") + " fetched " +
	      std::to_string(rep.fetched) + " deleted " +
	      std::to_string(rep.deleted) + " skipped " +
	      std::to_string(rep.skipped) + " error " + rep.error);
	if (trace_on())
		fprintf(stderr, "log:\n%s", r_->log().c_str());
	FUZZ_CHECK(rep.ok == rep.error.empty());
	FUZZ_CHECK(fuzz_printable(rep.error));
	FUZZ_CHECK(fuzz_printable(r_->status().last_error));
	check_text(rep.error, false);
	check_text(r_->status().last_error, false);
	check_text(r_->log(), true);
	FUZZ_CHECK(r_->status().last_status ==
		   (rep.ok ? RunStatus::Ok : RunStatus::Error));
	FUZZ_CHECK(rep.bytes == data_bytes_);
	FUZZ_CHECK(rep.deleted <= deletes_sent_);
	FUZZ_CHECK(rep.fetched <= saves_ok_);
	FUZZ_CHECK(rep.fetched == durable_count_);
	if (!raw_) {
		uint64_t over = 0;
		for (const Folder &f : server_.folders) {
			for (const Msg &m : f.msgs)
				over += config_.max_size != 0 &&
					m.body.size() > config_.max_size;
		}
		FUZZ_CHECK(rep.skipped <= over);
	}
	if (config_.mode == RunMode::Test || config_.mode == RunMode::Check) {
		FUZZ_CHECK(!r_->ledger_dirty());
		FUZZ_CHECK(saved_.empty() && rep.fetched == 0);
	}
	if (config_.mode != RunMode::Fetch)
		FUZZ_CHECK(saved_.empty() && deletes_sent_ == 0);
	final_ledger_ = r_->ledger_dirty() ? r_->ledger() : stored_;
	final_report_ = rep;
}

/* After Finish nothing happens. */
void Run::check_finished_inert()
{
	std::string log = r_->log();
	r_->start();
	FUZZ_CHECK(r_->feed("+OK\r\n* OK x\r\n") == 13);
	r_->connected("x");
	r_->tls_up("x");
	r_->tls_started();
	r_->closed();
	r_->transport_failed(NetError::Io, "x");
	r_->reconciled({});
	r_->token_ready("x", "XOAUTH2");
	r_->token_failed(TokenError::Temporary, "x");
	r_->pending_stored();
	r_->saved();
	r_->save_failed("x");
	r_->committed();
	r_->commit_failed("x");
	r_->ledger_stored();
	r_->ledger_store_failed("x");
	r_->pending_store_failed("x");
	r_->abort("x");
	r_->interrupt();
	r_->deadline();
	r_->note("x");
	Action a;
	FUZZ_CHECK(!r_->next_action(a));
	FUZZ_CHECK(r_->take_output().empty());
	const RunReport &rep = r_->report();
	FUZZ_CHECK(rep.ok == final_report_.ok &&
		   rep.error == final_report_.error &&
		   rep.failure == final_report_.failure &&
		   rep.fetched == final_report_.fetched &&
		   rep.deleted == final_report_.deleted);
	FUZZ_CHECK(r_->log() == log);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput in(data, size);
	Run run(in);
	run.go();
	return 0;
}
