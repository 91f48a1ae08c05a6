/* libFuzzer target: the fetch service's decisions and its messages
   (plugin/core/fetchmail-service.hh).

   Input: byte 0 picks the part (low two bits); the rest is its input.

   0 worker_message_decode(): the rest is a line from a worker (or from
     the service). Checked: a refused line leaves the message untouched
     and gives a printable error; an accepted one, encoded as a request
     and as an event, decodes to the same message as far as that verb
     carries it (verb, user, id, kind, state, error, nouser, the status
     when there is one; uid and gid for loaded/resolved without error;
     ok and fetched for done; the summary when there is one; the
     revision of a check; the account of a task, the accounts of loaded)
     and encodes to the same bytes again.
   1 service_status_decode(): the same for the STATUS reply (a refused
     one leaves the map untouched; an accepted one round trips).
   2 ServicePlan::decode_user() of the rest (a snapshot): refused, the
     plan is unchanged; accepted, encode_user() gives a snapshot that
     decodes to the same and encodes to the same bytes.
   3 a ServicePlan driven by a program: byte 1 sets the limits
     (max_parallel 1..4, max_push 0..3, slow_after, look_interval), then
     operations, one byte each with their arguments: set_user (up to
     four accounts of three users, each active or not, IMAP/POP3, push,
     password or OAuth2, a revision, next-run, held, last status,
     failing-since, a known summary), remove_user, next_tasks, task_done,
     task_lost, task_unstarted, look, wake, push_wanted,
     push_unsupported, a snapshot round trip, and moving the clock
     (which only moves forward).
     Checked after every operation against a model the harness keeps
     (the tasks handed out and not yet ended, the accounts as last set,
     when each user looked, when each server refused IDLE, the order in
     which users came): at most one task per account in flight, also
     across remove_user/set_user; next_tasks() hands out only active
     accounts that are due (held ones only when their failure notice is
     due), never one already in flight, earliest due first, Check
     exactly for a known summary, password login and a good last run,
     and leaves out a due account only when max_parallel tasks that are
     not yet slow are in flight (never more than that); busy_count() is
     the number of tasks in flight and busy() agrees; next_due() is the
     earliest due time of the accounts not in flight; task_done() takes
     the worker's status and summary (due at once when woken meanwhile);
     task_lost() forgets the summary and retries a minute later; look()
     and wake() make exactly the eligible accounts due, look() at most
     once per look_interval per user; push_wanted() is exactly the push
     accounts that should hold a connection, at most max_push, the
     earliest users first; and encode_user()/decode_user() round trip. */

#include "fuzz-common.hh"

#include "fetchmail-notice.hh"
#include "fetchmail-record.hh"
#include "fetchmail-schedule.hh"
#include "fetchmail-service.hh"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace fetchmail;

