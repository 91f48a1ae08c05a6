/* libFuzzer target: the exactly-once ledger
   (plugin/core/fetchmail-ledger.hh).

   Input: JSON text up to the first NUL byte, then a program of ledger
   operations, one opcode byte and its arguments each.

   The JSON is decoded. Checked: an error leaves the ledger untouched and
   is one line without control characters; a decoded ledger encodes to a
   ledger that decodes and encodes to the same bytes, and each folder's
   UID set reads back to the same string.

   The program runs on an empty ledger and, in step, on a reference model
   made of plain std::set (UIDs one by one, which is why ranges and
   retained runs are kept small). After every operation the ledger must
   agree with the model: pop3_has/pop3_count, the pending baselines, the
   folders, each folder's uidvalidity, has() at and just outside both ends of each run of
   consecutive UIDs, uid_count(), max_uid(), range_count() (the number
   of runs), uids_string() and the fingerprints. At the end the ledger goes through
   encode/decode and the decoded copy must agree with the model too.
   UIDs are 1..2^32-1, as IMAP defines them. */

#include "fuzz-common.hh"

#include "fetchmail-ledger.hh"

#include <algorithm>
#include <map>
#include <set>

using namespace fetchmail;

namespace {

const size_t model_max = 1 << 12;   /* UIDs the model may hold */

struct FolderModel {
	uint32_t uidvalidity = 0;
	bool baseline = false;
	std::set<uint32_t> uids;
	std::set<std::string, std::less<>> fps;
};

struct Model {
	std::set<std::string, std::less<>> pop3;
	bool pop3_baseline = false;
	std::map<std::string, FolderModel, std::less<>> folders;
};

const std::string folder_names[] = { "INBOX", "Archive",
				     "Entw\xc3\xbc" "rfe", "" };

/* The model's UIDs as runs of consecutive UIDs. */
std::vector<std::pair<uint32_t, uint32_t>> model_runs(
	const std::set<uint32_t> &uids)
{
	std::vector<std::pair<uint32_t, uint32_t>> runs;
	for (uint32_t uid : uids) {
		if (!runs.empty() && runs.back().second + 1 == uid)
			runs.back().second = uid;
		else
			runs.emplace_back(uid, uid);
	}
	return runs;
}

void check_folder(const FolderLedger &f, const FolderModel &m)
{
	auto runs = model_runs(m.uids);
	std::string uids;
	for (const auto &[lo, hi] : runs) {
		uids += (uids.empty() ? "" : ",") + std::to_string(lo);
		if (hi != lo)
			uids += ":" + std::to_string(hi);
		/* has() at both edges of each run and just outside them */
		FUZZ_CHECK(f.has(lo) && f.has(hi));
		FUZZ_CHECK(!f.has(lo - 1) || lo == 0);
		FUZZ_CHECK(!f.has(hi + 1) || hi == UINT32_MAX);
	}
	FUZZ_CHECK(f.uidvalidity == m.uidvalidity && f.baseline == m.baseline);
	FUZZ_CHECK(f.uid_count() == m.uids.size());
	FUZZ_CHECK(f.max_uid() == (m.uids.empty() ? 0 : *m.uids.rbegin()));
	FUZZ_CHECK(f.range_count() == runs.size());
	FUZZ_CHECK(f.uids_string() == uids);
	FUZZ_CHECK(f.empty() ==
		   (m.uids.empty() && m.fps.empty() && !m.baseline));
	FUZZ_CHECK(f.fingerprints() == m.fps);
}

void check_ledger(const Ledger &l, const Model &m)
{
	FUZZ_CHECK(l.pop3_count() == m.pop3.size());
	FUZZ_CHECK(l.pop3_baseline() == m.pop3_baseline);
	for (const std::string &uidl : m.pop3)
		FUZZ_CHECK(l.pop3_has(uidl));
	FUZZ_CHECK(l.folders().size() == m.folders.size());
	for (const auto &[name, fm] : m.folders) {
		const FolderLedger *f = l.find_folder(name);
		FUZZ_CHECK(f != nullptr);
		check_folder(*f, fm);
	}
}

/* Keep what is in present. */
void model_retain(std::set<std::string, std::less<>> &known,
		  const std::vector<std::string> &present)
{
	std::set<std::string, std::less<>> kept;
	for (const std::string &s : present) {
		if (known.count(s))
			kept.insert(s);
	}
	known = std::move(kept);
}

/* A reference parser of "1:5,7"; false when malformed. */
bool model_parse_uids(std::string_view s,
		      std::vector<std::pair<uint32_t, uint32_t>> &ranges_r)
{
	auto uid = [](std::string_view d, uint32_t &uid_r) {
		if (d.empty() || d.find_first_not_of("0123456789") != d.npos)
			return false;
		/* leading zeros are allowed (parse_u32's contract) */
		size_t digit = d.find_first_not_of('0');
		d = digit == d.npos ? "0" : d.substr(digit);
		if (d.size() > 10)
			return false;
		uint64_t n = std::stoull(std::string(d));
		uid_r = static_cast<uint32_t>(n);
		return n >= 1 && n <= UINT32_MAX;
	};
	if (s.empty())
		return true;
	size_t start = 0;
	for (;;) {
		size_t end = s.find(',', start);
		std::string_view item = s.substr(start, end == s.npos ?
						 s.npos : end - start);
		size_t colon = item.find(':');
		uint32_t lo, hi;
		if (!uid(item.substr(0, colon), lo))
			return false;
		hi = lo;
		if (colon != item.npos && !uid(item.substr(colon + 1), hi))
			return false;
		ranges_r.emplace_back(std::min(lo, hi), std::max(lo, hi));
		if (end == s.npos)
			return true;
		start = end + 1;
	}
}

class Program {
public:
	explicit Program(FuzzInput &in) : in_(in) {}

