#include "fetchmail-json.hh"

#include <memory>

namespace fetchmail {

namespace {

/* jsoncpp's "* Line 1, Column 2\n  Missing '}'...\n" as one line:
   "line 1, column 2: Missing '}'..." (the first error only) */
std::string json_error_text(const std::string &errs)
{
	size_t start = errs.compare(0, 2, "* ") == 0 ? 2 : 0;
	size_t nl = errs.find('\n', start);
	std::string where = errs.substr(start, nl == errs.npos ?
					errs.npos : nl - start);
	for (char &c : where) {
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
	}
	if (nl == errs.npos)
		return where;
	size_t msg = errs.find_first_not_of(' ', nl + 1);
	size_t end = msg == errs.npos ? errs.npos : errs.find('\n', msg);
	if (msg == errs.npos || end == msg)
		return where;
	return where + ": " +
		errs.substr(msg, end == errs.npos ? errs.npos : end - msg);
}

/* json_get() for the scalar types: is checks the JSON type, as reads it. */
template <typename T, typename J>
int get_scalar(const Json::Value &obj, const char *key, T &value_r,
	       std::string &error_r, bool (Json::Value::*is)() const,
	       J (Json::Value::*as)() const, const char *type)
{
	const Json::Value &v = obj[key];
	if (v.isNull())
		return 0;
	if (!(v.*is)())
		return json_type_error(error_r, key, type);
	value_r = (v.*as)();
	return 1;
}

} // namespace

/* The writer's and the reader's settings are made once: building them
   is a JSON object of their own each time, which showed in the profile
   of the service and its workers (a line each way per task). */
std::string json_write(const Json::Value &root)
{
	static const Json::StreamWriterBuilder builder = [] {
		Json::StreamWriterBuilder b;
		b["indentation"] = "";
		b["emitUTF8"] = true;
		return b;
	}();
	return Json::writeString(builder, root);
}

int json_read_object(std::string_view text, Json::Value &root_r,
		     std::string &error_r)
{
	/* parse() starts afresh each time: one reader serves every call
	   (the core is single-threaded, as Dovecot is) */
	static const std::unique_ptr<Json::CharReader> reader = [] {
		Json::CharReaderBuilder b;
		Json::CharReaderBuilder::strictMode(&b.settings_);
		return std::unique_ptr<Json::CharReader>(b.newCharReader());
	}();
	std::string errs;

	if (!reader->parse(text.data(), text.data() + text.size(), &root_r,
			   &errs)) {
		error_r = "not valid JSON: " + json_error_text(errs);
		/* jsoncpp quotes input as it is ("Duplicate key: 'a\nb'") */
		for (char &c : error_r) {
			if ((unsigned char)c < 0x20 || c == 0x7f)
				c = '?';
		}
		return -1;
	}
	if (!root_r.isObject()) {
		error_r = "not a JSON object";
		return -1;
	}
	return 0;
}

int json_version(const Json::Value &root, int max_version,
		 std::string_view label, std::string_view type,
		 int &version_r, std::string &error_r)
{
	const Json::Value &v = root["v"];
	if (v.isNull()) {
		version_r = 0;
		return 0;
	}
	if (!v.isInt() || v.asInt() < 0)
		return json_type_error(error_r, label, type);
	if (v.asInt() > max_version) {
		error_r = "version " + std::to_string(v.asInt()) +
			" is newer than this plugin supports";
		return -1;
	}
	version_r = v.asInt();
	return 0;
}

int json_type_error(std::string &error_r, std::string_view label,
		    std::string_view type)
{
	error_r = std::string(label) + ": expected " + std::string(type);
	return -1;
}

int json_get(const Json::Value &obj, const char *key, std::string &value_r,
	     std::string &error_r)
{
	return get_scalar(obj, key, value_r, error_r, &Json::Value::isString,
			  &Json::Value::asString, "a string");
}

int json_get(const Json::Value &obj, const char *key, bool &value_r,
	     std::string &error_r)
{
	return get_scalar(obj, key, value_r, error_r, &Json::Value::isBool,
			  &Json::Value::asBool, "true or false");
}

int json_get(const Json::Value &obj, const char *key, uint32_t &value_r,
	     std::string &error_r)
{
	return get_scalar(obj, key, value_r, error_r, &Json::Value::isUInt,
			  &Json::Value::asUInt, "a number");
}

int json_get(const Json::Value &obj, const char *key, uint64_t &value_r,
	     std::string &error_r)
{
	return get_scalar(obj, key, value_r, error_r, &Json::Value::isUInt64,
			  &Json::Value::asUInt64, "a number");
}

int json_get(const Json::Value &obj, const char *key, int64_t &value_r,
	     std::string &error_r)
{
	return get_scalar(obj, key, value_r, error_r, &Json::Value::isInt64,
			  &Json::Value::asInt64, "a number");
}

int json_get(const Json::Value &obj, const char *key,
	     std::vector<std::string> &value_r, std::string &error_r)
{
	const Json::Value &v = obj[key];
	if (v.isNull())
		return 0;
	if (!v.isArray())
		return json_type_error(error_r, key, "a list of strings");
	std::vector<std::string> list;
	for (const auto &item : v) {
		if (!item.isString())
			return json_type_error(error_r, key,
					       "a list of strings");
		list.push_back(item.asString());
	}
	value_r = std::move(list);
	return 1;
}

} // namespace fetchmail
