#include "fetchmail-retrieve.hh"
#include "fetchmail-deliver.hh"
#include "fetchmail-failpoint.hh"
#include "fetchmail-mailbox.hh"
#include "fetchmail-notice.hh"
#include "fetchmail-oauth2-refresh.hh"
#include "fetchmail-transport.hh"

extern "C" {
#include "hostpid.h"
#include "time-util.h"
}

#include <memory>

namespace fetchmail {

/* LMTP deliveries in flight before reading from the server pauses */
static const size_t RETRIEVE_MAX_IN_FLIGHT = 8;

static int64_t now_ms()
{
	struct timeval tv;

	if (gettimeofday(&tv, nullptr) < 0)
		return static_cast<int64_t>(ioloop_time) * 1000;
	return static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
}

static NetError net_error(TransportError kind)
{
	switch (kind) {
	case TransportError::Resolve: return NetError::Resolve;
	case TransportError::Connect: return NetError::Connect;
	case TransportError::Timeout: return NetError::Timeout;
	case TransportError::Tls: return NetError::Tls;
	case TransportError::Closed: return NetError::Closed;
	case TransportError::Io: break;
	}
	return NetError::Io;
}

/* One run of one account. Owned by run_accounts(); reports through done_
   from a timeout, never from inside a callback. */
class AccountRun : public AccountTask, private TransportHandler {
public:
	/* store and http: nullptr for a Check (env says what it needs) */
	AccountRun(Store *store, const Settings &set, HttpClient *http,
		   const CheckEnv &env, StoredAccount stored, RunMode mode,
		   std::function<void()> done);
	~AccountRun() override;
	void start();
	void interrupt() override;
	void not_started(const std::string &why);
	const RunReport &report() const { return report_; }

private:
	/* TransportHandler */
	void transport_connected() override;
	size_t transport_input(std::string_view data) override;
	void transport_tls_started() override;
	void transport_failed(TransportError kind,
			      const std::string &error) override;

	int prepare(std::string &error_r);
	RetrievalConfig retrieval_config() const;
	/* an input to the core, then its actions */
	template <typename F> void input(F &&f);
	void drive();
	void carry_out(Action &a);
	void connect();
	void refresh_token(bool force);
	void reconcile();
	void store_pending();
	void save(Action &a);
	void commit();
	void store_ledger();
	void finish();
	void write_state();
	void send_notice(AccountStatus &status);
	void emit_finished();
	void end_early(const std::string &error);
	std::string tls_description() const;
	static void finish_timeout(AccountRun *run);
	static void deadline_timeout(AccountRun *run);

