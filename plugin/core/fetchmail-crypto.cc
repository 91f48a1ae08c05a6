#include "fetchmail-crypto.hh"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

namespace fetchmail {

namespace {

const size_t KEY_LEN = 32;
const size_t NONCE_LEN = 12;
const size_t TAG_LEN = 16;
const std::string_view BLOB_VERSION = "v1";

const char HEX[] = "0123456789abcdef";

int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s)
{
	while (!s.empty() && is_space(s.front()))
		s.remove_prefix(1);
	while (!s.empty() && is_space(s.back()))
		s.remove_suffix(1);
	return s;
}

/* Wipes a string's bytes before it goes away. */
struct Wiper {
	std::string &s;
	~Wiper() { if (!s.empty()) OPENSSL_cleanse(s.data(), s.size()); }
};

struct CtxFree {
	void operator()(EVP_CIPHER_CTX *ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

std::string header(std::string_view key_id)
{
	return std::string(BLOB_VERSION) + ":" + std::string(key_id) + ":";
}

} // namespace

struct KeyRing::Key {
	unsigned char bytes[KEY_LEN];
	std::string id;

	~Key() { OPENSSL_cleanse(bytes, sizeof(bytes)); }
};

KeyRing::KeyRing() = default;
KeyRing::~KeyRing() = default;
KeyRing::KeyRing(KeyRing &&) noexcept = default;
KeyRing &KeyRing::operator=(KeyRing &&) noexcept = default;

int KeyRing::add_key(std::string_view hex64, std::string &error_r)
{
	hex64 = trim(hex64);
	if (hex64.size() != KEY_LEN * 2) {
		error_r = "must be 64 hex digits (got " +
			std::to_string(hex64.size()) + " characters)";
		return -1;
	}
	try {
		auto key = std::make_unique<Key>();
		for (size_t i = 0; i < KEY_LEN; i++) {
			int hi = hex_value(hex64[i * 2]);
			int lo = hex_value(hex64[i * 2 + 1]);
			if (hi < 0 || lo < 0) {
				error_r = "must be 64 hex digits (found a non-hex character)";
				return -1;
			}
			key->bytes[i] = (unsigned char)(hi << 4 | lo);
		}
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int md_len = 0;
		if (EVP_Digest(key->bytes, KEY_LEN, md, &md_len, EVP_sha256(),
			       nullptr) != 1) {
			error_r = "SHA-256 failed";
			return -1;
		}
		for (size_t i = 0; i < 4; i++) {
			key->id += HEX[md[i] >> 4];
			key->id += HEX[md[i] & 15];
		}
		for (const auto &k : keys) {
			if (k->id != key->id)
				continue;
			if (CRYPTO_memcmp(k->bytes, key->bytes, KEY_LEN) == 0)
				return 0;
			error_r = "key id " + key->id +
				" collides with another configured key";
			return -1;
		}
		keys.push_back(std::move(key));
	} catch (const std::exception &e) {
		error_r = std::string("out of memory: ") + e.what();
		return -1;
	}
	return 0;
}

int KeyRing::parse(std::string_view current_hex, std::string_view old_keys,
		   std::string &error_r)
{
	std::string error;

	clear();
	current_hex = trim(current_hex);
	old_keys = trim(old_keys);
	if (current_hex.empty()) {
		if (old_keys.empty())
			return 0;
		error_r = "current key: missing, but old keys are configured";
		return -1;
	}
	if (add_key(current_hex, error) < 0) {
		error_r = "current key: " + error;
		clear();
		return -1;
	}
	unsigned n = 0;
	size_t pos = 0;
	while (pos < old_keys.size()) {
		while (pos < old_keys.size() && is_space(old_keys[pos]))
			pos++;
		size_t end = pos;
		while (end < old_keys.size() && !is_space(old_keys[end]))
			end++;
		if (end == pos)
			break;
		n++;
		if (add_key(old_keys.substr(pos, end - pos), error) < 0) {
			error_r = "old key " + std::to_string(n) + ": " + error;
			clear();
			return -1;
		}
		pos = end;
	}
	return 0;
}

void KeyRing::clear()
{
	keys.clear();
}

bool KeyRing::empty() const
{
	return keys.empty();
}

size_t KeyRing::size() const
{
	return keys.size();
}

std::string KeyRing::current_key_id() const
{
	return keys.empty() ? std::string() : keys.front()->id;
}

bool KeyRing::has_key_id(std::string_view key_id) const
{
	return !key_id.empty() && find(key_id) != nullptr;
}

const KeyRing::Key *KeyRing::find(std::string_view key_id) const
{
	if (keys.empty())
		return nullptr;
	if (key_id.empty())
		return keys.front().get();
	for (const auto &k : keys) {
		if (k->id == key_id)
			return k.get();
	}
	return nullptr;
}

int secret_encrypt(const KeyRing &ring, std::string_view plaintext,
		   std::string_view aad, std::string &blob_r,
		   std::string &error_r)
{
	const KeyRing::Key *key = ring.find("");
	if (key == nullptr) {
		error_r = "no encryption key configured (fetchmail_key)";
		return -1;
	}
	try {
		std::string hdr = header(key->id);
		std::string full_aad = hdr + std::string(aad);
		std::string raw(NONCE_LEN + plaintext.size() + TAG_LEN, '\0');
		Wiper wipe{raw};
		auto *out = (unsigned char *)raw.data();
		int len = 0;

		if (RAND_bytes(out, NONCE_LEN) != 1) {
			error_r = "RAND_bytes failed";
			return -1;
		}
		CtxPtr ctx(EVP_CIPHER_CTX_new());
		if (!ctx ||
		    EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
				       nullptr, nullptr) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN,
					NONCE_LEN, nullptr) != 1 ||
		    EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr,
				       key->bytes, out) != 1 ||
		    EVP_EncryptUpdate(ctx.get(), nullptr, &len,
				      (const unsigned char *)full_aad.data(),
				      (int)full_aad.size()) != 1 ||
		    EVP_EncryptUpdate(ctx.get(), out + NONCE_LEN, &len,
				      (const unsigned char *)plaintext.data(),
				      (int)plaintext.size()) != 1 ||
		    EVP_EncryptFinal_ex(ctx.get(), out + NONCE_LEN + len,
					&len) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, TAG_LEN,
					out + NONCE_LEN + plaintext.size()) != 1) {
			error_r = "AES-256-GCM encryption failed";
			return -1;
		}
		blob_r = hdr + base64_encode(raw);
	} catch (const std::exception &e) {
		error_r = std::string("encryption failed: ") + e.what();
		return -1;
	}
	return 0;
}