namespace {

auto status_fields(const AccountStatus &s)
{
	return std::tie(s.last_run, s.last_status, s.last_error,
			s.last_fetched, s.next_run, s.failures, s.held,
			s.failing_since, s.notified);
}

bool same_account(const ServiceAccount &a, const ServiceAccount &b)
{
	return fuzz_account_fields(a.account) == fuzz_account_fields(b.account) &&
		a.secret == b.secret &&
		status_fields(a.status) == status_fields(b.status) &&
		a.summary == b.summary;
}

bool same_accounts(const std::vector<ServiceAccount> &a,
		   const std::vector<ServiceAccount> &b)
{
	if (a.size() != b.size())
		return false;
	for (size_t i = 0; i < a.size(); i++) {
		if (!same_account(a[i], b[i]))
			return false;
	}
	return true;
}

/* ---- 0: worker messages ---- */

void check_worker_round_trip(const WorkerMessage &m, bool request)
{
	std::string line = worker_message_encode(request, m);
	FUZZ_CHECK(!line.empty());
	FUZZ_CHECK(line.find('\n') == line.npos);
	WorkerMessage b;
	std::string error;
	FUZZ_CHECK(worker_message_decode(line, b, error) == 0);
	FUZZ_CHECK(worker_message_encode(request, b) == line);

	FUZZ_CHECK(b.verb == m.verb && b.user == m.user && b.id == m.id &&
		   b.kind == m.kind && b.state == m.state &&
		   b.error == m.error && b.nouser == m.nouser);
	FUZZ_CHECK(b.has_status == m.has_status);
	if (m.has_status)
		FUZZ_CHECK(status_fields(b.status) == status_fields(m.status));
	if ((m.verb == "loaded" || m.verb == "resolved") && m.error.empty())
		FUZZ_CHECK(b.uid == m.uid && b.gid == m.gid);
	if (m.verb == "done")
		FUZZ_CHECK(b.ok == m.ok && b.fetched == m.fetched);
	FUZZ_CHECK(b.has_summary == m.has_summary && b.revision == m.revision);
	if (m.has_summary)
		FUZZ_CHECK(b.summary == m.summary);
	if (m.verb == "task" && !m.accounts.empty()) {
		FUZZ_CHECK(b.accounts.size() == 1 &&
			   same_account(b.accounts[0], m.accounts[0]));
	}
	if (m.verb == "loaded" && m.error.empty())
		FUZZ_CHECK(same_accounts(b.accounts, m.accounts));
}

void fuzz_worker_message(std::string_view line)
{
	WorkerMessage m;
	m.user = "untouched";
	std::string error;
	if (worker_message_decode(line, m, error) < 0) {
		FUZZ_CHECK(m.user == "untouched" && m.verb.empty());
		FUZZ_CHECK(!error.empty() && fuzz_printable(error));
		return;
	}
	FUZZ_CHECK(!m.verb.empty());
	check_worker_round_trip(m, true);
	check_worker_round_trip(m, false);
}

/* ---- 1: STATUS ---- */

void fuzz_status(std::string_view json)
{
	std::map<std::string, ServiceLiveStatus> s, back;
	s["untouched"].push = "untouched";
	std::string error;
	if (service_status_decode(json, s, error) < 0) {
		FUZZ_CHECK(s.size() == 1 && s["untouched"].push == "untouched");
		FUZZ_CHECK(!error.empty() && fuzz_printable(error));
		return;
	}
	std::string text = service_status_encode(s);
	FUZZ_CHECK(!text.empty());
	FUZZ_CHECK(service_status_decode(text, back, error) == 0);
	FUZZ_CHECK(back.size() == s.size());
	for (const auto &[id, live] : s) {
		auto it = back.find(id);
		FUZZ_CHECK(it != back.end());
		FUZZ_CHECK(status_fields(it->second.status) ==
			   status_fields(live.status));
		FUZZ_CHECK(it->second.running == live.running &&
			   it->second.push == live.push);
	}
	FUZZ_CHECK(service_status_encode(back) == text);
}

/* ---- 2: snapshots ---- */

std::vector<ServiceAccount> accounts_copy(const ServicePlan &plan,
					  const std::string &user)
{
	std::vector<ServiceAccount> list;
	for (const ServiceAccount *a : plan.accounts_of(user))
		list.push_back(*a);
	return list;
}

/* encode_user() of plan decodes (into a copy) to the same accounts and
   encodes to the same bytes */
void check_snapshot(const ServicePlan &plan, const std::string &user)
{
	std::string json = plan.encode_user(user);
	if (!plan.has_user(user)) {
		FUZZ_CHECK(json.empty());
		return;
	}
	FUZZ_CHECK(!json.empty());
	ServicePlan copy = plan;
	std::string error;
	FUZZ_CHECK(copy.decode_user(user, json, error) == 0);
	FUZZ_CHECK(copy.encode_user(user) == json);
	FUZZ_CHECK(same_accounts(accounts_copy(copy, user),
				 accounts_copy(plan, user)));
	uint32_t uid, gid, uid2, gid2;
	FUZZ_CHECK(plan.user_ids(user, uid, gid) &&
		   copy.user_ids(user, uid2, gid2) && uid == uid2 &&
		   gid == gid2);
}

void fuzz_snapshot(std::string_view json)
{
	ServicePlan plan{ ServiceLimits() };
	ServiceAccount a;
	a.account.id = "fm-aaaaaaaa";
	a.account.host = "imap.example.net";
	a.account.protocol = Protocol::Imap;
	a.account.protocol_set = true;
	a.account.remote_user = "bob";
	a.secret = "v1:00:blob";
	plan.set_user("u", 1000, 100, { a });
	std::string before = plan.encode_user("u"), error;
	if (plan.decode_user("u", json, error) < 0) {
		FUZZ_CHECK(plan.encode_user("u") == before);
		FUZZ_CHECK(!error.empty() && fuzz_printable(error));
		return;
	}
	check_snapshot(plan, "u");
}

/* ---- 3: the plan ---- */

const char *const user_names[] = { "u1@example.org", "u2@example.org",
				   "u3@example.org" };
const char *const account_ids[] = { "fm-aaaaaaaa", "fm-bbbbbbbb",
				    "fm-cccccccc", "fm-dddddddd" };

using Key = std::pair<std::string, std::string>;

class PlanDriver {
public:
	PlanDriver(FuzzInput &in, ServiceLimits limits)
		: in_(in), limits_(limits), plan_(limits) {}

