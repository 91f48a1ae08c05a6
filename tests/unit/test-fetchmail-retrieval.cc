/* Unit tests for the retrieval core (fetchmail-retrieval): whole runs of
   one account against a scripted POP3 or IMAP server, with the local side
   (saves, commits, ledger writes, tokens) answered by the test. Each run
   is a transcript of the actions the core asked for and the bytes it
   sent; every scenario is run with the server's bytes fed whole, split at
   every byte, and byte by byte, and the transcripts must agree. */

#include "fetchmail-retrieval.hh"
#include "fetchmail-message.hh"

#include "test-transcript.hh"
#include "test-wire.hh"

#include <deque>
#include <set>

using namespace fetchmail;
using namespace fetchmail_test;

namespace {

const char *const PASSWORD = "pw-Secret-77";

/* How the local side answers. */
struct Local {
	std::set<std::string> save_fails;   /* uids whose save fails */
	int commit_fails_at = 0;            /* the nth commit fails (1-based) */
	int ledger_fails_at = 0;            /* the nth ledger write fails */
	/* the first ledger write after a commit fails, as if the process
	   had died between the two */
	bool ledger_fails_after_commit = false;
	std::vector<PendingMessage> found;  /* Reconcile's answer */
	bool token_consent_needed = false;
	std::string interrupt_after;        /* interrupt() after this Save */
	/* Saves are answered late (as LMTP does, from the ioloop): each
	   when the next StorePending is asked for, before that is
	   answered; the last when nothing else moves */
	bool saves_answered_late = false;
	/* interrupt() before the nth StorePending is answered */
	int interrupt_at_pending = 0;
	/* this Save is answered when the next Commit is asked for, before
	   that is answered */
	std::string save_answered_at_commit;
	/* StorePending is answered when nothing else moves */
	bool pending_answered_late = false;
};

struct Scenario {
	RetrievalConfig config;
	Ledger ledger;
	std::vector<PendingMessage> pending;
	std::string greeting;
	ScriptedServer::Steps steps;
	Local local;
	/* the server closes the connection once the script is done */
	bool eof_at_end = true;
};

std::string msg(int n)
{
	return "Message-ID: <m" + std::to_string(n) + "@example.net>\r\n"
		"Subject: message " + std::to_string(n) + "\r\n\r\n"
		"body " + std::to_string(n) + "\r\n";
}

/* "Save <uid> <size>" of a test message (all have the same size) */
std::string save(const std::string &uid, const std::string &imap_meta = "")
{
	return "Save " + uid + " " + std::to_string(msg(1).size()) + imap_meta;
}

const std::string IMAP_META = " [02-Nov-2026 10:00:00 +0000] \\Seen";

/* an IMAP header-fields literal with the Message-ID of message n */
std::string mid_literal(int n)
{
	std::string h = "Message-ID: <m" + std::to_string(n) +
		"@example.net>\r\n\r\n";
	return "{" + std::to_string(h.size()) + "}\r\n" + h;
}

std::string pop3_ledger(const Ledger &l)
{
	std::string s;
	for (const char *uid : { "uid-a", "uid-b", "uid-c", "uid-d" })
		if (l.pop3_has(uid))
			s += (s.empty() ? "" : ",") + std::string(uid);
	return s;
}

std::string imap_ledger(const Ledger &l)
{
	std::string s;
	for (const auto &[name, f] : l.folders())
		s += (s.empty() ? "" : " ") + name + ":" +
			std::to_string(f.uidvalidity) + "/" + f.uids_string();
	return s;
}

std::string pending_list(const std::vector<PendingMessage> &pending)
{
	std::string s;
	for (const PendingMessage &m : pending)
		s += (s.empty() ? "" : ",") +
			(m.folder.empty() ? "" : m.folder + "/") + m.uid;
	return s;
}

class Driver {
public:
	explicit Driver(const Scenario &sc)
		: sc_(sc), r_(sc.config, sc.ledger, sc.pending),
		  server_(sc.greeting, sc.steps) {}

	Transcript run(const Chunker &chunk)
	{
		r_.start();
		drain(nullptr, 0);
		for (int guard = 0; guard < 1000000 && !r_.finished(); guard++) {
			if (step(chunk))
				continue;
			if (held_pending_) {
				held_pending_ = false;
				t_.add("(pending stored)");
				r_.pending_stored();
			} else if (!held_saves_.empty()) {
				answer_held_saves();
			} else {
				break;
			}
			drain(nullptr, 0);
		}
		if (!r_.finished())
			t_.problem("the run did not finish");
		if (!r_.take_output().empty())
			t_.problem("output after finish");
		return std::move(t_);
	}

	const Retrieval &retrieval() const { return r_; }
	/* what the writes that succeeded left: what a next run starts with */
	const Ledger &stored_ledger() const { return stored_ledger_; }
	const std::vector<PendingMessage> &stored_pending() const
	{ return stored_pending_; }

private:
	bool step(const Chunker &chunk)
	{
		bool progress = !server_.take_output(r_, t_).empty();
		bool open = connected_ && !closed_;
		if (open && server_.unread()) {
			progress |= server_.feed(r_, chunk,
				[&](const char *buf, size_t len) {
					drain(buf, len);
				}, t_) > 0;
		} else if (open && sc_.eof_at_end && server_.all_used()) {
			closed_ = true;
			t_.add("(server closes)");
			r_.transport_failed(NetError::Closed, "closed");
			drain(nullptr, 0);
			progress = true;
		}
		return progress;
	}

	void drain(const char *buf, size_t len)
	{
		Action a;
		while (r_.next_action(a))
			carry_out(a, buf, len);
	}

