#include "doveadm-fetchmail.hh"
#include "fetchmail-notify.hh"
#include "fetchmail-registry.hh"
#include "fetchmail-service.hh"

extern "C" {
#include "child-wait.h"
#include "connection.h"
#include "doveadm-settings.h"
#include "fd-util.h"
#include "lib-signals.h"
#include "master-interface.h"
#include "master-service.h"
#include "strescape.h"
}

#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <memory>
#include <set>

using namespace fetchmail;

/* `doveadm fetchmail service [--once]`: the fetch service (see
   docs/design.md, "The fetch service").

   Dovecot's master starts it as service fetchmail (conf.d/90-fetchmail.
   conf), as root, and restarts it if it dies. It never opens a user's
   storage and never talks to a remote server itself: it decides (the
   ServicePlan in core/fetchmail-service.hh) and hands the work to worker
   processes, `doveadm fetchmail worker`, one per uid and gid the users'
   mail is written with, kept alive between rounds. A worker drops to its
   uid with its first user and then serves every user of that uid; it runs
   many accounts at once in its ioloop.

     registry (dict) <-> service <-> workers (one per uid) <-> remote servers
                            ^
        $base_dir/fetchmail | CHANGED / LOOK / STATUS
                            |
        doveadm fetchmail add/edit/remove/run..., imap and pop3 (INBOX)

   What the service knows of each user (the accounts with their encrypted
   passwords, statuses and poll summaries) is kept in the registry, which
   only the service writes, so that a restart neither opens every user's
   storage nor forgets what is due. Users reach the service through its
   socket: a change of accounts (CHANGED) has the user's worker read the
   accounts again; opening INBOX (LOOK) is fetch-on-look; STATUS is the
   live status that list and show print.

   When Dovecot stops (its master closes the pipe every service watches,
   and sends SIGQUIT to what is left a few seconds later), and on SIGTERM,
   the workers are told to stop, which ends their runs safely (what is
   committed stays, nothing more is deleted), and are waited for; the
   registry is written. doveadm runs standalone, so lib-master does not
   watch that pipe for it: the service does.

   --once: read every user, run what is due, then stop (tests, benches). */

namespace {

/* how long after a change the registry is written (changes meanwhile go
   into the same write) */
const unsigned int SERVICE_FLUSH_MSECS = 5 * 1000;
/* the longest the service sleeps without looking at the plan */
const unsigned int SERVICE_MAX_SLEEP_MSECS = 60 * 1000;
/* how long stopping workers get before SIGKILL */
const unsigned int SERVICE_STOP_SECS = 30;
/* worker processes at most; an idle one is stopped to make room */
const size_t SERVICE_MAX_WORKERS = 64;
/* a worker with nothing to do is stopped after this long */
const int64_t SERVICE_WORKER_IDLE_SECS = 15 * 60;
/* users waiting to be read at most (CHANGED from anyone for users the
   service does not know yet is bounded by this) */
const size_t SERVICE_MAX_PENDING_LOADS = 10000;
/* the longest line a worker may send (a user's accounts) */
const size_t SERVICE_WORKER_MAX_LINE = 64 * 1024 * 1024;
/* a client's request line */
const size_t SERVICE_CLIENT_MAX_LINE = 4096;

using Ident = std::pair<uint32_t, uint32_t>;   /* uid, gid */

std::string task_key(const std::string &user, const std::string &id)
{
	return user + '\n' + id;
}

struct Service;

struct Worker;

/* The line to a worker (plain: lib/connection.h's callbacks get it) */
struct WorkerConn {
	struct connection conn;
	Worker *worker;
};

struct Worker {
	Service *service = nullptr;
	WorkerConn *wc = nullptr;
	pid_t pid = 0;
	bool exited = false;      /* reaped: nothing to signal */
	bool retiring = false;    /* told to stop: idle for too long */
	bool adopted = false;     /* has an ident (was sent a load) */
	Ident ident;
	std::set<std::string> tasks;     /* task_key()s running */
	std::set<std::string> loads;     /* users being read */
	std::set<std::string> resolves;  /* users being looked up */
	std::set<std::string> pushes;    /* task_key()s held */
	/* task_key() -> revision of the accounts it keeps for checks */
	std::map<std::string, uint64_t> known;
	int64_t idle_since = 0;
};

struct Client {
	struct connection conn;
	Service *service;
	uid_t uid;
	bool uid_known;
};

struct PushHeld {
	Worker *worker;
	uint64_t revision;
	std::string state;
};

struct Service {
	Settings set;
	ServicePlan plan{ ServiceLimits{} };
	std::string doveadm_path, config_path;
	bool once = false, stopping = false, loaded_all = false;