	void run()
	{
		bool trace = getenv("FUZZ_TRACE") != nullptr;
		/* 64 operations reach every state of three users with four
		   accounts each (the bugs found took a dozen); longer
		   programs only made each input slower, with the model
		   checked after every operation */
		for (int steps = 0; steps < 64 && !in_.empty(); steps++) {
			uint8_t op = in_.byte();
			if (trace)
				fprintf(stderr, "op %d at %lld, %zu in flight\n",
					op % 16, (long long)now_,
					running_.size());
			switch (op % 16) {
			case 0: case 1: set_user(); break;
			case 2: remove_user(); break;
			case 3: case 4: next_tasks(); break;
			case 5: task_end(0); break;
			case 6: task_end(1); break;
			case 7: task_end(2); break;
			case 8: look(); break;
			case 9: wake(); break;
			case 10: push_wanted(); break;
			case 11: push_unsupported(); break;
			case 12: check_snapshot(plan_, user()); break;
			default: now_ += 1 + in_.byte() * (op & 0x80 ? 97 : 3);
			}
			check_always();
		}
	}

private:
	struct ModelUser {
		uint64_t order = 0;
		int64_t last_look = 0;
	};

	std::string user() { return user_names[in_.byte() % 3]; }

	int64_t rel_time(uint8_t b)
	{
		/* 0 (never scheduled), the past, the near and far future */
		switch (b & 3) {
		case 0: return 0;
		case 1: return std::max<int64_t>(1, now_ - (b >> 2));
		case 2: return now_ + (b >> 2);
		default: return now_ + (b >> 2) * 600;
		}
	}

	ServiceAccount make_account(uint8_t id_byte)
	{
		uint8_t f = in_.byte(), t = in_.byte(), s = in_.byte();
		ServiceAccount a;
		a.account.id = account_ids[id_byte % 4];
		a.account.host = "mail.example.net";
		a.account.protocol = (f & 1) ? Protocol::Imap : Protocol::Pop3;
		a.account.protocol_set = true;
		a.account.remote_user = "bob";
		a.account.active = !(f & 2);
		a.account.push = (f & 4) != 0;
		if (f & 8) {
			a.account.auth = AuthMethod::OAuth2;
			a.account.oauth2_provider = "google";
		} else {
			a.secret = "v1:00:blob";
		}
		a.account.revision = (f >> 4) & 3;
		a.status.next_run = rel_time(t);
		a.status.held = (f & 0x40) != 0;
		if (a.status.held)
			a.status.next_run = 0;
		a.status.last_status = (s & 1) ? RunStatus::Ok :
			(s & 2) ? RunStatus::Error : RunStatus::Never;
		a.status.last_run = (s & 4) ? now_ - (s >> 3) * 10 : 0;
		a.status.failing_since = (s & 0x80) ? std::max<int64_t>(
			1, now_ - 86400 + (t >> 2) * 60) : 0;
		a.status.notified = (f & 0x80) != 0;
		if (s & 0x40) {
			a.summary.known = true;
			a.summary.pop3_count = s & 7;
			a.summary.pop3_digest = "00112233445566778899aabbccddeeff";
		}
		return a;
	}

