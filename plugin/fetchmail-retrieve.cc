#include "fetchmail-retrieve.hh"
#include "fetchmail-deliver.hh"
#include "fetchmail-imap.hh"
#include "fetchmail-message.hh"
#include "fetchmail-pop3.hh"
#include "fetchmail-runlog.hh"
#include "fetchmail-transport.hh"


#include <algorithm>
#include <memory>
#include <tuple>

namespace fetchmail {

/* saves committed together (one transaction, one ledger write): at least
   this many, and at most RETRIEVE_COMMITS_PER_FETCH commits per fetch.
   Each commit stores the whole ledger, and the attribute dict keeps every
   stored copy until the run ends, so a fixed batch would make memory grow
   with the square of the message count. A larger batch costs nothing in
   safety: saves and ledger are committed together, so a crash only means
   the uncommitted batch is fetched again. */
static const size_t RETRIEVE_COMMIT_BATCH = 256;
static const size_t RETRIEVE_COMMITS_PER_FETCH = 8;
/* header bytes kept per message to find its Message-ID (IMAP, keep) */
static const size_t RETRIEVE_HEADER_MAX = 16 * 1024;

/* A protocol-neutral view of Pop3Session and ImapSession. */
class Session {
public:
	virtual ~Session() = default;
	virtual size_t feed(std::string_view in) = 0;
	virtual void eof() = 0;
	virtual std::string take_output() = 0;
	virtual bool next_event(Event &event_r) = 0;
	virtual void tls_started() = 0;
	virtual void fetch(const std::vector<RemoteMessage> &messages) = 0;
	virtual void remove(const std::vector<std::string> &uids) = 0;
	virtual void quit() = 0;
	virtual void select_folder(std::string_view, bool) {}
	virtual void list(uint32_t, bool) {}
};

template <typename S>
class SessionOf : public Session {
public:
	explicit SessionOf(SessionConfig config) : s(std::move(config)) {}
	size_t feed(std::string_view in) override { return s.feed(in); }
	void eof() override { s.eof(); }
	std::string take_output() override { return s.take_output(); }
	bool next_event(Event &event_r) override { return s.next_event(event_r); }
	void tls_started() override { s.tls_started(); }
	void fetch(const std::vector<RemoteMessage> &m) override { s.fetch(m); }
	void remove(const std::vector<std::string> &u) override { s.remove(u); }
	void quit() override { s.quit(); }
protected:
	S s;
};

class ImapSessionAdapter : public SessionOf<ImapSession> {
public:
	using SessionOf::SessionOf;
	void select_folder(std::string_view folder, bool read_only) override
	{ s.select_folder(folder, read_only); }
	void list(uint32_t first_uid, bool fingerprints) override
	{ s.list(first_uid, fingerprints); }
};

static int64_t now_ms()
{
	return static_cast<int64_t>(ioloop_timeval.tv_sec) * 1000 +
		ioloop_timeval.tv_usec / 1000;
}

/* One run of one account. Owned by run_accounts(); reports through done_
   from a timeout, never from inside a transport callback. */
class AccountRun : private TransportHandler {
public:
	AccountRun(Store &store, const Settings &set, StoredAccount stored,
		   RunMode mode, struct ioloop *storage_ioloop,
		   std::function<void()> done);
	~AccountRun() override;
	void start();
	/* Dovecot is stopping: keep what is saved, drop the message in
	   progress, delete nothing more, end the run now. */
	void interrupt();
	void not_started(const std::string &why) { report_.error = why; }
	const RunReport &report() const { return report_; }

private:
	struct Pending {
		RemoteMessage message;
		std::string fingerprint;
	};

	/* TransportHandler */
	void transport_connected() override;
	size_t transport_input(std::string_view data) override;
	void transport_tls_started() override;
	void transport_failed(TransportError kind,
			      const std::string &error) override;

	int lock(std::string &error_r);
	int prepare(std::string &error_r);
	void process_events();
	void flush_output();
	void on_event(Event &ev);
	void on_logged_in();
	void on_folder_selected(const Event &ev);
	void on_listing(const Event &ev);
	void on_message_begin(const Event &ev);
	void on_message_data(const Event &ev);
	void on_message_end(const Event &ev);
	void on_message_done();
	void drop_current_message();
	std::tuple<size_t, size_t, size_t> ledger_shape() const;
	void on_removed(const Event &ev);
	int commit_batch();
	void after_fetch();
	void next_folder();
	void note(const std::string &text);
	void fail(const std::string &error);
	void finish();
	static void finish_timeout(AccountRun *run);
	void write_status();
	void emit_finished();

