#include "fetchmail-poll.hh"

#include "fetchmail-json.hh"

#include <openssl/evp.h>

namespace fetchmail {

std::string poll_uidl_digest(const std::vector<std::string> &uidls)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	std::string out;

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == nullptr)
		return out;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1) {
		bool ok = true;
		for (const std::string &uidl : uidls) {
			ok = ok && EVP_DigestUpdate(ctx, uidl.data(), uidl.size()) == 1 &&
				EVP_DigestUpdate(ctx, "\n", 1) == 1;
		}
		if (ok && EVP_DigestFinal_ex(ctx, md, &md_len) == 1) {
			for (unsigned int i = 0; i < md_len && i < 16; i++) {
				out += hex[md[i] >> 4];
				out += hex[md[i] & 15];
			}
		}
	}
	EVP_MD_CTX_free(ctx);
	return out;
}

std::string poll_summary_encode(const PollSummary &summary)
{
	try {
		Json::Value root(Json::objectValue);
		if (!summary.known)
			return "{}";
		if (summary.folders.empty()) {
			Json::Value &p = root["pop3"] = Json::objectValue;
			p["count"] = summary.pop3_count;
			p["digest"] = summary.pop3_digest;
		} else {
			Json::Value &list = root["imap"] = Json::arrayValue;
			for (const FolderSummary &f : summary.folders) {
				Json::Value &v = list.append(Json::objectValue);
				v["folder"] = f.folder;
				v["uidvalidity"] = f.uidvalidity;
				v["uidnext"] = f.uidnext;
				v["exists"] = f.exists;
			}
		}
		return json_write(root);
	} catch (const std::exception &) {
		return "{}";
	}
}

static int poll_summary_read(std::string_view json, PollSummary &s,
			     std::string &error_r)
{
	Json::Value root;

	if (json_read_object(json, root, error_r) < 0)
		return -1;
	const Json::Value &pop3 = root["pop3"];
	const Json::Value &imap = root["imap"];
	if (pop3.isObject()) {
		if (json_get(pop3, "count", s.pop3_count, error_r) < 0 ||
		    json_get(pop3, "digest", s.pop3_digest, error_r) < 0)
			return -1;
		s.known = true;
	} else if (imap.isArray()) {
		for (const Json::Value &v : imap) {
			FolderSummary f;
			if (!v.isObject())
				return json_type_error(error_r, "imap", "a list of objects");
			if (json_get(v, "folder", f.folder, error_r) < 0 ||
			    json_get(v, "uidvalidity", f.uidvalidity, error_r) < 0 ||
			    json_get(v, "uidnext", f.uidnext, error_r) < 0 ||
			    json_get(v, "exists", f.exists, error_r) < 0)
				return -1;
			s.folders.push_back(std::move(f));
		}
		s.known = !s.folders.empty();
	} else if (!pop3.isNull() || !imap.isNull()) {
		return json_type_error(error_r, "summary", "pop3 or imap");
	}
	return 0;
}

int poll_summary_decode(std::string_view json, PollSummary &summary_r,
			std::string &error_r)
{
	try {
		PollSummary s;
		if (poll_summary_read(json, s, error_r) < 0) {
			error_r = "summary: " + error_r;
			return -1;
		}
		summary_r = std::move(s);
	} catch (const std::exception &e) {
		error_r = std::string("summary: ") + e.what();
		return -1;
	}
	return 0;
}

} // namespace fetchmail