	void set_user()
	{
		std::string u = user();
		uint8_t n = in_.byte();
		std::vector<ServiceAccount> accounts;
		std::set<std::string> ids;
		for (int i = 0; i < (n & 3) + (n & 4 ? 1 : 0); i++) {
			ServiceAccount a = make_account(in_.byte());
			if (!ids.insert(a.account.id).second)
				continue;
			accounts.push_back(std::move(a));
		}
		/* what set_user() promises: the summary of an account whose
		   record did not change is kept when the worker had none; an
		   edited account is due at once and its IDLE asked again */
		std::vector<ServiceAccount> expect = accounts;
		for (ServiceAccount &a : expect) {
			const ServiceAccount *old = plan_.find(u, a.account.id);
			if (old == nullptr)
				continue;
			if (old->account.revision == a.account.revision &&
			    !a.summary.known)
				a.summary = old->summary;
			/* an edited account: due at once, its IDLE asked
			   again */
			if (old->account.revision != a.account.revision) {
				if (a.status.next_run > 1)
					a.status.next_run = 1;
				no_idle_.erase({ u, a.account.id });
			}
		}
		if (!users_.count(u))
			users_[u].order = next_order_++;
		/* what the plan knew of accounts that are gone is gone */
		forget(u, &ids);
		plan_.set_user(u, 1000 + (n >> 4), 100, std::move(accounts));
		std::sort(expect.begin(), expect.end(),
			  [](const ServiceAccount &a, const ServiceAccount &b) {
				  return a.account.id < b.account.id;
			  });
		FUZZ_CHECK(same_accounts(accounts_copy(plan_, u), expect));
		uint32_t uid, gid;
		FUZZ_CHECK(plan_.user_ids(u, uid, gid) && uid == 1000u + (n >> 4));
	}

	void remove_user()
	{
		std::string u = user();
		plan_.remove_user(u);
		users_.erase(u);
		forget(u, nullptr);
		FUZZ_CHECK(!plan_.has_user(u) && plan_.accounts_of(u).empty());
	}

	/* woken and no-IDLE marks of u's accounts not in keep (all when
	   nullptr) */
	void forget(const std::string &u, const std::set<std::string> *keep)
	{
		auto gone = [&](const Key &key) {
			return key.first == u &&
				(keep == nullptr || !keep->count(key.second));
		};
		std::erase_if(woken_, gone);
		std::erase_if(no_idle_, [&](const auto &kv) {
			return gone(kv.first);
		});
	}

	/* when the plan may start a for its schedule (0: not at all) */
	int64_t due_time(const ServiceAccount &a) const
	{
		int64_t t = account_due_time(a.account, a.status);
		if (t == 0 && a.account.active && a.status.held)
			t = notice_due_time(a.status, limits_.notify_after_secs);
		return t;
	}

	size_t not_slow() const
	{
		size_t n = 0;
		for (const auto &[key, since] : running_) {
			if (now_ - since < static_cast<int64_t>(limits_.slow_after_secs))
				n++;
		}
		return n;
	}

	void next_tasks()
	{
		/* what is due now, by the model */
		std::map<Key, int64_t> due;
		for (const auto &[name, mu] : users_) {
			for (const ServiceAccount *a : plan_.accounts_of(name)) {
				Key key{ name, a->account.id };
				int64_t t = due_time(*a);
				if (t != 0 && t <= now_ && !running_.count(key))
					due[key] = t;
			}
		}
		std::vector<ServiceTask> tasks = plan_.next_tasks(now_);
		int64_t last = 0;
		for (const ServiceTask &task : tasks) {
			Key key{ task.user, task.id };
			const ServiceAccount *a = plan_.find(task.user, task.id);
			FUZZ_CHECK(a != nullptr);
			/* never one in flight: one task per account */
			FUZZ_CHECK(!running_.count(key));
			FUZZ_CHECK(a->account.active);
			FUZZ_CHECK(due.count(key) > 0);
			FUZZ_CHECK(due[key] >= last);
			last = due[key];
			bool check = a->summary.known &&
				a->account.auth == AuthMethod::Password &&
				a->status.last_status == RunStatus::Ok;
			FUZZ_CHECK((task.kind == ServiceTask::Kind::Check) == check);
			running_[key] = now_;
			tasks_[key] = task;
			due.erase(key);
		}
		FUZZ_CHECK(not_slow() <= limits_.max_parallel);
		/* what is left out: only for want of a slot, and due no
		   earlier than what was taken */
		for (const auto &[key, t] : due) {
			FUZZ_CHECK(not_slow() == limits_.max_parallel);
			FUZZ_CHECK(t >= last);
		}
	}

