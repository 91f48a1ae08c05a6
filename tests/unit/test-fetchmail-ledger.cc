/* Unit tests for fetchmail-ledger: POP3 UIDLs, IMAP UID ranges,
   fingerprints, the JSON form and its speed. */

#include "fetchmail-ledger.hh"
#include "test-common.hh"

#include <time.h>

using namespace fetchmail;

static double now_secs()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_ranges(void **)
{
	FolderLedger f;
	assert_str(f.uids_string(), "");
	assert_int_equal(f.max_uid(), 0);
	assert_false(f.has(1));

	for (uint32_t uid = 1; uid <= 500; uid++)
		f.add(uid);
	f.add(502);
	assert_str(f.uids_string(), "1:500,502");
	assert_int_equal(f.range_count(), 2);
	assert_int_equal(f.uid_count(), 501);
	assert_true(f.has(1));
	assert_true(f.has(250));
	assert_true(f.has(500));
	assert_false(f.has(501));
	assert_true(f.has(502));
	assert_false(f.has(503));
	assert_false(f.has(0));
	assert_int_equal(f.max_uid(), 502);

	f.add(501);  /* joins both ranges */
	assert_str(f.uids_string(), "1:502");
	f.add(700);
	f.add(600);
	f.add(650);
	f.add(4294967295u);
	assert_str(f.uids_string(), "1:502,600,650,700,4294967295");
	f.add_range(640, 610);  /* reversed bounds */
	assert_str(f.uids_string(), "1:502,600,610:640,650,700,4294967295");
	f.add_range(599, 701);
	assert_str(f.uids_string(), "1:502,599:701,4294967295");
	f.add_range(503, 598);
	assert_str(f.uids_string(), "1:701,4294967295");
	f.add(100);  /* already in */
	assert_str(f.uids_string(), "1:701,4294967295");
	assert_int_equal(f.max_uid(), 4294967295u);

	/* out of order inserts end up merged */
	FolderLedger g;
	for (uint32_t uid : { 10u, 8u, 9u, 1u, 3u, 2u, 20u, 7u })
		g.add(uid);
	assert_str(g.uids_string(), "1:3,7:10,20");
}

static void test_uids_string(void **)
{
	FolderLedger f;
	assert_int_equal(f.add_uids_string(""), 0);
	assert_true(f.empty());
	assert_int_equal(f.add_uids_string("5:1,7,9:8,3"), 0);
	assert_str(f.uids_string(), "1:5,7:9");
	const char *bad[] = {
		"0", "1:", ":5", "a", "1,,2", "1,", ",1", "1:2:3", "4294967296",
		"-1", " 1", "1 ", "12345678901",
	};
	for (const char *b : bad) {
		FolderLedger h;
		h.add(42);
		if (h.add_uids_string(b) != -1)
			fail_msg("'%s' accepted", b);
		assert_str(h.uids_string(), "42");
	}
}

static void test_retain(void **)
{
	FolderLedger f;
	f.add_range(1, 4);
	f.add_range(6, 10);
	/* server now has 2 3 4 5 7 9 12; 5 and 12 are new */
	f.retain({ 2, 3, 4, 5, 7, 9, 12 });
	assert_str(f.uids_string(), "2:4,7:9");
	assert_false(f.has(1));
	assert_true(f.has(2));
	assert_false(f.has(5));
	assert_true(f.has(7));
	assert_true(f.has(8));   /* gone from the server, never reused */
	assert_true(f.has(9));
	assert_false(f.has(10));
	assert_false(f.has(12));

	/* absent UIDs between known ones keep the ranges few */
	FolderLedger g;
	for (uint32_t uid = 1; uid <= 1000; uid += 2)
		g.add(uid);
	assert_int_equal(g.range_count(), 500);
	std::vector<uint32_t> present;
	for (uint32_t uid = 1; uid <= 1000; uid += 2)
		present.push_back(uid);
	present.push_back(1001);
	g.retain(present);
	assert_str(g.uids_string(), "1:999");

	/* unsorted input is handled */
	FolderLedger h;
	h.add_range(1, 10);
	h.retain({ 9, 3, 5 });
	assert_str(h.uids_string(), "3:9");
	h.retain({});
	assert_str(h.uids_string(), "");
	assert_int_equal(h.max_uid(), 0);
}

