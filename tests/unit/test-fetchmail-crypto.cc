/* Unit tests for fetchmail-crypto: key ring, AES-256-GCM blobs, base64. */

#include "fetchmail-crypto.hh"
#include "test-common.hh"

using namespace fetchmail;

/* key bytes 00 01 02 .. 1f; SHA-256 starts with 630dcd29 */
static const char KEY_A[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char KEY_A_ID[] = "630dcd29";
/* 32 bytes of ff; SHA-256 starts with af961376 */
static const char KEY_B[] =
	"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";
static const char KEY_B_ID[] = "af961376";

static const char AAD[] = "alice@example.com\nfm-abcdefgh";
static const char SECRET[] = "correct horse battery staple";

static KeyRing ring_of(const char *current, const char *old = "")
{
	KeyRing ring;
	std::string error;
	if (ring.parse(current, old, error) != 0)
		fail_msg("parse: %s", error.c_str());
	return ring;
}

static void test_keyring(void **)
{
	KeyRing ring;
	std::string error;

	assert_true(ring.empty());
	assert_str(ring.current_key_id(), "");
	assert_int_equal(ring.add_key(std::string("  ") + KEY_A + "\n", error), 0);
	assert_str(ring.current_key_id(), KEY_A_ID);
	assert_int_equal(ring.add_key(KEY_B, error), 0);
	assert_str(ring.current_key_id(), KEY_A_ID);
	assert_true(ring.has_key_id(KEY_B_ID));
	assert_false(ring.has_key_id("00000000"));
	assert_int_equal(ring.size(), 2);
	/* the same key again does nothing */
	assert_int_equal(ring.add_key(KEY_A, error), 0);
	assert_int_equal(ring.size(), 2);

	const char *bad[] = {
		"", "0011", KEY_A + 1,
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00",
		"g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"0001020304050607 8090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	};
	for (const char *b : bad) {
		error.clear();
		assert_int_equal(ring.add_key(b, error), -1);
		assert_prefix(error, "must be 64 hex digits");
		/* no key material in errors */
		assert_null(strstr(error.c_str(), "0a0b0c"));
	}
	assert_int_equal(ring.size(), 2);

	/* parse */
	KeyRing r2;
	assert_int_equal(r2.parse(KEY_B, std::string(" ") + KEY_A + " \n ", error), 0);
	assert_int_equal(r2.size(), 2);
	assert_str(r2.current_key_id(), KEY_B_ID);
	assert_int_equal(r2.parse("", "", error), 0);
	assert_true(r2.empty());
	assert_int_equal(r2.parse("", KEY_A, error), -1);
	assert_prefix(error, "current key: missing");
	assert_int_equal(r2.parse("abc", "", error), -1);
	assert_prefix(error, "current key: must be 64 hex digits");
	assert_true(r2.empty());
	assert_int_equal(r2.parse(KEY_A, std::string(KEY_B) + " xyz", error), -1);
	assert_prefix(error, "old key 2: must be 64 hex digits");
	assert_true(r2.empty());

	/* move */
	KeyRing r3 = std::move(ring);
	assert_str(r3.current_key_id(), KEY_A_ID);
}

static void test_round_trip(void **)
{
	KeyRing ring = ring_of(KEY_A);
	std::string blob, blob2, plain, error;

	assert_int_equal(secret_encrypt(ring, SECRET, AAD, blob, error), 0);
	assert_prefix(blob, "v1:630dcd29:");
	assert_null(strstr(blob.c_str(), "horse"));
	assert_str(secret_key_id(blob), KEY_A_ID);
	/* nonce 12 + 28 bytes + tag 16 = 56 bytes -> 76 base64 chars */
	assert_int_equal(blob.size(), 12 + 76);
	assert_int_equal(secret_decrypt(ring, blob, AAD, plain, error), 0);
	assert_str(plain, SECRET);

	/* two encryptions of the same plaintext differ */
	assert_int_equal(secret_encrypt(ring, SECRET, AAD, blob2, error), 0);
	assert_true(blob != blob2);
	plain.clear();
	assert_int_equal(secret_decrypt(ring, blob2, AAD, plain, error), 0);
	assert_str(plain, SECRET);

	/* empty and binary plaintexts */
	assert_int_equal(secret_encrypt(ring, "", AAD, blob, error), 0);
	assert_int_equal(secret_decrypt(ring, blob, AAD, plain, error), 0);
	assert_str(plain, "");
	std::string bin("\0\xff\r\n", 4);
	assert_int_equal(secret_encrypt(ring, bin, "", blob, error), 0);
	assert_int_equal(secret_decrypt(ring, blob, "", plain, error), 0);
	assert_true(plain == bin);
}

static void test_failures(void **)
{
	KeyRing ring = ring_of(KEY_A, KEY_B);
	std::string blob, plain = "unchanged", error;
	assert_int_equal(secret_encrypt(ring, SECRET, AAD, blob, error), 0);

	/* wrong AAD: another user or account */
	assert_int_equal(secret_decrypt(ring, blob, "bob@example.com\nfm-abcdefgh", plain, error), -1);
	assert_str(error, "decryption failed: wrong key or tampered data");
	assert_int_equal(secret_decrypt(ring, blob, "", plain, error), -1);
	assert_str(error, "decryption failed: wrong key or tampered data");
	assert_str(plain, "unchanged");

	/* wrong key: the blob claims key B, which is configured */
	std::string wrong = blob;
	wrong.replace(3, 8, KEY_B_ID);
	assert_int_equal(secret_decrypt(ring, wrong, AAD, plain, error), -1);
	assert_str(error, "decryption failed: wrong key or tampered data");

	/* a ring with only another key */
	KeyRing other = ring_of(KEY_B);
	assert_int_equal(secret_decrypt(other, blob, AAD, plain, error), -1);
	assert_str(error, "encrypted with key 630dcd29, which is not configured");

	/* tampered: flip one byte in nonce, ciphertext and tag */
	std::string raw;
	assert_int_equal(base64_decode(blob.substr(12), raw), 0);
	assert_int_equal(raw.size(), 12 + strlen(SECRET) + 16);
	for (size_t pos : { (size_t)0, (size_t)12, (size_t)20, raw.size() - 1 }) {
		std::string t = raw;
		t[pos] ^= 0x01;
		std::string tampered = blob.substr(0, 12) + base64_encode(t);
		assert_int_equal(secret_decrypt(ring, tampered, AAD, plain, error), -1);
		assert_str(error, "decryption failed: wrong key or tampered data");
	}
	/* truncated ciphertext */
	std::string shortened = blob.substr(0, 12) + base64_encode(raw.substr(0, raw.size() - 3));
	assert_int_equal(secret_decrypt(ring, shortened, AAD, plain, error), -1);
	assert_str(error, "decryption failed: wrong key or tampered data");
	assert_str(plain, "unchanged");

	/* malformed blobs */
	const char *malformed[] = {
		"", "v1", "v2:630dcd29:AAAA", "630dcd29:AAAA", "v1:630dcd2:AAAA",
		"v1:630DCD29:AAAA", "v1:630dcd29", "v1:630dcd29:", "v1:630dcd29:AAAA",
		"v1:630dcd29:!!!!", "v1:630dcd29:AAA", "v1:zzzzzzzz:AAAA",
	};
	for (const char *m : malformed) {
		assert_int_equal(secret_decrypt(ring, m, AAD, plain, error), -1);
		assert_prefix(error, "malformed encrypted secret:");
	}

	/* empty ring */
	KeyRing empty;
	assert_int_equal(secret_encrypt(empty, SECRET, AAD, blob, error), -1);
	assert_prefix(error, "no encryption key configured");
}

static void test_rotation(void **)
{
	KeyRing old_ring = ring_of(KEY_A);
	std::string blob_a, blob_b, plain, error;
	assert_int_equal(secret_encrypt(old_ring, SECRET, AAD, blob_a, error), 0);

	/* rotate: B is current, A is kept for decryption */
	KeyRing ring = ring_of(KEY_B, KEY_A);
	assert_int_equal(secret_decrypt(ring, blob_a, AAD, plain, error), 0);
	assert_str(plain, SECRET);
	assert_int_equal(secret_encrypt(ring, plain, AAD, blob_b, error), 0);
	assert_prefix(blob_b, "v1:af961376:");
	assert_str(secret_key_id(blob_b), KEY_B_ID);

	/* once A is gone, old blobs fail clearly, new ones work */
	KeyRing only_b = ring_of(KEY_B);
	assert_int_equal(secret_decrypt(only_b, blob_a, AAD, plain, error), -1);
	assert_str(error, "encrypted with key 630dcd29, which is not configured");
	assert_int_equal(secret_decrypt(only_b, blob_b, AAD, plain, error), 0);
	assert_str(plain, SECRET);
	assert_str(secret_key_id("garbage"), "");
}

static void test_base64(void **)
{
	const char *vectors[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	for (const auto &v : vectors) {
		assert_str(base64_encode(v[0]), v[1]);
		std::string out = "x";
		assert_int_equal(base64_decode(v[1], out), 0);
		assert_str(out, v[0]);
	}
	assert_str(base64_encode(std::string("\xfb\xff", 2)), "+/8=");
	const char *bad[] = { "Zg=", "Zh==", "Zm9=", "Z===", "Zg==Zg==", "Zm9v\n",
			      "Zm 9", "====" };
	for (const char *b : bad) {
		std::string out;
		if (base64_decode(b, out) != -1)
			fail_msg("'%s' decoded", b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyring),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
