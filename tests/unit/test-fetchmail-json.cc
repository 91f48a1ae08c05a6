/* Unit tests for fetchmail-json: compact writing, strict reading, the
   format version, typed members. */

#include "fetchmail-json.hh"
#include "test-common.hh"

using namespace fetchmail;

static Json::Value read_ok(const char *text)
{
	Json::Value root;
	std::string error;
	if (json_read_object(text, root, error) != 0)
		fail_msg("rejected %s: %s", text, error.c_str());
	return root;
}

static void test_write(void **)
{
	Json::Value root(Json::objectValue);
	root["v"] = 1;
	root["list"] = Json::arrayValue;
	root["list"].append("a\"b");
	root["list"].append(Json::UInt64(18446744073709551615ULL));
	root["name"] = "Gr\xc3\xbc\xc3\x9f" "e";
	root["yes"] = true;
	assert_str(json_write(root),
		   "{\"list\":[\"a\\\"b\",18446744073709551615],"
		   "\"name\":\"Gr\xc3\xbc\xc3\x9f" "e\",\"v\":1,\"yes\":true}");
	assert_str(json_write(Json::Value(Json::objectValue)), "{}");

	/* what is written reads back */
	Json::Value back = read_ok(json_write(root).c_str());
	assert_true(back == root);
}

static void test_read_errors(void **)
{
	const struct {
		const char *text;
		const char *error;  /* a prefix of the error */
	} cases[] = {
		{ "", "not valid JSON: line 1, column 1: " },
		{ "{", "not valid JSON: line 1, column 2: " },
		{ "{\"v\":1,}", "not valid JSON: line 1, column 8: "
		  "Missing '}' or object member name" },
		{ "{\"v\":1} x", "not valid JSON: " },
		{ "{\"v\":1,\"v\":1}", "not valid JSON: " },
		{ "{'v':1}", "not valid JSON: " },
		{ "{\"v\":1} // note", "not valid JSON: " },
		{ "null", "not valid JSON: " },
		{ "[]", "not a JSON object" },
		{ "[{}]", "not a JSON object" },
	};
	for (const auto &c : cases) {
		Json::Value root;
		std::string error;
		if (json_read_object(c.text, root, error) != -1)
			fail_msg("accepted: %s", c.text);
		assert_prefix(error, c.error);
		assert_null(strchr(error.c_str(), '\n'));
	}

	Json::Value root;
	std::string error;
	assert_int_equal(json_read_object("{\"v\":1,}", root, error), -1);
	assert_str(error, "not valid JSON: line 1, column 8: "
		   "Missing '}' or object member name");
	/* input quoted by jsoncpp keeps the error on one line (found by
	   tests/fuzz/fuzz-fetchmail-record) */
	assert_int_equal(json_read_object("{\"a\x01\x7f\":1,\"a\x01\x7f\":2}",
					  root, error), -1);
	assert_str(error, "not valid JSON: line 1, column 10: "
		   "Duplicate key: 'a?" "?'");   /* no trigraph */
	/* a string_view that is not NUL-terminated */
	assert_int_equal(json_read_object(std::string_view("{}x", 2), root,
					  error), 0);
	assert_true(root.isObject() && root.empty());
}

static void test_version(void **)
{
	const struct {
		const char *text;
		int ret, version;
		const char *error;
	} cases[] = {
		{ "{}", 0, 0, "" },
		{ "{\"v\":null}", 0, 0, "" },
		{ "{\"v\":0}", 0, 0, "" },
		{ "{\"v\":2}", 0, 2, "" },
		{ "{\"v\":2.0}", 0, 2, "" },
		{ "{\"v\":3}", -1, -7, "version 3 is newer than this plugin supports" },
		{ "{\"v\":4294967296}", -1, -7, "vers: expected a count" },
		{ "{\"v\":-1}", -1, -7, "vers: expected a count" },
		{ "{\"v\":\"1\"}", -1, -7, "vers: expected a count" },
		{ "{\"v\":1.5}", -1, -7, "vers: expected a count" },
	};
	for (const auto &c : cases) {
		Json::Value root = read_ok(c.text);
		int version = -7;
		std::string error;
		assert_int_equal(json_version(root, 2, "vers", "a count",
					      version, error), c.ret);
		assert_int_equal(version, c.version);
		assert_str(error, c.error);
	}
}