	Store *store_;                 /* nullptr: a Check without storage */
	const Settings &set_;
	HttpClient *http_;             /* the token endpoints, for OAuth2 */
	CheckEnv env_;
	StoredAccount stored_;
	RunMode mode_;
	std::function<void()> done_;
	RunReport report_;
	PendingBatch pending_;         /* the stored pending record */
	bool target_known_ = false;    /* pending_'s mailbox state is set */
	std::unique_ptr<Retrieval> retrieval_;
	std::unique_ptr<Transport> transport_;
	std::unique_ptr<Delivery> delivery_;
	std::unique_ptr<OAuth2Refresh> refresh_;
	struct ioloop *ioloop_ = nullptr;   /* the run's */
	int lock_fd_ = -1;
	/* why the store refused, when it did before the run */
	StoreError store_failure_ = StoreError::None;
	/* fetchmail_run_finished, for metric { } blocks; log prefix
	   "fetchmail(<user>/<id>): " */
	struct event *event_ = nullptr;
	struct timeout *to_finish_ = nullptr;
	struct timeout *to_deadline_ = nullptr;
	unsigned int driving_ = 0;
	bool paused_ = false;          /* input held back: LMTP is behind */
	bool finished_ = false;
};

AccountRun::AccountRun(Store *store, const Settings &set, HttpClient *http,
		       const CheckEnv &env, StoredAccount stored, RunMode mode,
		       std::function<void()> done)
	: store_(store), set_(set), http_(http), env_(env),
	  stored_(std::move(stored)), mode_(mode), done_(std::move(done))
{
	report_.id = stored_.account.id;
	if (store_ != nullptr) {
		struct mail_user *user = store_->user();
		env_.event_parent = user->event;
		env_.username = user->username;
		env_.dns_client_socket = std::string(user->set->base_dir) +
			"/dns-client";
	}
}

AccountRun::~AccountRun()
{
	if (to_finish_ != nullptr)
		timeout_remove(&to_finish_);
	if (to_deadline_ != nullptr)
		timeout_remove(&to_deadline_);
	refresh_.reset();
	transport_.reset();
	delivery_.reset();
	if (lock_fd_ != -1)
		i_close_fd(&lock_fd_);
	if (event_ != nullptr)
		event_unref(&event_);
}

RetrievalConfig AccountRun::retrieval_config() const
{
	const Account &a = stored_.account;
	RetrievalConfig c;

	c.mode = mode_;
	c.protocol = a.protocol;
	c.session.tls = session_tls_of(a.tls);
	c.session.user = a.remote_user;
	c.session.password = a.password;
	c.keep = a.keep;
	c.max_size = a.max_size;
	c.folders = a.folders;
	c.oauth2 = a.auth == AuthMethod::OAuth2;
	c.saves_are_final = delivery_ != nullptr &&
		delivery_->saves_are_final();
	c.max_messages = set_.max_messages;
	c.status = stored_.status;
	c.summary = stored_.summary;
	c.interval_secs = set_.interval_secs;
	c.max_log_size = set_.max_log_size;
	c.now_ms = now_ms;
	c.random = [](uint32_t limit) { return i_rand_limit(limit); };
	return c;
}

/* Lock, ledger, pending record, password, delivery. */
int AccountRun::prepare(std::string &error_r)
{
	if (mode_ != RunMode::Test && mode_ != RunMode::Check) {
		int ret = store_->lock_account(stored_.account.id, lock_fd_,
					       error_r);
		if (ret == 0)
			error_r = "another run of this account is in progress";
		if (ret <= 0)
			return -1;
		delivery_ = delivery_create(set_, store_->user(),
					    store_->ioloop(),
					    stored_.account.mailbox);
	}
	/* test mode with fields given: the password is not stored */
	if (!stored_.password_blob.empty() &&
	    account_decrypt_password(set_.keys, env_.username, stored_,
				     store_failure_, error_r) < 0)
		return -1;
	return 0;
}

void AccountRun::start()
{
	const Account &a = stored_.account;
	std::string error;

	ioloop_ = current_ioloop;
	event_ = event_create(env_.event_parent);
	event_set_append_log_prefix(event_, t_strdup_printf(
		"fetchmail(%s/%s): ", env_.username.c_str(), a.id.c_str()));
	event_add_str(event_, "account_id", a.id.c_str());
	event_add_str(event_, "protocol", protocol_name(a.protocol));
	event_add_str(event_, "host", a.host.c_str());
	to_deadline_ = fetchmail_timeout_add(set_.run_timeout_secs * 1000,
					     deadline_timeout, this);
	if (prepare(error) < 0) {
		end_early(error);
		return;
	}
	Ledger ledger;
	if (mode_ != RunMode::Test && mode_ != RunMode::Check &&
	    (store_->load_ledger(a.id, ledger, error) < 0 ||
	     store_->load_pending(a.id, pending_, error) < 0)) {
		store_failure_ = store_->last_error();
		end_early(error);
		return;
	}
	retrieval_ = std::make_unique<Retrieval>(retrieval_config(),
		std::move(ledger), pending_.messages);
	retrieval_->note(std::string("run started: ") +
		protocol_name(a.protocol) + " " + a.host + ":" +
		std::to_string(a.effective_port()) + " tls=" +
		tls_mode_name(a.tls) + (a.tls_verify ? "" : " (not verified)"));
	if (delivery_ == nullptr) {
		input([&] { retrieval_->start(); });
		return;
	}
	delivery_->open([this](const std::string &open_error) {
		input([&] {
			if (open_error.empty())
				retrieval_->start();
			else
				retrieval_->abort(open_error);
		});
	});
}

/* Before there is a core to tell: a lock held by another run, a ledger
   that cannot be read. Nothing is written: the account's state belongs to
   whoever holds the lock, or is unreadable. */
void AccountRun::end_early(const std::string &error)
{
	if (lock_fd_ != -1 && retrieval_ == nullptr) {
		/* the lock is ours: the core records the failure */
		retrieval_ = std::make_unique<Retrieval>(retrieval_config(),
			Ledger(), std::vector<PendingMessage>());
		input([&] { retrieval_->abort(error); });
		return;
	}
	report_.error = error;
	report_.failure = store_failure_ == StoreError::Config ?
		RunReport::Failure::Config :
		store_failure_ == StoreError::Corrupt ?
		RunReport::Failure::Data : RunReport::Failure::Local;
	finish();
}

template <typename F>
void AccountRun::input(F &&f)
{
	if (finished_ || retrieval_ == nullptr)
		return;
	driving_++;
	f();
	driving_--;
	drive();
}

void AccountRun::drive()
{
	Action a;

	if (driving_ > 0 || retrieval_ == nullptr)
		return;
	driving_++;
	while (!finished_ && retrieval_->next_action(a))
		carry_out(a);
	if (!finished_ && transport_ != nullptr) {
		std::string out = retrieval_->take_output();
		if (!out.empty())
			transport_->send(out);
	}
	driving_--;
	if (paused_ && delivery_ != nullptr &&
	    delivery_->in_flight() < RETRIEVE_MAX_IN_FLIGHT &&
	    transport_ != nullptr) {
		paused_ = false;
		transport_->resume();
	}
}

void AccountRun::carry_out(Action &a)
{
	switch (a.type) {
	case Action::Type::Reconcile:
		reconcile();
		break;
	case Action::Type::RefreshToken:
		refresh_token(a.force);
		break;
	case Action::Type::Connect:
		connect();
		break;
	case Action::Type::StartTls:
		transport_->start_tls();
		break;
	case Action::Type::Begin:
		delivery_->begin();
		break;
	case Action::Type::Data:
		delivery_->data(a.data);
		break;
	case Action::Type::Discard:
		delivery_->abort();
		break;
	case Action::Type::StorePending:
		store_pending();
		break;
	case Action::Type::Save:
		save(a);
		break;
	case Action::Type::Commit:
		commit();
		break;
	case Action::Type::StoreLedger:
		store_ledger();
		break;
	case Action::Type::Close:
		if (transport_ != nullptr)
			transport_->close();
		break;
	case Action::Type::Finish:
		report_ = retrieval_->report();
		report_.id = stored_.account.id;
		if (store_failure_ == StoreError::Config)
			report_.failure = RunReport::Failure::Config;
		else if (store_failure_ == StoreError::Corrupt)
			report_.failure = RunReport::Failure::Data;
		finish();
		break;
	}
}

void AccountRun::connect()
{
	TransportSettings tset = transport_settings_of(stored_.account);

	tset.timeout_msecs = set_.timeout_msecs;
	tset.user = store_ == nullptr ? nullptr : store_->user();
	tset.ssl = env_.ssl;
	tset.dns_client_socket = env_.dns_client_socket;
	transport_ = std::make_unique<Transport>(
		static_cast<TransportHandler &>(*this), tset);
	transport_->connect();
}

/* The OAuth2 access token to log in with (fetchmail-oauth2-refresh.hh):
   the cached one, or a fresh one from the provider. */
void AccountRun::refresh_token(bool force)
{
	OAuth2RefreshOptions options;

	options.force = force;
	if (store_ == nullptr || http_ == nullptr) {
		/* the service checks password accounts only */
		retrieval_->token_failed(TokenError::Temporary,
					 "no OAuth2 token without the storage");
		return;
	}
	refresh_ = std::make_unique<OAuth2Refresh>(*store_, set_, *http_,
						   stored_.account);
	refresh_->start(options, [this](const OAuth2RefreshResult &r) {
		input([&] {
			switch (r.status) {
			case OAuth2RefreshStatus::Ok:
				if (r.refreshed)
					retrieval_->note("OAuth2: a new access token");
				retrieval_->token_ready(r.access_token,
							r.mechanism_name);
				return;
			case OAuth2RefreshStatus::ConsentNeeded:
				retrieval_->token_failed(TokenError::ConsentNeeded,
							 r.error);
				return;
			case OAuth2RefreshStatus::Config:
				retrieval_->token_failed(TokenError::Config,
							 r.error);
				return;
			case OAuth2RefreshStatus::Temporary:
				break;
			}
			retrieval_->token_failed(TokenError::Temporary, r.error);
		});
	});
}

void AccountRun::reconcile()
{
	std::vector<PendingMessage> found;
	std::string error;

	if (deliver_reconcile(store_->user(), store_->ioloop(), pending_, found,
			      error) < 0) {
		retrieval_->abort("looking for the messages of an interrupted "
				  "batch failed: " + error);
		return;
	}
	retrieval_->reconciled(found);
}

void AccountRun::store_pending()
{
	std::string error;

	pending_.messages = retrieval_->pending();
	/* where to look after a crash: the mailbox as it was before the
	   first message of what is pending now was handed over (a later
	   UIDNEXT could be past a message already delivered) */
	if (!target_known_ &&
	    delivery_->pending_target(pending_, error) < 0) {
		retrieval_->pending_store_failed(error);
		return;
	}
	target_known_ = true;
	if (store_->save_pending(stored_.account, pending_, error) < 0) {
		retrieval_->pending_store_failed(error);
		return;
	}
	failpoint("after-pending");
	retrieval_->pending_stored();
}

void AccountRun::save(Action &a)
{
	MessageMeta meta{ std::move(a.internal_date), std::move(a.flags) };

	delivery_->save(meta, [this](const std::string &error) {
		input([&] {
			if (!error.empty()) {
				retrieval_->save_failed(error);
				return;
			}
			if (delivery_->saves_are_final())
				failpoint("after-lmtp-save");
			retrieval_->saved();
		});
	});
	if (delivery_ != nullptr &&
	    delivery_->in_flight() >= RETRIEVE_MAX_IN_FLIGHT)
		paused_ = true;
}

void AccountRun::commit()
{
	std::string error;

	if (delivery_->commit(error) < 0) {
		retrieval_->commit_failed(error);
		return;
	}
	failpoint("after-commit");
	retrieval_->committed();
}

void AccountRun::store_ledger()
{
	std::string error;

	pending_.messages = retrieval_->pending();
	if (store_->save_ledger(stored_.account, retrieval_->ledger(),
			       &pending_, error) < 0) {
		retrieval_->ledger_store_failed(error);
		return;
	}
	if (pending_.messages.empty())
		target_known_ = false;
	failpoint("after-ledger");
	retrieval_->ledger_stored();
}

/* ---- the transport ---- */

std::string AccountRun::tls_description() const
{
	const TransportInfo &info = transport_->info();

	return info.tls_cipher + ", " + info.tls_subject +
		(info.tls_verified ? ", verified" :
		 ", NOT verified: " + info.tls_verify_error) +
		(info.tls_resumed ? ", resumed" : "");
}

void AccountRun::transport_connected()
{
	input([&] {
		retrieval_->connected(transport_->info().address);
		if (transport_->info().tls)
			retrieval_->tls_up(tls_description());
	});
}

size_t AccountRun::transport_input(std::string_view data)
{
	if (finished_)
		return data.size();
	if (paused_)
		return 0;
	size_t consumed = 0;
	input([&] { consumed = retrieval_->feed(data); });
	return consumed;
}

void AccountRun::transport_tls_started()
{
	input([&] {
		retrieval_->tls_up(tls_description());
		retrieval_->tls_started();
	});
}

void AccountRun::transport_failed(TransportError kind,
				  const std::string &error)
{
	input([&] { retrieval_->transport_failed(net_error(kind), error); });
}

/* ---- ending ---- */

void AccountRun::interrupt()
{
	input([&] { retrieval_->interrupt(); });
}

void AccountRun::deadline_timeout(AccountRun *run)
{
	timeout_remove(&run->to_deadline_);
	try {
		run->input([&] { run->retrieval_->deadline(); });
	} catch (const std::exception &e) {
		e_error(run->event_, "internal error: %s", e.what());
	}
}

void AccountRun::not_started(const std::string &why)
{
	report_.error = why;
}

void AccountRun::finish()
{
	if (finished_)
		return;
	finished_ = true;
	if (to_deadline_ != nullptr)
		timeout_remove(&to_deadline_);
	if (transport_ != nullptr)
		transport_->close();
	if (mode_ != RunMode::Test && lock_fd_ != -1 && retrieval_ != nullptr) {
		write_state();
		emit_finished();
	}
	/* the caller may be inside a callback of the transport or the
	   delivery: they are torn down from the run's ioloop */
	to_finish_ = (timeout_add_to)(ioloop_, 0, __FILE__, __LINE__,
		(timeout_callback_t *)finish_timeout, this);
}

/* Failure notices (fetchmail-notice.hh): delivered before the status
   that marks them sent is stored, so a crash between the two delivers the
   notice again rather than never. */
void AccountRun::send_notice(AccountStatus &status)
{
	struct mail_user *user = store_->user();
	NoticeContext ctx;
	std::string error;
	const char *hostname = my_hostname;

	if (mode_ != RunMode::Fetch ||
	    !notice_due(status, ioloop_time, set_.notify_after_secs))
		return;
	ctx.user = user->username;
	ctx.hostname = hostname == nullptr ? "" : hostname;
	ctx.from = set_.notify_from;
	ctx.url = set_.notify_url;
	ctx.now = ioloop_time;
	ctx.random = (static_cast<uint64_t>(i_rand()) << 32) | i_rand();
	std::string message = notice_message(stored_.account, status, ctx);
	if (deliver_notice(user, store_->ioloop(), message, error) < 0) {
		/* due again after the next run */
		e_error(event_, "delivering the failure notice failed: %s",
			error.c_str());
		return;
	}
	notice_sent(status);
	report_.status = status;
	e_info(event_, "failure notice delivered to INBOX (failing since %s)",
	       t_strflocaltime("%Y-%m-%d %H:%M", status.failing_since));
}

void AccountRun::write_state()
{
	std::string error;
	AccountStatus status = retrieval_->status();

	send_notice(status);
	pending_.messages = retrieval_->pending();
	if (store_->save_run(stored_.account, status,
			    retrieval_->log(),
			    retrieval_->ledger_dirty() ? &retrieval_->ledger() :
			    nullptr, &pending_, error) < 0) {
		if (store_->last_error() == StoreError::Changed)
			e_warning(event_, "%s", error.c_str());
		else
			e_error(event_, "%s", error.c_str());
	}
}

void AccountRun::emit_finished()
{
	event_set_name(event_, "fetchmail_run_finished");
	event_add_int(event_, "fetched", report_.fetched);
	event_add_int(event_, "deleted", report_.deleted);
	event_add_int(event_, "skipped", report_.skipped);
	event_add_int(event_, "bytes", report_.bytes);
	event_add_str(event_, "result", report_.ok ? "ok" : "error");
	if (report_.ok) {
		e_info(event_, "run finished: fetched %" PRIu64 ", deleted %"
		       PRIu64 ", skipped %" PRIu64, report_.fetched,
		       report_.deleted, report_.skipped);
	} else {
		event_add_str(event_, "error", report_.error.c_str());
		e_error(event_, "run failed after fetching %" PRIu64 ": %s",
			report_.fetched, report_.error.c_str());
	}
}

void AccountRun::finish_timeout(AccountRun *run)
{
	timeout_remove(&run->to_finish_);
	run->refresh_.reset();
	run->transport_.reset();
	run->delivery_.reset();
	run->done_();
}

std::unique_ptr<AccountTask>
account_task_start(Store &store, const Settings &set, HttpClient &http,
		   StoredAccount stored, RunMode mode,
		   std::function<void(const RunReport &)> done)
{
	auto self = std::make_shared<AccountRun *>(nullptr);
	auto task = std::make_unique<AccountRun>(&store, set, &http,
		CheckEnv(), std::move(stored), mode,
		[self, done = std::move(done)] { done((*self)->report()); });
	*self = task.get();
	task->start();
	return task;
}

std::unique_ptr<AccountTask>
account_check_start(const CheckEnv &env, const Settings &set,
		    StoredAccount stored,
		    std::function<void(const RunReport &)> done)
{
	auto self = std::make_shared<AccountRun *>(nullptr);
	auto task = std::make_unique<AccountRun>(nullptr, set, nullptr, env,
		std::move(stored), RunMode::Check,
		[self, done = std::move(done)] { done((*self)->report()); });
	*self = task.get();
	task->start();
	return task;
}

/* how often run_accounts() asks whether it should stop */
static const unsigned int RUN_INTERRUPT_CHECK_MSECS = 200;

struct RunQueue {
	struct ioloop *ioloop = nullptr;
	std::vector<std::unique_ptr<AccountRun>> runs;
	size_t next = 0, running = 0, max_parallel = 1;
	std::function<bool()> interrupted;