	Registry registry;
	std::set<std::string> dirty;          /* users to write */
	struct timeout *to_flush = nullptr;

	int listen_fd = -1;
	bool own_socket = false;              /* created it: unlink at exit */
	std::string socket_path;
	struct io *io_listen = nullptr;
	struct connection_list *clients = nullptr;

	struct connection_list *worker_list = nullptr;
	std::map<pid_t, std::unique_ptr<Worker>> workers;
	struct child_wait *wait = nullptr;
	struct timeout *to_stop = nullptr;

	std::deque<std::string> pending_loads;   /* users to read */
	std::set<std::string> pending_set;
	std::map<std::string, std::string> running_tasks; /* key -> kind */
	std::map<std::string, PushHeld> pushes;

	struct timeout *to_plan = nullptr;
	struct timeout *to_plan_now = nullptr;
	struct io *io_master_dead = nullptr;

	int init(std::string &error_r);
	void deinit();

	/* the plan */
	void schedule_soon();
	void schedule();
	void dispatch(const ServiceTask &task);
	void update_pushes(int64_t now);
	void mark_dirty(const std::string &user);
	void flush();

	/* users */
	void want_load(const std::string &user);
	void start_loads();
	bool route_load(const std::string &user);

	/* workers */
	Worker *worker_for(const Ident &ident, bool spawn);
	Worker *any_worker();
	Worker *spawn_worker();
	bool make_room();
	void send(Worker *w, const WorkerMessage &msg);
	void worker_line(Worker *w, const char *line);
	void worker_gone(Worker *w, const char *why);
	void worker_exited(pid_t pid, int status);
	void worker_idle_check(Worker *w);
	void retire_idle_workers(int64_t now);
	void stop_workers();

