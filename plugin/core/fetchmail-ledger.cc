#include "fetchmail-ledger.hh"

#include "fetchmail-account.hh"
#include "fetchmail-json.hh"
#include "fetchmail-message.hh"
#include "fetchmail-strings.hh"

#include <algorithm>

namespace fetchmail {

namespace {

const int LEDGER_VERSION = 1;

/* A UID: 1 or more. */
bool parse_uid(std::string_view s, uint32_t &uid_r)
{
	uint32_t n;
	if (!parse_u32(s, n) || n == 0)
		return false;
	uid_r = n;
	return true;
}

/* The members of one folder's object; errors name the member. */
int folder_members(const Json::Value &v, FolderLedger &folder,
		   std::string &error_r)
{
	std::string uids;
	std::vector<std::string> fps;
	int ret = 0;

	if (json_get(v, "uidvalidity", folder.uidvalidity, error_r) < 0 ||
	    (ret = json_get(v, "uids", uids, error_r)) < 0)
		return -1;
	if (ret > 0 && folder.add_uids_string(uids) < 0) {
		error_r = "uids: malformed UID set";
		return -1;
	}
	if (json_get(v, "fp", fps, error_r) < 0 ||
	    json_get(v, "baseline", folder.baseline, error_r) < 0)
		return -1;
	for (std::string &fp : fps)
		folder.add_fingerprint(std::move(fp));
	return 0;
}

int folder_decode(const std::string &name, const Json::Value &v,
		  FolderLedger &folder, std::string &error_r)
{
	std::string where = "folder '" + account_quote_value(name) + "'";
	if (!v.isObject())
		return json_type_error(error_r, where, "an object");
	if (folder_members(v, folder, error_r) < 0) {
		error_r = where + " " + error_r;
		return -1;
	}
	return 0;
}

/* ledger_decode() without the "ledger: " in front of errors */
int ledger_read(std::string_view json, Ledger &ledger, std::string &error_r)
{
	Json::Value root;
	std::vector<std::string> pop3;
	bool baseline = false;
	int version;

	if (json_read_object(json, root, error_r) < 0 ||
	    json_version(root, LEDGER_VERSION, "v", "a version number",
			 version, error_r) < 0 ||
	    json_get(root, "pop3", pop3, error_r) < 0 ||
	    json_get(root, "baseline", baseline, error_r) < 0)
		return -1;
	for (std::string &uidl : pop3)
		ledger.pop3_add(std::move(uidl));
	ledger.set_pop3_baseline(baseline);

	const Json::Value &folders = root["folders"];
	if (folders.isNull())
		return 0;
	if (!folders.isObject())
		return json_type_error(error_r, "folders", "an object");
	for (auto it = folders.begin(); it != folders.end(); ++it) {
		std::string name = it.name();
		if (folder_decode(name, *it, ledger.folder(name), error_r) < 0)
			return -1;
	}
	return 0;
}

} // namespace

bool FolderLedger::has(uint32_t uid) const
{
	auto it = ranges.upper_bound(uid);
	if (it == ranges.begin())
		return false;
	--it;
	return uid <= it->second;
}

void FolderLedger::add(uint32_t uid)
{
	add_range(uid, uid);
}

void FolderLedger::add_range(uint32_t lo, uint32_t hi)
{
	if (lo > hi)
		std::swap(lo, hi);
	uint32_t new_lo = lo, new_hi = hi;
	auto it = ranges.upper_bound(lo);
	if (it != ranges.begin()) {
		auto prev = std::prev(it);
		if ((uint64_t)prev->second + 1 >= lo)
			it = prev;
	}
	/* it: the first range that overlaps or touches [lo, hi] */
	while (it != ranges.end() && (uint64_t)it->first <= (uint64_t)hi + 1) {
		new_lo = std::min(new_lo, it->first);
		new_hi = std::max(new_hi, it->second);
		it = ranges.erase(it);
	}
	ranges.emplace_hint(it, new_lo, new_hi);
}

void FolderLedger::retain(const std::vector<uint32_t> &present)
{
	std::vector<uint32_t> sorted;
	const std::vector<uint32_t> *list = &present;
	if (!std::is_sorted(present.begin(), present.end())) {
		sorted = present;
		std::sort(sorted.begin(), sorted.end());
		list = &sorted;
	}

	std::map<uint32_t, uint32_t> kept;
	bool run = false;
	uint32_t lo = 0, hi = 0;
	for (uint32_t uid : *list) {
		if (has(uid)) {
			if (!run)
				lo = uid;
			hi = uid;
			run = true;
		} else if (run) {
			kept.emplace_hint(kept.end(), lo, hi);
			run = false;
		}
	}
	if (run)
		kept.emplace_hint(kept.end(), lo, hi);
	ranges = std::move(kept);
}

uint32_t FolderLedger::max_uid() const
{
	return ranges.empty() ? 0 : ranges.rbegin()->second;
}

size_t FolderLedger::uid_count() const
{
	size_t n = 0;
	for (const auto &[lo, hi] : ranges)
		n += (size_t)(hi - lo) + 1;
	return n;
}

size_t FolderLedger::range_count() const
{
	return ranges.size();
}

bool FolderLedger::empty() const
{
	return ranges.empty() && fps.empty() && !baseline;
}

std::string FolderLedger::uids_string() const
{
	std::string s;
	for (const auto &[lo, hi] : ranges) {
		if (!s.empty())
			s += ',';
		s += std::to_string(lo);
		if (hi != lo) {
			s += ':';
			s += std::to_string(hi);
		}
	}
	return s;
}

int FolderLedger::add_uids_string(std::string_view s)
{
	std::vector<std::pair<uint32_t, uint32_t>> parsed;
	size_t pos = 0;

	while (pos < s.size()) {
		size_t end = s.find(',', pos);
		if (end == s.npos)
			end = s.size();
		std::string_view item = s.substr(pos, end - pos);
		size_t colon = item.find(':');
		uint32_t lo, hi;
		if (colon == item.npos) {
			if (!parse_uid(item, lo))
				return -1;
			hi = lo;
		} else if (!parse_uid(item.substr(0, colon), lo) ||
			   !parse_uid(item.substr(colon + 1), hi)) {
			return -1;
		}
		parsed.emplace_back(lo, hi);
		pos = end + 1;
		if (end + 1 == s.size())
			return -1; /* trailing comma */
	}
	for (const auto &[lo, hi] : parsed)
		add_range(lo, hi);
	return 0;
}

bool FolderLedger::has_fingerprint(std::string_view fp) const
{
	return fps.find(fp) != fps.end();
}

void FolderLedger::add_fingerprint(std::string fp)
{
	fps.insert(std::move(fp));
}

void FolderLedger::retain_fingerprints(const std::vector<std::string> &present)
{
	std::set<std::string, std::less<>> kept;
	for (const auto &fp : present) {
		if (has_fingerprint(fp))
			kept.insert(fp);
	}
	fps = std::move(kept);
}

void FolderLedger::reset_uids(uint32_t new_uidvalidity)
{
	ranges.clear();
	uidvalidity = new_uidvalidity;
}

bool Ledger::pop3_has(std::string_view uidl) const
{
	return pop3.find(uidl) != pop3.end();
}

void Ledger::pop3_add(std::string uidl)
{
	pop3.insert(std::move(uidl));
}

void Ledger::pop3_retain(const std::vector<std::string> &present)
{
	std::set<std::string, std::less<>> kept;
	for (const auto &uidl : present) {
		auto it = pop3.find(uidl);
		if (it != pop3.end())
			kept.insert(*it);
	}
	pop3 = std::move(kept);
}

FolderLedger &Ledger::folder(const std::string &name)
{
	return imap[name];
}

const FolderLedger *Ledger::find_folder(std::string_view name) const
{
	auto it = imap.find(name);
	return it == imap.end() ? nullptr : &it->second;
}

void Ledger::remove_folder(std::string_view name)
{
	auto it = imap.find(name);
	if (it != imap.end())
		imap.erase(it);
}

void Ledger::retain_folders(const std::vector<std::string> &names)
{
	for (auto it = imap.begin(); it != imap.end(); ) {
		if (std::find(names.begin(), names.end(), it->first) ==
		    names.end())
			it = imap.erase(it);
		else
			++it;
	}
}

void Ledger::clear()
{
	pop3.clear();
	pop3_baseline_ = false;
	imap.clear();
}

std::string message_fingerprint(std::string_view message_id, uint64_t size,
				std::string_view internal_date)
{
	return hash_hex16({ trim(message_id), std::to_string(size),
			    internal_date });
}

std::string ledger_encode(const Ledger &ledger)
{
	try {
		Json::Value root(Json::objectValue);
		root["v"] = LEDGER_VERSION;
		Json::Value &pop3 = root["pop3"] = Json::arrayValue;
		for (const auto &uidl : ledger.pop3)
			pop3.append(uidl);
		if (ledger.pop3_baseline_)
			root["baseline"] = true;
		Json::Value &folders = root["folders"] = Json::objectValue;
		for (const auto &[name, f] : ledger.imap) {
			Json::Value &v = folders[name] = Json::objectValue;
			v["uidvalidity"] = f.uidvalidity;
			v["uids"] = f.uids_string();
			Json::Value &fps = v["fp"] = Json::arrayValue;
			for (const auto &fp : f.fingerprints())
				fps.append(fp);
			if (f.baseline)
				v["baseline"] = true;
		}
		return json_write(root);
	} catch (const std::exception &) {
		return "";
	}
}

std::string pending_encode(const PendingBatch &batch)
{
	try {
		Json::Value root(Json::objectValue);
		root["v"] = LEDGER_VERSION;
		root["mailbox"] = batch.mailbox;
		root["uidvalidity"] = batch.uidvalidity;
		root["uidnext"] = batch.uidnext;
		Json::Value &list = root["messages"] = Json::arrayValue;
		for (const PendingMessage &m : batch.messages) {
			Json::Value &v = list.append(Json::objectValue);
			v["folder"] = m.folder;
			v["uid"] = m.uid;
			v["id"] = m.identity;
		}
		return json_write(root);
	} catch (const std::exception &) {
		return "";
	}
}

static int pending_read(std::string_view json, PendingBatch &batch,
			std::string &error_r)
{
	Json::Value root;
	int version;

	if (json_read_object(json, root, error_r) < 0 ||
	    json_version(root, LEDGER_VERSION, "v", "a version number",
			 version, error_r) < 0 ||
	    json_get(root, "mailbox", batch.mailbox, error_r) < 0 ||
	    json_get(root, "uidvalidity", batch.uidvalidity, error_r) < 0 ||
	    json_get(root, "uidnext", batch.uidnext, error_r) < 0)
		return -1;
	const Json::Value &list = root["messages"];
	if (list.isNull())
		return 0;
	if (!list.isArray())
		return json_type_error(error_r, "messages", "a list");
	for (const Json::Value &v : list) {
		PendingMessage m;
		if (!v.isObject())
			return json_type_error(error_r, "messages", "a list of objects");
		if (json_get(v, "folder", m.folder, error_r) < 0 ||
		    json_get(v, "uid", m.uid, error_r) < 0 ||
		    json_get(v, "id", m.identity, error_r) < 0)
			return -1;
		if (m.uid.empty())
			return json_type_error(error_r, "uid", "a non-empty string");
		batch.messages.push_back(std::move(m));
	}
	return 0;
}

int pending_decode(std::string_view json, PendingBatch &batch_r,
		   std::string &error_r)
{
	try {
		PendingBatch batch;
		if (pending_read(json, batch, error_r) < 0) {
			error_r = "pending: " + error_r;
			return -1;
		}
		batch_r = std::move(batch);
	} catch (const std::exception &e) {
		error_r = std::string("pending: ") + e.what();
		return -1;
	}
	return 0;
}

int ledger_decode(std::string_view json, Ledger &ledger_r,
		  std::string &error_r)
{
	try {
		Ledger ledger;
		if (ledger_read(json, ledger, error_r) < 0) {
			error_r = "ledger: " + error_r;
			return -1;
		}
		ledger_r = std::move(ledger);
	} catch (const std::exception &e) {
		error_r = std::string("ledger: ") + e.what();
		return -1;
	}
	return 0;
}

} // namespace fetchmail
