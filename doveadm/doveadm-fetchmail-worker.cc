#include "doveadm-fetchmail.hh"
#include "fetchmail-http.hh"
#include "fetchmail-mailbox.hh"
#include "fetchmail-oauth2-refresh.hh"
#include "fetchmail-push-conn.hh"
#include "fetchmail-retrieve.hh"
#include "fetchmail-service.hh"

extern "C" {
#include "connection.h"
#include "doveadm-settings.h"
#include "ipwd.h"
#include "mail-storage-service.h"
#include "mail-storage-settings.h"
#include "master-service.h"
}

#include <unistd.h>
#ifdef __GLIBC__
#  include <malloc.h>
#endif

#include <deque>
#include <map>
#include <memory>

using namespace fetchmail;

/* `doveadm fetchmail worker`: a worker process of the fetch service (see
   doveadm-fetchmail-service.cc), started by it with its line to the
   service on stdin. Not for people.

   It starts as root and drops to the uid and gid of the first user it
   opens, for good; afterwards it serves only users of that uid and gid
   (the service routes them so, and every user opened is checked). Many
   accounts run at once in its one ioloop:

     check  an account the service sent (record and encrypted password),
            or named by its revision when the worker keeps it already
            (known_): a cheap poll without the user's storage
            (RunMode::Check); when the remote mailbox changed, or the poll
            failed, the account is run at once (a failed poll's status is
            stored by the run)
     run    a full run of an account as read from the user's storage now
     load   the user's accounts, from the attributes
     resolve  only the user's uid and gid (a userdb lookup)

   A user's storage is opened for a load or a run and closed shortly after
   the last of them ended. On "stop", or when the service's line closes,
   every run is ended safely (what is committed stays, nothing more is
   deleted) and the process exits. */

namespace {

/* a user's storage stays open this long after its last task */
const unsigned int WORKER_USER_LINGER_MSECS = 5 * 1000;
/* the longest line the service sends (a check's account) */
const size_t WORKER_MAX_LINE = 1024 * 1024;

class Worker;

struct WorkerConn {
	struct connection conn;
	Worker *worker;
};

/* A user whose storage is open. */
struct OpenUser {
	Worker *worker = nullptr;
	std::string name;
	struct mail_storage_service_user *suser = nullptr;
	struct mail_user *user = nullptr;
	std::unique_ptr<Store> store;
	std::unique_ptr<HttpClient> http;
	unsigned int refs = 0;
	struct timeout *to_close = nullptr;
	/* mbox: the user's runs take turns (fetchmail-mailbox.hh) */
	bool take_turns = false;
	unsigned int runs_active = 0;
	std::deque<std::string> waiting;     /* task keys */
};

/* A push connection the service asked for (fetchmail-push-conn.hh). */
struct Push : public PushConnHandler {
	Worker *worker = nullptr;
	std::string user, key;
	Account account;
	std::unique_ptr<PushConn> conn;
	/* OAuth2: the token being got, and the user it holds open */
	std::unique_ptr<OAuth2Refresh> refresh;
	OpenUser *token_user = nullptr;
	bool stopping = false;

	void push_state(PushConn &conn, PushState state,
			const std::string &detail) override;
	void push_changed(PushConn &conn) override;
	void push_token(PushConn &conn, bool force,
			std::function<void(const PushToken &)> done) override;
};

/* A check or run in progress. */
struct Task {
	std::string user, id, kind;
	uint64_t revision = 0;         /* of the account it runs */
	std::unique_ptr<AccountTask> run;
	OpenUser *open = nullptr;      /* runs: the user it holds open */
	bool active = false;           /* counted in open->runs_active */
};

class Worker {
public:
	/* what ended, destroyed from the ioloop (not inside its own
	   callback, whose captures it owns); then the user it held open is
	   given back */
	struct Ended {
		std::unique_ptr<AccountTask> run;
		std::unique_ptr<Push> push;
		std::unique_ptr<OAuth2Refresh> refresh;
		OpenUser *release = nullptr;
	};

