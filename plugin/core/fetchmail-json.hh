#ifndef FETCHMAIL_JSON_HH
#define FETCHMAIL_JSON_HH

/* The jsoncpp helpers shared by the stored forms (fetchmail-record,
   fetchmail-ledger): compact writing, strict reading, the format version
   "v", and typed reads of optional members.

   Errors come without the caller's prefix ("not a JSON object"); the
   caller adds its own ("record is ", "ledger: ").

   Exceptions: these are building blocks for code that already works on
   Json::Value inside a try block, and like jsoncpp itself they may throw
   std::exception (allocation failure, nesting deeper than jsoncpp's stack
   limit while parsing). The public functions of record and ledger catch
   them; nothing throws out of those. */

#include <json/json.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

/* root as compact JSON: no indentation, no newline, UTF-8 written as is. */
std::string json_write(const Json::Value &root);

/* Parse text strictly (no comments, no duplicate keys, nothing after the
   value) into root_r, which must be an object. -1 on error:
     "not valid JSON: line 1, column 8: Missing '}' or object member name"
       (jsoncpp's first error, on one line; control characters that
       it quotes from the input become '?')
     "not a JSON object" */
int json_read_object(std::string_view text, Json::Value &root_r,
		     std::string &error_r);

/* The format version, member "v" of root, into version_r: 0 when missing.
   -1 when it is not a non-negative integer (error_r "<label>: expected
   <type>", in the caller's words) or greater than max_version (error_r
   "version 7 is newer than this plugin supports"). */
int json_version(const Json::Value &root, int max_version,
		 std::string_view label, std::string_view type,
		 int &version_r, std::string &error_r);

/* Sets error_r to "<label>: expected <type>" and returns -1. */
int json_type_error(std::string &error_r, std::string_view label,
		    std::string_view type);

/* Optional members of the object obj. Each returns 0 when key is missing
   or null (value_r is left alone), 1 when its value was read into value_r,
   -1 when the value has another type: error_r is then "<key>: expected
   <type>" with type
     std::string                "a string"
     bool                       "true or false"
     uint32_t, uint64_t, int64_t "a number" (an integer in range)
     std::vector<std::string>   "a list of strings" */
int json_get(const Json::Value &obj, const char *key, std::string &value_r,
	     std::string &error_r);
int json_get(const Json::Value &obj, const char *key, bool &value_r,
	     std::string &error_r);
int json_get(const Json::Value &obj, const char *key, uint32_t &value_r,
	     std::string &error_r);
int json_get(const Json::Value &obj, const char *key, uint64_t &value_r,
	     std::string &error_r);
int json_get(const Json::Value &obj, const char *key, int64_t &value_r,
	     std::string &error_r);
int json_get(const Json::Value &obj, const char *key,
	     std::vector<std::string> &value_r, std::string &error_r);

} // namespace fetchmail

#endif