	Store &store_;
	const Settings &set_;
	StoredAccount stored_;
	RunMode mode_;
	/* current during storage calls (see IoloopScope) */
	struct ioloop *storage_ioloop_;
	std::function<void()> done_;
	RunReport report_;
	RunLog log_;
	Ledger ledger_;
	bool ledger_dirty_ = false;  /* changed since it was last stored */
	std::unique_ptr<Session> session_;
	std::unique_ptr<Transport> transport_;
	std::unique_ptr<Delivery> delivery_;
	int lock_fd_ = -1;
	int64_t started_ = 0;
	/* fetchmail_run_finished, for metric { } blocks; log prefix
	   "fetchmail(<user>/<id>): " */
	struct event *event_ = nullptr;
	struct timeout *to_finish_ = nullptr;
	bool finished_ = false;

	/* IMAP folder iteration */
	size_t folder_idx_ = 0;
	std::string folder_;
	bool fingerprints_ = false;

	/* the fetch in progress */
	std::vector<RemoteMessage> known_present_;
	size_t expected_ = 0, completed_ = 0;
	size_t commit_batch_size_ = RETRIEVE_COMMIT_BATCH;
	bool in_message_ = false;
	bool save_failed_ = false;
	RemoteMessage current_;        /* the message being received */
	std::string header_;
	std::vector<Pending> pending_; /* saved, not yet committed */
	std::vector<std::string> committed_;
	std::vector<std::string> message_errors_;
};

AccountRun::AccountRun(Store &store, const Settings &set,
		       StoredAccount stored, RunMode mode,
		       struct ioloop *storage_ioloop, std::function<void()> done)
	: store_(store), set_(set), stored_(std::move(stored)), mode_(mode),
	  storage_ioloop_(storage_ioloop), done_(std::move(done)),
	  log_(set.max_log_size)
{
	report_.id = stored_.account.id;
}

AccountRun::~AccountRun()
{
	if (to_finish_ != nullptr)
		timeout_remove(&to_finish_);
	transport_.reset();
	IoloopScope scope(storage_ioloop_);
	delivery_.reset();
	if (lock_fd_ != -1)
		i_close_fd(&lock_fd_);
	if (event_ != nullptr)
		event_unref(&event_);
}

void AccountRun::note(const std::string &text)
{
	log_.line(now_ms(), '*', text);
}

int AccountRun::lock(std::string &error_r)
{
	int ret = store_.lock_account(stored_.account.id, lock_fd_, error_r);

	if (ret == 0)
		error_r = "another run of this account is in progress";
	return ret > 0 ? 0 : -1;
}

int AccountRun::prepare(std::string &error_r)
{
	IoloopScope scope(storage_ioloop_);

	if (mode_ == RunMode::Fetch) {
		if (lock(error_r) < 0)
			return -1;
		if (store_.load_ledger(stored_.account.id, ledger_, error_r) < 0)
			return -1;
		delivery_ = delivery_create(set_, store_.user(),
					    stored_.account.mailbox);
		if (delivery_->open(error_r) < 0)
			return -1;
		stored_.status.last_run = ioloop_time;
	}
	if (stored_.password_blob.empty()) {
		/* test mode with fields given: the password is not stored */
		return 0;
	}
	return store_.decrypt_password(stored_, error_r);
}

void AccountRun::start()
{
	const Account &a = stored_.account;
	std::string error;

	started_ = now_ms();
	event_ = event_create(store_.user()->event);
	event_set_append_log_prefix(event_, t_strdup_printf(
		"fetchmail(%s/%s): ", store_.user()->username, a.id.c_str()));
	event_add_str(event_, "account_id", a.id.c_str());
	event_add_str(event_, "protocol", protocol_name(a.protocol));
	event_add_str(event_, "host", a.host.c_str());
	if (prepare(error) < 0) {
		fail(error);
		return;
	}
	log_.add_secret(a.password);

	SessionConfig config;
	config.tls = a.tls == TlsMode::StartTls ? SessionConfig::Tls::StartTls :
		a.tls == TlsMode::None ? SessionConfig::Tls::None :
		SessionConfig::Tls::Implicit;
	config.user = a.remote_user;
	config.password = a.password;
	if (a.protocol == Protocol::Pop3)
		session_ = std::make_unique<SessionOf<Pop3Session>>(config);
	else
		session_ = std::make_unique<ImapSessionAdapter>(config);

	TransportSettings tset;
	tset.host = a.host;
	tset.port = a.effective_port();
	tset.implicit_tls = a.tls == TlsMode::Implicit;
	tset.verify = a.tls_verify;
	tset.timeout_msecs = set_.timeout_msecs;
	tset.user = store_.user();
	note(std::string("run started: ") + protocol_name(a.protocol) + " " +
	     a.host + ":" + std::to_string(tset.port) + " tls=" +
	     tls_mode_name(a.tls) + (a.tls_verify ? "" : " (not verified)"));
	transport_ = std::make_unique<Transport>(
		static_cast<TransportHandler &>(*this), tset);
	transport_->connect();
}

void AccountRun::transport_connected()
{
	const TransportInfo &info = transport_->info();

	note("connected to " + info.address);
	report_.steps.emplace_back("connect", info.address);
	if (info.tls) {
		std::string tls = info.tls_cipher + ", " + info.tls_subject +
			(info.tls_verified ? ", verified" :
			 ", NOT verified: " + info.tls_verify_error);
		note("TLS: " + tls);
		report_.steps.emplace_back("tls", tls);
	}
}

void AccountRun::transport_tls_started()
{
	const TransportInfo &info = transport_->info();
	std::string tls = info.tls_cipher + ", " + info.tls_subject +
		(info.tls_verified ? ", verified" :
		 ", NOT verified: " + info.tls_verify_error);

	note("STARTTLS: " + tls);
	report_.steps.emplace_back("tls", tls);
	session_->tls_started();
	process_events();
	flush_output();
}

size_t AccountRun::transport_input(std::string_view data)
{
	if (finished_)
		return data.size();
	size_t consumed = session_->feed(data);
	process_events();
	flush_output();
	return consumed;
}

void AccountRun::transport_failed(TransportError kind,
				  const std::string &error)
{
	if (finished_)
		return;
	if (kind == TransportError::Closed && session_ != nullptr) {
		/* the session decides whether that was expected (after QUIT
		   or LOGOUT) or an error */
		session_->eof();
		process_events();
		if (finished_)
			return;
	}
	drop_current_message();
	fail(error);
}

void AccountRun::flush_output()
{
	if (finished_ || session_ == nullptr)
		return;
	std::string out = session_->take_output();
	if (!out.empty())
		transport_->send(out);
}

void AccountRun::process_events()
{
	Event ev;

	while (!finished_ && session_->next_event(ev))
		on_event(ev);
}

void AccountRun::on_event(Event &ev)
{
	switch (ev.type) {
	case EventType::Log:
		log_.line(now_ms(), ev.outgoing ? 'C' : 'S', ev.text);
		break;
	case EventType::NeedTls:
		transport_->start_tls();
		break;
	case EventType::LoggedIn:
		on_logged_in();
		break;
	case EventType::FolderSelected:
		on_folder_selected(ev);
		break;
	case EventType::FolderFailed:
		message_errors_.push_back("folder " + ev.folder + ": " + ev.text);
		note("folder " + ev.folder + " failed: " + ev.text);
		if (mode_ == RunMode::Test)
			fail("folder " + ev.folder + ": " + ev.text);
		else
			next_folder();
		break;
	case EventType::Listing:
		on_listing(ev);
		break;
	case EventType::MessageBegin:
		on_message_begin(ev);
		break;
	case EventType::MessageData:
		on_message_data(ev);
		break;
	case EventType::MessageEnd:
		on_message_end(ev);
		break;
	case EventType::MessageFailed:
		message_errors_.push_back("message " + ev.message.uid + ": " +
					  ev.text);
		drop_current_message();
		on_message_done();
		break;
	case EventType::Removed:
		on_removed(ev);
		break;
	case EventType::Done:
		finish();
		break;
	case EventType::Error:
		drop_current_message();
		if (ev.error_kind == ErrorKind::Auth)
			report_.steps.emplace_back("login", "failed: " + ev.text);
		fail(ev.error_kind == ErrorKind::Auth ?
		     "login failed: " + ev.text : ev.text);
		break;
	}
}

void AccountRun::on_logged_in()
{
	report_.steps.emplace_back("login", "ok");
	if (stored_.account.protocol == Protocol::Imap) {
		folder_idx_ = 0;
		next_folder();
	}
	/* POP3 lists by itself after login */
}

void AccountRun::next_folder()
{
	const std::vector<std::string> &folders = stored_.account.folders;

	if (stored_.account.protocol == Protocol::Pop3 ||
	    folder_idx_ >= folders.size() ||
	    (mode_ == RunMode::Test && folder_idx_ > 0)) {
		if (mode_ == RunMode::Fetch &&
		    stored_.account.protocol == Protocol::Imap)
			ledger_.retain_folders(folders);
		session_->quit();
		return;
	}
	folder_ = folders[folder_idx_++];
	session_->select_folder(folder_, mode_ == RunMode::Test ||
				stored_.account.keep);
}

void AccountRun::on_folder_selected(const Event &ev)
{
	if (mode_ == RunMode::Test) {
		report_.steps.emplace_back("messages", std::to_string(ev.count) +
					   " in " + ev.folder);
		next_folder();
		return;
	}
	FolderLedger &fl = ledger_.folder(folder_);
	fingerprints_ = false;
	if (fl.uidvalidity != 0 && fl.uidvalidity != ev.uidvalidity) {
		note("folder " + folder_ + ": UIDVALIDITY changed from " +
		     std::to_string(fl.uidvalidity) + " to " +
		     std::to_string(ev.uidvalidity) +
		     ": matching messages by fingerprint");
		fl.reset_uids(ev.uidvalidity);
		fingerprints_ = true;
	}
	if (fl.uidvalidity != ev.uidvalidity)
		ledger_dirty_ = true;
	fl.uidvalidity = ev.uidvalidity;
	/* a baseline records fingerprints too (see on_listing) */
	if (fl.baseline)
		fingerprints_ = true;
	session_->list(1, fingerprints_);
}

void AccountRun::on_listing(const Event &ev)
{
	const Account &a = stored_.account;
	std::vector<RemoteMessage> fetch;

	if (mode_ == RunMode::Test) {
		report_.steps.emplace_back("messages",
			std::to_string(ev.messages.size()));
		session_->quit();
		return;
	}
	known_present_.clear();
	const auto shape = ledger_shape();
	bool baseline;
	if (a.protocol == Protocol::Pop3) {
		std::vector<std::string> present;
		for (const RemoteMessage &m : ev.messages) {
			if (m.uid.empty()) {
				fail("the server does not support UIDL: "
				     "cannot fetch exactly once");
				return;
			}
			present.push_back(m.uid);
		}
		ledger_.pop3_retain(present);
		baseline = ledger_.pop3_take_baseline(present);
	} else {
		std::vector<uint32_t> present;
		std::vector<std::string> fps;
		FolderLedger &fl = ledger_.folder(folder_);
		for (const RemoteMessage &m : ev.messages) {
			present.push_back(m.number);
			if (!fingerprints_)
				continue;
			std::string fp = message_fingerprint(m.message_id,
				m.size, m.internal_date);
			if (fl.has_fingerprint(fp))
				fl.add(m.number);
			fps.push_back(std::move(fp));
		}
		std::sort(present.begin(), present.end());
		fl.retain(present);
		if (fingerprints_)
			fl.retain_fingerprints(fps);
		baseline = fl.take_baseline(present, fps);
	}
	if (ledger_shape() != shape)
		ledger_dirty_ = true;
	if (baseline) {
		/* an imported account's first listing: what is on the server
		   was fetched by the old fetcher. Record it all, fetch and
		   delete nothing now. */
		ledger_dirty_ = true;
		note(std::to_string(ev.messages.size()) + " messages on the "
		     "server" + (folder_.empty() ? "" : " in " + folder_) +
		     " recorded as already fetched (import baseline)");
		expected_ = completed_ = 0;
		after_fetch();
		return;
	}

	for (const RemoteMessage &m : ev.messages) {
		bool known = a.protocol == Protocol::Pop3 ?
			ledger_.pop3_has(m.uid) :
			ledger_.folder(folder_).has(m.number);
		if (known)
			known_present_.push_back(m);
		else if (a.max_size != 0 && m.size > a.max_size) {
			report_.skipped++;
			note("message " + m.uid + " (" + std::to_string(m.size) +
			     " bytes) is over max-size: left on the server");
		} else
			fetch.push_back(m);
	}
	note(std::to_string(ev.messages.size()) + " messages on the server" +
	     (folder_.empty() ? "" : " in " + folder_) + ", " +
	     std::to_string(fetch.size()) + " new");
	expected_ = fetch.size();
	completed_ = 0;
	commit_batch_size_ = std::max(RETRIEVE_COMMIT_BATCH,
		(expected_ + RETRIEVE_COMMITS_PER_FETCH - 1) /
		RETRIEVE_COMMITS_PER_FETCH);
	if (fetch.empty())
		after_fetch();
	else
		session_->fetch(fetch);
}

/* A cheap change detector for the listing: the sizes of the current
   protocol's (or folder's) part of the ledger. */
std::tuple<size_t, size_t, size_t> AccountRun::ledger_shape() const
{
	if (stored_.account.protocol == Protocol::Pop3)
		return { ledger_.pop3_count(), 0, 0 };
	const FolderLedger *fl = ledger_.find_folder(folder_);
	if (fl == nullptr)
		return { 0, 0, 0 };
	return { fl->uid_count(), fl->range_count(), fl->fingerprints().size() };
}

void AccountRun::on_message_begin(const Event &ev)
{
	delivery_->begin();
	in_message_ = true;
	header_.clear();
	current_ = ev.message;
}

void AccountRun::drop_current_message()
{
	if (!in_message_)
		return;
	delivery_->abort();
	in_message_ = false;
	note("message " + current_.uid + " was not complete: discarded");
}

void AccountRun::on_message_data(const Event &ev)
{
	if (!in_message_)
		return;
	delivery_->data(ev.data);
	report_.bytes += ev.data.size();
	if (stored_.account.keep && stored_.account.protocol == Protocol::Imap &&
	    header_.size() < RETRIEVE_HEADER_MAX && !header_complete(header_))
		header_.append(ev.data.substr(0, RETRIEVE_HEADER_MAX -
					      header_.size()));
}

void AccountRun::on_message_end(const Event &ev)
{
	std::string error;
	MessageMeta meta{ ev.internal_date, ev.flags };

	if (!in_message_)
		return;
	in_message_ = false;
	IoloopScope scope(storage_ioloop_);
	if (save_failed_ || delivery_->save(meta, error) < 0) {
		if (!save_failed_) {
			message_errors_.push_back(error);
			note("message " + current_.uid + " not saved, left on "
			     "the server: " + error);
		}
		save_failed_ = true;
		delivery_->abort();
		on_message_done();
		return;
	}
	Pending &p = pending_.emplace_back(Pending{ current_, "" });
	if (stored_.account.keep && stored_.account.protocol == Protocol::Imap) {
		p.fingerprint = message_fingerprint(
			message_id_from_header(header_), p.message.size,
			ev.internal_date);
	}
	if (delivery_->uncommitted() >= commit_batch_size_ &&
	    commit_batch() < 0)
		return;
	on_message_done();
}

void AccountRun::on_message_done()
{
	if (++completed_ == expected_)
		after_fetch();
}

int AccountRun::commit_batch()
{
	IoloopScope scope(storage_ioloop_);
	std::string error;

	if (pending_.empty())
		return 0;
	if (delivery_->commit(error) < 0) {
		pending_.clear();
		if (report_.error.empty())
			report_.error = error;
		fail(error);
		return -1;
	}
	for (Pending &p : pending_) {
		if (stored_.account.protocol == Protocol::Pop3)
			ledger_.pop3_add(p.message.uid);
		else {
			FolderLedger &fl = ledger_.folder(folder_);
			fl.add(p.message.number);
			if (!p.fingerprint.empty())
				fl.add_fingerprint(std::move(p.fingerprint));
		}
		committed_.push_back(p.message.uid);
		report_.fetched++;
	}
	pending_.clear();
	if (store_.save_ledger(stored_.account.id, ledger_, error) < 0) {
		fail(error);
		return -1;
	}
	ledger_dirty_ = false;
	return 0;
}


void AccountRun::after_fetch()
{
	if (commit_batch() < 0)
		return;
	if (save_failed_) {
		/* keep what was committed, delete nothing more, stop */
		session_->quit();
		return;
	}
	if (!stored_.account.keep) {
		std::vector<std::string> remove = std::move(committed_);
		for (const RemoteMessage &m : known_present_)
			remove.push_back(m.uid);
		committed_.clear();
		if (!remove.empty()) {
			session_->remove(remove);
			return;
		}
	}
	committed_.clear();
	next_folder();
}

void AccountRun::on_removed(const Event &ev)
{
	report_.deleted += ev.uids.size();
	next_folder();
}

void AccountRun::fail(const std::string &error)
{
	if (finished_)
		return;
	report_.error = error;
	note("error: " + error);
	finish();
}

void AccountRun::finish()
{
	if (finished_)
		return;
	finished_ = true;
	/* complete messages saved before a failure are kept */
	drop_current_message();
	if (!pending_.empty())
		(void)commit_batch();
	if (report_.error.empty() && !message_errors_.empty()) {
		report_.error = message_errors_.front();
		if (message_errors_.size() > 1) {
			report_.error += " (and " +
				std::to_string(message_errors_.size() - 1) +
				" more)";
		}
	}
	report_.ok = report_.error.empty();
	note(std::string("run ended: ") + (report_.ok ? "ok" : "error") +
	     ", fetched " + std::to_string(report_.fetched) + ", deleted " +
	     std::to_string(report_.deleted) + ", skipped " +
	     std::to_string(report_.skipped) + ", " +
	     std::to_string(now_ms() - started_) + " ms");
	if (mode_ == RunMode::Fetch && lock_fd_ != -1) {
		write_status();
		emit_finished();
	}
	/* the transport may be inside one of its callbacks: let it return */
	to_finish_ = fetchmail_timeout_add(0, finish_timeout, this);
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

void AccountRun::interrupt()
{
	if (!finished_)
		fail("interrupted: the process is stopping");
}

void AccountRun::finish_timeout(AccountRun *run)
{
	timeout_remove(&run->to_finish_);
	run->transport_.reset();
	run->session_.reset();
	run->done_();
}

void AccountRun::write_status()
{
	IoloopScope scope(storage_ioloop_);
	AccountStatus &st = stored_.status;
	std::string error;

	st.last_status = report_.ok ? RunStatus::Ok : RunStatus::Error;
	st.last_error = report_.error;
	st.last_fetched = report_.fetched;
	st.failures = report_.ok ? 0 : st.failures + 1;
	/* +-5% jitter keeps accounts spread over the interval */
	uint64_t delay = next_run_delay(set_.interval_secs, st.failures);
	st.next_run = ioloop_time + delay - delay / 20 +
		i_rand_limit(delay / 10 + 1);
	/* listings change the ledger without a commit (forgotten UIDLs, a
	   new UIDVALIDITY, UIDs matched by fingerprint): store it too */
	if (store_.save_run(stored_.account.id, st, log_.str(),
			    ledger_dirty_ ? &ledger_ : nullptr, error) < 0)
		e_error(event_, "%s", error.c_str());
	ledger_dirty_ = false;
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
	struct ioloop *prev_ioloop = current_ioloop;
	struct timeout *to_interrupt = nullptr;
	RunQueue queue;
	std::vector<RunReport> reports;

	queue.max_parallel = set.max_parallel;
	queue.interrupted = interrupted;
	queue.ioloop = io_loop_create();
	for (StoredAccount &stored : accounts) {
		queue.runs.push_back(std::make_unique<AccountRun>(
			store, set, std::move(stored), mode, prev_ioloop,
			[&queue] { queue.done(); }));
	}
	if (interrupted) {
		to_interrupt = (timeout_add)(RUN_INTERRUPT_CHECK_MSECS,
			__FILE__, __LINE__, (timeout_callback_t *)
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
	io_loop_destroy(&queue.ioloop);
	return reports;
}

} // namespace fetchmail