static void test_pop3(void **)
{
	Ledger l;
	assert_false(l.pop3_has("a"));
	l.pop3_add("UID-1");
	l.pop3_add("UID-2");
	l.pop3_add("UID-3");
	l.pop3_add("UID-2");
	assert_int_equal(l.pop3_count(), 3);
	assert_true(l.pop3_has("UID-2"));
	assert_false(l.pop3_has("uid-2"));
	l.pop3_retain({ "UID-3", "UID-1", "UID-9" });
	assert_int_equal(l.pop3_count(), 2);
	assert_true(l.pop3_has("UID-1"));
	assert_false(l.pop3_has("UID-2"));
	assert_true(l.pop3_has("UID-3"));
	assert_false(l.pop3_has("UID-9"));
}

static void test_fingerprints(void **)
{
	/* frozen: FNV-1a 64 of "<abc@example.com>\0001234\00017-Jul-1996 02:44:25 -0700" */
	assert_str(message_fingerprint("<abc@example.com>", 1234,
				       "17-Jul-1996 02:44:25 -0700"),
		   "12f386d273499837");
	assert_str(message_fingerprint(" <abc@example.com>\r\n", 1234,
				       "17-Jul-1996 02:44:25 -0700"),
		   "12f386d273499837");
	assert_true(message_fingerprint("<abc@example.com>", 1235,
					"17-Jul-1996 02:44:25 -0700") !=
		    "12f386d273499837");
	assert_true(message_fingerprint("", 0, "") !=
		    message_fingerprint("", 0, "x"));
	assert_int_equal(message_fingerprint("", 0, "").size(), 16);

	Ledger l;
	FolderLedger &f = l.folder("INBOX");
	f.uidvalidity = 100;
	f.add_range(1, 50);
	std::string fp1 = message_fingerprint("<1@x>", 10, "d1");
	std::string fp2 = message_fingerprint("<2@x>", 20, "d2");
	f.add_fingerprint(fp1);
	f.add_fingerprint(fp2);
	assert_true(f.has_fingerprint(fp1));
	assert_false(f.has_fingerprint(message_fingerprint("<3@x>", 30, "d3")));

	/* UIDVALIDITY changed: UIDs go, fingerprints stay */
	f.reset_uids(200);
	assert_int_equal(f.uidvalidity, 200);
	assert_false(f.has(1));
	assert_int_equal(f.max_uid(), 0);
	assert_true(f.has_fingerprint(fp1));
	assert_true(f.has_fingerprint(fp2));
	assert_int_equal(l.folder("INBOX").fingerprints().size(), 2);

	f.retain_fingerprints({ fp2, "0000000000000000" });
	assert_false(f.has_fingerprint(fp1));
	assert_true(f.has_fingerprint(fp2));
	assert_int_equal(f.fingerprints().size(), 1);
}

static void test_folders(void **)
{
	Ledger l;
	assert_null(l.find_folder("INBOX"));
	l.folder("INBOX").add(1);
	l.folder("Sent").add(2);
	l.folder("Old").add(3);
	assert_non_null(l.find_folder("Sent"));
	assert_int_equal(l.folders().size(), 3);
	l.remove_folder("Sent");
	assert_null(l.find_folder("Sent"));
	l.retain_folders({ "INBOX", "Archive" });
	assert_int_equal(l.folders().size(), 1);
	assert_true(l.find_folder("INBOX")->has(1));
	l.clear();
	assert_int_equal(l.folders().size(), 0);
}