	/* clients */
	void client_line(Client *c, const char *const *args);
	bool client_may(Client *c, const std::string &user);
};

/* ---- the plan ---- */

void service_schedule_cb(Service *s)
{
	try {
		if (s->to_plan_now != nullptr)
			timeout_remove(&s->to_plan_now);
		s->schedule();
	} catch (const std::exception &e) {
		i_error("fetchmail service: internal error: %s", e.what());
	}
}

void Service::schedule_soon()
{
	if (to_plan_now == nullptr && !stopping)
		to_plan_now = fetchmail_timeout_add(0, service_schedule_cb, this);
}

void Service::schedule()
{
	int64_t now = ioloop_time;

	if (stopping)
		return;
	start_loads();
	if (!loaded_all && pending_loads.empty() && pending_set.empty())
		loaded_all = true;
	for (const ServiceTask &task : plan.next_tasks(now))
		dispatch(task);
	if (!once)
		update_pushes(now);
	retire_idle_workers(now);

	if (once && loaded_all && running_tasks.empty() &&
	    pending_set.empty()) {
		/* one round: everything due has run */
		int64_t due = plan.next_due();
		if (due == 0 || due > now) {
			io_loop_stop(current_ioloop);
			return;
		}
	}

	/* sleep until the next due account (or a while) */
	int64_t due = plan.next_due();
	unsigned int msecs = SERVICE_MAX_SLEEP_MSECS;
	if (due != 0) {
		int64_t secs = std::max<int64_t>(1, due - now);
		msecs = std::min<int64_t>(msecs, secs * 1000);
	}
	if (to_plan != nullptr)
		timeout_remove(&to_plan);
	to_plan = fetchmail_timeout_add(msecs, service_schedule_cb, this);
}

void Service::dispatch(const ServiceTask &task)
{
	uint32_t uid, gid;
	const ServiceAccount *a = plan.find(task.user, task.id);
	Worker *w;

	if (a == nullptr || !plan.user_ids(task.user, uid, gid) ||
	    (w = worker_for(Ident(uid, gid), true)) == nullptr) {
		/* no room for another worker now: due again when one frees */
		plan.task_unstarted(task);
		return;
	}
	WorkerMessage msg;
	msg.verb = "task";
	msg.user = task.user;
	msg.id = task.id;
	msg.kind = task.kind == ServiceTask::Kind::Check ? "check" : "run";
	std::string key = task_key(task.user, task.id);
	if (task.kind == ServiceTask::Kind::Check) {
		/* the whole account once; afterwards the worker has it */
		auto known = w->known.find(key);
		if (known != w->known.end() &&
		    known->second == a->account.revision) {
			msg.revision = a->account.revision;
		} else {
			msg.accounts.push_back(*a);
			w->known[key] = a->account.revision;
		}
	}
	w->tasks.insert(key);
	running_tasks[key] = msg.kind;
	send(w, msg);
}

/* Push connections: the plan's wish list against what workers hold. */
void Service::update_pushes(int64_t now)
{
	std::set<std::string> wanted;

	for (const auto &[user, id] : plan.push_wanted(now)) {
		const ServiceAccount *a = plan.find(user, id);
		std::string key = task_key(user, id);
		uint32_t uid, gid;
		wanted.insert(key);
		auto held = pushes.find(key);
		if (held != pushes.end() &&
		    held->second.revision == a->account.revision)
			continue;
		if (held != pushes.end()) {
			/* the account changed: connect again with the new one */
			WorkerMessage stop;
			stop.verb = "unpush";
			stop.user = user;
			stop.id = id;
			send(held->second.worker, stop);
			held->second.worker->pushes.erase(key);
			pushes.erase(held);
		}
		Worker *w;
		if (!plan.user_ids(user, uid, gid) ||
		    (w = worker_for(Ident(uid, gid), true)) == nullptr)
			continue;
		WorkerMessage msg;
		msg.verb = "push";
		msg.user = user;
		msg.id = id;
		msg.accounts.push_back(*a);
		w->pushes.insert(key);
		pushes[key] = PushHeld{ w, a->account.revision, "connecting" };
		send(w, msg);
	}
	for (auto it = pushes.begin(); it != pushes.end();) {
		if (wanted.count(it->first) > 0) {
			++it;
			continue;
		}
		size_t nl = it->first.find('\n');
		WorkerMessage stop;
		stop.verb = "unpush";
		stop.user = it->first.substr(0, nl);
		stop.id = it->first.substr(nl + 1);
		send(it->second.worker, stop);
		it->second.worker->pushes.erase(it->first);
		it = pushes.erase(it);
	}
}

void service_flush_cb(Service *s);

void Service::mark_dirty(const std::string &user)
{
	dirty.insert(user);
	if (to_flush == nullptr && !stopping)
		to_flush = fetchmail_timeout_add(SERVICE_FLUSH_MSECS,
						 service_flush_cb, this);
}

void Service::flush()
{
	std::map<std::string, std::string> changes;
	std::string error;

	for (const std::string &user : dirty)
		changes[user] = plan.encode_user(user);
	if (registry.store(changes, error) < 0) {
		i_error("fetchmail service: %s", error.c_str());
		return;
	}
	dirty.clear();
}

void service_flush_cb(Service *s)
{
	timeout_remove(&s->to_flush);
	try {
		s->flush();
	} catch (const std::exception &e) {
		i_error("fetchmail service: internal error: %s", e.what());
	}
}

/* ---- users ---- */

void Service::want_load(const std::string &user)
{
	if (pending_set.count(user) > 0)
		return;
	if (pending_set.size() >= SERVICE_MAX_PENDING_LOADS) {
		i_warning("fetchmail service: %zu users waiting to be read: "
			  "not reading %s now (registry rebuild repeats it)",
			  pending_set.size(), user.c_str());
		return;
	}
	pending_set.insert(user);
	pending_loads.push_back(user);
	schedule_soon();
}

/* Send a load to the user's worker, or a lookup to any worker when the
   service does not know the user's uid yet. */
bool Service::route_load(const std::string &user)
{
	uint32_t uid, gid;
	bool known = plan.user_ids(user, uid, gid);
	Worker *w = known ? worker_for(Ident(uid, gid), true) : any_worker();

	if (w == nullptr)
		return false;
	WorkerMessage msg;
	msg.verb = known ? "load" : "resolve";
	msg.user = user;
	(known ? w->loads : w->resolves).insert(user);
	send(w, msg);
	return true;
}

void Service::start_loads()
{
	while (!pending_loads.empty()) {
		std::string user = pending_loads.front();
		if (!route_load(user))
			break;
		pending_loads.pop_front();
	}
}

/* ---- workers ---- */

Worker *Service::any_worker()
{
	for (const auto &[pid, w] : workers) {
		if (w->wc != nullptr && !w->retiring)
			return w.get();
	}
	return make_room() ? spawn_worker() : nullptr;
}

Worker *Service::worker_for(const Ident &ident, bool spawn)
{
	Worker *fresh = nullptr;

	for (const auto &[pid, w] : workers) {
		if (w->wc == nullptr || w->retiring)
			continue;
		if (w->adopted && w->ident == ident)
			return w.get();
		if (!w->adopted && fresh == nullptr)
			fresh = w.get();
	}
	if (!spawn)
		return nullptr;
	if (fresh == nullptr) {
		if (!make_room())
			return nullptr;
		fresh = spawn_worker();
		if (fresh == nullptr)
			return nullptr;
	}
	/* its first load makes it this uid's */
	fresh->adopted = true;
	fresh->ident = ident;
	return fresh;
}

/* Below the worker limit, stopping the longest idle worker if need be. */
bool Service::make_room()
{
	if (workers.size() < SERVICE_MAX_WORKERS)
		return true;
	Worker *victim = nullptr;
	for (const auto &[pid, w] : workers) {
		if (w->wc == nullptr || w->retiring || w->idle_since == 0)
			continue;
		if (victim == nullptr || w->idle_since < victim->idle_since)
			victim = w.get();
	}
	if (victim == nullptr)
		return false;
	worker_gone(victim, "stopped to make room for another uid");
	return true;
}

void service_worker_destroy(struct connection *conn)
{
	Worker *w = reinterpret_cast<WorkerConn *>(conn)->worker;
	try {
		w->service->worker_gone(w, "its connection closed");
	} catch (const std::exception &e) {
		i_error("fetchmail service: internal error: %s", e.what());
	}
}

int service_worker_input_line(struct connection *conn, const char *line)
{
	Worker *w = reinterpret_cast<WorkerConn *>(conn)->worker;
	Service *s = w->service;
	pid_t pid = w->pid;
	try {
		s->worker_line(w, line);
	} catch (const std::exception &e) {
		i_error("fetchmail service: internal error: %s", e.what());
	}
	/* the line may have ended the worker (make_room()) */
	auto it = s->workers.find(pid);
	return it != s->workers.end() && it->second->wc != nullptr ? 1 : 0;
}

/* Close every fd from first on (in a child about to exec). */
void close_fds_from(int first)
{
	if (close_range(first, ~0U, 0) == 0)
		return;
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = first; fd < max; fd++)
		(void)close(static_cast<int>(fd));
}