	void start_more()
	{
		while (running < max_parallel && next < runs.size()) {
			running++;
			runs[next++]->start();
		}
		if (running == 0)
			io_loop_stop(ioloop);
	}
	void done()
	{
		running--;
		start_more();
	}
	static void check_interrupt(RunQueue *queue)
	{
		if (!queue->interrupted())
			return;
		/* start nothing new; end what runs */
		for (size_t i = 0; i < queue->runs.size(); i++) {
			if (i < queue->next)
				queue->runs[i]->interrupt();
			else
				queue->runs[i]->not_started("interrupted before it started");
		}
		queue->next = queue->runs.size();
	}
};

std::vector<RunReport> run_accounts(Store &store, const Settings &set,
				    std::vector<StoredAccount> accounts,
				    RunMode mode,
				    const std::function<bool()> &interrupted)
{
	struct timeout *to_interrupt = nullptr;
	RunQueue queue;
	std::vector<RunReport> reports;

	queue.max_parallel = set.max_parallel;
	/* mbox: saves into one mailbox file take turns (fetchmail-mailbox.hh) */
	if (set.delivery == DeliveryMethod::Storage &&
	    mailbox_saves_take_turns(store.user()))
		queue.max_parallel = 1;
	queue.interrupted = interrupted;
	queue.ioloop = io_loop_create();
	/* one client for the whole run: accounts refresh their OAuth2 tokens
	   at the same time (it attaches to the run's ioloop) */
	HttpSettings http_set;
	http_set.timeout_msecs = set.timeout_msecs;
	http_set.user = store.user();
	auto http = std::make_unique<HttpClient>(http_set);
	for (StoredAccount &stored : accounts) {
		queue.runs.push_back(std::make_unique<AccountRun>(
			&store, set, http.get(), CheckEnv(), std::move(stored),
			mode,
			[&queue] { queue.done(); }));
	}
	if (interrupted) {
		to_interrupt = fetchmail_timeout_add(RUN_INTERRUPT_CHECK_MSECS,
			RunQueue::check_interrupt, &queue);
	}
	queue.start_more();
	if (queue.running > 0)
		io_loop_run(queue.ioloop);
	if (to_interrupt != nullptr)
		timeout_remove(&to_interrupt);
	for (const auto &run : queue.runs)
		reports.push_back(run->report());
	queue.runs.clear();
	http.reset();
	io_loop_destroy(&queue.ioloop);
	return reports;
}

} // namespace fetchmail