static void test_round_trip(void **)
{
	Ledger l;
	l.pop3_add("abc");
	l.pop3_add("with \"quote\"");
	FolderLedger &f = l.folder("INBOX");
	f.uidvalidity = 1700000000;
	f.add_range(1, 500);
	f.add(502);
	f.add_fingerprint("0123456789abcdef");
	FolderLedger &g = l.folder("Sent Ünïcode");
	g.uidvalidity = 4294967295u;

	std::string json = ledger_encode(l);
	assert_str(json, "{\"folders\":{\"INBOX\":{\"fp\":[\"0123456789abcdef\"],"
		   "\"uids\":\"1:500,502\",\"uidvalidity\":1700000000},"
		   "\"Sent Ünïcode\":{\"fp\":[],\"uids\":\"\",\"uidvalidity\":4294967295}},"
		   "\"pop3\":[\"abc\",\"with \\\"quote\\\"\"],\"v\":1}");

	Ledger m;
	m.pop3_add("stale");
	std::string error;
	assert_int_equal(ledger_decode(json, m, error), 0);
	assert_false(m.pop3_has("stale"));
	assert_true(m.pop3_has("with \"quote\""));
	assert_int_equal(m.pop3_count(), 2);
	const FolderLedger *mf = m.find_folder("INBOX");
	assert_non_null(mf);
	assert_int_equal(mf->uidvalidity, 1700000000);
	assert_str(mf->uids_string(), "1:500,502");
	assert_true(mf->has_fingerprint("0123456789abcdef"));
	assert_non_null(m.find_folder("Sent Ünïcode"));
	assert_int_equal(m.find_folder("Sent Ünïcode")->uidvalidity, 4294967295u);
	assert_str(ledger_encode(m), json);

	/* empty and minimal */
	Ledger e;
	assert_str(ledger_encode(e), "{\"folders\":{},\"pop3\":[],\"v\":1}");
	assert_int_equal(ledger_decode("{}", e, error), 0);
	assert_int_equal(ledger_decode("{\"folders\":{\"X\":{}}}", e, error), 0);
	assert_int_equal(e.find_folder("X")->uidvalidity, 0);
}

static void test_baseline(void **)
{
	std::string error;

	/* the flags are stored while pending, and only then */
	Ledger p;
	assert_false(p.pop3_baseline());
	p.set_pop3_baseline(true);
	p.folder("INBOX").baseline = true;
	assert_false(p.folder("INBOX").empty());
	p.folder("Sent");
	assert_true(p.folder("Sent").empty());
	std::string json = ledger_encode(p);
	assert_str(json, "{\"baseline\":true,\"folders\":{\"INBOX\":"
		   "{\"baseline\":true,\"fp\":[],\"uids\":\"\","
		   "\"uidvalidity\":0},\"Sent\":{\"fp\":[],\"uids\":\"\","
		   "\"uidvalidity\":0}},\"pop3\":[],\"v\":1}");
	Ledger q;
	assert_int_equal(ledger_decode(json, q, error), 0);
	assert_true(q.pop3_baseline());
	assert_true(q.find_folder("INBOX")->baseline);
	assert_false(q.find_folder("Sent")->baseline);
	assert_str(ledger_encode(q), json);
	q.set_pop3_baseline(false);
	q.folder("INBOX").baseline = false;
	assert_str(ledger_encode(q), "{\"folders\":{\"INBOX\":{\"fp\":[],"
		   "\"uids\":\"\",\"uidvalidity\":0},\"Sent\":{\"fp\":[],"
		   "\"uids\":\"\",\"uidvalidity\":0}},\"pop3\":[],\"v\":1}");

	/* clear() forgets pending baselines (the account now describes
	   another mailbox) */
	p.clear();
	assert_false(p.pop3_baseline());
	assert_null(p.find_folder("INBOX"));

	/* wrong types are errors naming the member */
	assert_int_equal(ledger_decode("{\"baseline\":1}", q, error), -1);
	assert_str(error, "ledger: baseline: expected true or false");
	assert_int_equal(ledger_decode(
		"{\"folders\":{\"INBOX\":{\"baseline\":\"yes\"}}}", q,
		error), -1);
	assert_str(error, "ledger: folder 'INBOX' baseline: expected true or false");
}