Worker *Service::spawn_worker()
{
	int fds[2];

	/* close-on-exec: no worker may hold another's line (or its own
	   service end, which would hide the service's exit from it) */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
		i_error("fetchmail service: socketpair() failed: %m");
		return nullptr;
	}
	const char *argv[] = {
		"doveadm", "-c", config_path.c_str(), "fetchmail", "worker",
		nullptr,
	};
	pid_t pid = fork();
	if (pid < 0) {
		i_error("fetchmail service: fork() failed: %m");
		i_close_fd(&fds[0]);
		i_close_fd(&fds[1]);
		return nullptr;
	}
	if (pid == 0) {
		/* the worker's stdin is its line to the service, its stderr
		   the log; nothing else of ours may reach it: not only the
		   listener and the master's pipes (close-on-exec), also what
		   libraries opened without that flag (the file dict's
		   registry, every user's accounts) */
		if (dup2(fds[1], STDIN_FILENO) < 0)
			i_fatal("dup2() failed: %m");
		int null_fd = ::open("/dev/null", O_WRONLY);
		if (null_fd != -1)
			(void)dup2(null_fd, STDOUT_FILENO);
		close_fds_from(STDERR_FILENO + 1);
		execv(doveadm_path.c_str(), const_cast<char **>(argv));
		i_fatal("execv(%s) failed: %m", doveadm_path.c_str());
	}
	i_close_fd(&fds[1]);
	net_set_nonblock(fds[0], TRUE);

	auto w = std::make_unique<Worker>();
	w->service = this;
	w->pid = pid;
	w->wc = i_new(WorkerConn, 1);
	w->wc->worker = w.get();
	connection_init_server(worker_list, &w->wc->conn,
			       t_strdup_printf("worker %ld", (long)pid),
			       fds[0], fds[0]);
	child_wait_add_pid(wait, pid);
	Worker *ret = w.get();
	workers[pid] = std::move(w);
	return ret;
}

void Service::send(Worker *w, const WorkerMessage &msg)
{
	if (w->wc == nullptr)
		return;
	std::string line = worker_message_encode(true, msg);
	if (line.empty()) {
		i_error("fetchmail service: cannot encode a %s for %s",
			msg.verb.c_str(), msg.user.c_str());
		return;
	}
	line += '\n';
	w->idle_since = 0;
	o_stream_nsend(w->wc->conn.output, line.data(), line.size());
}

/* A worker with nothing to do for a while ends (it is started again when
   its uid has work): memory goes back on servers with many uids. */