	void run()
	{
		for (unsigned steps = 0; !in_.empty() && steps < 200; steps++) {
			step(in_.byte() % 16);
			check_ledger(ledger_, model_);
		}
		std::string encoded = ledger_encode(ledger_);
		Ledger decoded;
		std::string error;
		FUZZ_CHECK(ledger_decode(encoded, decoded, error) == 0);
		check_ledger(decoded, model_);
		FUZZ_CHECK(ledger_encode(decoded) == encoded);
	}

private:
	uint32_t uid()
	{
		uint8_t b = in_.byte();
		if (b >= 0xf8)
			return UINT32_MAX - (b & 7);
		return 1 + b;
	}

	std::string text() { return std::string(in_.bytes(in_.byte() % 12)); }

	std::vector<std::string> texts()
	{
		std::vector<std::string> list(in_.byte() % 6);
		for (std::string &s : list)
			s = text();
		return list;
	}

	const std::string &folder_name()
	{
		return folder_names[in_.byte() % 4];
	}

	/* The folder, created in the ledger and the model. */
	std::pair<FolderLedger &, FolderModel &> folder()
	{
		const std::string &name = folder_name();
		return { ledger_.folder(name), model_.folders[name] };
	}

	void add_range(uint32_t lo, uint32_t hi)
	{
		auto [f, m] = folder();
		if (m.uids.size() + (std::max(lo, hi) - std::min(lo, hi)) >=
		    model_max)
			return;
		f.add_range(lo, hi);
		for (uint64_t u = std::min(lo, hi); u <= std::max(lo, hi); u++)
			m.uids.insert(static_cast<uint32_t>(u));
	}

	void retain()
	{
		auto [f, m] = folder();
		std::vector<uint32_t> present(in_.byte() % 16);
		for (uint32_t &u : present)
			u = uid();
		if (in_.byte() & 1)
			std::sort(present.begin(), present.end());
		/* runs of consecutive present UIDs that are known become
		   whole ranges (the UIDs between them are never reused) */
		std::vector<uint32_t> sorted = present;
		std::sort(sorted.begin(), sorted.end());
		std::set<uint32_t> kept;
		for (size_t i = 0; i < sorted.size();) {
			if (!m.uids.count(sorted[i])) {
				i++;
				continue;
			}
			size_t j = i;
			while (j + 1 < sorted.size() && m.uids.count(sorted[j + 1]))
				j++;
			if (sorted[j] - sorted[i] >= model_max)
				return;
			for (uint64_t u = sorted[i]; u <= sorted[j]; u++)
				kept.insert(static_cast<uint32_t>(u));
			i = j + 1;
		}
		f.retain(present);
		m.uids = std::move(kept);
	}

	void add_uids_string()
	{
		auto [f, m] = folder();
		std::string s(in_.until(';'));
		std::vector<std::pair<uint32_t, uint32_t>> ranges;
		bool ok = model_parse_uids(s, ranges);
		uint64_t total = 0;
		for (const auto &[lo, hi] : ranges)
			total += uint64_t(hi) - lo + 1;
		if (total + m.uids.size() >= model_max)
			return;
		FUZZ_CHECK(f.add_uids_string(s) == (ok ? 0 : -1));
		for (const auto &[lo, hi] : ok ? ranges : decltype(ranges)()) {
			for (uint64_t u = lo; u <= hi; u++)
				m.uids.insert(static_cast<uint32_t>(u));
		}
	}