	void carry_out(const Action &a, const char *buf, size_t len)
	{
		switch (a.type) {
		case Action::Type::Reconcile:
			t_.add("Reconcile " + pending_list(r_.pending()));
			r_.reconciled(sc_.local.found);
			break;
		case Action::Type::RefreshToken:
			t_.add(std::string("RefreshToken") + (a.force ? " force" : ""));
			if (sc_.local.token_consent_needed)
				r_.token_failed(TokenError::ConsentNeeded,
						"invalid_grant: token revoked");
			else
				r_.token_ready(a.force ? "tok-2" : "tok-1",
					       "XOAUTH2");
			break;
		case Action::Type::Connect:
			t_.add("Connect");
			connected_ = true;
			closed_ = false;
			r_.connected("192.0.2.1:110");
			break;
		case Action::Type::StartTls:
			t_.add("StartTls");
			r_.tls_up("TLSv1.3 test");
			r_.tls_started();
			break;
		case Action::Type::Begin:
			body_.clear();
			uid_ = a.message.uid;
			break;
		case Action::Type::Data:
			/* what the core could not take before an answer
			   given later comes from its own copies */
			if (!in_buffer(a.data, buf, len) &&
			    !sc_.local.pending_answered_late)
				t_.problem("data view outside the fed buffer");
			body_.append(a.data);
			break;
		case Action::Type::Discard:
			t_.add("Discard " + uid_);
			break;
		case Action::Type::StorePending:
			t_.add("StorePending " + pending_list(r_.pending()));
			stored_pending_ = r_.pending();
			if (sc_.local.pending_answered_late) {
				t_.lines.back() += " (answered later)";
				held_pending_ = true;
				break;
			}
			if (sc_.local.saves_answered_late)
				answer_held_saves();
			if (++pending_writes_ == sc_.local.interrupt_at_pending) {
				t_.add("(interrupt)");
				r_.interrupt();
			}
			r_.pending_stored();
			break;
		case Action::Type::Save:
			save(a);
			break;
		case Action::Type::Commit:
			if (++commits_ == sc_.local.commit_fails_at) {
				t_.add("Commit fails");
				r_.commit_failed("disk full");
			} else {
				t_.add("Commit");
				committed_ = true;
				answer_held_saves();
				r_.committed();
			}
			break;
		case Action::Type::StoreLedger:
			store_ledger();
			break;
		case Action::Type::Close:
			t_.add("Close");
			closed_ = true;
			break;
		case Action::Type::Finish:
			finish();
			break;
		}
	}

	void save(const Action &a)
	{
		std::string line = "Save " + uid_ + " " +
			std::to_string(body_.size());
		if (!a.internal_date.empty())
			line += " [" + a.internal_date + "]";
		for (const std::string &f : a.flags)
			line += " " + f;
		bool intact = false;
		for (int n = 1; n <= 10; n++)
			intact |= body_ == msg(n);
		if (!intact)
			t_.problem("message " + uid_ + " arrived changed");
		if (sc_.local.saves_answered_late ||
		    uid_ == sc_.local.save_answered_at_commit) {
			t_.add(line + " (answered later)");
			held_saves_.push_back(uid_);
		} else if (sc_.local.save_fails.count(uid_) > 0) {
			t_.add(line + " fails");
			r_.save_failed("Quota exceeded (mailbox for user is full)");
		} else {
			t_.add(line);
			r_.saved();
		}
		if (uid_ == sc_.local.interrupt_after) {
			t_.add("(interrupt)");
			r_.interrupt();
		}
	}

	void answer_held_saves()
	{
		for (; !held_saves_.empty(); held_saves_.pop_front()) {
			t_.add("(saved " + held_saves_.front() + ")");
			r_.saved();
		}
	}

	void store_ledger()
	{
		std::string line = "StoreLedger " +
			(sc_.config.protocol == Protocol::Pop3 ?
			 pop3_ledger(r_.ledger()) : imap_ledger(r_.ledger()));
		if (!r_.pending().empty())
			line += " pending " + pending_list(r_.pending());
		if (++ledger_writes_ == sc_.local.ledger_fails_at ||
		    (committed_ && sc_.local.ledger_fails_after_commit)) {
			committed_ = false;
			t_.add(line + " fails");
			r_.ledger_store_failed("dict write failed");
		} else {
			t_.add(line);
			stored_ledger_ = r_.ledger();
			stored_pending_ = r_.pending();
			r_.ledger_stored();
		}
	}

	void finish()
	{
		const RunReport &rep = r_.report();
		std::string line = std::string("Finish ") + (rep.ok ? "ok" : "error") +
			" fetched=" + std::to_string(rep.fetched) +
			" deleted=" + std::to_string(rep.deleted) +
			" skipped=" + std::to_string(rep.skipped);
		if (rep.marked > 0)
			line += " marked=" + std::to_string(rep.marked);
		if (!rep.error.empty())
			line += " error=" + rep.error;
		if (r_.ledger_dirty())
			line += " ledger " + (sc_.config.protocol == Protocol::Pop3 ?
				pop3_ledger(r_.ledger()) : imap_ledger(r_.ledger()));
		t_.add(line);
		for (const std::string &l : t_.lines)
			if (l.find(PASSWORD) != std::string::npos)
				t_.problem("password in the transcript");
		if (r_.log().find(PASSWORD) != std::string::npos)
			t_.problem("password in the run log");
	}