void Service::retire_idle_workers(int64_t now)
{
	for (const auto &[pid, w] : workers) {
		if (w->retiring || w->wc == nullptr || w->idle_since == 0 ||
		    now - w->idle_since < SERVICE_WORKER_IDLE_SECS)
			continue;
		WorkerMessage stop;
		stop.verb = "stop";
		send(w.get(), stop);
		w->retiring = true;
		/* no new work for it: its uid gets a new worker */
		w->adopted = false;
		w->ident = Ident((uint32_t)-1, (uint32_t)-1);
	}
}

void Service::worker_idle_check(Worker *w)
{
	if (!w->tasks.empty() || !w->loads.empty() || !w->resolves.empty() ||
	    !w->pushes.empty())
		w->idle_since = 0;
	else if (w->idle_since == 0)
		w->idle_since = ioloop_time;
}

static ServiceTask task_of(const std::string &key, const std::string &kind)
{
	size_t nl = key.find('\n');
	return ServiceTask{ kind == "check" ? ServiceTask::Kind::Check :
			    ServiceTask::Kind::Run,
			    key.substr(0, nl), key.substr(nl + 1) };
}

void Service::worker_line(Worker *w, const char *line)
{
	WorkerMessage msg;
	std::string error;
	int64_t now = ioloop_time;

	if (worker_message_decode(line, msg, error) < 0) {
		i_error("fetchmail service: worker %ld: bad message: %s",
			(long)w->pid, error.c_str());
		return;
	}
	if (msg.verb == "resolved") {
		w->resolves.erase(msg.user);
		if (!msg.error.empty()) {
			if (!msg.nouser)
				i_error("fetchmail service: looking up %s "
					"failed: %s", msg.user.c_str(),
					msg.error.c_str());
			pending_set.erase(msg.user);
			plan.remove_user(msg.user);
			mark_dirty(msg.user);
		} else if (Worker *to = worker_for(Ident(msg.uid, msg.gid),
						   true); to != nullptr) {
			WorkerMessage load;
			load.verb = "load";
			load.user = msg.user;
			to->loads.insert(msg.user);
			send(to, load);
		} else {
			/* no room for its uid's worker now: later */
			pending_set.erase(msg.user);
			want_load(msg.user);
		}
	} else if (msg.verb == "loaded") {
		w->loads.erase(msg.user);
		pending_set.erase(msg.user);
		if (!msg.error.empty() && !msg.nouser) {
			i_error("fetchmail service: reading the accounts of %s "
				"failed: %s", msg.user.c_str(), msg.error.c_str());
		} else if (msg.accounts.empty()) {
			/* no user, or no account: nothing to do for it */
			plan.remove_user(msg.user);
			mark_dirty(msg.user);
		} else {
			plan.set_user(msg.user, msg.uid, msg.gid,
				      std::move(msg.accounts));
			mark_dirty(msg.user);
			/* what the worker is, as it found it */
			w->adopted = true;
			w->ident = Ident(msg.uid, msg.gid);
		}
	} else if (msg.verb == "done") {
		std::string key = task_key(msg.user, msg.id);
		auto it = running_tasks.find(key);
		w->tasks.erase(key);
		if (!msg.has_status)
			w->known.erase(key);
		if (it != running_tasks.end()) {
			ServiceTask task = task_of(key, it->second);
			const ServiceAccount *a = plan.find(msg.user, msg.id);
			running_tasks.erase(it);
			if (!msg.has_status)
				plan.task_lost(task, now);
			else if (!msg.has_summary && a != nullptr)
				plan.task_done(task, msg.status, a->summary, now);
			else
				plan.task_done(task, msg.status, msg.summary, now);
			mark_dirty(msg.user);
		}
	} else if (msg.verb == "push") {
		std::string key = task_key(msg.user, msg.id);
		auto it = pushes.find(key);
		if (msg.state == "changed") {
			plan.wake(msg.user, msg.id, now);
		} else if (msg.state == "unsupported" || msg.state == "failed") {
			/* polled instead, asked again after a day or an edit */
			if (msg.state == "failed")
				i_warning("fetchmail service: %s/%s: push failed, "
					  "polling instead: %s", msg.user.c_str(),
					  msg.id.c_str(), msg.error.c_str());
			plan.push_unsupported(msg.user, msg.id, now);
			if (it != pushes.end()) {
				w->pushes.erase(key);
				pushes.erase(it);
			}
		} else if (it != pushes.end()) {
			it->second.state = msg.state;
		}
	} else {
		i_error("fetchmail service: worker %ld: unknown message %s",
			(long)w->pid, msg.verb.c_str());
	}
	worker_idle_check(w);
	schedule_soon();
}

