/* Unit tests for fetchmail-message: header fields, Message-ID and
   identities. */
#include "fetchmail-message.hh"

#include "test-common.hh"

using namespace fetchmail;

static void test_message_id(void **)
{
	static const struct {
		const char *header;
		const char *id;
	} cases[] = {
		{ "Message-ID: <a@b>\r\nSubject: x\r\n\r\nbody", "<a@b>" },
		{ "subject: x\nmessage-id:   <c@d>  \n\n", "<c@d>" },
		{ "MESSAGE-ID:\r\n <folded@x>\r\n\r\n", "<folded@x>" },
		{ "Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n", "" },
		{ "Subject: x\r\n", "" },
		{ "X-Message-ID: <no@x>\r\n\r\n", "" },
		{ "", "" },
	};

	for (const auto &c : cases)
		assert_string_equal(message_id_from_header(c.header).c_str(), c.id);
}

static void test_header_complete(void **)
{
	assert_true(header_complete("A: b\r\n\r\n"));
	assert_true(header_complete("A: b\n\n"));
	assert_true(header_complete("\r\nbody"));
	assert_false(header_complete("A: b\r\nC: d\r\n"));
	assert_false(header_complete(""));
}

static void test_identity(void **)
{
	const std::string crlf =
		"Message-ID: <a1@example.net>\r\n"
		"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
		"From: Alice <alice@example.net>\r\n"
		"Subject: hello\r\n\tworld\r\n"
		"\r\nbody\r\n";
	/* the same message as a storage gives it back: LF line endings,
	   other fields added, fields in another order */
	const std::string stored =
		"Return-Path: <alice@example.net>\n"
		"X-UID: 7\n"
		"From: Alice <alice@example.net>\n"
		"subject: hello\n world\n"
		"Message-Id: <a1@example.net>\n"
		"Status: RO\n"
		"DATE:  Mon, 2 Nov 2026 10:00:00 +0000 \n"
		"\nbody\n";
	std::string id = message_identity(crlf);
	assert_int_equal(id.size(), 16);
	assert_str(message_identity(stored), id);
	/* frozen: stored in pending records */
	assert_str(message_identity(""), hash_hex16({ "", "", "", "", "" }));
	assert_str(hash_hex16({ "" }), "cbf29ce484222325");
	/* another subject, or a field only in the body: another identity */
	std::string other = crlf;
	other.replace(other.find("hello"), 5, "hallo");
	assert_true(message_identity(other) != id);
	assert_true(message_identity("\r\nMessage-ID: <a1@example.net>\r\n") ==
		    message_identity(""));
	assert_str(header_value(crlf, "subject"), "hello world");
	assert_str(header_value(crlf, "Message"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_header_complete),
		cmocka_unit_test(test_identity),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
