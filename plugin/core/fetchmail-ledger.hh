#ifndef FETCHMAIL_LEDGER_HH
#define FETCHMAIL_LEDGER_HH

/* The exactly-once ledger of one account: what has already been delivered.

   POP3: the set of UIDLs delivered. Before fetching, the glue skips every
   message whose UIDL pop3_has(); after each committed local save it calls
   pop3_add() and stores the ledger; after a complete listing it calls
   pop3_retain(listing) so that UIDLs gone from the server are forgotten
   and the ledger stays bounded by the size of the remote mailbox.

   IMAP: one FolderLedger per remote folder: the UIDVALIDITY the UIDs
   belong to, the delivered UIDs as compact ranges, and fingerprints of
   delivered messages (message_fingerprint() of Message-ID, size and
   INTERNALDATE). When the server reports a different UIDVALIDITY the UIDs
   mean nothing any more: the glue calls reset_uids(new) (fingerprints are
   kept), lists the folder with fingerprints, skips messages whose
   fingerprint is known (adding their UIDs back), and fetches the rest.

   Baseline (an account imported from another fetcher that left its mail
   on the server, see fetchmail-import.hh): a pending baseline, for the
   POP3 maildrop or for one IMAP folder, says "the next complete listing
   records every message present as delivered and fetches nothing". The
   retrieval (fetchmail-retrieval.hh, RunMode::Baseline) takes it: it
   treats that listing as a baseline, clears the flag, stores the ledger
   and fetches (and deletes) nothing in that listing. IMAP baselines list
   with fingerprints, so that the recorded messages survive a later
   UIDVALIDITY change.

   Serialized as compact JSON:

     {"v":1,"pop3":["uidl1","uidl2"],"baseline":true,
      "folders":{"INBOX":{"uidvalidity":1700000000,"uids":"1:500,502",
                          "fp":["0123456789abcdef"],"baseline":true}}}

   "baseline" is written only while pending (missing = false).

   Lookups are O(log n); encode/decode of 10,000 entries take a few
   milliseconds. Nothing throws. */

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

class FolderLedger {
public:
	uint32_t uidvalidity = 0;  /* 0 = not yet known */

	bool has(uint32_t uid) const;
	void add(uint32_t uid);
	void add_range(uint32_t lo, uint32_t hi);
	/* Forget the UIDs that are not on the server any more. present is
	   the folder's complete, ascending UID list. IMAP UIDs are never
	   reused within one UIDVALIDITY, so absent UIDs lying between known
	   ones are kept inside the ranges (that keeps the ranges few); known
	   UIDs above the highest present one are dropped. */
	void retain(const std::vector<uint32_t> &present);
	/* The highest delivered UID, 0 if none. */
	uint32_t max_uid() const;
	size_t uid_count() const;   /* UIDs covered by the ranges */
	size_t range_count() const;
	bool empty() const;
	/* "1:500,502" (ascending, merged), "" when empty. */
	std::string uids_string() const;
	/* Parse uids_string() output (any order, overlaps allowed) and add
	   it. -1 on a malformed string (nothing added). */
	int add_uids_string(std::string_view s);

	bool has_fingerprint(std::string_view fp) const;
	void add_fingerprint(std::string fp);
	/* Keep only the fingerprints in present (after a complete listing
	   with fingerprints). */
	void retain_fingerprints(const std::vector<std::string> &present);
	const std::set<std::string, std::less<>> &fingerprints() const
	{ return fps; }

	/* The folder got a new UIDVALIDITY: clear the UIDs, keep the
	   fingerprints. */
	void reset_uids(uint32_t new_uidvalidity);

	/* A pending baseline (see the top of this file). */
	bool baseline = false;

private:
	std::map<uint32_t, uint32_t> ranges; /* lo -> hi, disjoint, not adjacent */
	std::set<std::string, std::less<>> fps;
};

class Ledger {
public:
	bool pop3_has(std::string_view uidl) const;
	void pop3_add(std::string uidl);
	/* Keep only the UIDLs in present (the complete listing). */
	void pop3_retain(const std::vector<std::string> &present);
	size_t pop3_count() const { return pop3.size(); }
	/* A pending POP3 baseline (see the top of this file). */
	bool pop3_baseline() const { return pop3_baseline_; }
	void set_pop3_baseline(bool pending) { pop3_baseline_ = pending; }

	/* The ledger of a remote folder, created empty when missing. */
	FolderLedger &folder(const std::string &name);
	/* nullptr when missing */
	const FolderLedger *find_folder(std::string_view name) const;
	void remove_folder(std::string_view name);
	/* Drop the ledgers of folders not in names (no longer configured). */
	void retain_folders(const std::vector<std::string> &names);
	const std::map<std::string, FolderLedger, std::less<>> &folders() const
	{ return imap; }

	/* Forget everything, pending baselines included. */
	void clear();

private:
	friend std::string ledger_encode(const Ledger &);
	std::set<std::string, std::less<>> pop3;
	bool pop3_baseline_ = false;
	std::map<std::string, FolderLedger, std::less<>> imap;
};

/* 16 lowercase hex digits: FNV-1a 64 over message_id (surrounding
   whitespace trimmed), a NUL, size in decimal, a NUL, internal_date as
   sent. This definition is frozen: stored fingerprints depend on it. */
std::string message_fingerprint(std::string_view message_id, uint64_t size,
				std::string_view internal_date);

/* One message of a batch that is being made durable in the mailbox (see
   fetchmail-retrieval.hh, "Exactly once"). */
struct PendingMessage {
	std::string folder;    /* IMAP folder, "" for POP3 */
	std::string uid;       /* the UIDL, or the IMAP UID in decimal */
	std::string identity;  /* message_identity() of its header */
};

/* The pending record of an account: the batch, and where the adapter
   will look for it after a crash (the destination mailbox as it was
   before the batch: its UIDVALIDITY and UIDNEXT; messages found there
   with a UID at or above uidnext and a pending identity arrived with the
   batch).

     {"v":1,"mailbox":"INBOX","uidvalidity":1700000000,"uidnext":42,
      "messages":[{"folder":"","uid":"0000002a5f1c","id":"0123456789abcdef"}]}
*/
struct PendingBatch {
	std::string mailbox;
	uint32_t uidvalidity = 0;
	uint32_t uidnext = 0;
	std::vector<PendingMessage> messages;
};

std::string pending_encode(const PendingBatch &batch);
int pending_decode(std::string_view json, PendingBatch &batch_r,
		   std::string &error_r);

std::string ledger_encode(const Ledger &ledger);
/* Replace ledger_r with the decoded ledger; -1 on error (ledger_r
   unchanged). A missing "v" is read as v1; a newer version is refused. */
int ledger_decode(std::string_view json, Ledger &ledger_r,
		  std::string &error_r);

} // namespace fetchmail

#endif