static void test_get(void **)
{
	Json::Value root = read_ok(
		"{\"s\":\"text\",\"b\":false,\"u32\":4294967295,"
		"\"u64\":18446744073709551615,\"i64\":-9223372036854775808,"
		"\"list\":[\"a\",\"b\"],\"empty\":[],\"null\":null,"
		"\"neg\":-1,\"big\":4294967296,\"real\":1.5,\"mixed\":[\"a\",1]}");
	std::string error;

	/* present: read, 1 */
	std::string s;
	bool b = true;
	uint32_t u32 = 0;
	uint64_t u64 = 0;
	int64_t i64 = 0;
	std::vector<std::string> list;
	assert_int_equal(json_get(root, "s", s, error), 1);
	assert_str(s, "text");
	assert_int_equal(json_get(root, "b", b, error), 1);
	assert_false(b);
	assert_int_equal(json_get(root, "u32", u32, error), 1);
	assert_true(u32 == UINT32_MAX);
	assert_int_equal(json_get(root, "u64", u64, error), 1);
	assert_true(u64 == UINT64_MAX);
	assert_int_equal(json_get(root, "i64", i64, error), 1);
	assert_true(i64 == INT64_MIN);
	assert_int_equal(json_get(root, "list", list, error), 1);
	assert_int_equal(list.size(), 2);
	assert_str(list[1], "b");
	assert_int_equal(json_get(root, "empty", list, error), 1);
	assert_true(list.empty());
	assert_str(error, "");

	/* missing or null: 0, the value is left alone */
	for (const char *key : { "missing", "null" }) {
		s = "keep";
		u32 = 7;
		list = { "keep" };
		assert_int_equal(json_get(root, key, s, error), 0);
		assert_int_equal(json_get(root, key, u32, error), 0);
		assert_int_equal(json_get(root, key, list, error), 0);
		assert_str(s, "keep");
		assert_int_equal(u32, 7);
		assert_int_equal(list.size(), 1);
	}
	assert_str(error, "");

	/* another type: -1, "<key>: expected <type>" */
	const struct {
		const char *key;
		int which;  /* 0 string 1 bool 2 u32 3 u64 4 i64 5 list */
		const char *error;
	} bad[] = {
		{ "u32", 0, "u32: expected a string" },
		{ "s", 1, "s: expected true or false" },
		{ "neg", 2, "neg: expected a number" },
		{ "big", 2, "big: expected a number" },
		{ "real", 2, "real: expected a number" },
		{ "s", 2, "s: expected a number" },
		{ "neg", 3, "neg: expected a number" },
		{ "b", 3, "b: expected a number" },
		{ "u64", 4, "u64: expected a number" },
		{ "s", 5, "s: expected a list of strings" },
		{ "mixed", 5, "mixed: expected a list of strings" },
	};
	for (const auto &c : bad) {
		int ret = 0;
		error.clear();
		list = { "keep" };
		switch (c.which) {
		case 0: ret = json_get(root, c.key, s, error); break;
		case 1: ret = json_get(root, c.key, b, error); break;
		case 2: ret = json_get(root, c.key, u32, error); break;
		case 3: ret = json_get(root, c.key, u64, error); break;
		case 4: ret = json_get(root, c.key, i64, error); break;
		case 5: ret = json_get(root, c.key, list, error); break;
		}
		assert_int_equal(ret, -1);
		assert_str(error, c.error);
		assert_int_equal(list.size(), 1);
	}

	assert_int_equal(json_type_error(error, "folder 'x'", "an object"), -1);
	assert_str(error, "folder 'x': expected an object");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_get),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