	/* ends a task in flight: 0 done, 1 lost, 2 unstarted */
	void task_end(int how)
	{
		if (running_.empty())
			return;
		auto it = running_.begin();
		std::advance(it, in_.byte() % running_.size());
		Key key = it->first;
		ServiceTask task = tasks_[key];
		running_.erase(it);
		tasks_.erase(key);
		const ServiceAccount *before = plan_.find(key.first, key.second);
		std::vector<ServiceAccount> old;
		if (before != nullptr)
			old.push_back(*before);
		bool woken = woken_.erase(key) > 0;

		if (how == 0) {
			uint8_t b = in_.byte();
			AccountStatus st;
			st.last_run = now_ - 5;
			st.last_status = (b & 1) ? RunStatus::Ok : RunStatus::Error;
			st.failures = (b & 1) ? 0 : (b >> 1) & 7;
			st.next_run = (b & 0x10) ? 0 : now_ + (b >> 5) * 100;
			st.held = (b & 0x10) != 0;
			st.failing_since = (b & 1) ? 0 : now_ - 100;
			PollSummary sum;
			sum.known = (b & 0x20) != 0;
			plan_.task_done(task, st, sum, now_);
			const ServiceAccount *a = plan_.find(key.first, key.second);
			FUZZ_CHECK((a == nullptr) == old.empty());
			if (a == nullptr)
				return;
			AccountStatus want = st;
			if (woken && a->account.active && !st.held)
				want.next_run = now_;
			FUZZ_CHECK(status_fields(a->status) == status_fields(want));
			FUZZ_CHECK(a->summary == sum);
		} else if (how == 1) {
			plan_.task_lost(task, now_);
			const ServiceAccount *a = plan_.find(key.first, key.second);
			FUZZ_CHECK((a == nullptr) == old.empty());
			if (a == nullptr)
				return;
			FUZZ_CHECK(!a->summary.known);
			FUZZ_CHECK(a->status.next_run == now_ + 60);
		} else {
			plan_.task_unstarted(task);
			const ServiceAccount *a = plan_.find(key.first, key.second);
			FUZZ_CHECK((a == nullptr) == old.empty());
			if (a != nullptr)
				FUZZ_CHECK(same_account(*a, old[0]));
		}
	}

	void look()
	{
		std::string u = user();
		std::vector<ServiceAccount> before = accounts_copy(plan_, u);
		bool made = plan_.look(u, now_);
		auto mu = users_.find(u);
		if (mu == users_.end()) {
			FUZZ_CHECK(!made);
			return;
		}
		bool limited = mu->second.last_look != 0 &&
			now_ - mu->second.last_look <
			static_cast<int64_t>(limits_.look_interval_secs);
		bool any = false;
		std::vector<ServiceAccount> after = accounts_copy(plan_, u);
		FUZZ_CHECK(after.size() == before.size());
		for (size_t i = 0; i < before.size(); i++) {
			const ServiceAccount &a = before[i];
			bool eligible = !limited &&
				!running_.count({ u, a.account.id }) &&
				account_due_time(a.account, a.status) != 0 &&
				now_ - a.status.last_run >=
				static_cast<int64_t>(limits_.look_age_secs);
			AccountStatus want = a.status;
			if (eligible) {
				want.next_run = now_;
				any = true;
			}
			FUZZ_CHECK(status_fields(after[i].status) ==
				   status_fields(want));
		}
		FUZZ_CHECK(made == any);
		if (made)
			mu->second.last_look = now_;
	}