	const Scenario &sc_;
	Retrieval r_;
	ScriptedServer server_;
	Transcript t_;
	bool connected_ = false, closed_ = false;
	std::string body_, uid_;
	int commits_ = 0, ledger_writes_ = 0, pending_writes_ = 0;
	bool committed_ = false;
	std::deque<std::string> held_saves_;
	bool held_pending_ = false;
	Ledger stored_ledger_ = sc_.ledger;
	std::vector<PendingMessage> stored_pending_ = sc_.pending;
};

Transcript check(const Scenario &sc)
{
	return check_splits([&](const Chunker &c) { return Driver(sc).run(c); },
			    ScriptedServer::script_size(sc.greeting, sc.steps));
}

void expect(const Transcript &t, const std::vector<std::string> &lines)
{
	expect_lines(t.lines, lines);
}

RetrievalConfig base_config(Protocol protocol)
{
	RetrievalConfig c;
	c.protocol = protocol;
	c.session.tls = SessionConfig::Tls::None;
	c.session.user = "alice";
	c.session.password = PASSWORD;
	c.commit_batch_min = 2;
	c.interval_secs = 300;
	c.now_ms = [] { return int64_t(1800000000000); };
	c.random = [](uint32_t) { return 0u; };
	return c;
}

/* ---- POP3 ---- */

Scenario pop3_scenario(int messages, bool keep)
{
	Scenario sc;
	sc.config = base_config(Protocol::Pop3);
	sc.config.keep = keep;
	sc.greeting = "+OK POP3 ready\r\n";
	std::string uidl = "+OK\r\n", list = "+OK\r\n";
	for (int i = 1; i <= messages; i++) {
		std::string uid = std::string("uid-") + char('a' + i - 1);
		uidl += std::to_string(i) + " " + uid + "\r\n";
		list += std::to_string(i) + " " + std::to_string(msg(i).size()) +
			"\r\n";
	}
	sc.steps = {
		{ "CAPA", "+OK\r\nUIDL\r\nUSER\r\n.\r\n" },
		{ "USER alice", "+OK\r\n" },
		{ std::string("PASS ") + PASSWORD, "+OK logged in\r\n" },
		{ "UIDL", uidl + ".\r\n" },
		{ "LIST", list + ".\r\n" },
	};
	return sc;
}

void add_retr(Scenario &sc, int n)
{
	sc.steps.emplace_back("RETR " + std::to_string(n),
			      "+OK\r\n" + pop3_stuffed(msg(n)));
}

void test_pop3_keep(void **)
{
	Scenario sc = pop3_scenario(3, true);
	sc.ledger.pop3_add("uid-b");
	sc.ledger.pop3_add("uid-gone");
	add_retr(sc, 1);
	add_retr(sc, 3);
	sc.steps.emplace_back("QUIT", "+OK bye\r\n");
	Transcript t = check(sc);
	/* batches of two: pending first, then the commit, then the ledger */
	expect(t, {
		"Connect",
		save("uid-a"), save("uid-c"),
		"StorePending uid-a,uid-c",
		"Commit",
		"StoreLedger uid-a,uid-b,uid-c",
		"Close",
		"Finish ok fetched=2 deleted=0 skipped=0",
	});
}

/* keep = no: delete only after the ledger holds the message; known
   messages still on the server are deleted too; the deletions count once
   QUIT succeeded */
void test_pop3_delete_order(void **)
{
	Scenario sc = pop3_scenario(3, false);
	sc.ledger.pop3_add("uid-b");
	add_retr(sc, 1);
	add_retr(sc, 3);
	sc.steps.emplace_back("DELE 1", "+OK\r\n");
	sc.steps.emplace_back("DELE 3", "+OK\r\n");
	sc.steps.emplace_back("DELE 2", "+OK\r\n");
	sc.steps.emplace_back("QUIT", "+OK bye\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		save("uid-a"), save("uid-c"),
		"StorePending uid-a,uid-c", "Commit",
		"StoreLedger uid-a,uid-b,uid-c",
		"Close",
		"Finish ok fetched=2 deleted=3 skipped=0",
	});
	/* DELE went out after the ledger write: the client's bytes show
	   them after both RETRs */
	assert_true(t.output.find("RETR 3") < t.output.find("DELE 1"));
}

/* batching: 5 new messages in batches of 2 (at least commit_batch_min,
   at most commits_per_fetch commits) */
void test_pop3_batches(void **)
{
	Scenario sc = pop3_scenario(4, true);
	sc.config.commits_per_fetch = 2;
	sc.config.commit_batch_min = 1;
	for (int i = 1; i <= 4; i++)
		add_retr(sc, i);
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		save("uid-a"), save("uid-b"),
		"StorePending uid-a,uid-b", "Commit", "StoreLedger uid-a,uid-b",
		save("uid-c"), save("uid-d"),
		"StorePending uid-c,uid-d", "Commit",
		"StoreLedger uid-a,uid-b,uid-c,uid-d",
		"Close", "Finish ok fetched=4 deleted=0 skipped=0",
	});
}

/* a failed save (quota): what was saved before is committed, nothing is
   deleted, the rest stays on the server */
void test_pop3_save_fails(void **)
{
	Scenario sc = pop3_scenario(3, false);
	sc.config.commit_batch_min = 10;
	sc.local.save_fails = { "uid-b" };
	add_retr(sc, 1);
	add_retr(sc, 2);
	add_retr(sc, 3);
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		save("uid-a"),
		save("uid-b") + " fails",
		/* fetched already (pipelined): dropped */
		"Discard uid-c",
		"StorePending uid-a", "Commit", "StoreLedger uid-a",
		"Close",
		"Finish error fetched=1 deleted=0 skipped=0 error=Quota exceeded "
		"(mailbox for user is full)",
	});
	assert_true(t.output.find("DELE") == std::string::npos);
}

/* a failed commit: nothing recorded, nothing deleted, the run ends */
void test_pop3_commit_fails(void **)
{
	Scenario sc = pop3_scenario(2, false);
	sc.local.commit_fails_at = 1;
	add_retr(sc, 1);
	add_retr(sc, 2);
	sc.eof_at_end = false;
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		save("uid-a"), save("uid-b"),
		"StorePending uid-a,uid-b", "Commit fails",
		"Close",
		"Finish error fetched=0 deleted=0 skipped=0 error=disk full",
	});
	assert_true(t.output.find("DELE") == std::string::npos);
	assert_true(t.output.find("QUIT") == std::string::npos);
}

/* max-size: left on the server and reported; no UIDL: refused */
void test_pop3_max_size_and_no_uidl(void **)
{
	Scenario sc = pop3_scenario(2, true);
	sc.config.max_size = 20;
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Transcript t = check(sc);
	expect(t, { "Connect", "Close",
		    "Finish ok fetched=0 deleted=0 skipped=2" });

	Scenario no_uidl = pop3_scenario(1, true);
	no_uidl.steps[3].second = "-ERR no UIDL here\r\n";
	no_uidl.eof_at_end = false;
	t = check(no_uidl);
	expect(t, { "Connect", "Close",
		    "Finish error fetched=0 deleted=0 skipped=0 error=the server "
		    "does not support UIDL: cannot fetch exactly once" });
}

/* a message the server cannot return (RETR -ERR: vanished) is reported,
   the others are fetched */
