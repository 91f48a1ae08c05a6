#include "fetchmail-service.hh"

#include "fetchmail-json.hh"
#include "fetchmail-notice.hh"
#include "fetchmail-record.hh"
#include "fetchmail-schedule.hh"

#include <algorithm>
#include <tuple>

namespace fetchmail {

namespace {

const int SNAPSHOT_VERSION = 1;
/* a task whose worker died is tried again after this long */
const int64_t LOST_RETRY_SECS = 60;

} // namespace

void ServicePlan::set_user(const std::string &user, uint32_t uid,
			   uint32_t gid, std::vector<ServiceAccount> accounts)
{
	auto [it, added] = users_.try_emplace(user);
	User &u = it->second;
	if (added)
		u.order = next_order_++;
	u.uid = uid;
	u.gid = gid;

	std::map<std::string, Entry> fresh;
	for (ServiceAccount &a : accounts) {
		const std::string id = a.account.id;
		Entry e;
		auto old = u.accounts.find(id);
		if (old != u.accounts.end()) {
			e.again = old->second.again;
			/* a server without IDLE or a push that failed for good
			   is asked again once the account was edited */
			if (old->second.a.account.revision == a.account.revision)
				e.no_idle_until = old->second.no_idle_until;
			/* the same record: what the service learnt since the
			   worker stored the status stays */
			if (old->second.a.account.revision == a.account.revision &&
			    !a.summary.known)
				a.summary = old->second.a.summary;
			/* an edited account (a new password, another server) is
			   tried at once, whatever its backoff said */
			if (old->second.a.account.revision != a.account.revision &&
			    a.status.next_run > 1)
				a.status.next_run = 1;
		}
		e.a = std::move(a);
		fresh.emplace(id, std::move(e));
	}
	unqueue(user, u);
	u.accounts = std::move(fresh);
	for (const auto &[id, e] : u.accounts)
		requeue(user, id);
}

void ServicePlan::remove_user(const std::string &user)
{
	auto it = users_.find(user);
	if (it == users_.end())
		return;
	unqueue(user, it->second);
	users_.erase(it);
}

void ServicePlan::requeue(const std::string &user, const std::string &id)
{
	auto u = users_.find(user);
	if (u == users_.end())
		return;
	auto it = u->second.accounts.find(id);
	if (it == u->second.accounts.end())
		return;
	Entry &e = it->second;
	const Account &a = e.a.account;
	uint64_t order = u->second.order;

	if (e.queued != 0)
		due_.erase(Due(e.queued, order, user, id));
	e.queued = running_.count(Key(user, id)) > 0 ? 0 : due_time(e.a);
	if (e.queued != 0)
		due_.emplace(e.queued, order, user, id);

	bool push = a.push && a.active && a.protocol == Protocol::Imap &&
		!e.a.status.held;
	if (push && !e.push)
		pushes_.emplace(order, user, id);
	else if (!push && e.push)
		pushes_.erase(PushKey(order, user, id));
	e.push = push;
}

void ServicePlan::unqueue(const std::string &user, User &u)
{
	for (auto &[id, e] : u.accounts) {
		if (e.queued != 0)
			due_.erase(Due(e.queued, u.order, user, id));
		if (e.push)
			pushes_.erase(PushKey(u.order, user, id));
		e.queued = 0;
		e.push = false;
	}
}

bool ServicePlan::has_user(const std::string &user) const
{
	return users_.count(user) > 0;
}

bool ServicePlan::user_ids(const std::string &user, uint32_t &uid_r,
			   uint32_t &gid_r) const
{
	auto it = users_.find(user);
	if (it == users_.end())
		return false;
	uid_r = it->second.uid;
	gid_r = it->second.gid;
	return true;
}

std::vector<std::string> ServicePlan::users() const
{
	std::vector<std::string> list;
	for (const auto &[name, u] : users_)
		list.push_back(name);
	return list;
}

ServicePlan::Entry *ServicePlan::entry(const std::string &user,
				       const std::string &id)
{
	auto u = users_.find(user);
	if (u == users_.end())
		return nullptr;
	auto it = u->second.accounts.find(id);
	return it == u->second.accounts.end() ? nullptr : &it->second;
}

const ServicePlan::Entry *ServicePlan::entry(const std::string &user,
					     const std::string &id) const
{
	return const_cast<ServicePlan *>(this)->entry(user, id);
}

ServiceTask::Kind ServicePlan::task_kind(const ServiceAccount &a)
{
	if (a.summary.known && a.account.auth == AuthMethod::Password &&
	    a.status.last_status == RunStatus::Ok)
		return ServiceTask::Kind::Check;
	return ServiceTask::Kind::Run;
}

/* When an account is due: its next run; for an account held for the
   user's OAuth2 consent, which is not polled, when its failure notice
   becomes due (the run that delivers it finds consent still needed). */
int64_t ServicePlan::due_time(const ServiceAccount &a) const
{
	int64_t t = account_due_time(a.account, a.status);
	if (t == 0 && a.account.active && a.status.held)
		t = notice_due_time(a.status, limits_.notify_after_secs);
	return t;
}

size_t ServicePlan::busy_count() const
{
	return running_.size();
}

/* The free slots: max_parallel less the tasks that are not yet slow (the
   tasks of accounts that are gone count too: they still run). */
size_t ServicePlan::free_slots(int64_t now) const
{
	size_t counted = 0;

	/* slow at once: no task counts */
	if (limits_.slow_after_secs == 0)
		return SIZE_MAX;
	for (const auto &[key, since] : running_) {
		if (now - since < static_cast<int64_t>(limits_.slow_after_secs))
			counted++;
	}
	return counted < limits_.max_parallel ?
		limits_.max_parallel - counted : 0;
}

std::vector<ServiceTask> ServicePlan::next_tasks(int64_t now)
{
	std::vector<ServiceTask> tasks;
	size_t slots = free_slots(now);

	while (tasks.size() < slots && !due_.empty() &&
	       std::get<0>(*due_.begin()) <= now) {
		auto first = due_.extract(due_.begin());
		const auto &[when, order, user, id] = first.value();
		Entry *e = entry(user, id);
		e->queued = 0;
		running_[Key(user, id)] = now;
		tasks.push_back(ServiceTask{ task_kind(e->a), user, id });
	}
	return tasks;
}

ServicePlan::Entry *ServicePlan::task_ended(const ServiceTask &task)
{
	running_.erase(Key(task.user, task.id));
	return entry(task.user, task.id);
}

void ServicePlan::task_done(const ServiceTask &task,
			    const AccountStatus &status,
			    const PollSummary &summary, int64_t now)
{
	Entry *entry = task_ended(task);
	if (entry == nullptr)
		return;
	Entry &e = *entry;
	e.a.status = status;
	e.a.summary = summary;
	if (e.again) {
		e.again = false;
		if (e.a.account.active && !e.a.status.held)
			e.a.status.next_run = now;
	}
	requeue(task.user, task.id);
}

/* A wake while the task was in flight is for that task: the account is
   due as before (unstarted) or retried soon (lost), which fetches the new
   mail; a mark left behind would only run it once more after the next
   task. */
void ServicePlan::task_unstarted(const ServiceTask &task)
{
	Entry *entry = task_ended(task);
	if (entry == nullptr)
		return;
	entry->again = false;
	requeue(task.user, task.id);
}

void ServicePlan::task_lost(const ServiceTask &task, int64_t now)
{
	Entry *entry = task_ended(task);
	if (entry == nullptr)
		return;
	Entry &e = *entry;
	e.again = false;
	e.a.summary = PollSummary();
	e.a.status.next_run = now + LOST_RETRY_SECS;
	requeue(task.user, task.id);
}

int64_t ServicePlan::next_due() const
{
	return due_.empty() ? 0 : std::get<0>(*due_.begin());
}

bool ServicePlan::look(const std::string &user, int64_t now)
{
	auto it = users_.find(user);
	if (it == users_.end())
		return false;
	User &u = it->second;
	if (u.last_look != 0 &&
	    now - u.last_look < static_cast<int64_t>(limits_.look_interval_secs))
		return false;
	bool any = false;
	for (auto &[id, e] : u.accounts) {
		const AccountStatus &st = e.a.status;
		if (running_.count(Key(user, id)) > 0 ||
		    account_due_time(e.a.account, st) == 0 ||
		    now - st.last_run < static_cast<int64_t>(limits_.look_age_secs))
			continue;
		e.a.status.next_run = now;
		requeue(user, id);
		any = true;
	}
	if (any)
		u.last_look = now;
	return any;
}

void ServicePlan::wake(const std::string &user, const std::string &id,
		       int64_t now)
{
	Entry *found = entry(user, id);
	if (found == nullptr)
		return;
	Entry &e = *found;
	if (running_.count(Key(user, id)) > 0) {
		e.again = true;
	} else if (e.a.account.active && !e.a.status.held) {
		e.a.status.next_run = now;
		requeue(user, id);
	}
}

std::vector<std::pair<std::string, std::string>>
ServicePlan::push_wanted(int64_t now) const
{
	std::vector<std::pair<std::string, std::string>> list;

	for (const auto &[order, user, id] : pushes_) {
		if (list.size() >= limits_.max_push)
			break;
		if (entry(user, id)->no_idle_until <= now)
			list.emplace_back(user, id);
	}
	return list;
}

void ServicePlan::push_unsupported(const std::string &user,
				   const std::string &id, int64_t now)
{
	Entry *e = entry(user, id);
	if (e != nullptr)
		e->no_idle_until = now + limits_.no_idle_retry_secs;
}

const ServiceAccount *ServicePlan::find(const std::string &user,
					const std::string &id) const
{
	const Entry *e = entry(user, id);
	return e == nullptr ? nullptr : &e->a;
}

std::vector<const ServiceAccount *>
ServicePlan::accounts_of(const std::string &user) const
{
	std::vector<const ServiceAccount *> list;
	auto u = users_.find(user);
	if (u != users_.end()) {
		for (const auto &[id, e] : u->second.accounts)
			list.push_back(&e.a);
	}
	return list;
}

bool ServicePlan::busy(const std::string &user, const std::string &id) const
{
	return running_.count(Key(user, id)) > 0;
}

/* ---- accounts as JSON ---- */

static Json::Value account_to_json(const ServiceAccount &a)
{
	Json::Value v(Json::objectValue);
	v["account"] = account_record_encode(a.account, a.secret);
	v["status"] = status_record_encode(a.status);
	v["summary"] = poll_summary_encode(a.summary);
	return v;
}

static int account_from_json(const Json::Value &v, ServiceAccount &a,
			     std::string &error_r)
{
	std::string record, status, summary;

	if (!v.isObject())
		return json_type_error(error_r, "accounts", "a list of objects");
	if (json_get(v, "account", record, error_r) < 0 ||
	    json_get(v, "status", status, error_r) < 0 ||
	    json_get(v, "summary", summary, error_r) < 0 ||
	    account_record_decode(record, a.account, a.secret, error_r) < 0 ||
	    (!status.empty() &&
	     status_record_decode(status, a.status, error_r) < 0) ||
	    (!summary.empty() &&
	     poll_summary_decode(summary, a.summary, error_r) < 0))
		return -1;
	return 0;
}

static int accounts_from_json(const Json::Value &list,
			      std::vector<ServiceAccount> &accounts_r,
			      std::string &error_r)
{
	if (!list.isArray())
		return json_type_error(error_r, "accounts", "a list");
	for (const Json::Value &v : list) {
		ServiceAccount a;
		if (account_from_json(v, a, error_r) < 0)
			return -1;
		accounts_r.push_back(std::move(a));
	}
	return 0;
}

/* ---- worker messages ---- */

std::string worker_message_encode(bool request, const WorkerMessage &msg)
{
	try {
		Json::Value root(Json::objectValue);
		root[request ? "do" : "ev"] = msg.verb;
		if (!msg.user.empty())
			root["user"] = msg.user;
		if (!msg.id.empty())
			root["id"] = msg.id;
		if (!msg.kind.empty())
			root["kind"] = msg.kind;
		if (!msg.state.empty())
			root["state"] = msg.state;
		if (!msg.error.empty())
			root["error"] = msg.error;
		if (msg.nouser)
			root["nouser"] = true;
		if ((msg.verb == "loaded" || msg.verb == "resolved") &&
		    msg.error.empty()) {
			root["uid"] = msg.uid;
			root["gid"] = msg.gid;
		}
		if (msg.verb == "done") {
			root["ok"] = msg.ok;
			root["fetched"] = Json::UInt64(msg.fetched);
		}
		if (msg.has_summary)
			root["summary"] = poll_summary_encode(msg.summary);
		if (msg.revision != 0)
			root["rev"] = Json::UInt64(msg.revision);
		if (msg.has_status)
			root["status"] = status_record_encode(msg.status);
		if ((msg.verb == "task" || msg.verb == "push") &&
		    !msg.accounts.empty())
			root["account"] = account_to_json(msg.accounts[0]);
		if (msg.verb == "loaded" && msg.error.empty()) {
			Json::Value &list = root["accounts"] = Json::arrayValue;
			for (const ServiceAccount &a : msg.accounts)
				list.append(account_to_json(a));
		}
		return json_write(root);
	} catch (const std::exception &) {
		return "";
	}
}

static int worker_message_read(std::string_view line, WorkerMessage &m,
			       std::string &error_r)
{
	Json::Value root;
	std::string status, summary;

	if (json_read_object(line, root, error_r) < 0)
		return -1;
	if (json_get(root, "do", m.verb, error_r) < 0 ||
	    (m.verb.empty() && json_get(root, "ev", m.verb, error_r) < 0) ||
	    json_get(root, "user", m.user, error_r) < 0 ||
	    json_get(root, "id", m.id, error_r) < 0 ||
	    json_get(root, "kind", m.kind, error_r) < 0 ||
	    json_get(root, "state", m.state, error_r) < 0 ||
	    json_get(root, "error", m.error, error_r) < 0 ||
	    json_get(root, "nouser", m.nouser, error_r) < 0 ||
	    json_get(root, "uid", m.uid, error_r) < 0 ||
	    json_get(root, "gid", m.gid, error_r) < 0 ||
	    json_get(root, "ok", m.ok, error_r) < 0 ||
	    json_get(root, "fetched", m.fetched, error_r) < 0 ||
	    json_get(root, "rev", m.revision, error_r) < 0)
		return -1;
	if (m.verb.empty())
		return json_type_error(error_r, "do/ev", "a verb");
	int ret = json_get(root, "status", status, error_r);
	if (ret < 0 ||
	    (ret > 0 && status_record_decode(status, m.status, error_r) < 0))
		return -1;
	m.has_status = ret > 0;
	ret = json_get(root, "summary", summary, error_r);
	if (ret < 0 || (!summary.empty() &&
			poll_summary_decode(summary, m.summary, error_r) < 0))
		return -1;
	m.has_summary = ret > 0;
	if (root.isMember("account")) {
		ServiceAccount a;
		if (account_from_json(root["account"], a, error_r) < 0)
			return -1;
		m.accounts.push_back(std::move(a));
	}
	if (root.isMember("accounts") &&
	    accounts_from_json(root["accounts"], m.accounts, error_r) < 0)
		return -1;
	return 0;
}

int worker_message_decode(std::string_view line, WorkerMessage &msg_r,
			  std::string &error_r)
{
	try {
		WorkerMessage m;
		if (worker_message_read(line, m, error_r) < 0)
			return -1;
		msg_r = std::move(m);
	} catch (const std::exception &e) {
		error_r = e.what();
		return -1;
	}
	return 0;
}

/* ---- STATUS ---- */

std::string service_status_encode(
	const std::map<std::string, ServiceLiveStatus> &statuses)
{
	try {
		Json::Value root(Json::objectValue);
		for (const auto &[id, live] : statuses) {
			Json::Value &v = root[id] = Json::objectValue;
			v["status"] = status_record_encode(live.status);
			v["running"] = live.running;
			if (!live.push.empty())
				v["push"] = live.push;
		}
		return json_write(root);
	} catch (const std::exception &) {
		return "";
	}
}

int service_status_decode(std::string_view json,
			  std::map<std::string, ServiceLiveStatus> &statuses_r,
			  std::string &error_r)
{
	try {
		Json::Value root;
		std::map<std::string, ServiceLiveStatus> statuses;

		if (json_read_object(json, root, error_r) < 0)
			return -1;
		for (const std::string &id : root.getMemberNames()) {
			const Json::Value &v = root[id];
			ServiceLiveStatus live;
			std::string status;
			/* the key is quoted: an error is one line of text */
			if (!v.isObject())
				return json_type_error(
					error_r, "'" + account_quote_value(id) + "'",
					"an object");
			if (json_get(v, "status", status, error_r) < 0 ||
			    json_get(v, "running", live.running, error_r) < 0 ||
			    json_get(v, "push", live.push, error_r) < 0 ||
			    status_record_decode(status, live.status,
						 error_r) < 0)
				return -1;
			statuses.emplace(id, std::move(live));
		}
		statuses_r = std::move(statuses);
	} catch (const std::exception &e) {
		error_r = e.what();
		return -1;
	}
	return 0;
}

/* ---- the snapshot on disk ---- */

std::string ServicePlan::encode_user(const std::string &user) const
{
	auto it = users_.find(user);
	if (it == users_.end())
		return "";
	try {
		Json::Value root(Json::objectValue);
		root["v"] = SNAPSHOT_VERSION;
		root["uid"] = it->second.uid;
		root["gid"] = it->second.gid;
		Json::Value &list = root["accounts"] = Json::arrayValue;
		for (const auto &[id, e] : it->second.accounts)
			list.append(account_to_json(e.a));
		return json_write(root);
	} catch (const std::exception &) {
		return "";
	}
}

int ServicePlan::decode_user(const std::string &user, std::string_view json,
			     std::string &error_r)
{
	try {
		Json::Value root;
		int version;
		uint32_t uid = 0, gid = 0;
		std::vector<ServiceAccount> accounts;

		if (json_read_object(json, root, error_r) < 0 ||
		    json_version(root, SNAPSHOT_VERSION, "v", "a version number",
				 version, error_r) < 0 ||
		    json_get(root, "uid", uid, error_r) < 0 ||
		    json_get(root, "gid", gid, error_r) < 0)
			return -1;
		if (accounts_from_json(root["accounts"], accounts, error_r) < 0)
			return -1;
		set_user(user, uid, gid, std::move(accounts));
	} catch (const std::exception &e) {
		error_r = e.what();
		return -1;
	}
	return 0;
}

} // namespace fetchmail
