#include "fetchmail-retrieval.hh"

#include "fetchmail-message.hh"
#include "fetchmail-schedule.hh"
#include "fetchmail-strings.hh"

#include <algorithm>

namespace fetchmail {

namespace {

/* header bytes kept per message for its identity and fingerprint */
constexpr size_t HEADER_MAX = 16 * 1024;

} // namespace

Retrieval::Retrieval(RetrievalConfig config, Ledger ledger,
		     std::vector<PendingMessage> pending)
	: config_(std::move(config)), ledger_(std::move(ledger)),
	  pending_(std::move(pending)), log_(config_.max_log_size),
	  status_(config_.status)
{
	if (!config_.now_ms)
		config_.now_ms = [] { return int64_t(0); };
	if (!config_.random)
		config_.random = [](uint32_t) { return 0u; };
	config_.session.max_listing = config_.max_messages;
	redactor_.add_secret(config_.session.password);
	log_.add_secret(config_.session.password);
}

/* ---- inputs ---- */

void Retrieval::start()
{
	if (step_ != Step::Idle)
		return;
	started_ms_ = config_.now_ms();
	if (!pending_.empty() && config_.mode != RunMode::Test &&
	    config_.mode != RunMode::Check) {
		step_ = Step::Reconciling;
		note_line(std::to_string(pending_.size()) + " messages of an "
			  "interrupted batch may have been delivered: "
			  "looking for them in the mailbox");
		act(Action::Type::Reconcile);
		return;
	}
	connect();
}

void Retrieval::reconciled(const std::vector<PendingMessage> &found)
{
	if (step_ != Step::Reconciling)
		return;
	for (const PendingMessage &m : found) {
		if (m.folder.empty())
			ledger_.pop3_add(m.uid);
		else {
			uint32_t uid;
			if (parse_u32(m.uid, uid) && uid != 0)
				ledger_.folder(m.folder).add(uid);
		}
	}
	note_line(std::to_string(found.size()) + " of them were delivered, " +
		  std::to_string(pending_.size() - std::min(pending_.size(),
							    found.size())) +
		  " will be fetched again");
	pending_.clear();
	ledger_dirty_ = true;
	store_ledger(Resume::Connect);
}

void Retrieval::connect()
{
	if (config_.oauth2 && step_ != Step::Token) {
		step_ = Step::Token;
		act(Action::Type::RefreshToken).force = token_retried_;
		return;
	}
	new_session();
	step_ = Step::Connecting;
	act(Action::Type::Connect);
}

void Retrieval::token_ready(std::string_view token, std::string_view mechanism)
{
	if (step_ != Step::Token)
		return;
	config_.session.password = token;
	config_.session.sasl_mech = mechanism;
	redactor_.add_secret(token);
	log_.add_secret(token);
	connect();
}

void Retrieval::token_failed(TokenError kind, std::string_view text)
{
	if (step_ != Step::Token)
		return;
	std::string error(text);
	if (kind == TokenError::ConsentNeeded) {
		report_.consent_needed = true;
		error = "consent needed: " + error;
	}
	report_.failure = kind == TokenError::Config ?
		RunReport::Failure::Config : RunReport::Failure::Remote;
	fail(error);
}

void Retrieval::connected(std::string_view address)
{
	if (step_ != Step::Connecting)
		return;
	step_ = Step::Session;
	note_line("connected to " + std::string(address));
	report_.steps.emplace_back("connect", std::string(address));
}

void Retrieval::tls_up(std::string_view description)
{
	if (finished_)
		return;
	note_line("TLS: " + std::string(description));
	report_.steps.emplace_back("tls", std::string(description));
}

void Retrieval::tls_started()
{
	if (session_ == nullptr || session_done_)
		return;
	if (pop3_)
		pop3_->tls_started();
	else
		imap_->tls_started();
}

size_t Retrieval::feed(std::string_view bytes)
{
	if (session_ == nullptr || session_done_ || step_ != Step::Session)
		return finished_ ? bytes.size() : 0;
	/* the views handed out of held events were valid until now */
	if (held_events_.empty())
		held_data_.clear();
	return pop3_ ? pop3_->feed(bytes) : imap_->feed(bytes);
}

std::string Retrieval::take_output()
{
	if (session_ == nullptr || closed_)
		return std::string();
	return session_->take_output();
}

void Retrieval::closed()
{
	if (session_ == nullptr || session_done_ || finished_)
		return;
	/* the session decides whether that was expected (after QUIT or
	   LOGOUT) or an error */
	if (pop3_)
		pop3_->eof();
	else
		imap_->eof();
}

void Retrieval::transport_failed(NetError kind, std::string_view text)
{
	if (finished_)
		return;
	if (kind == NetError::Closed && session_ != nullptr && !session_done_) {
		closed();
		return;
	}
	if (step_ == Step::Connecting && kind != NetError::Tls)
		report_.steps.emplace_back("connect", "failed: " +
					   std::string(text));
	fail(text);
}

void Retrieval::pending_stored()
{
	if (await_ != Await::PendingStore)
		return;
	await_ = Await::None;
	if (config_.saves_are_final) {
		if (std::exchange(resume_, Resume::None) == Resume::Finish) {
			/* the run ended while the record was written: the
			   message is not delivered (it is pending: the next
			   run fetches it again) */
			act(Action::Type::Discard);
			finish();
			return;
		}
		/* the pending record covers the message: deliver it */
		Saved &s = in_flight_.back();
		Action &a = act(Action::Type::Save);
		a.internal_date = s.internal_date;
		a.flags = std::move(s.flags);
		if (std::exchange(ledger_store_due_, false))
			store_ledger(Resume::None);
		return;
	}
	if (pending_.size() != batch_.size()) {
		/* saves answered while the record was written: the commit
		   makes them durable too, so the record must name them */
		flush_batch(resume_);
		return;
	}
	/* the batch is what this commit makes durable: saves answered
	   from now on belong to the next one */
	committing_ = std::move(batch_);
	batch_.clear();
	await_ = Await::Commit;
	act(Action::Type::Commit);
}

void Retrieval::pending_store_failed(std::string_view error)
{
	ledger_store_failed(error);
}

void Retrieval::saved()
{
	if (finished_ || in_flight_.empty())
		return;
	Saved s = std::move(in_flight_.front());
	in_flight_.pop_front();
	if (!config_.saves_are_final) {
		batch_.push_back(std::move(s));
		if (batch_.size() >= batch_size_)
			flush_batch();
		message_done();
		return;
	}
	/* final: recorded at once; the pending record keeps the others in
	   flight. The answer can come while the pending record of the next
	   message or an earlier ledger write is under way: then the ledger
	   is written once that is answered (the stored pending record still
	   names the message). */
	record(s);
	if (await_ == Await::None)
		store_ledger(Resume::None);
	else
		ledger_store_due_ = true;
	message_done();
}

void Retrieval::save_failed(std::string_view error)
{
	if (finished_ || in_flight_.empty())
		return;
	Saved s = std::move(in_flight_.front());
	in_flight_.pop_front();
	if (!stop_saving_) {
		report_.failure = RunReport::Failure::Local;
		std::string text = redactor_.server_text(error, 1024);
		message_errors_.push_back(text);
		note_line("message " + s.message.uid + " not saved, left on the "
			  "server: " + text);
	}
	stop_saving_ = true;
	message_done();
}

void Retrieval::committed()
{
	if (await_ != Await::Commit)
		return;
	await_ = Await::None;
	for (Saved &s : committing_)
		record(s);
	committing_.clear();
	store_ledger(resume_);
}

void Retrieval::commit_failed(std::string_view error)
{
	if (await_ != Await::Commit)
		return;
	await_ = Await::None;
	committing_.clear();
	batch_.clear();
	local_ok_ = false;
	report_.failure = RunReport::Failure::Local;
	fail(redactor_.server_text(error, 1024));
}

void Retrieval::ledger_stored()
{
	if (await_ != Await::LedgerStore)
		return;
	await_ = Await::None;
	if (std::exchange(ledger_store_due_, false)) {
		/* a final save was recorded while this write was under way:
		   write again, then go on as this one would have */
		store_ledger(resume_);
		return;
	}
	ledger_dirty_ = false;
	Resume resume = std::exchange(resume_, Resume::None);
	switch (resume) {
	case Resume::None:
		break;
	case Resume::Connect:
		connect();
		return;
	case Resume::Fetch:
		start_fetch(std::exchange(fetch_after_store_, {}));
		return;
	case Resume::Finish:
		finish();
		return;
	}
	try_after_fetch();
}

void Retrieval::ledger_store_failed(std::string_view error)
{
	if (await_ == Await::None)
		return;
	await_ = Await::None;
	resume_ = Resume::None;
	local_ok_ = false;
	report_.failure = RunReport::Failure::Local;
	fail(redactor_.server_text(error, 1024));
}

void Retrieval::abort(std::string_view error)
{
	if (finished_)
		return;
	if (step_ == Step::Idle)
		started_ms_ = config_.now_ms();
	local_ok_ = false;
	if (report_.failure == RunReport::Failure::None)
		report_.failure = RunReport::Failure::Local;
	fail(error);
}

void Retrieval::interrupt()
{
	fail("interrupted: the process is stopping");
}

void Retrieval::deadline()
{
	fail("the run took longer than fetchmail_run_timeout: ended");
}

void Retrieval::note(std::string_view text)
{
	/* the log was handed over with Finish */
	if (!finished_)
		note_line(text);
}

bool Retrieval::next_action(Action &action_r)
{
	/* session events are taken one at a time, and only while no answer
	   that the adapter gives at once is awaited, so that nothing the
	   session reports is acted on out of order */
	while (actions_.empty() && await_ == Await::None &&
	       session_ != nullptr && !finished_) {
		Event ev;
		if (!held_events_.empty()) {
			ev = std::move(held_events_.front());
			held_events_.pop_front();
		} else if (!session_->next_event(ev)) {
			break;
		}
		on_event(ev);
	}
	if (actions_.empty()) {
		hold_events();
		return false;
	}
	action_r = std::move(actions_.front());
	actions_.pop_front();
	return true;
}

/* The adapter is done with this round of actions, and may free or reuse
   the buffer it fed before it answers what is awaited (from the ioloop)
   and feeds again: the events not taken yet keep copies of their data.
   They are taken before the session's next ones. */
void Retrieval::hold_events()
{
	Event ev;

	if (await_ == Await::None || session_ == nullptr || finished_)
		return;
	while (session_->next_event(ev)) {
		if (!ev.data.empty()) {
			held_data_.emplace_back(ev.data);
			ev.data = held_data_.back();
		}
		held_events_.push_back(std::move(ev));
	}
}

/* ---- the session ---- */

void Retrieval::new_session()
{
	session_ = nullptr;
	pop3_.reset();
	imap_.reset();
	held_events_.clear();
	session_done_ = false;
	closed_ = false;
	logged_in_ = false;
	if (config_.protocol == Protocol::Pop3) {
		pop3_ = std::make_unique<Pop3Session>(config_.session);
		session_ = pop3_.get();
	} else {
		imap_ = std::make_unique<ImapSession>(config_.session);
		session_ = imap_.get();
	}
}

void Retrieval::on_event(Event &ev)
{
	switch (ev.type) {
	case EventType::Log:
		log_.line(config_.now_ms(), ev.outgoing ? 'C' : 'S', ev.text);
		break;
	case EventType::NeedTls:
		act(Action::Type::StartTls);
		break;
	case EventType::LoggedIn:
		on_logged_in();
		break;
	case EventType::FolderSelected:
		on_folder_selected(ev);
		break;
	case EventType::FolderFailed:
		message_errors_.push_back("folder " + ev.folder + ": " + ev.text);
		note_line("folder " + ev.folder + " failed: " + ev.text);
		if (config_.mode == RunMode::Test)
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
		on_message_failed(ev);
		break;
	case EventType::Removed:
		on_removed(ev);
		break;
	case EventType::Done:
		session_done_ = true;
		report_.deleted += removed_unconfirmed_;
		removed_unconfirmed_ = 0;
		if (!ev.text.empty())
			note_line(ev.text);
		close_session();
		finish();
		break;
	case EventType::Error:
		on_session_error(ev);
		break;
	case EventType::Idling:
	case EventType::MailboxChanged:
	case EventType::IdleDone:
	case EventType::IdleFailed:
		/* push only: a run never calls idle() */
		break;
	}
}

void Retrieval::on_session_error(const Event &ev)
{
	session_done_ = true;
	drop_message();
	if (ev.error_kind != ErrorKind::Auth) {
		fail(ev.text);
		return;
	}
	if (config_.oauth2 && !token_retried_) {
		/* the token may have been revoked or expired early: refresh
		   it once and log in again */
		token_retried_ = true;
		note_line("the server refused the access token (" + ev.text +
			  "): refreshing it and logging in again");
		close_session();
		step_ = Step::Idle;
		connect();
		return;
	}
	report_.steps.emplace_back("login", "failed: " + ev.text);
	fail("login failed: " + ev.text);
}

void Retrieval::on_logged_in()
{
	logged_in_ = true;
	report_.steps.emplace_back("login", "ok");
	if (imap_) {
		folder_idx_ = 0;
		next_folder();
	}
	/* POP3 lists by itself after login */
}

void Retrieval::next_folder()
{
	const std::vector<std::string> &folders = config_.folders;

	if (pop3_ || folder_idx_ >= folders.size() ||
	    (config_.mode == RunMode::Test && folder_idx_ > 0)) {
		if ((config_.mode == RunMode::Fetch ||
		     config_.mode == RunMode::Baseline) && imap_ &&
		    folder_idx_ >= folders.size()) {
			size_t before = ledger_.folders().size();
			ledger_.retain_folders(folders);
			ledger_dirty_ |= ledger_.folders().size() != before;
		}
		quit();
		return;
	}
	folder_ = folders[folder_idx_++];
	imap_->select_folder(folder_, config_.mode != RunMode::Fetch ||
			     config_.keep);
}

void Retrieval::on_folder_selected(const Event &ev)
{
	summary_.folders.push_back(FolderSummary{ ev.folder, ev.uidvalidity,
						  ev.uidnext, ev.count });
	if (config_.mode == RunMode::Check) {
		next_folder();
		return;
	}
	if (config_.mode == RunMode::Test) {
		report_.steps.emplace_back("messages", std::to_string(ev.count) +
					   " in " + ev.folder);
		next_folder();
		return;
	}
	FolderLedger &fl = ledger_.folder(folder_);
	bool new_uidvalidity = fl.uidvalidity != ev.uidvalidity;
	fingerprints_ = false;
	if (fl.uidvalidity != 0 && new_uidvalidity) {
		note_line("folder " + folder_ + ": UIDVALIDITY changed from " +
			  std::to_string(fl.uidvalidity) + " to " +
			  std::to_string(ev.uidvalidity) +
			  ": matching messages by fingerprint");
		fl.reset_uids(ev.uidvalidity);
		fingerprints_ = true;
	}
	if (new_uidvalidity)
		ledger_dirty_ = true;
	fl.uidvalidity = ev.uidvalidity;
	/* a pending baseline records fingerprints too (see on_listing) */
	if (fl.baseline)
		fingerprints_ = true;
	uidvalidity_unstored_ = new_uidvalidity;
	imap_->list(1, fingerprints_);
}

void Retrieval::on_listing(Event &ev)
{
	std::vector<RemoteMessage> listing = std::move(ev.messages);

	if (pop3_)
		summarize_pop3(listing);
	if (config_.mode == RunMode::Check) {
		quit();
		return;
	}
	if (config_.mode == RunMode::Test) {
		report_.steps.emplace_back("messages",
					   std::to_string(listing.size()));
		quit();
		return;
	}
	size_t total = listing.size();
	if (pop3_) {
		if (!filter_pop3(listing))
			return;
	} else {
		filter_imap(listing);
	}
	/* taken in a Baseline run too, which does what it asks for */
	bool pending_baseline = take_baseline();
	if (config_.mode == RunMode::Baseline || pending_baseline) {
		for (const RemoteMessage &m : listing) {
			record_uid(m);
			if (imap_ && fingerprints_)
				ledger_.folder(folder_).add_fingerprint(
					message_fingerprint(m.message_id,
							    m.size,
							    m.internal_date));
		}
		report_.marked += listing.size();
		note_line(std::to_string(total) + " messages on the server" +
			  folder_suffix() + ", " + std::to_string(listing.size()) +
			  " marked as fetched without fetching them");
		known_present_.clear();
		next_folder();
		return;
	}
	std::vector<RemoteMessage> fetch;
	for (RemoteMessage &m : listing) {
		if (config_.max_size != 0 && m.size > config_.max_size) {
			report_.skipped++;
			note_line("message " + m.uid + " (" +
				  std::to_string(m.size) + " bytes) is over "
				  "max-size: left on the server");
		} else {
			fetch.push_back(std::move(m));
		}
	}
	note_line(std::to_string(total) + " messages on the server" +
		  folder_suffix() + ", " + std::to_string(fetch.size()) + " new");
	if (imap_ && uidvalidity_unstored_ && !fetch.empty()) {
		/* A pending record names UIDs without their UIDVALIDITY:
		   Reconcile files them under the stored ledger's. So the
		   stored ledger must hold this UIDVALIDITY (and the UIDs just
		   matched by fingerprint) before a batch of this folder
		   becomes pending; else a crash after its commit would have
		   the next run reset the UIDs it found and deliver the batch
		   again. Once per folder and UIDVALIDITY. */
		uidvalidity_unstored_ = false;
		fetch_after_store_ = std::move(fetch);
		store_ledger(Resume::Fetch);
		return;
	}
	start_fetch(std::move(fetch));
}

/* Forget what is gone from the server, keep apart what is known and
   still there (deleted later with keep = no); listing keeps the rest.
   False when the listing cannot be used (no UIDL). */
bool Retrieval::filter_pop3(std::vector<RemoteMessage> &listing)
{
	std::vector<std::string> present;
	present.reserve(listing.size());
	for (const RemoteMessage &m : listing) {
		if (m.uid.empty()) {
			fail("the server does not support UIDL: cannot fetch "
			     "exactly once");
			return false;
		}
		present.push_back(m.uid);
	}
	size_t before = ledger_.pop3_count();
	ledger_.pop3_retain(present);
	ledger_dirty_ |= ledger_.pop3_count() != before;
	split_known(listing, [&](const RemoteMessage &m) {
		return ledger_.pop3_has(m.uid);
	});
	return true;
}

void Retrieval::filter_imap(std::vector<RemoteMessage> &listing)
{
	FolderLedger &fl = ledger_.folder(folder_);
	const size_t uids = fl.uid_count(), ranges = fl.range_count(),
		fps_before = fl.fingerprints().size();
	std::vector<uint32_t> present;
	std::vector<std::string> fps;

	present.reserve(listing.size());
	for (const RemoteMessage &m : listing) {
		present.push_back(m.number);
		if (!fingerprints_)
			continue;
		std::string fp = message_fingerprint(m.message_id, m.size,
						     m.internal_date);
		if (fl.has_fingerprint(fp))
			fl.add(m.number);
		fps.push_back(std::move(fp));
	}
	std::sort(present.begin(), present.end());
	fl.retain(present);
	if (fingerprints_)
		fl.retain_fingerprints(fps);
	ledger_dirty_ |= fl.uid_count() != uids || fl.range_count() != ranges ||
		fl.fingerprints().size() != fps_before;
	split_known(listing, [&](const RemoteMessage &m) {
		return fl.has(m.number);
	});
}

template <typename Known>
void Retrieval::split_known(std::vector<RemoteMessage> &listing, Known known)
{
	known_present_.clear();
	auto first_known = std::stable_partition(listing.begin(), listing.end(),
		[&](const RemoteMessage &m) { return !known(m); });
	for (auto it = first_known; it != listing.end(); ++it)
		known_present_.push_back(std::move(it->uid));
	listing.erase(first_known, listing.end());
}

void Retrieval::start_fetch(std::vector<RemoteMessage> fetch)
{
	expected_ = fetch.size();
	completed_ = 0;
	fetch_complete_ = false;
	batch_size_ = std::max(config_.commit_batch_min,
		(expected_ + config_.commits_per_fetch - 1) /
		std::max<size_t>(config_.commits_per_fetch, 1));
	if (fetch.empty()) {
		fetch_complete_ = true;
		try_after_fetch();
		return;
	}
	if (pop3_)
		pop3_->fetch(fetch);
	else
		imap_->fetch(fetch);
}

void Retrieval::on_message_begin(const Event &ev)
{
	act(Action::Type::Begin).message = ev.message;
	in_message_ = true;
	header_.clear();
	current_ = ev.message;
}

void Retrieval::on_message_data(const Event &ev)
{
	if (!in_message_)
		return;
	act(Action::Type::Data).data = ev.data;
	report_.bytes += ev.data.size();
	if (header_.size() < HEADER_MAX && !header_complete(header_))
		header_.append(ev.data.substr(0, HEADER_MAX - header_.size()));
}

void Retrieval::on_message_end(Event &ev)
{
	if (!in_message_)
		return;
	in_message_ = false;
	if (stop_saving_) {
		act(Action::Type::Discard);
		message_done();
		return;
	}
	Saved &s = in_flight_.emplace_back();
	s.message = std::move(current_);
	s.identity = message_identity(header_);
	s.internal_date = ev.internal_date;
	s.flags = std::move(ev.flags);
	if (imap_ && config_.keep) {
		s.fingerprint = message_fingerprint(
			message_id_from_header(header_), s.message.size,
			ev.internal_date);
	}
	if (config_.saves_are_final) {
		/* pending first: a final save cannot be taken back */
		pending_.clear();
		for (const Saved &f : in_flight_)
			pending_.push_back(pending_entry(f));
		await_ = Await::PendingStore;
		act(Action::Type::StorePending);
		return;
	}
	Action &a = act(Action::Type::Save);
	a.internal_date = s.internal_date;
	a.flags = std::move(s.flags);
}

void Retrieval::on_message_failed(const Event &ev)
{
	message_errors_.push_back("message " + ev.message.uid + ": " + ev.text);
	if (in_message_ && ev.message.uid == current_.uid)
		drop_message();
	/* a failed DELE/STORE is not a fetched message */
	if (expected_ > completed_ && !removing_)
		message_done();
}

void Retrieval::drop_message()
{
	if (!in_message_)
		return;
	in_message_ = false;
	act(Action::Type::Discard);
	note_line("message " + current_.uid + " was not complete: discarded");
}

void Retrieval::message_done()
{
	if (++completed_ >= expected_) {
		fetch_complete_ = true;
		try_after_fetch();
	}
}

/* ---- committing and recording ---- */

PendingMessage Retrieval::pending_entry(const Saved &s) const
{
	return PendingMessage{ pop3_ ? "" : folder_, s.message.uid, s.identity };
}

/* Storage: the batch becomes pending, is committed, then recorded. */
void Retrieval::flush_batch(Resume after)
{
	if (batch_.empty() || await_ != Await::None)
		return;
	pending_.clear();
	for (const Saved &s : batch_)
		pending_.push_back(pending_entry(s));
	resume_ = after;
	await_ = Await::PendingStore;
	act(Action::Type::StorePending);
}

void Retrieval::record(const Saved &s)
{
	record_uid(s.message);
	if (!s.fingerprint.empty())
		ledger_.folder(folder_).add_fingerprint(s.fingerprint);
	recorded_.push_back(s.message.uid);
	report_.fetched++;
}

void Retrieval::record_uid(const RemoteMessage &m)
{
	if (pop3_)
		ledger_.pop3_add(m.uid);
	else
		ledger_.folder(folder_).add(m.number);
	ledger_dirty_ = true;
}

/* A pending baseline for this listing (an imported account's first: its
   old fetcher left mail on the server), taken: true once. */
bool Retrieval::take_baseline()
{
	if (pop3_) {
		if (!ledger_.pop3_baseline())
			return false;
		ledger_.set_pop3_baseline(false);
	} else {
		FolderLedger &fl = ledger_.folder(folder_);
		if (!fl.baseline)
			return false;
		fl.baseline = false;
	}
	ledger_dirty_ = true;
	return true;
}

/* Store the ledger and what is still pending (the saves in flight). */
void Retrieval::store_ledger(Resume after)
{
	pending_.clear();
	for (const Saved &f : in_flight_)
		pending_.push_back(pending_entry(f));
	resume_ = after;
	await_ = Await::LedgerStore;
	act(Action::Type::StoreLedger);
}

/* Everything listed is done: commit what is left, then delete (keep =
   no) and go on with the next folder. */
void Retrieval::try_after_fetch()
{
	if (!fetch_complete_ || await_ != Await::None || !in_flight_.empty() ||
	    finished_ || failing_)
		return;
	if (!batch_.empty()) {
		flush_batch(Resume::None);
		return;
	}
	fetch_complete_ = false;
	if (stop_saving_) {
		/* keep what was committed, delete nothing more, stop */
		quit();
		return;
	}
	if (!config_.keep) {
		std::vector<std::string> remove = std::move(recorded_);
		remove.insert(remove.end(),
			      std::make_move_iterator(known_present_.begin()),
			      std::make_move_iterator(known_present_.end()));
		recorded_.clear();
		known_present_.clear();
		if (!remove.empty()) {
			removing_ = true;
			if (pop3_)
				pop3_->remove(remove);
			else
				imap_->remove(remove);
			return;
		}
	}
	recorded_.clear();
	known_present_.clear();
	next_folder();
}

void Retrieval::on_removed(const Event &ev)
{
	removing_ = false;
	/* POP3 deletes only when QUIT succeeds */
	if (pop3_) {
		removed_unconfirmed_ += ev.uids.size();
		pop3_removed_.insert(pop3_removed_.end(), ev.uids.begin(),
				     ev.uids.end());
	} else {
		report_.deleted += ev.uids.size();
		if (!summary_.folders.empty()) {
			uint32_t &exists = summary_.folders.back().exists;
			exists -= std::min<uint32_t>(exists, ev.uids.size());
		}
	}
	next_folder();
}

/* POP3: the listing's summary; with keep = no what this run deletes is
   taken out at the end (finish_summary()). */
void Retrieval::summarize_pop3(const std::vector<RemoteMessage> &listing)
{
	std::vector<std::string> uids;

	uids.reserve(listing.size());
	for (const RemoteMessage &m : listing)
		uids.push_back(m.uid);
	summary_.pop3_count = uids.size();
	summary_.pop3_digest = poll_uidl_digest(uids);
	if (config_.mode == RunMode::Fetch && !config_.keep)
		pop3_listed_ = std::move(uids);
}

/* The summary as the run leaves the mailbox, known only after a run that
   went through every step. */
void Retrieval::finish_summary()
{
	if (!report_.ok || (imap_ && summary_.folders.size() !=
			    config_.folders.size())) {
		report_.summary = PollSummary();
		report_.changed = true;
		return;
	}
	if (pop3_ && !pop3_removed_.empty()) {
		std::sort(pop3_removed_.begin(), pop3_removed_.end());
		std::vector<std::string> left;
		for (std::string &uid : pop3_listed_) {
			if (!std::binary_search(pop3_removed_.begin(),
						pop3_removed_.end(), uid))
				left.push_back(std::move(uid));
		}
		summary_.pop3_count = left.size();
		summary_.pop3_digest = poll_uidl_digest(left);
	}
	summary_.known = true;
	report_.summary = std::move(summary_);
	report_.changed = !config_.summary.known ||
		!(report_.summary == config_.summary);
}

void Retrieval::quit()
{
	if (session_ == nullptr)
		return;
	if (pop3_)
		pop3_->quit();
	else
		imap_->quit();
}

/* ---- ending ---- */

void Retrieval::close_session()
{
	if (closed_ || session_ == nullptr)
		return;
	closed_ = true;
	act(Action::Type::Close);
}

void Retrieval::fail(std::string_view error)
{
	if (finished_)
		return;
	std::string text = redactor_.server_text(error, 1024);
	if (report_.error.empty())
		report_.error = text;
	note_line("error: " + text);
	if (failing_) {
		/* the local step the ending waited for failed itself
		   (ledger_store_failed(), commit_failed()): nothing is
		   awaited any more */
		if (await_ == Await::None)
			finish();
		return;
	}
	failing_ = true;
	drop_message();
	close_session();
	session_done_ = true;
	/* complete messages saved before the failure are kept */
	if (local_ok_ && !batch_.empty() && await_ == Await::None) {
		flush_batch(Resume::Finish);
		return;
	}
	if (await_ != Await::None && local_ok_) {
		/* a local step is in progress: finish when it is done */
		resume_ = Resume::Finish;
		return;
	}
	finish();
}

void Retrieval::finish()
{
	if (finished_)
		return;
	if (step_ == Step::Idle && config_.mode == RunMode::Test &&
	    report_.error.empty())
		report_.error = "not started";
	finished_ = true;
	step_ = Step::Finished;
	/* an answer still outstanding (abort() while a store was under
	   way) is ignored like every other input from now on: it must not
	   resume the run */
	await_ = Await::None;
	resume_ = Resume::None;
	close_session();
	if (report_.error.empty() && !message_errors_.empty()) {
		report_.error = message_errors_.front();
		if (message_errors_.size() > 1) {
			report_.error += " (and " +
				std::to_string(message_errors_.size() - 1) +
				" more)";
		}
	}
	report_.ok = report_.error.empty();
	if (config_.mode != RunMode::Test)
		finish_summary();
	if (report_.ok)
		report_.failure = RunReport::Failure::None;
	else if (report_.failure == RunReport::Failure::None)
		report_.failure = RunReport::Failure::Remote;
	int64_t now = config_.now_ms();
	note_line(std::string("run ended: ") + (report_.ok ? "ok" : "error") +
		  ", fetched " + std::to_string(report_.fetched) +
		  ", deleted " + std::to_string(report_.deleted) +
		  ", skipped " + std::to_string(report_.skipped) +
		  (config_.mode == RunMode::Baseline ? ", marked " +
		   std::to_string(report_.marked) : std::string()) + ", " +
		  std::to_string(now - started_ms_) + " ms");
	status_ = status_after_run(config_.status, started_ms_ / 1000,
				   now / 1000, report_.ok, report_.error,
				   report_.fetched, report_.consent_needed,
				   config_.interval_secs, config_.random);
	report_.status = status_;
	act(Action::Type::Finish);
}

/* ---- helpers ---- */

Action &Retrieval::act(Action::Type type)
{
	Action &a = actions_.emplace_back();
	a.type = type;
	return a;
}

void Retrieval::note_line(std::string_view text)
{
	log_.line(config_.now_ms(), '*', redactor_.redacted(text));
}

std::string Retrieval::folder_suffix() const
{
	return folder_.empty() ? std::string() : " in " + folder_;
}

} // namespace fetchmail