void test_pop3_vanished(void **)
{
	Scenario sc = pop3_scenario(2, true);
	sc.steps.emplace_back("RETR 1", "-ERR no such message\r\n");
	add_retr(sc, 2);
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Connect", save("uid-b"),
		"StorePending uid-b", "Commit", "StoreLedger uid-b",
		"Close",
		"Finish error fetched=1 deleted=0 skipped=0 error=message uid-a: "
		"no such message",
	});
}

/* a pending batch of a crashed run: the ones found are recorded before
   anything is fetched, the others fetched again */
void test_reconcile(void **)
{
	Scenario sc = pop3_scenario(2, true);
	sc.pending = { { "", "uid-a", message_identity(msg(1)) },
		       { "", "uid-b", message_identity(msg(2)) } };
	sc.local.found = { sc.pending[0] };
	add_retr(sc, 2);
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Reconcile uid-a,uid-b",
		"StoreLedger uid-a",
		"Connect", save("uid-b"),
		"StorePending uid-b", "Commit", "StoreLedger uid-a,uid-b",
		"Close", "Finish ok fetched=1 deleted=0 skipped=0",
	});
}

/* Takes the actions, answering none: for the tests that answer by hand
   and late. */
void drain_names(Retrieval &r, Transcript &t)
{
	static const char *const names[] = {
		"Reconcile", "RefreshToken", "Connect", "StartTls", "Begin",
		"Data", "Discard", "StorePending", "Save", "Commit",
		"StoreLedger", "Close", "Finish",
	};
	Action a;
	while (r.next_action(a))
		t.add(names[static_cast<int>(a.type)]);
}

/* abort() while the ledger write after Reconcile is under way ends the
   run at once; the write's late answer must not start the run again
   (found by the retrieval fuzz target: a Connect after Finish) */
void test_answer_after_abort(void **)
{
	Scenario sc = pop3_scenario(1, true);
	sc.pending = { { "", "uid-a", message_identity(msg(1)) } };
	Retrieval r(sc.config, sc.ledger, sc.pending);
	Transcript t;
	auto drain = [&] { drain_names(r, t); };
	r.start();
	drain();
	r.reconciled({ sc.pending[0] });
	drain();
	t.add("(abort)");
	r.abort("the destination mailbox is gone");
	drain();
	t.add("(ledger stored)");
	r.ledger_stored();
	drain();
	expect(t, { "Reconcile", "StoreLedger", "(abort)", "Finish",
		    "(ledger stored)" });
	assert_true(r.finished());
	assert_false(r.report().ok);
	/* the Finish write still carries what Reconcile found */
	assert_true(r.ledger_dirty() && r.ledger().pop3_has("uid-a"));
}

/* interrupt() while the ledger write after Reconcile is under way
   waits for it; when that write fails the run must still finish (it
   hung: found by the retrieval fuzz target) */
void test_store_fails_while_ending(void **)
{
	Scenario sc = pop3_scenario(1, true);
	sc.pending = { { "", "uid-a", message_identity(msg(1)) } };
	Retrieval r(sc.config, sc.ledger, sc.pending);
	Transcript t;
	r.start();
	drain_names(r, t);
	r.reconciled({});
	drain_names(r, t);
	t.add("(interrupt)");
	r.interrupt();
	drain_names(r, t);
	t.add("(ledger write fails)");
	r.ledger_store_failed("dict write failed");
	drain_names(r, t);
	expect(t, { "Reconcile", "StoreLedger", "(interrupt)",
		    "(ledger write fails)", "Finish" });
	assert_true(r.finished());
	assert_true(r.report().failure == RunReport::Failure::Local);
}

/* final saves (LMTP): the pending record before each save, the ledger
   after each */
void test_final_saves(void **)
{
	Scenario sc = pop3_scenario(2, false);
	sc.config.saves_are_final = true;
	add_retr(sc, 1);
	add_retr(sc, 2);
	sc.steps.emplace_back("DELE 1", "+OK\r\n");
	sc.steps.emplace_back("DELE 2", "+OK\r\n");
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		"StorePending uid-a", save("uid-a"), "StoreLedger uid-a",
		"StorePending uid-b", save("uid-b"), "StoreLedger uid-a,uid-b",
		"Close", "Finish ok fetched=2 deleted=2 skipped=0",
	});
}

/* The pending record is stored later, from the ioloop, while the server's
   next message arrives. The events the core cannot take before that
   answer pointed into a buffer that lives only until the next feed():
   the core handed out views of a freed buffer (found by the retrieval
   fuzz target under AddressSanitizer); it keeps copies now. */
void test_pending_answered_late(void **)
{
	Scenario sc = pop3_scenario(2, true);
	sc.config.commit_batch_min = 1;
	sc.local.pending_answered_late = true;
	add_retr(sc, 1);
	add_retr(sc, 2);
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Connect", save("uid-a"),
		"StorePending uid-a (answered later)", "(pending stored)",
		"Commit", "StoreLedger uid-a",
		save("uid-b"),
		"StorePending uid-b (answered later)", "(pending stored)",
		"Commit", "StoreLedger uid-a,uid-b",
		"Close", "Finish ok fetched=2 deleted=0 skipped=0",
	});
}

/* A save answered while the commit of the batch before it is under way
   is not made durable by that commit: it is not recorded with that batch
   (it was, and with interrupt() never committed at all: found by the
   retrieval fuzz target) */
void test_save_answered_during_commit(void **)
{
	Scenario sc = pop3_scenario(3, true);
	sc.config.commit_batch_min = 10;
	sc.local.save_answered_at_commit = "uid-c";
	sc.local.interrupt_after = "uid-c";
	add_retr(sc, 1);
	add_retr(sc, 2);
	add_retr(sc, 3);
	sc.eof_at_end = false;
	Transcript t = check(sc);
	expect(t, {
		"Connect", save("uid-a"), save("uid-b"),
		save("uid-c") + " (answered later)", "(interrupt)", "Close",
		"StorePending uid-a,uid-b", "Commit", "(saved uid-c)",
		"StoreLedger uid-a,uid-b",
		"Finish error fetched=2 deleted=0 skipped=0 error=interrupted: "
		"the process is stopping",
	});
}