static void test_decode_errors(void **)
{
	const struct {
		const char *json;
		const char *error_prefix;
	} cases[] = {
		{ "", "ledger: not valid JSON" },
		{ "{\"pop3\":[}", "ledger: not valid JSON" },
		{ "[]", "ledger: not a JSON object" },
		{ "{\"v\":2}", "ledger: version 2 is newer than this plugin supports" },
		{ "{\"v\":\"1\"}", "ledger: v: expected" },
		{ "{\"pop3\":\"abc\"}", "ledger: pop3: expected a list of strings" },
		{ "{\"pop3\":[1]}", "ledger: pop3: expected a list of strings" },
		{ "{\"folders\":[]}", "ledger: folders: expected an object" },
		{ "{\"folders\":{\"INBOX\":1}}", "ledger: folder 'INBOX': expected an object" },
		{ "{\"folders\":{\"INBOX\":{\"uidvalidity\":-1}}}", "ledger: folder 'INBOX' uidvalidity: expected a number" },
		{ "{\"folders\":{\"INBOX\":{\"uids\":[1,2]}}}", "ledger: folder 'INBOX' uids: expected a string" },
		{ "{\"folders\":{\"INBOX\":{\"uids\":\"1:x\"}}}", "ledger: folder 'INBOX' uids: malformed UID set" },
		{ "{\"folders\":{\"INBOX\":{\"fp\":\"x\"}}}", "ledger: folder 'INBOX' fp: expected a list of strings" },
	};
	for (const auto &c : cases) {
		Ledger l;
		l.pop3_add("keep");
		std::string error;
		if (ledger_decode(c.json, l, error) != -1)
			fail_msg("accepted: %s", c.json);
		assert_prefix(error, c.error_prefix);
		assert_true(l.pop3_has("keep"));
	}

	/* a stored folder name is quoted: the error stays one line (found
	   by tests/fuzz/fuzz-fetchmail-ledger) */
	Ledger l;
	std::string error;
	assert_int_equal(ledger_decode("{\"folders\":{\"IN\nBOX\\u0001\":1}}",
				       l, error), -1);
	assert_str(error, "ledger: folder 'IN\\x0aBOX\\x01': expected an object");
}

static void test_large(void **)
{
	Ledger l;
	const uint32_t N = 10000;
	for (uint32_t i = 0; i < N; i++)
		l.pop3_add("000" + std::to_string(i * 7919) + "-uidl-" + std::to_string(i));
	FolderLedger &f = l.folder("INBOX");
	f.uidvalidity = 12345;
	std::vector<std::string> fps;
	for (uint32_t i = 1; i <= N; i++) {
		f.add(i * 2);   /* worst case: no two adjacent */
		std::string fp = message_fingerprint("<" + std::to_string(i) + "@x>",
						     i, "d");
		fps.push_back(fp);
		f.add_fingerprint(fp);
	}
	assert_int_equal(f.range_count(), N);
	assert_int_equal(f.fingerprints().size(), N);

	double start = now_secs();
	std::string json = ledger_encode(l);
	Ledger m;
	std::string error;
	assert_int_equal(ledger_decode(json, m, error), 0);
	double elapsed = now_secs() - start;

	assert_int_equal(m.pop3_count(), N);
	for (uint32_t i = 0; i < N; i++)
		assert_true(m.pop3_has("000" + std::to_string(i * 7919) + "-uidl-" + std::to_string(i)));
	const FolderLedger *mf = m.find_folder("INBOX");
	assert_int_equal(mf->range_count(), N);
	for (uint32_t i = 1; i <= 2 * N + 1; i++)
		assert_int_equal(mf->has(i), i % 2 == 0 && i <= 2 * N);
	for (const auto &fp : fps)
		assert_true(mf->has_fingerprint(fp));
	assert_str(ledger_encode(m), json);
	if (elapsed > 0.2)
		fail_msg("10,000 entries x3 took %.3f s to encode and decode", elapsed);
}

/* The use case: a 2,000-message POP3 mailbox with keep=yes, everything
   already delivered: decode the ledger, check each UIDL, retain. */
static void test_keep_yes_check_speed(void **)
{
	Ledger l;
	std::vector<std::string> listing;
	for (int i = 0; i < 2000; i++) {
		std::string uidl = "1a2b3c4d" + std::to_string(1000000 + i);
		listing.push_back(uidl);
		l.pop3_add(uidl);
	}
	std::string json = ledger_encode(l);

	double start = now_secs();
	Ledger m;
	std::string error;
	assert_int_equal(ledger_decode(json, m, error), 0);
	size_t fetch = 0;
	for (const auto &uidl : listing)
		if (!m.pop3_has(uidl))
			fetch++;
	m.pop3_retain(listing);
	std::string again = ledger_encode(m);
	double elapsed = now_secs() - start;

	assert_int_equal(fetch, 0);
	assert_str(again, json);
	if (elapsed > 0.2)
		fail_msg("2,000-message check took %.3f s", elapsed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_uids_string),
		cmocka_unit_test(test_retain),
		cmocka_unit_test(test_pop3),
		cmocka_unit_test(test_fingerprints),
		cmocka_unit_test(test_folders),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_keep_yes_check_speed),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
