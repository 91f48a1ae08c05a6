#include "doveadm-fetchmail.hh"
#include "fetchmail-registry.hh"
#include "fetchmail-schedule.hh"

extern "C" {
#include "child-wait.h"
#include "doveadm-settings.h"
#include "master-interface.h"
#include "master-service.h"
}

#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <deque>
#include <map>

using namespace fetchmail;

/* `doveadm fetchmail scheduler [--once]`: the polling loop.

   Dovecot's master starts it as `service fetchmail` (conf.d/90-fetchmail.
   conf), supervises it and restarts it. Every tick it reads the registry
   (never the users' storage), and for each user whose earliest account is
   due it starts `doveadm fetchmail run -u USER --due` as a child process:
   the child looks the user up, drops to its privileges, runs the due
   accounts concurrently and writes the user's next due time back into the
   registry. At most a few children run at once, each with a share of
   fetchmail_max_parallel, so no more than fetchmail_max_parallel accounts
   are retrieved at the same time. A child that fails is held back for one
   interval. On SIGTERM (Dovecot stopping) the children are told to stop,
   which ends their runs safely, and are waited for.

   --once: one round (start every due user, wait for all), then exit. */

/* children at most, whatever fetchmail_max_parallel says */
static const unsigned int SCHEDULER_MAX_CHILDREN = 8;
/* how long stopping children get before SIGKILL */
static const unsigned int SCHEDULER_STOP_SECS = 30;

struct Scheduler {
	std::string doveadm_path, config_path, registry_uri;
	unsigned int interval_secs = 300, children_max = 1, child_parallel = 1;
	bool once = false;
	ScheduleState state;
	std::map<pid_t, std::string> children;
	/* due users from the last registry read, earliest first, not started
	   yet: a slot that frees up is refilled from here at once */
	std::deque<std::string> queue;
	struct child_wait *wait = nullptr;
	struct timeout *to_tick = nullptr;
	Registry registry;

	void tick();
	void fill();
	void spawn(const std::string &user);
	void child_exited(pid_t pid, int status);
	void stop_children();
};

/* The plugin { } settings as doveadm read them (there is no mail user). */
static std::string plugin_setting(const char *name)
{
	const char *const *envs;
	unsigned int i, count;

	envs = array_get(&doveadm_settings->plugin_envs, &count);
	for (i = 0; i + 1 < count; i += 2) {
		if (strcmp(envs[i], name) == 0)
			return envs[i + 1];
	}
	return "";
}

/* doveadm runs standalone, so when Dovecot's master started it (service
   fetchmail) tell the master ourselves that the process is up, as every
   service process does; otherwise it is killed after 30 seconds. */
static void scheduler_notify_master(void)
{
	const char *uid = getenv(MASTER_UID_ENV);
	struct master_status status;

	if (uid == nullptr || getenv(MASTER_SERVICE_ENV) == nullptr)
		return;
	i_zero(&status);
	status.pid = getpid();
	if (str_to_uint(uid, &status.uid) < 0)
		return;
	status.available_count = 1;
	if (write(MASTER_STATUS_FD, &status, sizeof(status)) != sizeof(status))
		i_error("fetchmail scheduler: write(master status) failed: %m");
}

static int scheduler_init(Scheduler &s, std::string &error_r)
{
	Settings set;
	char exe[PATH_MAX];
	ssize_t len;

	/* the same parser and defaults as every mail user's */
	if (settings_parse(plugin_setting, set, error_r) < 0)
		return -1;
	s.registry_uri = set.registry;
	if (s.registry_uri.empty()) {
		error_r = "fetchmail_registry is not set: nothing to schedule";
		return -1;
	}
	s.interval_secs = set.interval_secs;
	s.children_max = std::min(set.max_parallel, SCHEDULER_MAX_CHILDREN);
	s.child_parallel = std::max(1u, set.max_parallel / s.children_max);

	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0) {
		error_r = std::string("readlink(/proc/self/exe) failed: ") +
			strerror(errno);
		return -1;
	}
	s.doveadm_path.assign(exe, len);
	s.config_path = master_service_get_config_path(master_service);
	return s.registry.open_uri(s.registry_uri, doveadm_settings->base_dir,
				   error_r) < 0 ? -1 : 0;
}

void Scheduler::spawn(const std::string &user)
{
	std::string parallel = "plugin/fetchmail_max_parallel=" +
		std::to_string(child_parallel);
	const char *argv[] = {
		"doveadm", "-c", config_path.c_str(), "-o", parallel.c_str(),
		"fetchmail", "run", "--due", "-u", user.c_str(), nullptr,
	};
	pid_t pid = fork();

	if (pid < 0) {
		i_error("fetchmail scheduler: fork() failed: %m");
		return;
	}
	if (pid == 0) {
		int fd = ::open("/dev/null", O_WRONLY);
		if (fd != -1)
			(void)dup2(fd, STDOUT_FILENO);
		/* the master's pipes are the scheduler's, not the run's */
		(void)close(MASTER_STATUS_FD);
		(void)close(MASTER_DEAD_FD);
		execv(doveadm_path.c_str(), const_cast<char **>(argv));
		i_fatal("execv(%s) failed: %m", doveadm_path.c_str());
	}
	children[pid] = user;
	state.running.insert(user);
	/* one round starts each user once */
	if (once)
		state.not_before[user] = INT64_MAX;
	child_wait_add_pid(wait, pid);
}