/* Final saves answered late (LMTP from the ioloop): the first save's
   answer comes while the pending record of the second is being written.
   That answer's ledger write took the place of the pending write the
   core waited for, whose answer was then ignored: the second message
   was never delivered and the run hung (found by the retrieval fuzz
   target). */
void test_final_saves_answered_late(void **)
{
	Scenario sc = pop3_scenario(2, true);
	sc.config.saves_are_final = true;
	sc.local.saves_answered_late = true;
	add_retr(sc, 1);
	add_retr(sc, 2);
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		"StorePending uid-a", save("uid-a") + " (answered later)",
		"StorePending uid-a,uid-b", "(saved uid-a)",
		save("uid-b") + " (answered later)",
		"StoreLedger uid-a pending uid-b",
		"(saved uid-b)", "StoreLedger uid-a,uid-b",
		"Close", "Finish ok fetched=2 deleted=0 skipped=0",
	});
}

/* interrupt() while the pending record of a final save is written: the
   message is not delivered, the run finishes (it hung: the ledger write
   after the save dropped the finish the core owed) */
void test_final_save_interrupted(void **)
{
	Scenario sc = pop3_scenario(2, true);
	sc.config.saves_are_final = true;
	sc.local.interrupt_at_pending = 2;
	add_retr(sc, 1);
	add_retr(sc, 2);
	sc.eof_at_end = false;
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		"StorePending uid-a", save("uid-a"), "StoreLedger uid-a",
		"StorePending uid-b", "(interrupt)", "Close", "Discard uid-b",
		"Finish error fetched=1 deleted=0 skipped=0 error=interrupted: "
		"the process is stopping",
	});
}

/* interrupted: the message in progress dropped, what was saved
   committed, nothing deleted */
void test_interrupt(void **)
{
	Scenario sc = pop3_scenario(3, false);
	sc.config.commit_batch_min = 10;
	sc.local.interrupt_after = "uid-a";
	add_retr(sc, 1);
	add_retr(sc, 2);
	add_retr(sc, 3);
	sc.eof_at_end = false;
	Transcript t = check(sc);
	expect(t, {
		"Connect", save("uid-a"), "(interrupt)", "Close",
		"StorePending uid-a", "Commit", "StoreLedger uid-a",
		"Finish error fetched=1 deleted=0 skipped=0 error=interrupted: "
		"the process is stopping",
	});
	assert_true(t.output.find("DELE") == std::string::npos);
}

/* the status after a failed run backs off; consent needed holds the
   account */
void test_status(void **)
{
	Scenario sc = pop3_scenario(1, true);
	sc.config.status.failures = 1;
	sc.steps[2].second = "-ERR [AUTH] invalid password\r\n";
	sc.steps.resize(3);
	sc.eof_at_end = false;
	Driver d(sc);
	Transcript t = d.run(whole);
	expect(t, { "Connect", "Close",
		    "Finish error fetched=0 deleted=0 skipped=0 error=login "
		    "failed: [AUTH] invalid password" });
	const AccountStatus &st = d.retrieval().status();
	assert_int_equal(st.failures, 2);
	assert_int_equal(st.last_status, RunStatus::Error);
	assert_int_equal(st.last_run, 1800000000);
	assert_int_equal(st.next_run, 1800000000 + 1200 - 60);

	Scenario consent = pop3_scenario(1, true);
	consent.config.oauth2 = true;
	consent.local.token_consent_needed = true;
	consent.steps.clear();
	consent.eof_at_end = false;
	Driver c(consent);
	t = c.run(whole);
	expect(t, { "RefreshToken",
		    "Finish error fetched=0 deleted=0 skipped=0 error=consent "
		    "needed: invalid_grant: token revoked" });
	assert_true(c.retrieval().status().held);
	assert_true(c.retrieval().report().consent_needed);
}

/* OAuth2: a token the server refuses is refreshed once and the login
   retried; the tokens never reach the transcript or the log */
void test_oauth2_retry(void **)
{
	Scenario sc;
	sc.config = base_config(Protocol::Pop3);
	sc.config.oauth2 = true;
	sc.greeting = "+OK ready\r\n";
	std::string ir1 = sasl_responses(SaslMech::XOAuth2, "alice", "tok-1")[0];
	std::string ir2 = sasl_responses(SaslMech::XOAuth2, "alice", "tok-2")[0];
	sc.steps = {
		{ "CAPA", "+OK\r\nSASL XOAUTH2\r\nUIDL\r\n.\r\n" },
		{ "AUTH XOAUTH2 " + ir1, "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n" },
		/* the refusal, then the next connection's greeting */
		{ "", "-ERR [AUTH] invalid token\r\n+OK ready\r\n" },
		{ "CAPA", "+OK\r\nSASL XOAUTH2\r\nUIDL\r\n.\r\n" },
		{ "AUTH XOAUTH2 " + ir2, "+OK\r\n" },
		{ "UIDL", "+OK\r\n.\r\n" },
		{ "LIST", "+OK\r\n.\r\n" },
		{ "QUIT", "+OK\r\n" },
	};
	sc.eof_at_end = false;
	Driver d(sc);
	Transcript t = d.run(whole);
	expect(t, { "RefreshToken", "Connect", "Close", "RefreshToken force",
		    "Connect", "Close",
		    "Finish ok fetched=0 deleted=0 skipped=0" });
	std::string log = d.retrieval().log();
	assert_null(strstr(log.c_str(), "tok-1"));
	assert_null(strstr(log.c_str(), ir2.c_str()));
	assert_non_null(strstr(log.c_str(), "refreshing it and logging in again"));
}

/* Test mode: the steps, nothing fetched or stored */
void test_test_mode(void **)
{
	Scenario sc = pop3_scenario(3, true);
	sc.config.mode = RunMode::Test;
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Driver d(sc);
	Transcript t = d.run(whole);
	expect(t, { "Connect", "Close",
		    "Finish ok fetched=0 deleted=0 skipped=0" });
	const auto &steps = d.retrieval().report().steps;
	assert_int_equal(steps.size(), 3);
	assert_str(steps[0].first + "=" + steps[0].second, "connect=192.0.2.1:110");
	assert_str(steps[1].first + "=" + steps[1].second, "login=ok");
	assert_str(steps[2].first + "=" + steps[2].second, "messages=3");
}