int secret_decrypt(const KeyRing &ring, std::string_view blob,
		   std::string_view aad, std::string &plain_r,
		   std::string &error_r)
{
	try {
		/* v1:<8 hex>:<base64> */
		if (blob.substr(0, 3) != "v1:") {
			error_r = "malformed encrypted secret: unknown format";
			return -1;
		}
		std::string_view key_id = blob.substr(3, 8);
		if (key_id.size() != 8 || blob.size() < 12 || blob[11] != ':' ||
		    key_id.find_first_not_of(HEX) != key_id.npos) {
			error_r = "malformed encrypted secret: bad key id";
			return -1;
		}
		std::string raw;
		if (base64_decode(blob.substr(12), raw) < 0 ||
		    raw.size() < NONCE_LEN + TAG_LEN) {
			error_r = "malformed encrypted secret: bad encoding";
			return -1;
		}
		const KeyRing::Key *key = ring.find(key_id);
		if (key == nullptr) {
			error_r = "encrypted with key " + std::string(key_id) +
				", which is not configured";
			return -1;
		}
		std::string full_aad = header(key_id) + std::string(aad);
		size_t ct_len = raw.size() - NONCE_LEN - TAG_LEN;
		auto *in = (unsigned char *)raw.data();
		std::string plain(ct_len, '\0');
		Wiper wipe{plain};
		auto *out = (unsigned char *)plain.data();
		int len = 0;

		CtxPtr ctx(EVP_CIPHER_CTX_new());
		if (!ctx ||
		    EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
				       nullptr, nullptr) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN,
					NONCE_LEN, nullptr) != 1 ||
		    EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr,
				       key->bytes, in) != 1 ||
		    EVP_DecryptUpdate(ctx.get(), nullptr, &len,
				      (const unsigned char *)full_aad.data(),
				      (int)full_aad.size()) != 1 ||
		    EVP_DecryptUpdate(ctx.get(), out, &len, in + NONCE_LEN,
				      (int)ct_len) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, TAG_LEN,
					in + NONCE_LEN + ct_len) != 1 ||
		    EVP_DecryptFinal_ex(ctx.get(), out + len, &len) != 1) {
			error_r = "decryption failed: wrong key or tampered data";
			return -1;
		}
		if (!plain_r.empty())
			OPENSSL_cleanse(plain_r.data(), plain_r.size());
		plain_r.assign(plain);
	} catch (const std::exception &e) {
		error_r = std::string("decryption failed: ") + e.what();
		return -1;
	}
	return 0;
}