	void wake()
	{
		std::string u = user();
		Key key{ u, account_ids[in_.byte() % 4] };
		const ServiceAccount *a = plan_.find(key.first, key.second);
		std::vector<ServiceAccount> old;
		if (a != nullptr)
			old.push_back(*a);
		plan_.wake(key.first, key.second, now_);
		if (old.empty())
			return;
		a = plan_.find(key.first, key.second);
		AccountStatus want = old[0].status;
		if (running_.count(key))
			woken_.insert(key);
		else if (old[0].account.active && !old[0].status.held)
			want.next_run = now_;
		FUZZ_CHECK(status_fields(a->status) == status_fields(want));
	}

	void push_wanted()
	{
		std::vector<std::tuple<uint64_t, std::string, std::string>> want;
		for (const auto &[name, mu] : users_) {
			for (const ServiceAccount *a : plan_.accounts_of(name)) {
				const Account &acc = a->account;
				auto nu = no_idle_.find({ name, acc.id });
				if (!acc.push || !acc.active ||
				    acc.protocol != Protocol::Imap ||
				    a->status.held ||
				    (nu != no_idle_.end() && nu->second > now_))
					continue;
				want.emplace_back(mu.order, name, acc.id);
			}
		}
		std::sort(want.begin(), want.end());
		std::vector<std::pair<std::string, std::string>> expect;
		for (const auto &[order, name, id] : want) {
			if (expect.size() < limits_.max_push)
				expect.emplace_back(name, id);
		}
		std::vector<std::pair<std::string, std::string>> got =
			plan_.push_wanted(now_);
		FUZZ_CHECK(got.size() <= limits_.max_push);
		FUZZ_CHECK(got == expect);
	}

	void push_unsupported()
	{
		std::string u = user();
		std::string id = account_ids[in_.byte() % 4];
		plan_.push_unsupported(u, id, now_);
		if (plan_.find(u, id) != nullptr)
			no_idle_[{ u, id }] = now_ + limits_.no_idle_retry_secs;
	}

	void check_always()
	{
		FUZZ_CHECK(plan_.busy_count() == running_.size());
		int64_t next = 0;
		for (const auto &[name, mu] : users_) {
			FUZZ_CHECK(plan_.has_user(name));
			for (const ServiceAccount *a : plan_.accounts_of(name)) {
				Key key{ name, a->account.id };
				bool running = running_.count(key) > 0;
				FUZZ_CHECK(plan_.busy(name, a->account.id) ==
					   running);
				int64_t t = due_time(*a);
				if (!running && t > 0)
					next = next == 0 ? t : std::min(next, t);
			}
		}
		FUZZ_CHECK(plan_.users().size() == users_.size());
		FUZZ_CHECK(plan_.next_due() == next);
	}

	FuzzInput &in_;
	ServiceLimits limits_;
	ServicePlan plan_;
	int64_t now_ = 1800000000;
	uint64_t next_order_ = 1;
	std::map<std::string, ModelUser> users_;
	std::map<Key, int64_t> running_;       /* in flight: since */
	std::map<Key, ServiceTask> tasks_;
	std::set<Key> woken_;                  /* woken while in flight */
	std::map<Key, int64_t> no_idle_;       /* IDLE refused: until */
};

void fuzz_plan(FuzzInput &in)
{
	uint8_t b = in.byte();
	ServiceLimits limits;
	limits.max_parallel = 1 + (b & 3);
	limits.max_push = (b >> 2) & 3;
	static const uint32_t slow[] = { 0, 30, 60, 600 };
	limits.slow_after_secs = slow[(b >> 4) & 3];
	limits.look_interval_secs = (b & 0x40) ? 0 : 60;
	limits.look_age_secs = (b & 0x80) ? 0 : 60;
	limits.no_idle_retry_secs = 3600;
	limits.notify_after_secs = 3600;
	PlanDriver(in, limits).run();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput in(data, size);
	switch (in.byte() % 4) {
	case 0: fuzz_worker_message(in.rest()); break;
	case 1: fuzz_status(in.rest()); break;
	case 2: fuzz_snapshot(in.rest()); break;
	default: fuzz_plan(in); break;
	}
	return 0;
}