/* Baseline: everything listed is recorded, nothing fetched */
void test_baseline(void **)
{
	Scenario sc = pop3_scenario(3, false);
	sc.config.mode = RunMode::Baseline;
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Transcript t = check(sc);
	expect(t, { "Connect", "Close",
		    "Finish ok fetched=0 deleted=0 skipped=0 marked=3 ledger "
		    "uid-a,uid-b,uid-c" });
	assert_true(t.output.find("RETR") == std::string::npos);
	assert_true(t.output.find("DELE") == std::string::npos);
}

/* too many messages: refused clearly, nothing fetched */
void test_listing_bound(void **)
{
	Scenario sc = pop3_scenario(3, true);
	sc.config.max_messages = 2;
	sc.steps.resize(4);
	sc.eof_at_end = false;
	Transcript t = check(sc);
	expect(t, { "Connect", "Close",
		    "Finish error fetched=0 deleted=0 skipped=0 error=more than "
		    "2 messages on the server (the most a run lists, "
		    "fetchmail_max_messages)" });
}

/* A pending baseline in the ledger (an imported account): the first
   listing is recorded, nothing is fetched or deleted even with keep = no,
   and the flag is gone from the ledger that is stored */
void test_pending_baseline_pop3(void **)
{
	Scenario sc = pop3_scenario(3, false);
	sc.ledger.pop3_add("uid-b");
	sc.ledger.set_pop3_baseline(true);
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Transcript t = check(sc);
	expect(t, { "Connect", "Close",
		    "Finish ok fetched=0 deleted=0 skipped=0 marked=2 ledger "
		    "uid-a,uid-b,uid-c" });
	assert_true(t.output.find("RETR") == std::string::npos);
	assert_true(t.output.find("DELE") == std::string::npos);

	Driver d(sc);
	d.run([](size_t, size_t avail) { return avail; });
	assert_false(d.retrieval().ledger().pop3_baseline());
	assert_true(d.retrieval().ledger_dirty());
}


std::string imap_fetch_reply(int tag, int seq, uint32_t uid, int n)
{
	std::string body = msg(n);
	return "* " + std::to_string(seq) + " FETCH (UID " + std::to_string(uid) +
		" INTERNALDATE \"02-Nov-2026 10:00:00 +0000\" FLAGS (\\Seen) "
		"BODY[] {" + std::to_string(body.size()) + "}\r\n" + body +
		")\r\na" + std::to_string(tag) + " OK done\r\n";
}

Scenario imap_scenario(bool keep, uint32_t uidvalidity,
		       const std::vector<uint32_t> &uids)
{
	Scenario sc;
	sc.config = base_config(Protocol::Imap);
	sc.config.keep = keep;
	sc.greeting = "* OK [CAPABILITY IMAP4rev1 UIDPLUS] ready\r\n";
	std::string listing;
	for (size_t i = 0; i < uids.size(); i++)
		listing += "* " + std::to_string(i + 1) + " FETCH (UID " +
			std::to_string(uids[i]) + " RFC822.SIZE " +
			std::to_string(msg(int(uids[i])).size()) + ")\r\n";
	sc.steps = {
		{ std::string("a1 LOGIN \"alice\" \"") + PASSWORD + "\"",
		  "a1 OK [CAPABILITY IMAP4rev1 UIDPLUS] in\r\n" },
		{ std::string("a2 ") + (keep ? "EXAMINE" : "SELECT") + " \"INBOX\"",
		  "* " + std::to_string(uids.size()) + " EXISTS\r\n"
		  "* OK [UIDVALIDITY " + std::to_string(uidvalidity) + "] ok\r\n"
		  "a2 OK selected\r\n" },
		{ "a3 UID FETCH 1:* (UID RFC822.SIZE)", listing + "a3 OK\r\n" },
	};
	return sc;
}

void test_imap_keep_no(void **)
{
	Scenario sc = imap_scenario(false, 7, { 4, 5, 6 });
	sc.ledger.folder("INBOX").uidvalidity = 7;
	sc.ledger.folder("INBOX").add(5);
	sc.steps.emplace_back("a4 UID FETCH 4 (BODY.PEEK[] INTERNALDATE FLAGS)",
			      "");
	sc.steps.emplace_back("a5 UID FETCH 6 (BODY.PEEK[] INTERNALDATE FLAGS)",
			      imap_fetch_reply(4, 1, 4, 4) +
			      imap_fetch_reply(5, 3, 6, 6));
	sc.steps.emplace_back("a6 UID STORE 4:6 +FLAGS.SILENT (\\Deleted)",
			      "a6 OK\r\n");
	sc.steps.emplace_back("a7 UID EXPUNGE 4:6",
			      "* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n"
			      "a7 OK\r\n");
	sc.steps.emplace_back("a8 LOGOUT", "* BYE\r\na8 OK\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		save("4", IMAP_META),
		save("6", IMAP_META),
		"StorePending INBOX/4,INBOX/6", "Commit",
		"StoreLedger INBOX:7/4:6",
		"Close", "Finish ok fetched=2 deleted=3 skipped=0",
	});
}

/* the listing of UIDs 1 and 2 (messages 1 and 2) with fingerprints */
ScriptedServer::Steps::value_type fingerprint_listing_1_2()
{
	std::string reply;
	for (int n : { 1, 2 })
		reply += "* " + std::to_string(n) + " FETCH (UID " +
			std::to_string(n) + " RFC822.SIZE " +
			std::to_string(msg(n).size()) + " INTERNALDATE "
			"\"02-Nov-2026 10:00:00 +0000\" BODY[HEADER.FIELDS "
			"(MESSAGE-ID)] " + mid_literal(n) + ")\r\n";
	return { "a3 UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE "
		 "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", reply + "a3 OK\r\n" };
}

/* UIDVALIDITY changed: the old UIDs mean nothing; messages whose
   fingerprint is known are not fetched again */
