/* Unit tests for the fetch service's decisions (fetchmail-service). */

#include "fetchmail-service.hh"

#include "test-common.hh"

using namespace fetchmail;

namespace {

ServiceAccount acct(const std::string &id, int64_t next_run,
		    bool summary_known = false, bool push = false)
{
	ServiceAccount a;
	a.account.id = id;
	a.account.host = "pop.example.net";
	a.account.protocol = push ? Protocol::Imap : Protocol::Pop3;
	a.account.protocol_set = true;
	a.account.remote_user = "bob";
	a.account.revision = 1;
	a.account.push = push;
	a.secret = "v1:00:blob";
	a.status.next_run = next_run;
	a.status.last_status = RunStatus::Ok;
	if (summary_known) {
		a.summary.known = true;
		a.summary.pop3_count = 3;
		a.summary.pop3_digest = "abc";
	}
	return a;
}

std::string names(const std::vector<ServiceTask> &tasks)
{
	std::string s;
	for (const ServiceTask &t : tasks)
		s += (s.empty() ? "" : ",") + t.user + "/" + t.id +
			(t.kind == ServiceTask::Kind::Check ? ":check" : ":run");
	return s;
}

void test_due_and_limits(void **)
{
	ServiceLimits lim;
	lim.max_parallel = 2;
	lim.slow_after_secs = 30;
	ServicePlan plan(lim);
	plan.set_user("u1", 1000, 100, { acct("a", 100, true), acct("b", 50) });
	plan.set_user("u2", 1001, 100, { acct("c", 70, true), acct("d", 500) });

	assert_str(names(plan.next_tasks(40)), "");
	/* earliest first, at most two at once; Check when the summary is
	   known, else Run */
	assert_str(names(plan.next_tasks(200)), "u1/b:run,u2/c:check");
	assert_str(names(plan.next_tasks(200)), "");
	assert_int_equal(plan.busy_count(), 2);
	assert_int_equal(plan.next_due(), 100);

	/* a task ends: the next one starts */
	AccountStatus st;
	st.last_status = RunStatus::Ok;
	st.next_run = 600;
	plan.task_done(ServiceTask{ ServiceTask::Kind::Run, "u1", "b" }, st,
		       PollSummary(), 210);
	assert_str(names(plan.next_tasks(210)), "u1/a:check");
	/* slow tasks stop counting: stuck servers do not starve others */
	plan.set_user("u3", 1002, 100, { acct("e", 220) });
	assert_str(names(plan.next_tasks(225)), "");
	assert_str(names(plan.next_tasks(231)), "u3/e:run");   /* c is slow */
	assert_true(plan.busy("u2", "c"));
	assert_false(plan.busy("u1", "b"));
}

/* A task in flight stays the plan's while its account is dropped and
   comes back (a failed lookup removes the user, the next load sets it
   again): no second task for the account, and it still counts against
   max_parallel. Found by the service fuzz target: the busy mark lived in
   the account's entry and went with it. */
void test_task_outlives_its_account(void **)
{
	ServiceLimits lim;
	lim.max_parallel = 1;
	ServicePlan plan(lim);
	plan.set_user("u1", 1000, 100, { acct("a", 100) });
	assert_str(names(plan.next_tasks(200)), "u1/a:run");

	plan.remove_user("u1");
	assert_int_equal(plan.busy_count(), 1);
	plan.set_user("u1", 1000, 100, { acct("a", 100) });
	assert_true(plan.busy("u1", "a"));
	assert_str(names(plan.next_tasks(210)), "");
	assert_int_equal(plan.next_due(), 0);

	/* dropped by a load without it: its task still takes the slot */
	plan.set_user("u1", 1000, 100, { acct("b", 100) });
	assert_int_equal(plan.busy_count(), 1);
	assert_str(names(plan.next_tasks(220)), "");
	assert_int_equal(plan.next_due(), 100);

	/* it ends (its account gone: only the end counts); b starts */
	AccountStatus st;
	plan.task_done(ServiceTask{ ServiceTask::Kind::Run, "u1", "a" }, st,
		       PollSummary(), 230);
	assert_int_equal(plan.busy_count(), 0);
	assert_null(plan.find("u1", "a"));
	assert_str(names(plan.next_tasks(230)), "u1/b:run");

	/* lost and unstarted tasks end the same way */
	plan.remove_user("u1");
	plan.task_lost(ServiceTask{ ServiceTask::Kind::Run, "u1", "b" }, 240);
	assert_int_equal(plan.busy_count(), 0);
	plan.set_user("u1", 1000, 100, { acct("b", 100) });
	assert_str(names(plan.next_tasks(250)), "u1/b:run");
	plan.set_user("u1", 1000, 100, {});
	plan.task_unstarted(ServiceTask{ ServiceTask::Kind::Run, "u1", "b" });
	assert_int_equal(plan.busy_count(), 0);
}

/* A wake during a task that is then lost or not started is used up:
   the retry (or the next start) fetches the new mail, and the task after
   it does not run the account once more. Found by the service fuzz
   target. */
void test_wake_ends_with_its_task(void **)
{
	ServicePlan plan{ ServiceLimits() };
	AccountStatus st;
	st.last_status = RunStatus::Ok;
	st.next_run = 5000;

	plan.set_user("u1", 1000, 100, { acct("a", 100) });
	assert_str(names(plan.next_tasks(200)), "u1/a:run");
	plan.wake("u1", "a", 210);
	plan.task_lost(ServiceTask{ ServiceTask::Kind::Run, "u1", "a" }, 220);
	assert_int_equal(plan.find("u1", "a")->status.next_run, 280);
	assert_str(names(plan.next_tasks(280)), "u1/a:run");
	plan.task_done(ServiceTask{ ServiceTask::Kind::Run, "u1", "a" }, st,
		       PollSummary(), 300);
	assert_int_equal(plan.find("u1", "a")->status.next_run, 5000);

	plan.set_user("u1", 1000, 100, { acct("a", 100) });
	assert_str(names(plan.next_tasks(400)), "u1/a:run");
	plan.wake("u1", "a", 410);
	plan.task_unstarted(ServiceTask{ ServiceTask::Kind::Run, "u1", "a" });
	assert_str(names(plan.next_tasks(420)), "u1/a:run");
	plan.task_done(ServiceTask{ ServiceTask::Kind::Run, "u1", "a" }, st,
		       PollSummary(), 430);
	assert_int_equal(plan.find("u1", "a")->status.next_run, 5000);

	/* a wake during a task that ends well: due right after it */
	assert_int_equal(plan.next_tasks(5000).size(), 1);
	plan.wake("u1", "a", 5010);
	plan.task_done(ServiceTask{ ServiceTask::Kind::Run, "u1", "a" }, st,
		       PollSummary(), 5020);
	assert_int_equal(plan.find("u1", "a")->status.next_run, 5020);
}

void test_kinds(void **)
{
	ServicePlan plan(ServiceLimits{});
	ServiceAccount failed = acct("f", 10, true);
	failed.status.last_status = RunStatus::Error;
	ServiceAccount oauth = acct("o", 10, true);
	oauth.account.auth = AuthMethod::OAuth2;
	oauth.account.oauth2_provider = "google";
	ServiceAccount held = acct("h", 0, true);
	held.status.held = true;
	ServiceAccount inactive = acct("i", 10, true);
	inactive.account.active = false;
	plan.set_user("u", 1000, 100, { failed, oauth, held, inactive,
				   acct("k", 10, true) });
	/* a failed last run, OAuth2: a full run; held or inactive: nothing */
	assert_str(names(plan.next_tasks(20)), "u/f:run,u/k:check,u/o:run");
}

/* A held account (consent needed) is not polled, but runs once when its
   failure notice is due, so that the run delivers it. */
void test_held_notice(void **)
{
	ServiceLimits lim;
	lim.notify_after_secs = 1000;
	ServicePlan plan(lim);
	ServiceAccount held = acct("h", 0, true);
	held.account.auth = AuthMethod::OAuth2;
	held.account.oauth2_provider = "google";
	held.status.held = true;
	held.status.last_status = RunStatus::Error;
	held.status.failing_since = 5000;
	plan.set_user("u", 1000, 100, { held });
	assert_int_equal(plan.next_due(), 6000);
	assert_str(names(plan.next_tasks(5999)), "");
	auto tasks = plan.next_tasks(6000);
	assert_str(names(tasks), "u/h:run");
	/* the run delivered the notice: nothing is due any more */
	AccountStatus st = held.status;
	st.notified = true;
	plan.task_done(tasks[0], st, PollSummary(), 6001);
	assert_int_equal(plan.next_due(), 0);
	assert_str(names(plan.next_tasks(100000)), "");
	/* notices off: never */
	lim.notify_after_secs = 0;
	ServicePlan off(lim);
	off.set_user("u", 1000, 100, { held });
	assert_int_equal(off.next_due(), 0);
}

void test_set_user_keeps_what_it_learnt(void **)
{
	ServicePlan plan(ServiceLimits{});
	plan.set_user("u", 1000, 100, { acct("a", 10), acct("b", 10) });
	assert_str(names(plan.next_tasks(20)), "u/a:run,u/b:run");
	PollSummary s;
	s.known = true;
	s.pop3_count = 7;
	AccountStatus st;
	st.last_status = RunStatus::Ok;
	st.next_run = 100;
	plan.task_done(ServiceTask{ ServiceTask::Kind::Run, "u", "a" }, st, s, 30);
	assert_int_equal(plan.find("u", "a")->summary.pop3_count, 7);

	/* the worker reads the user again: the same revision keeps the
	   summary, b is gone (its task's end is ignored), c is new */
	ServiceAccount a2 = acct("a", 100);
	ServiceAccount c = acct("c", 10);
	plan.set_user("u", 1000, 100, { a2, c });
	assert_true(plan.find("u", "a")->summary.known);
	assert_null(plan.find("u", "b"));
	plan.task_done(ServiceTask{ ServiceTask::Kind::Run, "u", "b" }, st, s, 30);
	assert_null(plan.find("u", "b"));
	assert_int_equal(plan.find("u", "a")->status.next_run, 100);
	/* another revision: the summary is forgotten, and the edited account
	   is due at once */
	a2.account.revision = 2;
	plan.set_user("u", 1000, 100, { a2, c });
	assert_false(plan.find("u", "a")->summary.known);
	assert_int_equal(plan.find("u", "a")->status.next_run, 1);
	uint32_t uid = 0, gid = 0;
	assert_true(plan.user_ids("u", uid, gid));
	assert_int_equal(uid, 1000);
	assert_int_equal(gid, 100);
	assert_false(plan.user_ids("nobody", uid, gid));

	/* a worker died: tried again later, the summary is forgotten */
	plan.task_lost(ServiceTask{ ServiceTask::Kind::Run, "u", "c" }, 500);
	assert_int_equal(plan.find("u", "c")->status.next_run, 560);
}

void test_look(void **)
{
	ServiceLimits lim;
	lim.look_age_secs = 60;
	lim.look_interval_secs = 60;
	ServicePlan plan(lim);
	ServiceAccount recent = acct("r", 1000);
	recent.status.last_run = 950;
	ServiceAccount old = acct("o", 1000);
	old.status.last_run = 800;
	plan.set_user("u", 1000, 100, { recent, old });
	assert_false(plan.look("nobody", 960));
	assert_true(plan.look("u", 960));
	assert_int_equal(plan.find("u", "o")->status.next_run, 960);
	assert_int_equal(plan.find("u", "r")->status.next_run, 1000);
	/* rate-limited per user */
	assert_false(plan.look("u", 990));
	assert_true(plan.look("u", 1021));   /* r is 71 s old now */
	assert_int_equal(plan.find("u", "r")->status.next_run, 1021);
}

void test_wake(void **)
{
	ServicePlan plan(ServiceLimits{});
	plan.set_user("u", 1000, 100, { acct("a", 1000, false, true),
				       acct("b", 1000, false, true) });
	plan.wake("u", "a", 500);
	plan.wake("u", "nope", 500);
	plan.wake("nobody", "a", 500);
	assert_int_equal(plan.find("u", "a")->status.next_run, 500);
	assert_int_equal(plan.find("u", "b")->status.next_run, 1000);
	auto tasks = plan.next_tasks(500);
	assert_int_equal(tasks.size(), 1);
	/* new mail while a runs: due again as soon as the run ends */
	plan.wake("u", "a", 510);
	AccountStatus st = plan.find("u", "a")->status;
	st.next_run = 800;
	plan.task_done(tasks[0], st, PollSummary(), 520);
	assert_int_equal(plan.find("u", "a")->status.next_run, 520);
	tasks = plan.next_tasks(520);
	assert_int_equal(tasks.size(), 1);
	plan.task_done(tasks[0], st, PollSummary(), 530);
	assert_int_equal(plan.find("u", "a")->status.next_run, 800);
}

void test_push(void **)
{
	ServiceLimits lim;
	lim.max_push = 2;
	ServicePlan plan(lim);
	plan.set_user("first", 1000, 100, { acct("p1", 10, false, true),
				       acct("n", 10) });
	plan.set_user("second", 1000, 100, { acct("p2", 10, false, true),
					acct("p3", 10, false, true) });
	auto wanted = plan.push_wanted(0);
	assert_int_equal(wanted.size(), 2);
	assert_str(wanted[0].first + "/" + wanted[0].second, "first/p1");
	assert_str(wanted[1].first + "/" + wanted[1].second, "second/p2");
	/* a server without IDLE: polled, asked again after a day */
	plan.push_unsupported("second", "p2", 100);
	wanted = plan.push_wanted(200);
	assert_str(wanted[1].second, "p3");
	wanted = plan.push_wanted(100 + 24 * 3600);
	assert_str(wanted[1].second, "p2");
	/* ... or at once when the account was edited */
	plan.push_unsupported("second", "p2", 200);
	assert_str(plan.push_wanted(300)[1].second, "p3");
	ServiceAccount p2 = acct("p2", 10, false, true);
	p2.account.revision = 2;
	plan.set_user("second", 1000, 100, { p2, acct("p3", 10, false, true) });
	assert_str(plan.push_wanted(300)[1].second, "p2");
}

void test_snapshot(void **)
{
	ServicePlan plan(ServiceLimits{});
	ServiceAccount a = acct("a", 123, true, true);
	a.account.folders = { "INBOX", "Work" };
	a.summary = PollSummary();
	a.summary.known = true;
	a.summary.folders = { FolderSummary{ "INBOX", 7, 9, 3 } };
	a.status.failures = 2;
	plan.set_user("u@example.org", 2001, 2002, { a, acct("b", 5) });
	std::string json = plan.encode_user("u@example.org");

	ServicePlan back(ServiceLimits{});
	std::string error;
	assert_int_equal(back.decode_user("u@example.org", json, error), 0);
	uint32_t uid = 0, gid = 0;
	assert_true(back.user_ids("u@example.org", uid, gid));
	assert_int_equal(uid, 2001);
	assert_int_equal(gid, 2002);
	const ServiceAccount *b = back.find("u@example.org", "a");
	assert_non_null(b);
	assert_str(b->secret, "v1:00:blob");
	assert_int_equal(b->status.failures, 2);
	assert_int_equal(b->status.next_run, 123);
	assert_true(b->summary == a.summary);
	assert_int_equal(b->account.folders.size(), 2);
	assert_true(b->account.push);
	assert_str(back.encode_user("u@example.org"), json);

	assert_int_equal(back.decode_user("x", "{\"v\":1,\"uid\":1,\"accounts\":7}",
					  error), -1);
	assert_int_equal(back.decode_user("x", "{\"v\":9}", error), -1);
	assert_false(back.has_user("x"));
}

void test_worker_messages(void **)
{
	WorkerMessage task;
	task.verb = "task";
	task.kind = "check";
	task.user = "u@example.org";
	task.id = "fm-abc";
	task.accounts.push_back(acct("fm-abc", 77, true));
	std::string line = worker_message_encode(true, task);
	assert_null(strchr(line.c_str(), '\n'));
	WorkerMessage back;
	std::string error;
	assert_int_equal(worker_message_decode(line, back, error), 0);
	assert_str(back.verb, "task");
	assert_str(back.kind, "check");
	assert_int_equal(back.accounts.size(), 1);
	assert_int_equal(back.accounts[0].status.next_run, 77);
	assert_true(back.accounts[0].summary.known);

	WorkerMessage done;
	done.verb = "done";
	done.user = "u";
	done.id = "fm-abc";
	done.ok = false;
	done.error = "login failed: [AUTH] no\r\n\"quoted\"";
	done.has_status = true;
	done.status.failures = 3;
	line = worker_message_encode(false, done);
	assert_int_equal(worker_message_decode(line, back, error), 0);
	assert_str(back.verb, "done");
	assert_str(back.error, done.error);
	assert_true(back.has_status);
	assert_int_equal(back.status.failures, 3);
	assert_false(back.has_summary);
	assert_null(strstr(line.c_str(), "summary"));

	/* a done with a summary carries it; one without leaves it alone */
	done.has_summary = true;
	done.summary = acct("x", 1, true).summary;
	line = worker_message_encode(false, done);
	assert_int_equal(worker_message_decode(line, back, error), 0);
	assert_true(back.has_summary);
	assert_true(back.summary == done.summary);

	/* a check the worker has the account of: named by its revision,
	   nothing of the account on the line */
	WorkerMessage slim;
	slim.verb = "task";
	slim.kind = "check";
	slim.user = "u@example.org";
	slim.id = "fm-abc";
	slim.revision = 1234567890123ULL;
	line = worker_message_encode(true, slim);
	assert_null(strstr(line.c_str(), "account"));
	assert_null(strstr(line.c_str(), "blob"));
	assert_int_equal(worker_message_decode(line, back, error), 0);
	assert_int_equal(back.revision, 1234567890123ULL);
	assert_true(back.accounts.empty());
	assert_false(back.has_summary);
	assert_int_equal(worker_message_decode(
		"{\"do\":\"task\",\"rev\":-1}", back, error), -1);

	WorkerMessage loaded;
	loaded.verb = "loaded";
	loaded.user = "u";
	loaded.uid = 2001;
	loaded.gid = 2002;
	loaded.accounts = { acct("a", 1), acct("b", 2) };
	assert_int_equal(worker_message_decode(
		worker_message_encode(false, loaded), back, error), 0);
	assert_int_equal(back.uid, 2001);
	assert_int_equal(back.gid, 2002);
	assert_int_equal(back.accounts.size(), 2);

	/* a push carries the account, as a check does */
	WorkerMessage push;
	push.verb = "push";
	push.user = "u";
	push.id = "p";
	push.accounts = { acct("p", 1, false, true) };
	assert_int_equal(worker_message_decode(
		worker_message_encode(true, push), back, error), 0);
	assert_int_equal(back.accounts.size(), 1);
	assert_true(back.accounts[0].account.push);
	assert_str(back.accounts[0].secret, "v1:00:blob");

	/* a lookup's answer carries the ids the user's mail is written with */
	WorkerMessage resolved;
	resolved.verb = "resolved";
	resolved.user = "u";
	resolved.uid = 2003;
	resolved.gid = 2004;
	assert_int_equal(worker_message_decode(
		worker_message_encode(false, resolved), back, error), 0);
	assert_str(back.verb, "resolved");
	assert_int_equal(back.uid, 2003);
	assert_int_equal(back.gid, 2004);
	resolved.error = "no such user";
	resolved.nouser = true;
	assert_int_equal(worker_message_decode(
		worker_message_encode(false, resolved), back, error), 0);
	assert_true(back.nouser);
	assert_int_equal(back.uid, 0);

	/* a STATUS reply's errors are one line, whatever its keys hold
	   (found by the service fuzz target: the key was quoted raw) */
	std::map<std::string, ServiceLiveStatus> statuses;
	assert_int_equal(service_status_decode("{\"a\\nb\\u0001\":7}",
					       statuses, error), -1);
	assert_str(error, "'a\\x0ab\\x01': expected an object");

	assert_int_equal(worker_message_decode("{}", back, error), -1);
	assert_int_equal(worker_message_decode("{\"do\":7}", back, error), -1);
	assert_int_equal(worker_message_decode("not json", back, error), -1);
	assert_int_equal(worker_message_decode(
		"{\"ev\":\"done\",\"status\":\"{\\\"failures\\\":-1}\"}",
		back, error), -1);
}

} // namespace

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due_and_limits),
		cmocka_unit_test(test_task_outlives_its_account),
		cmocka_unit_test(test_wake_ends_with_its_task),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_set_user_keeps_what_it_learnt),
		cmocka_unit_test(test_wake),
		cmocka_unit_test(test_held_notice),
		cmocka_unit_test(test_look),
		cmocka_unit_test(test_push),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_worker_messages),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