void Scheduler::child_exited(pid_t pid, int status)
{
	auto it = children.find(pid);

	if (it == children.end())
		return;
	const std::string user = it->second;
	children.erase(it);
	state.running.erase(user);
	if (!WIFEXITED(status) ||
	    (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != EX_TEMPFAIL)) {
		/* not a failed remote (those back off by themselves): hold the
		   user back for an interval so it is not restarted every tick */
		i_error("fetchmail scheduler: run for %s ended with %s %d",
			user.c_str(), WIFEXITED(status) ? "status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) :
			WTERMSIG(status));
		state.not_before[user] = ioloop_time + interval_secs;
	} else if (!once) {
		/* at most once per tick, even if its entry was not updated */
		state.not_before[user] = ioloop_time +
			schedule_tick_secs(interval_secs);
	}
	fill();
	if (once && children.empty())
		tick();
}

void Scheduler::fill()
{
	while (children.size() < children_max && !queue.empty()) {
		std::string user = std::move(queue.front());
		queue.pop_front();
		auto held = state.not_before.find(user);
		if (state.running.count(user) > 0 ||
		    (held != state.not_before.end() && held->second > ioloop_time))
			continue;
		spawn(user);
	}
}

void Scheduler::tick()
{
	std::vector<std::pair<std::string, int64_t>> entries;
	std::string error;

	if (registry.list(entries, error) < 0) {
		i_error("fetchmail scheduler: %s", error.c_str());
		return;
	}
	std::vector<std::string> due =
		schedule_pick(entries, ioloop_time, state, SIZE_MAX);
	queue.assign(due.begin(), due.end());
	fill();
	if (once && children.empty())
		io_loop_stop(current_ioloop);
}

void Scheduler::stop_children()
{
	for (const auto &[pid, user] : children)
		(void)kill(pid, SIGTERM);
	time_t deadline = time(nullptr) + SCHEDULER_STOP_SECS;
	while (!children.empty()) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			children.erase(pid);
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			break;
		if (time(nullptr) >= deadline) {
			for (const auto &[cpid, user] : children)
				(void)kill(cpid, SIGKILL);
			deadline = time(nullptr) + SCHEDULER_STOP_SECS;
		}
		usleep(50 * 1000);
	}
	children.clear();
}

static void scheduler_child_callback(const struct child_wait_status *status,
				     Scheduler *s)
{
	try {
		s->child_exited(status->pid, status->status);
	} catch (...) {
		i_error("fetchmail scheduler: internal error");
	}
}

static void scheduler_tick(Scheduler *s)
{
	try {
		s->tick();
	} catch (...) {
		i_error("fetchmail scheduler: internal error");
	}
}

static void cmd_fetchmail_scheduler(struct doveadm_cmd_context *cctx)
{
	Scheduler s;
	std::string error;
	bool once;

	try {
		s.once = doveadm_cmd_param_bool(cctx, "once", &once) && once;
		if (scheduler_init(s, error) < 0) {
			i_error("fetchmail scheduler: %s", error.c_str());
			doveadm_exit_code = EX_CONFIG;
			return;
		}
		scheduler_notify_master();
		i_info("fetchmail scheduler: started (interval %us, up to %u "
		       "users at a time with %u accounts each)",
		       s.interval_secs, s.children_max, s.child_parallel);
		child_wait_init();
		s.wait = (child_wait_new_with_pid)((pid_t)-1,
			(child_wait_callback_t *)scheduler_child_callback, &s);
		s.to_tick = (timeout_add)(schedule_tick_secs(s.interval_secs) *
					  1000, __FILE__, __LINE__,
					  (timeout_callback_t *)scheduler_tick, &s);
		s.tick();
		if (!s.once || !s.children.empty())
			io_loop_run(current_ioloop);
		timeout_remove(&s.to_tick);
		s.stop_children();
		child_wait_free(&s.wait);
		child_wait_deinit();
		i_info("fetchmail scheduler: stopped");
	} catch (const std::exception &e) {
		i_error("fetchmail scheduler: internal error: %s", e.what());
		doveadm_exit_code = EX_SOFTWARE;
	}
}

static const struct doveadm_cmd_param fetchmail_scheduler_params[] = {
	FETCHMAIL_PARAM('1', "once", CMD_PARAM_BOOL, CMD_PARAM_FLAG_NONE),
	FETCHMAIL_PARAM_END,
};

struct doveadm_cmd_ver2 doveadm_cmd_fetchmail_scheduler = {
	.cmd = cmd_fetchmail_scheduler,
	.mail_cmd = nullptr,
	.name = "fetchmail scheduler",
	.usage = "[--once]",
	.flags = CMD_FLAG_NONE,
	.parameters = fetchmail_scheduler_params,
};