void test_imap_uidvalidity_change(void **)
{
	Scenario sc = imap_scenario(true, 9, { 1, 2 });
	FolderLedger &fl = sc.ledger.folder("INBOX");
	fl.uidvalidity = 7;
	fl.add_range(1, 40);
	fl.add_fingerprint(message_fingerprint("<m1@example.net>",
		msg(1).size(), "02-Nov-2026 10:00:00 +0000"));
	sc.steps[2] = fingerprint_listing_1_2();
	sc.steps.emplace_back("a4 UID FETCH 2 (BODY.PEEK[] INTERNALDATE FLAGS)",
			      imap_fetch_reply(4, 2, 2, 2));
	sc.steps.emplace_back("a5 LOGOUT", "a5 OK\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		/* the new UIDVALIDITY, with the UID matched by its
		   fingerprint, is stored before a batch of it is pending
		   (test_imap_uidvalidity_change_crash) */
		"StoreLedger INBOX:9/1",
		save("2", IMAP_META),
		"StorePending INBOX/2", "Commit",
		"StoreLedger INBOX:9/1:2",
		"Close", "Finish ok fetched=1 deleted=0 skipped=0",
	});
}

/* The process dies between the commit of the first batch after a
   UIDVALIDITY change and the ledger write that records it. The pending
   record names UID 2 without its UIDVALIDITY, and the next run's
   Reconcile files the UIDs it finds under the stored ledger's: that must
   be the new one already, or the UID is reset away at SELECT and the
   message delivered a second time (found by the retrieval fuzz
   target). */
void test_imap_uidvalidity_change_crash(void **)
{
	Scenario sc = imap_scenario(true, 9, { 1, 2 });
	FolderLedger &fl = sc.ledger.folder("INBOX");
	fl.uidvalidity = 7;
	fl.add_range(1, 40);
	fl.add_fingerprint(message_fingerprint("<m1@example.net>",
		msg(1).size(), "02-Nov-2026 10:00:00 +0000"));
	sc.steps[2] = fingerprint_listing_1_2();
	sc.steps.emplace_back("a4 UID FETCH 2 (BODY.PEEK[] INTERNALDATE FLAGS)",
			      imap_fetch_reply(4, 2, 2, 2));
	sc.local.ledger_fails_after_commit = true;
	sc.eof_at_end = false;
	Driver crashed(sc);
	crashed.run(whole);

	/* the next run: the adapter finds message 2 in the mailbox */
	Scenario next = imap_scenario(true, 9, { 1, 2 });
	next.ledger = crashed.stored_ledger();
	next.pending = crashed.stored_pending();
	next.local.found = next.pending;
	next.steps.emplace_back("a4 LOGOUT", "a4 OK\r\n");
	Transcript t = check(next);
	expect(t, {
		"Reconcile INBOX/2",
		"StoreLedger INBOX:9/1:2",
		"Connect", "Close",
		"Finish ok fetched=0 deleted=0 skipped=0",
	});
}

/* A pending baseline of an IMAP folder: listed with fingerprints,
   recorded, nothing fetched; the flag is taken */
void test_pending_baseline_imap(void **)
{
	Scenario sc = imap_scenario(true, 7, { 1, 2 });
	sc.ledger.folder("INBOX").baseline = true;
	sc.steps[2] = fingerprint_listing_1_2();
	sc.steps.emplace_back("a4 LOGOUT", "a4 OK\r\n");
	Transcript t = check(sc);
	expect(t, { "Connect", "Close",
		    "Finish ok fetched=0 deleted=0 skipped=0 marked=2 ledger "
		    "INBOX:7/1:2" });

	Driver d(sc);
	d.run([](size_t, size_t avail) { return avail; });
	const FolderLedger *fl = d.retrieval().ledger().find_folder("INBOX");
	assert_non_null(fl);
	assert_false(fl->baseline);
	assert_true(fl->has_fingerprint(message_fingerprint("<m2@example.net>",
		msg(2).size(), "02-Nov-2026 10:00:00 +0000")));
}

/* a folder that cannot be selected is reported; the others are fetched;
   folders no longer configured are forgotten */
void test_imap_folders(void **)
{
	Scenario sc = imap_scenario(true, 7, { 3 });
	sc.config.folders = { "Gone", "INBOX" };
	sc.ledger.folder("Old").uidvalidity = 1;
	sc.steps.insert(sc.steps.begin() + 1,
			{ "a2 EXAMINE \"Gone\"", "a2 NO [NONEXISTENT] no such folder\r\n" });
	sc.steps[2].first = "a3 EXAMINE \"INBOX\"";
	sc.steps[2].second.replace(sc.steps[2].second.find("a2 OK"), 2, "a3");
	sc.steps[3].first = "a4 UID FETCH 1:* (UID RFC822.SIZE)";
	sc.steps[3].second.replace(sc.steps[3].second.find("a3 OK"), 2, "a4");
	sc.steps.emplace_back("a5 UID FETCH 3 (BODY.PEEK[] INTERNALDATE FLAGS)",
			      imap_fetch_reply(5, 1, 3, 3));
	sc.steps.emplace_back("a6 LOGOUT", "a6 OK\r\n");
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		"StoreLedger INBOX:7/ Old:1/",
		save("3", IMAP_META),
		"StorePending INBOX/3", "Commit",
		"StoreLedger INBOX:7/3 Old:1/",
		"Close",
		"Finish error fetched=1 deleted=0 skipped=0 error=folder Gone: "
		"EXAMINE failed: [NONEXISTENT] no such folder ledger INBOX:7/3",
	});
}

/* the ledger write after a commit fails: nothing is deleted */
void test_imap_ledger_fails(void **)
{
	Scenario sc = imap_scenario(false, 7, { 4 });
	sc.ledger.folder("INBOX").uidvalidity = 7;
	sc.local.ledger_fails_at = 1;
	sc.steps.emplace_back("a4 UID FETCH 4 (BODY.PEEK[] INTERNALDATE FLAGS)",
			      imap_fetch_reply(4, 1, 4, 4));
	sc.eof_at_end = false;
	Transcript t = check(sc);
	expect(t, {
		"Connect",
		save("4", IMAP_META),
		"StorePending INBOX/4", "Commit",
		"StoreLedger INBOX:7/4 fails",
		"Close",
		"Finish error fetched=1 deleted=0 skipped=0 error=dict write "
		"failed ledger INBOX:7/4",
	});
	assert_true(t.output.find("STORE") == std::string::npos);
}