/* A worker is gone (its line closed, or we stop it): what it had in hand
   is tried again. */
void Service::worker_gone(Worker *w, const char *why)
{
	int64_t now = ioloop_time;
	pid_t pid = w->pid;

	if (!stopping && !w->retiring)
		i_warning("fetchmail service: worker %ld: %s", (long)pid, why);
	for (const std::string &key : w->tasks) {
		auto it = running_tasks.find(key);
		if (it == running_tasks.end())
			continue;
		plan.task_lost(task_of(key, it->second), now);
		running_tasks.erase(it);
	}
	for (const std::string &key : w->pushes)
		pushes.erase(key);
	std::vector<std::string> again(w->loads.begin(), w->loads.end());
	again.insert(again.end(), w->resolves.begin(), w->resolves.end());
	if (!w->exited)
		(void)kill(pid, SIGTERM);
	if (w->wc != nullptr) {
		WorkerConn *wc = w->wc;
		w->wc = nullptr;
		connection_deinit(&wc->conn);
		i_free(wc);
	}
	workers.erase(pid);
	for (const std::string &user : again) {
		pending_set.erase(user);
		want_load(user);
	}
	if (stopping && workers.empty())
		io_loop_stop(current_ioloop);
	else
		schedule_soon();
}

/* The process ended: its line closes by itself once everything it wrote
   is read, which ends the worker (worker_gone()). */
void Service::worker_exited(pid_t pid, int status)
{
	auto it = workers.find(pid);
	if (it == workers.end())
		return;
	it->second->exited = true;
	if (!stopping && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		i_error("fetchmail service: worker %ld ended with %s %d",
			(long)pid, WIFEXITED(status) ? "status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) :
			WTERMSIG(status));
	}
}

void service_child_cb(const struct child_wait_status *status, Service *s)
{
	try {
		s->worker_exited(status->pid, status->status);
	} catch (const std::exception &e) {
		i_error("fetchmail service: internal error: %s", e.what());
	}
}

void service_stop_timeout(Service *s)
{
	/* they had their time: what they did not commit is fetched again */
	timeout_remove(&s->to_stop);
	for (const auto &[pid, w] : s->workers) {
		if (!w->exited)
			(void)kill(pid, SIGKILL);
	}
	s->to_stop = fetchmail_timeout_add(1000, service_stop_timeout, s);
}

/* Tell every worker to stop (runs end safely) and wait for them in the
   ioloop, so that their last reports are read. */
void Service::stop_workers()
{
	if (workers.empty())
		return;
	for (const auto &[pid, w] : workers) {
		WorkerMessage stop;
		stop.verb = "stop";
		send(w.get(), stop);
	}
	to_stop = fetchmail_timeout_add(SERVICE_STOP_SECS * 1000,
					service_stop_timeout, this);
	io_loop_run(current_ioloop);
	timeout_remove(&to_stop);
}

/* ---- clients ---- */

bool Service::client_may(Client *c, const std::string &user)
{
	uint32_t uid, gid;

	if (!c->uid_known)
		return false;
	if (c->uid == 0)
		return true;
	return plan.user_ids(user, uid, gid) && uid == c->uid;
}

void Service::client_line(Client *c, const char *const *args)
{
	struct ostream *out = c->conn.output;

	if (args[0] == nullptr || args[1] == nullptr || args[2] != nullptr) {
		o_stream_nsend_str(out, "FAIL\tbad request\n");
		return;
	}
	std::string verb = args[0], user = args[1];
	if (user.empty() || user.size() > 1024) {
		o_stream_nsend_str(out, "FAIL\tbad user name\n");
		return;
	}
	bool known = plan.has_user(user);
	if (verb == "CHANGED") {
		/* anyone may ask for a user the service does not know (a new
		   user's first account): the worker reads the attributes, which
		   are the truth, and the queue is bounded */
		if (known && !client_may(c, user)) {
			o_stream_nsend_str(out, "FAIL\tnot your user\n");
			return;
		}
		pending_set.erase(user);
		want_load(user);
		o_stream_nsend_str(out, "OK\n");
	} else if (verb == "LOOK") {
		if (known && client_may(c, user) &&
		    set.look_age_secs > 0 && plan.look(user, ioloop_time))
			schedule_soon();
		o_stream_nsend_str(out, "OK\n");
	} else if (verb == "STATUS") {
		std::map<std::string, ServiceLiveStatus> statuses;
		if (known && !client_may(c, user)) {
			o_stream_nsend_str(out, "FAIL\tnot your user\n");
			return;
		}
		for (const ServiceAccount *a : plan.accounts_of(user)) {
			ServiceLiveStatus &live = statuses[a->account.id];
			live.status = a->status;
			live.running = plan.busy(user, a->account.id);
			auto held = pushes.find(task_key(user, a->account.id));
			if (held != pushes.end())
				live.push = held->second.state;
			else if (a->account.push)
				live.push = "polled";
		}
		std::string reply = "OK\t" + service_status_encode(statuses) +
			"\n";
		o_stream_nsend(out, reply.data(), reply.size());
	} else {
		o_stream_nsend_str(out, "FAIL\tunknown command\n");
	}
}