	void fingerprint()
	{
		std::string id = text(), date = text();
		uint64_t size = in_.u32();
		std::string fp = message_fingerprint(id, size, date);
		FUZZ_CHECK(fp.size() == 16 &&
			   fp.find_first_not_of("0123456789abcdef") == fp.npos);
		FUZZ_CHECK(message_fingerprint(" \t" + id + "\r\n", size, date) ==
			   fp);
		auto [f, m] = folder();
		f.add_fingerprint(fp);
		m.fps.insert(fp);
	}

	void step(unsigned op)
	{
		switch (op) {
		case 0: {
			std::string s = text();
			ledger_.pop3_add(s);
			model_.pop3.insert(s);
			break;
		}
		case 1: {
			std::string s = text();
			FUZZ_CHECK(ledger_.pop3_has(s) == (model_.pop3.count(s) > 0));
			break;
		}
		case 2: {
			std::vector<std::string> present = texts();
			ledger_.pop3_retain(present);
			model_retain(model_.pop3, present);
			break;
		}
		case 3: {
			uint32_t u = uid();
			add_range(u, u);
			break;
		}
		case 4: {
			uint32_t lo = uid();
			uint64_t hi = uint64_t(lo) + in_.byte();
			add_range(lo, static_cast<uint32_t>(std::min<uint64_t>(hi, UINT32_MAX)));
			break;
		}
		case 5:
			retain();
			break;
		case 6: {
			auto [f, m] = folder();
			uint32_t v = in_.u32();
			f.reset_uids(v);
			m.uids.clear();
			m.uidvalidity = v;
			break;
		}
		case 7:
			fingerprint();
			break;
		case 8: {
			auto [f, m] = folder();
			std::vector<std::string> present = texts();
			if (!m.fps.empty() && (in_.byte() & 1))
				present.push_back(*m.fps.begin());
			f.retain_fingerprints(present);
			model_retain(m.fps, present);
			break;
		}
		case 9: {
			const std::string &name = folder_name();
			ledger_.remove_folder(name);
			model_.folders.erase(name);
			break;
		}
		case 10: {
			std::vector<std::string> names;
			for (unsigned i = in_.byte() % 4; i > 0; i--)
				names.push_back(folder_name());
			ledger_.retain_folders(names);
			std::erase_if(model_.folders, [&names](const auto &kv) {
				return std::find(names.begin(), names.end(),
						 kv.first) == names.end();
			});
			break;
		}
		case 11:
			add_uids_string();
			break;
		case 12:
			ledger_.clear();
			model_ = Model();
			break;
		case 13: {
			auto [f, m] = folder();
			f.uidvalidity = m.uidvalidity = in_.u32();
			break;
		}
		case 14: {
			auto [f, m] = folder();
			f.baseline = m.baseline = in_.byte() & 1;
			break;
		}
		default: {
			bool pending = in_.byte() & 1;
			ledger_.set_pop3_baseline(pending);
			model_.pop3_baseline = pending;
			break;
		}
		}
	}

	FuzzInput &in_;
	Ledger ledger_;
	Model model_;
};

void check_decode(std::string_view json)
{
	Ledger ledger;
	ledger.pop3_add("untouched");
	std::string error;
	if (ledger_decode(json, ledger, error) < 0) {
		FUZZ_CHECK(!error.empty() && fuzz_printable(error));
		Ledger untouched;
		untouched.pop3_add("untouched");
		FUZZ_CHECK(ledger_encode(ledger) == ledger_encode(untouched));
		return;
	}
	std::string encoded = ledger_encode(ledger);
	Ledger again;
	FUZZ_CHECK(ledger_decode(encoded, again, error) == 0);
	FUZZ_CHECK(ledger_encode(again) == encoded);
	FUZZ_CHECK(again.pop3_count() == ledger.pop3_count());
	for (const auto &[name, f] : ledger.folders()) {
		FolderLedger copy;
		FUZZ_CHECK(copy.add_uids_string(f.uids_string()) == 0);
		FUZZ_CHECK(copy.uids_string() == f.uids_string());
		FUZZ_CHECK(copy.uid_count() == f.uid_count());
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput in(data, size);
	check_decode(in.until('\0'));
	Program(in).run();
	return 0;
}