/* Check: log in, take the summary, log out; changed only when the
   mailbox differs from the summary the last full run left */
void test_check_pop3(void **)
{
	Scenario sc = pop3_scenario(2, true);
	sc.config.mode = RunMode::Check;
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Driver d(sc);
	Transcript t = d.run(whole);
	expect(t, { "Connect", "Close",
		    "Finish ok fetched=0 deleted=0 skipped=0" });
	const RunReport &r = d.retrieval().report();
	assert_true(r.summary.known);
	assert_int_equal(r.summary.pop3_count, 2);
	assert_str(r.summary.pop3_digest, poll_uidl_digest({ "uid-a", "uid-b" }));
	assert_true(r.changed);   /* nothing was known */
	assert_true(t.output.find("RETR") == std::string::npos);

	Scenario same = sc;
	same.config.summary = r.summary;
	Driver d2(same);
	d2.run(whole);
	assert_false(d2.retrieval().report().changed);

	/* one message more: changed */
	Scenario more = pop3_scenario(3, true);
	more.config.mode = RunMode::Check;
	more.config.summary = r.summary;
	more.steps.emplace_back("QUIT", "+OK\r\n");
	Driver d3(more);
	check_splits([&](const Chunker &c) { return Driver(more).run(c); },
		     2000);
	d3.run(whole);
	assert_true(d3.retrieval().report().changed);
}

/* the summary a full run leaves: what it deleted is gone */
void test_summary_after_fetch(void **)
{
	Scenario sc = pop3_scenario(3, false);
	sc.ledger.pop3_add("uid-b");
	sc.config.max_size = msg(1).size() - 1;   /* all too big: skipped */
	sc.steps.emplace_back("DELE 2", "+OK\r\n");
	sc.steps.emplace_back("QUIT", "+OK\r\n");
	Driver d(sc);
	d.run(whole);
	const RunReport &r = d.retrieval().report();
	assert_true(r.ok);
	assert_int_equal(r.deleted, 1);
	assert_true(r.summary.known);
	assert_int_equal(r.summary.pop3_count, 2);
	assert_str(r.summary.pop3_digest, poll_uidl_digest({ "uid-a", "uid-c" }));

	/* a failed run leaves no summary */
	Scenario bad = pop3_scenario(1, true);
	bad.steps.resize(3);
	bad.steps[2].second = "-ERR [AUTH] no\r\n";
	bad.eof_at_end = false;
	Driver d2(bad);
	d2.run(whole);
	assert_false(d2.retrieval().report().summary.known);
	assert_true(d2.retrieval().report().changed);
}

void test_check_imap(void **)
{
	Scenario sc = imap_scenario(true, 7, { 4, 5 });
	sc.config.mode = RunMode::Check;
	sc.config.folders = { "INBOX", "Work" };
	sc.steps.resize(2);
	sc.steps[1].second = "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n"
		"* OK [UIDNEXT 6] next\r\na2 OK selected\r\n";
	sc.steps.emplace_back("a3 EXAMINE \"Work\"",
		"* 0 EXISTS\r\n* OK [UIDVALIDITY 9] ok\r\n"
		"* OK [UIDNEXT 1] next\r\na3 OK selected\r\n");
	sc.steps.emplace_back("a4 LOGOUT", "a4 OK\r\n");
	Transcript t = check(sc);
	expect(t, { "Connect", "Close",
		    "Finish ok fetched=0 deleted=0 skipped=0" });
	Driver d(sc);
	d.run(whole);
	const PollSummary &s = d.retrieval().report().summary;
	assert_true(s.known);
	assert_int_equal(s.folders.size(), 2);
	assert_true(s.folders[0] == (FolderSummary{ "INBOX", 7, 6, 2 }));
	assert_true(s.folders[1] == (FolderSummary{ "Work", 9, 1, 0 }));

	/* the JSON form the service keeps */
	PollSummary back;
	std::string error;
	assert_int_equal(poll_summary_decode(poll_summary_encode(s), back,
					     error), 0);
	assert_true(back == s);
	assert_int_equal(poll_summary_decode("{\"imap\":7}", back, error), -1);
	assert_int_equal(poll_summary_decode("[]", back, error), -1);
}

} // namespace

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pop3_keep),
		cmocka_unit_test(test_pop3_delete_order),
		cmocka_unit_test(test_pop3_batches),
		cmocka_unit_test(test_pop3_save_fails),
		cmocka_unit_test(test_pop3_commit_fails),
		cmocka_unit_test(test_pop3_max_size_and_no_uidl),
		cmocka_unit_test(test_pop3_vanished),
		cmocka_unit_test(test_reconcile),
		cmocka_unit_test(test_answer_after_abort),
		cmocka_unit_test(test_store_fails_while_ending),
		cmocka_unit_test(test_final_saves),
		cmocka_unit_test(test_final_saves_answered_late),
		cmocka_unit_test(test_pending_answered_late),
		cmocka_unit_test(test_save_answered_during_commit),
		cmocka_unit_test(test_final_save_interrupted),
		cmocka_unit_test(test_interrupt),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_oauth2_retry),
		cmocka_unit_test(test_test_mode),
		cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_pending_baseline_pop3),
		cmocka_unit_test(test_pending_baseline_imap),
		cmocka_unit_test(test_listing_bound),
		cmocka_unit_test(test_imap_keep_no),
		cmocka_unit_test(test_imap_uidvalidity_change),
		cmocka_unit_test(test_imap_uidvalidity_change_crash),
		cmocka_unit_test(test_imap_folders),
		cmocka_unit_test(test_imap_ledger_fails),
		cmocka_unit_test(test_check_pop3),
		cmocka_unit_test(test_summary_after_fetch),
		cmocka_unit_test(test_check_imap),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