int service_client_input_args(struct connection *conn,
			      const char *const *args)
{
	Client *c = reinterpret_cast<Client *>(conn);
	try {
		c->service->client_line(c, args);
	} catch (const std::exception &e) {
		i_error("fetchmail service: internal error: %s", e.what());
		return -1;
	}
	return 1;
}

void service_client_destroy(struct connection *conn)
{
	Client *c = reinterpret_cast<Client *>(conn);
	connection_deinit(conn);
	i_free(c);
}

struct connection_list *service_client_list_init()
{
	/* the list keeps copies of both */
	struct connection_settings set = {};
	set.service_name_in = SERVICE_PROTOCOL_NAME;
	set.service_name_out = SERVICE_PROTOCOL_NAME;
	set.major_version = SERVICE_PROTOCOL_MAJOR;
	set.minor_version = SERVICE_PROTOCOL_MINOR;
	set.input_idle_timeout_secs = 10;
	set.input_max_size = SERVICE_CLIENT_MAX_LINE;
	set.output_max_size = SIZE_MAX;
	set.input_full_behavior = CONNECTION_BEHAVIOR_DESTROY;
	struct connection_vfuncs v = {};
	v.destroy = service_client_destroy;
	v.input_args = service_client_input_args;
	return connection_list_init(&set, &v);
}

void service_accept_cb(Service *s)
{
	struct net_unix_cred cred;
	int fd = net_accept(s->listen_fd, nullptr, nullptr);

	if (fd == -1)
		return;
	if (fd < 0) {
		i_error("fetchmail service: accept() failed: %m");
		return;
	}
	net_set_nonblock(fd, TRUE);
	fd_close_on_exec(fd, TRUE);
	Client *c = i_new(Client, 1);
	c->service = s;
	if (net_getunixcred(fd, &cred) == 0) {
		c->uid = cred.uid;
		c->uid_known = true;
	}
	connection_init_server(s->clients, &c->conn, "client", fd, fd);
}

/* ---- setup ---- */

/* Dovecot is stopping (or its master died): stop as on SIGTERM. */
void service_master_dead_cb(Service *s)
{
	io_remove(&s->io_master_dead);
	/* the log may be gone already: don't die of it */
	i_set_failure_ignore_errors(TRUE);
	master_service_stop(master_service);
}

/* The master's last word before it exits: we are late, stop now (the
   workers end their runs safely by themselves when our line closes). */
void service_sigquit(const siginfo_t *si ATTR_UNUSED, void *context)
{
	(void)context;
	master_service_stop(master_service);
}