	int init(std::string &error_r);
	void deinit();
	void line(const char *line);
	void service_gone();
	void close_user(OpenUser *open);
	bool busy() const { return !tasks_.empty() || !pushes_.empty(); }

	/* for Push */
	void reply(const WorkerMessage &msg);
	OpenUser *open_user(const std::string &user, bool &nouser_r,
			    std::string &error_r);
	void release_user(OpenUser *open);
	void push_ended(const std::string &key);
	void token_done(Push &push, const OAuth2RefreshResult &r,
			const std::function<void(const PushToken &)> &done);
	const Settings &settings() const { return set_; }

	/* the line closed or "stop": end everything */
	bool stopping = false;

private:
	int lookup(const std::string &user,
		   struct mail_storage_service_user **suser_r,
		   uid_t &uid_r, gid_t &gid_r, bool &nouser_r,
		   std::string &error_r);
	void do_resolve(const WorkerMessage &msg);
	void do_load(const WorkerMessage &msg);
	void do_task(WorkerMessage &msg);
	void do_push(WorkerMessage &msg);
	void do_unpush(const WorkerMessage &msg);
	PushConnEnv push_env(const std::string &user) const;
	void start_check(Task &task, ServiceAccount account);
	void start_run(Task &task);
	void run_now(Task &task);
	void task_done(const std::string &key, const RunReport *report);
	void remember(const Task &task, const RunReport *report);
	void forget_changed(const std::string &user,
			    const std::vector<ServiceAccount> &loaded);
	void maybe_exit();
	void bury(Ended ended);
	friend void worker_reap_cb(Worker *w);

	struct mail_storage_service_ctx *storage_ = nullptr;
	struct connection_list *list_ = nullptr;
	WorkerConn *wc_ = nullptr;
	struct event *event_ = nullptr;
	Settings set_;
	std::string base_dir_;

	bool adopted_ = false;
	uid_t uid_ = (uid_t)-1;
	gid_t gid_ = (gid_t)-1;
	/* the first user's lookup: its ssl_client_* settings serve checks */
	struct mail_storage_service_user *anchor_ = nullptr;