std::string secret_key_id(std::string_view blob)
{
	if (blob.size() < 12 || blob.substr(0, 3) != "v1:" || blob[11] != ':')
		return "";
	std::string_view id = blob.substr(3, 8);
	if (id.find_first_not_of(HEX) != id.npos)
		return "";
	return std::string(id);
}

std::string base64_encode(std::string_view data)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	std::string out;
	out.reserve((data.size() + 2) / 3 * 4);
	size_t i = 0;
	for (; i + 3 <= data.size(); i += 3) {
		uint32_t v = (uint32_t)(unsigned char)data[i] << 16 |
			(uint32_t)(unsigned char)data[i + 1] << 8 |
			(uint32_t)(unsigned char)data[i + 2];
		out += alphabet[v >> 18];
		out += alphabet[(v >> 12) & 63];
		out += alphabet[(v >> 6) & 63];
		out += alphabet[v & 63];
	}
	size_t rest = data.size() - i;
	if (rest > 0) {
		uint32_t v = (uint32_t)(unsigned char)data[i] << 16;
		if (rest == 2)
			v |= (uint32_t)(unsigned char)data[i + 1] << 8;
		out += alphabet[v >> 18];
		out += alphabet[(v >> 12) & 63];
		out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
		out += '=';
	}
	return out;
}

int base64_decode(std::string_view text, std::string &data_r)
{
	auto value = [](char c) -> int {
		if (c >= 'A' && c <= 'Z') return c - 'A';
		if (c >= 'a' && c <= 'z') return c - 'a' + 26;
		if (c >= '0' && c <= '9') return c - '0' + 52;
		if (c == '+') return 62;
		if (c == '/') return 63;
		return -1;
	};
	if (text.size() % 4 != 0)
		return -1;
	std::string out;
	out.reserve(text.size() / 4 * 3);
	for (size_t i = 0; i < text.size(); i += 4) {
		bool last = i + 4 == text.size();
		int pad = 0;
		if (last && text[i + 3] == '=')
			pad = text[i + 2] == '=' ? 2 : 1;
		uint32_t v = 0;
		for (int j = 0; j < 4; j++) {
			int d = j >= 4 - pad ? 0 : value(text[i + j]);
			if (d < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		out += (char)(v >> 16);
		if (pad < 2)
			out += (char)((v >> 8) & 0xff);
		if (pad < 1)
			out += (char)(v & 0xff);
		/* non-canonical: bits under the padding must be zero */
		if ((pad == 1 && (v & 0xff) != 0) ||
		    (pad == 2 && (v & 0xffff) != 0))
			return -1;
	}
	data_r = std::move(out);
	return 0;
}

} // namespace fetchmail