int Service::init(std::string &error_r)
{
	char exe[PATH_MAX];
	ssize_t len;
	const char *count = getenv("SOCKET_COUNT");
	std::map<std::string, std::string> users;

	/* the registry holds encrypted passwords: root's only */
	umask(0077);
	/* the same parser and defaults as every mail user's */
	if (settings_parse(fetchmail_plugin_setting, set, error_r) < 0)
		return -1;
	if (set.registry.empty()) {
		error_r = "fetchmail_registry is not set: the service needs it";
		return -1;
	}
	ServiceLimits limits;
	limits.interval_secs = set.interval_secs;
	limits.max_parallel = set.max_parallel;
	limits.max_push = set.max_push;
	limits.look_age_secs = set.look_age_secs;
	limits.look_interval_secs = set.look_age_secs;
	limits.notify_after_secs = set.notify_after_secs;
	plan = ServicePlan(limits);

	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0) {
		error_r = std::string("readlink(/proc/self/exe) failed: ") +
			strerror(errno);
		return -1;
	}
	doveadm_path.assign(exe, len);
	config_path = master_service_get_config_path(master_service);

	if (registry.open_uri(set.registry, doveadm_settings->base_dir,
			      error_r) < 0 ||
	    registry.load(users, error_r) < 0)
		return -1;
	for (const auto &[user, snapshot] : users) {
		std::string error;
		if (!snapshot.empty() &&
		    plan.decode_user(user, snapshot, error) == 0)
			continue;
		if (!snapshot.empty())
			i_warning("fetchmail service: registry entry of %s "
				  "unreadable (%s): reading the user again",
				  user.c_str(), error.c_str());
		want_load(user);
	}

	/* the listener: Dovecot's (unix_listener fetchmail in the service
	   block) or our own */
	if (count != nullptr && strcmp(count, "0") != 0) {
		listen_fd = MASTER_LISTEN_FD_FIRST;
	} else {
		socket_path = std::string(doveadm_settings->base_dir) + "/" +
			SERVICE_SOCKET_NAME;
		mode_t old_umask = umask(0);
		listen_fd = net_listen_unix_unlink_stale(socket_path.c_str(),
							 128);
		umask(old_umask);
		if (listen_fd == -1) {
			error_r = "net_listen_unix(" + socket_path +
				") failed: " + strerror(errno);
			return -1;
		}
		own_socket = true;
	}
	fd_close_on_exec(listen_fd, TRUE);
	net_set_nonblock(listen_fd, TRUE);
	/* the master's pipes stay ours, not the workers' */
	fd_close_on_exec(MASTER_STATUS_FD, TRUE);
	fd_close_on_exec(MASTER_DEAD_FD, TRUE);
	if (getenv(MASTER_SERVICE_ENV) != nullptr &&
	    fcntl(MASTER_DEAD_FD, F_GETFD) != -1) {
		io_master_dead = (io_add)(MASTER_DEAD_FD, IO_ERROR, __FILE__,
			__LINE__, (io_callback_t *)service_master_dead_cb, this);
	}
	lib_signals_set_handler(SIGQUIT, LIBSIG_FLAG_DELAYED,
				service_sigquit, this);

	clients = service_client_list_init();
	worker_list = fetchmail_worker_line_list_init(
		SERVICE_WORKER_MAX_LINE, service_worker_destroy,
		service_worker_input_line);
	io_listen = (io_add)(listen_fd, IO_READ, __FILE__, __LINE__,
			     (io_callback_t *)service_accept_cb, this);
	child_wait_init();
	wait = (child_wait_new_with_pid)((pid_t)-1,
		(child_wait_callback_t *)service_child_cb, this);
	return 0;
}

void Service::deinit()
{
	lib_signals_unset_handler(SIGQUIT, service_sigquit, this);
	if (io_master_dead != nullptr)
		io_remove(&io_master_dead);
	if (to_plan != nullptr)
		timeout_remove(&to_plan);
	if (to_plan_now != nullptr)
		timeout_remove(&to_plan_now);
	if (to_flush != nullptr)
		timeout_remove(&to_flush);
	if (io_listen != nullptr)
		io_remove(&io_listen);
	if (clients != nullptr)
		connection_list_deinit(&clients);
	stopping = true;
	stop_workers();
	flush();
	if (worker_list != nullptr)
		connection_list_deinit(&worker_list);
	if (wait != nullptr) {
		child_wait_free(&wait);
		child_wait_deinit();
	}
	if (own_socket)
		i_unlink_if_exists(socket_path.c_str());
}

} // namespace

static void cmd_fetchmail_service(struct doveadm_cmd_context *cctx)
{
	std::string error;
	bool once;

	try {
		auto s = std::make_unique<Service>();
		s->once = doveadm_cmd_param_bool(cctx, "once", &once) && once;
		if (s->init(error) < 0) {
			i_error("fetchmail service: %s", error.c_str());
			doveadm_exit_code = EX_CONFIG;
			s->deinit();
			return;
		}
		fetchmail_notify_master();
		i_info("fetchmail service: started (interval %us, %u accounts "
		       "at a time, %u push connections at most, %zu users "
		       "known)", s->set.interval_secs, s->set.max_parallel,
		       s->set.max_push, s->plan.users().size());
		s->schedule();
		io_loop_run(current_ioloop);
		s->deinit();
		i_info("fetchmail service: stopped");
	} catch (const std::exception &e) {
		i_error("fetchmail service: internal error: %s", e.what());
		doveadm_exit_code = EX_SOFTWARE;
	}
}

static const struct doveadm_cmd_param fetchmail_service_params[] = {
	FETCHMAIL_PARAM('1', "once", CMD_PARAM_BOOL, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_service = {
	.cmd = cmd_fetchmail_service,
	.mail_cmd = nullptr,
	.name = "fetchmail service",
	.usage = "[--once]",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_service_params,
};