	std::map<std::string, std::unique_ptr<OpenUser>> users_;
	std::map<std::string, std::unique_ptr<Task>> tasks_;
	std::map<std::string, std::unique_ptr<Push>> pushes_;
	/* task_key() -> the account as the last check of it was sent, with
	   the status and summary of its last task here: what the service
	   has, so that it can name a check by the revision */
	std::map<std::string, ServiceAccount> known_;
	std::vector<Ended> ended_;
	struct timeout *to_reap_ = nullptr;
	struct timeout *to_exit_ = nullptr;
};

std::string task_key(const std::string &user, const std::string &id)
{
	return user + '\n' + id;
}

/* ---- the line to the service ---- */

void worker_conn_destroy(struct connection *conn)
{
	Worker *w = reinterpret_cast<WorkerConn *>(conn)->worker;
	try {
		w->service_gone();
	} catch (const std::exception &e) {
		i_error("fetchmail worker: internal error: %s", e.what());
	}
}

int worker_conn_input_line(struct connection *conn, const char *line)
{
	Worker *w = reinterpret_cast<WorkerConn *>(conn)->worker;
	try {
		w->line(line);
	} catch (const std::exception &e) {
		i_error("fetchmail worker: internal error: %s", e.what());
	}
	return w->stopping ? 0 : 1;
}

int Worker::init(std::string &error_r)
{
	if (settings_parse(fetchmail_plugin_setting, set_, error_r) < 0)
		return -1;
	base_dir_ = doveadm_settings->base_dir;
	storage_ = mail_storage_service_init(master_service, nullptr,
		static_cast<enum mail_storage_service_flags>(
			MAIL_STORAGE_SERVICE_FLAG_USERDB_LOOKUP |
			MAIL_STORAGE_SERVICE_FLAG_NO_LOG_INIT));
	event_ = event_create(nullptr);
	list_ = fetchmail_worker_line_list_init(WORKER_MAX_LINE,
						worker_conn_destroy,
						worker_conn_input_line);
	wc_ = i_new(WorkerConn, 1);
	wc_->worker = this;
	net_set_nonblock(STDIN_FILENO, TRUE);
	connection_init_server(list_, &wc_->conn, "service", STDIN_FILENO,
			       STDIN_FILENO);
	return 0;
}

void Worker::deinit()
{
	pushes_.clear();
	tasks_.clear();
	ended_.clear();
	if (to_reap_ != nullptr)
		timeout_remove(&to_reap_);
	while (!users_.empty())
		close_user(users_.begin()->second.get());
	if (anchor_ != nullptr)
		mail_storage_service_user_unref(&anchor_);
	if (to_exit_ != nullptr)
		timeout_remove(&to_exit_);
	if (wc_ != nullptr) {
		connection_deinit(&wc_->conn);
		i_free(wc_);
	}
	connection_list_deinit(&list_);
	event_unref(&event_);
	mail_storage_service_deinit(&storage_);
}

void Worker::reply(const WorkerMessage &msg)
{
	if (wc_ == nullptr)
		return;
	std::string line = worker_message_encode(false, msg);
	if (line.empty()) {
		i_error("fetchmail worker: cannot encode a %s for %s",
			msg.verb.c_str(), msg.user.c_str());
		return;
	}
	line += '\n';
	o_stream_nsend(wc_->conn.output, line.data(), line.size());
}

void Worker::line(const char *line)
{
	WorkerMessage msg;
	std::string error;

	if (worker_message_decode(line, msg, error) < 0) {
		i_error("fetchmail worker: bad message from the service: %s",
			error.c_str());
		return;
	}
	if (msg.verb == "resolve")
		do_resolve(msg);
	else if (msg.verb == "load")
		do_load(msg);
	else if (msg.verb == "task")
		do_task(msg);
	else if (msg.verb == "stop")
		service_gone();
	else if (msg.verb == "push")
		do_push(msg);
	else if (msg.verb == "unpush")
		do_unpush(msg);
	else
		i_error("fetchmail worker: unknown message %s", msg.verb.c_str());
}

void worker_reap_cb(Worker *w);

void worker_exit_cb(Worker *w)
{
	(void)w;
	io_loop_stop(current_ioloop);
}

void Worker::maybe_exit()
{
	if (stopping && tasks_.empty() && pushes_.empty() &&
	    to_exit_ == nullptr)
		to_exit_ = fetchmail_timeout_add(0, worker_exit_cb, this);
}

/* The service stopped us or went away: end every run safely. */
void Worker::service_gone()
{
	if (!stopping) {
		stopping = true;
		std::vector<std::string> waiting;
		for (auto &[key, task] : tasks_) {
			if (task->run != nullptr)
				task->run->interrupt();
			else
				waiting.push_back(key);
		}
		/* runs that waited for their turn do not start */
		for (const std::string &key : waiting)
			task_done(key, nullptr);
		/* push connections log out */
		std::vector<std::string> keys;
		for (auto &[key, push] : pushes_)
			keys.push_back(key);
		for (const std::string &key : keys) {
			WorkerMessage msg;
			size_t nl = key.find('\n');
			msg.user = key.substr(0, nl);
			msg.id = key.substr(nl + 1);
			do_unpush(msg);
		}
	}
	if (wc_ != nullptr && wc_->conn.disconnected) {
		/* nobody to report to */
		connection_deinit(&wc_->conn);
		i_free(wc_);
	}
	maybe_exit();
}

/* ---- push connections ---- */

PushConnEnv Worker::push_env(const std::string &user) const
{
	PushConnEnv env;

	env.event_parent = event_;
	env.username = user;
	env.ssl = mail_storage_service_user_get_ssl_settings(anchor_);
	env.dns_client_socket = base_dir_ + "/dns-client";
	env.timeout_msecs = set_.timeout_msecs;
	return env;
}

void Worker::do_push(WorkerMessage &msg)
{
	std::string key = task_key(msg.user, msg.id), error;
	StoreError kind;

	if (stopping || msg.accounts.size() != 1 || pushes_.count(key) > 0)
		return;
	if (!adopted_) {
		/* the first user: drop to its uid before any remote byte */
		bool nouser;
		OpenUser *open = open_user(msg.user, nouser, error);
		if (open == nullptr) {
			i_error("fetchmail worker: %s: %s", msg.user.c_str(),
				error.c_str());
			return;
		}
		release_user(open);
	}
	StoredAccount stored;
	stored.account = std::move(msg.accounts[0].account);
	stored.password_blob = std::move(msg.accounts[0].secret);
	if (stored.account.auth == AuthMethod::Password &&
	    account_decrypt_password(set_.keys, msg.user, stored, kind,
				     error) < 0) {
		WorkerMessage out;
		out.verb = "push";
		out.user = msg.user;
		out.id = msg.id;
		out.state = "failed";
		out.error = error;
		reply(out);
		return;
	}
	auto push = std::make_unique<Push>();
	push->worker = this;
	push->user = msg.user;
	push->key = key;
	push->account = stored.account;
	push->conn = std::make_unique<PushConn>(push_env(msg.user),
						stored.account, *push);
	safe_memset(&stored.account.password[0], 0,
		    stored.account.password.size());
	Push &p = *push;
	pushes_[key] = std::move(push);
	p.conn->start();
}

void Worker::do_unpush(const WorkerMessage &msg)
{
	std::string key = task_key(msg.user, msg.id);
	auto it = pushes_.find(key);

	if (it == pushes_.end() || it->second->stopping)
		return;
	Push &p = *it->second;
	p.stopping = true;
	p.conn->stop([this, key] { push_ended(key); });
}

/* A push connection ended: forget it (from the ioloop, never inside its
   own callbacks). */
void Worker::push_ended(const std::string &key)
{
	auto it = pushes_.find(key);
	if (it == pushes_.end())
		return;
	std::unique_ptr<Push> push = std::move(it->second);
	pushes_.erase(it);
	/* the PushConn is inside its stopped callback: destroyed later,
	   with a token refresh still under way */
	OpenUser *open = push->token_user;
	push->token_user = nullptr;
	std::unique_ptr<OAuth2Refresh> refresh = std::move(push->refresh);
	bury(Ended{ nullptr, std::move(push), std::move(refresh), open });
}

void Push::push_state(PushConn &, PushState state, const std::string &detail)
{
	WorkerMessage out;

	out.verb = "push";
	out.user = user;
	out.id = account.id;
	out.state = push_state_name(state);
	out.error = detail;
	worker->reply(out);
	if (state == PushState::Unsupported || state == PushState::Failed) {
		/* closed for good: the service polls the account */
		stopping = true;
		conn->stop([w = worker, k = key] { w->push_ended(k); });
	}
}

void Push::push_changed(PushConn &)
{
	WorkerMessage out;

	out.verb = "push";
	out.user = user;
	out.id = account.id;
	out.state = "changed";
	worker->reply(out);
}

void Push::push_token(PushConn &, bool force,
		      std::function<void(const PushToken &)> done)
{
	std::string error;
	bool nouser;
	PushToken token;

	if (token_user == nullptr)
		token_user = worker->open_user(user, nouser, error);
	if (token_user == nullptr) {
		token.error = error;
		done(token);
		return;
	}
	OAuth2RefreshOptions options;
	options.force = force;
	refresh = std::make_unique<OAuth2Refresh>(*token_user->store,
		*settings_of(token_user->user), *token_user->http, account);
	refresh->start(options, [this, done](const OAuth2RefreshResult &r) {
		worker->token_done(*this, r, done);
	});
}

void Worker::token_done(Push &push, const OAuth2RefreshResult &r,
			const std::function<void(const PushToken &)> &done)
{
	PushToken t;

	t.ok = r.status == OAuth2RefreshStatus::Ok;
	t.token = r.access_token;
	t.mechanism = r.mechanism_name;
	t.permanent = r.status == OAuth2RefreshStatus::ConsentNeeded ||
		r.status == OAuth2RefreshStatus::Config;
	t.error = r.error;
	/* the user's storage is not needed while idling: given back once
	   the refresh (inside this callback now) is gone */
	OpenUser *open = push.token_user;
	push.token_user = nullptr;
	bury(Ended{ nullptr, nullptr, std::move(push.refresh), open });
	done(t);
}

/* ---- users ---- */

static bool worker_parse_id(const char *value, bool group, uint32_t &id_r)
{
	if (str_to_uint32(value, &id_r) == 0)
		return true;
	if (group) {
		struct group gr;
		if (i_getgrnam(value, &gr) <= 0)
			return false;
		id_r = gr.gr_gid;
		return true;
	}
	struct passwd pw;
	if (i_getpwnam(value, &pw) <= 0)
		return false;
	id_r = pw.pw_uid;
	return true;
}

/* 1 found, 0 no such user, -1 error */
int Worker::lookup(const std::string &user,
		   struct mail_storage_service_user **suser_r,
		   uid_t &uid_r, gid_t &gid_r, bool &nouser_r,
		   std::string &error_r)
{
	struct mail_storage_service_input input;
	const char *error;
	uint32_t uid, gid;

	nouser_r = false;
	i_zero(&input);
	input.module = "mail";
	input.service = "doveadm";
	input.username = user.c_str();
	if (adopted_) {
		/* privileges were dropped for good: the user must be ours */
		input.flags_override_add =
			MAIL_STORAGE_SERVICE_FLAG_NO_RESTRICT_ACCESS;
	}
	int ret = mail_storage_service_lookup(storage_, &input, suser_r,
					      &error);
	if (ret <= 0) {
		nouser_r = ret == 0;
		error_r = ret == 0 ? "no such user" :
			std::string("userdb lookup failed: ") + error;
		return ret;
	}
	const struct mail_user_settings *user_set =
		static_cast<const struct mail_user_settings *>(
			mail_storage_service_user_get_set(*suser_r)[0]);
	if (!worker_parse_id(user_set->mail_uid, false, uid) ||
	    !worker_parse_id(user_set->mail_gid, true, gid)) {
		error_r = std::string("no usable uid/gid (mail_uid '") +
			user_set->mail_uid + "', mail_gid '" +
			user_set->mail_gid + "')";
		mail_storage_service_user_unref(suser_r);
		return -1;
	}
	uid_r = uid;
	gid_r = gid;
	return 1;
}

OpenUser *Worker::open_user(const std::string &user, bool &nouser_r,
			    std::string &error_r)
{
	auto it = users_.find(user);
	if (it != users_.end()) {
		OpenUser *open = it->second.get();
		if (open->to_close != nullptr)
			timeout_remove(&open->to_close);
		open->refs++;
		return open;
	}

	struct mail_storage_service_user *suser;
	uid_t uid;
	gid_t gid;
	const char *error;

	if (lookup(user, &suser, uid, gid, nouser_r, error_r) <= 0)
		return nullptr;
	if (adopted_ && (uid != uid_ || gid != gid_)) {
		error_r = "uid " + std::to_string(uid) + "/gid " +
			std::to_string(gid) + " is not this worker's (" +
			std::to_string(uid_) + "/" + std::to_string(gid_) + ")";
		mail_storage_service_user_unref(&suser);
		return nullptr;
	}
	auto open = std::make_unique<OpenUser>();
	open->worker = this;
	open->name = user;
	open->suser = suser;
	if (mail_storage_service_next(storage_, suser, &open->user,
				      &error) < 0) {
		error_r = std::string("opening the user failed: ") + error;
		mail_storage_service_user_unref(&open->suser);
		return nullptr;
	}
	/* lib-storage's timeouts keep the user's log context; ours carry
	   their own prefixes */
	mail_storage_service_io_deactivate_user(suser);
	if (!adopted_) {
		/* restrict_access() dropped to the user's uid for good */
		adopted_ = true;
		uid_ = uid;
		gid_ = gid;
		anchor_ = suser;
		mail_storage_service_user_ref(anchor_);
		i_info("fetchmail worker: serving uid %ld gid %ld", (long)uid,
		       (long)gid);
	}
	const Settings *set = settings_of(open->user);
	if (set == nullptr || open->user->error != nullptr) {
		error_r = open->user->error != nullptr ? open->user->error :
			"the fetchmail plugin is not in mail_plugins";
		close_user(open.get());
		return nullptr;
	}
	open->store = std::make_unique<Store>(open->user, *set);
	if (open->store->open(error_r) < 0) {
		close_user(open.get());
		return nullptr;
	}
	HttpSettings http_set;
	http_set.timeout_msecs = set->timeout_msecs;
	http_set.user = open->user;
	open->http = std::make_unique<HttpClient>(http_set);
	open->refs = 1;
	open->take_turns = set->delivery == DeliveryMethod::Storage &&
		mailbox_saves_take_turns(open->user);
	OpenUser *ret = open.get();
	users_[user] = std::move(open);
	return ret;
}

void worker_user_close_cb(OpenUser *open)
{
	try {
		open->worker->close_user(open);
	} catch (const std::exception &e) {
		i_error("fetchmail worker: internal error: %s", e.what());
	}
}

void Worker::release_user(OpenUser *open)
{
	i_assert(open->refs > 0);
	if (--open->refs > 0)
		return;
	if (stopping) {
		close_user(open);
		return;
	}
	open->to_close = fetchmail_timeout_add(WORKER_USER_LINGER_MSECS,
					       worker_user_close_cb, open);
}

void Worker::close_user(OpenUser *open)
{
	struct ioloop_context *ctx = io_loop_get_current_context(current_ioloop);

	if (open->to_close != nullptr)
		timeout_remove(&open->to_close);
	open->http.reset();
	open->store.reset();
	if (ctx != nullptr)
		io_loop_context_deactivate(ctx);
	if (open->user != nullptr)
		mail_user_deinit(&open->user);
	if (open->suser != nullptr)
		mail_storage_service_user_unref(&open->suser);
	users_.erase(open->name);
#ifdef __GLIBC__
	/* the last storage closed: what the users' runs and loads left
	   free inside the heap goes back to the system (a worker lives
	   long, mostly between bursts of work) */
	if (users_.empty())
		malloc_trim(0);
#endif
}

/* ---- requests ---- */

void Worker::do_resolve(const WorkerMessage &msg)
{
	struct mail_storage_service_user *suser;
	WorkerMessage out;
	uid_t uid;
	gid_t gid;

	out.verb = "resolved";
	out.user = msg.user;
	if (lookup(msg.user, &suser, uid, gid, out.nouser, out.error) > 0) {
		out.uid = uid;
		out.gid = gid;
		mail_storage_service_user_unref(&suser);
	}
	reply(out);
}

void Worker::do_load(const WorkerMessage &msg)
{
	WorkerMessage out;
	std::vector<std::string> ids;
	OpenUser *open;

	out.verb = "loaded";
	out.user = msg.user;
	if ((open = open_user(msg.user, out.nouser, out.error)) == nullptr) {
		if (out.nouser)
			forget_changed(msg.user, out.accounts);
		reply(out);
		return;
	}
	if (open->store->list_ids(ids, out.error) < 0) {
		release_user(open);
		reply(out);
		return;
	}
	for (const std::string &id : ids) {
		StoredAccount stored;
		std::string error;
		if (open->store->load(id, stored, error) < 0) {
			i_error("fetchmail worker: %s: %s", msg.user.c_str(),
				error.c_str());
			continue;
		}
		ServiceAccount a;
		a.account = std::move(stored.account);
		a.secret = std::move(stored.password_blob);
		a.status = stored.status;
		out.accounts.push_back(std::move(a));
	}
	out.uid = uid_;
	out.gid = gid_;
	release_user(open);
	forget_changed(msg.user, out.accounts);
	reply(out);
}

/* The service takes the accounts as loaded (ServicePlan::set_user()):
   known_ keeps the summaries of unchanged records, takes their stored
   status and drops the rest. */
void Worker::forget_changed(const std::string &user,
			    const std::vector<ServiceAccount> &loaded)
{
	std::map<std::string, const ServiceAccount *> by_id;
	for (const ServiceAccount &a : loaded)
		by_id[a.account.id] = &a;

	const std::string prefix = task_key(user, "");
	auto it = known_.lower_bound(prefix);
	while (it != known_.end() && it->first.compare(0, prefix.size(),
						       prefix) == 0) {
		auto now = by_id.find(it->first.substr(prefix.size()));
		if (now != by_id.end() &&
		    now->second->account.revision ==
		    it->second.account.revision) {
			it->second.status = now->second->status;
			++it;
		} else {
			it = known_.erase(it);
		}
	}
}

void Worker::do_task(WorkerMessage &msg)
{
	std::string key = task_key(msg.user, msg.id);

	if (stopping || tasks_.count(key) > 0) {
		/* one task per account; the service never sends two */
		WorkerMessage out;
		out.verb = "done";
		out.user = msg.user;
		out.id = msg.id;
		out.error = stopping ? "stopping" : "already running";
		reply(out);
		return;
	}
	auto task = std::make_unique<Task>();
	task->user = msg.user;
	task->id = msg.id;
	task->kind = msg.kind;
	Task &t = *task;
	tasks_[key] = std::move(task);
	if (msg.kind == "check" && !adopted_) {
		/* the first user: drop to its uid before any remote byte */
		bool nouser;
		std::string error;
		OpenUser *open = open_user(msg.user, nouser, error);
		if (open != nullptr)
			release_user(open);
	}
	if (msg.kind == "check" && msg.accounts.size() == 1 && adopted_) {
		known_[key] = msg.accounts[0];
		start_check(t, std::move(msg.accounts[0]));
		return;
	}
	auto known = known_.find(key);
	if (msg.kind == "check" && msg.accounts.empty() && adopted_ &&
	    known != known_.end() &&
	    known->second.account.revision == msg.revision) {
		start_check(t, known->second);
		return;
	}
	/* a run, or a check of an account this worker does not have (as
	   the service has it): a run reads it from the storage */
	start_run(t);
}

void Worker::start_check(Task &task, ServiceAccount account)
{
	CheckEnv env;
	StoredAccount stored;
	std::string key = task_key(task.user, task.id);

	env.event_parent = event_;
	env.username = task.user;
	env.ssl = mail_storage_service_user_get_ssl_settings(anchor_);
	env.dns_client_socket = base_dir_ + "/dns-client";
	task.revision = account.account.revision;
	stored.account = std::move(account.account);
	stored.password_blob = std::move(account.secret);
	stored.status = account.status;
	stored.summary = account.summary;
	task.run = account_check_start(env, set_, std::move(stored),
		[this, key](const RunReport &report) {
			auto it = tasks_.find(key);
			if (it == tasks_.end())
				return;
			Task &t = *it->second;
			if (report.ok && !report.changed) {
				task_done(key, &report);
				return;
			}
			/* new mail, or a failure whose status the run stores */
			bury(Ended{ std::move(t.run), nullptr, nullptr,
				    nullptr });
			if (stopping) {
				task_done(key, nullptr);
				return;
			}
			start_run(t);
		});
}

void Worker::start_run(Task &task)
{
	std::string key = task_key(task.user, task.id), error;
	bool nouser;
	StoredAccount stored;

	task.kind = "run";
	task.open = open_user(task.user, nouser, error);
	if (task.open == nullptr) {
		i_error("fetchmail worker: %s: %s", task.user.c_str(),
			error.c_str());
		task_done(key, nullptr);
		return;
	}
	if (task.open->take_turns && task.open->runs_active > 0) {
		task.open->waiting.push_back(key);
		return;
	}
	run_now(task);
}

void Worker::run_now(Task &task)
{
	std::string key = task_key(task.user, task.id), error;
	StoredAccount stored;
	OpenUser *open = task.open;

	if (open->store->load(task.id, stored, error) < 0) {
		/* removed meanwhile: the service reads the user again */
		i_warning("fetchmail worker: %s: %s", task.user.c_str(),
			  error.c_str());
		task_done(key, nullptr);
		return;
	}
	task.active = true;
	task.revision = stored.account.revision;
	open->runs_active++;
	task.run = account_task_start(*open->store, *settings_of(open->user),
		*open->http, std::move(stored), RunMode::Fetch,
		[this, key](const RunReport &report) {
			task_done(key, &report);
		});
}

/* Report and forget a task; report == nullptr: it did not run. Called
   from the run's done callback too, which may destroy the run (see
   account_task_start()): key and report are not used after that. */
void Worker::task_done(const std::string &key_ref, const RunReport *report)
{
	const std::string key = key_ref;
	auto it = tasks_.find(key);
	if (it == tasks_.end())
		return;
	std::unique_ptr<Task> task = std::move(it->second);
	tasks_.erase(it);

	WorkerMessage out;
	out.verb = "done";
	out.user = task->user;
	out.id = task->id;
	if (report != nullptr) {
		out.ok = report->ok;
		out.fetched = report->fetched;
		out.error = report->error;
		out.status = report->status;
		out.has_status = true;
		/* a check that found nothing new: the summary stays */
		out.has_summary = task->kind != "check" || report->changed;
		out.summary = report->summary;
	}
	remember(*task, report);
	reply(out);
	if (report == nullptr && !stopping) {
		/* whatever went wrong, the service should know the user as
		   the storage has it */
		WorkerMessage load;
		load.verb = "load";
		load.user = task->user;
		do_load(load);
	}
	OpenUser *open = task->open;
	bool was_active = task->active;
	bury(Ended{ std::move(task->run), nullptr, nullptr, nullptr });
	task.reset();
	if (open != nullptr && was_active) {
		open->runs_active--;
		/* the next run of this user whose turn it is */
		while (!open->waiting.empty() && open->runs_active == 0) {
			std::string next = open->waiting.front();
			open->waiting.pop_front();
			auto w = tasks_.find(next);
			if (w != tasks_.end())
				run_now(*w->second);
		}
	}
	if (open != nullptr)
		release_user(open);
	maybe_exit();
}

/* What the service makes of a task's done event, made of known_ too. */
void Worker::remember(const Task &task, const RunReport *report)
{
	auto it = known_.find(task_key(task.user, task.id));
	if (it == known_.end())
		return;
	ServiceAccount &a = it->second;
	if (report == nullptr || a.account.revision != task.revision) {
		/* lost, or the run found another record: sent again */
		known_.erase(it);
		return;
	}
	a.status = report->status;
	if (task.kind != "check" || report->changed)
		a.summary = report->summary;
}

void worker_reap_cb(Worker *w)
{
	timeout_remove(&w->to_reap_);
	std::vector<Worker::Ended> ended = std::move(w->ended_);
	w->ended_.clear();
	for (Worker::Ended &e : ended) {
		e.refresh.reset();
		e.push.reset();
		e.run.reset();
		if (e.release != nullptr)
			w->release_user(e.release);
	}
	w->maybe_exit();
}

void Worker::bury(Ended ended)
{
	ended_.push_back(std::move(ended));
	if (to_reap_ == nullptr)
		to_reap_ = fetchmail_timeout_add(0, worker_reap_cb, this);
}

} // namespace

static void cmd_fetchmail_worker(struct doveadm_cmd_context *cctx ATTR_UNUSED)
{
	std::string error;

	try {
		Worker w;
		if (w.init(error) < 0) {
			i_error("fetchmail worker: %s", error.c_str());
			doveadm_exit_code = EX_CONFIG;
			return;
		}
		io_loop_run(current_ioloop);
		if (w.busy()) {
			/* SIGTERM: end the runs safely first */
			w.service_gone();
			io_loop_run(current_ioloop);
		}
		w.deinit();
	} catch (const std::exception &e) {
		i_error("fetchmail worker: internal error: %s", e.what());
		doveadm_exit_code = EX_SOFTWARE;
	}
}

static const struct doveadm_cmd_param fetchmail_worker_params[] = {
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_worker = {
	.cmd = cmd_fetchmail_worker,
	.mail_cmd = nullptr,
	.name = "fetchmail worker",
	.usage = "(started by the fetch service)",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_worker_params,
};
