#ifndef FETCHMAIL_CRYPTO_HH
#define FETCHMAIL_CRYPTO_HH

/* Encryption of stored secrets (remote passwords, tokens) with
   AES-256-GCM through OpenSSL's EVP interface.

   A KeyRing holds the configured keys: the current one (fetchmail_key),
   which encrypts, and any number of old ones, which only decrypt records
   written before a key rotation. Each key is known by its key id, the
   first 8 hex digits of SHA-256 over the 32 key bytes; the id is stored
   in the blob so that decryption picks the right key.

   Blob format (text, safe for JSON and attributes):

     v1:<keyid>:<base64(nonce[12] || ciphertext || tag[16])>

   The nonce is fresh from RAND_bytes() for every encryption. The GCM
   additional data is "v1:<keyid>:" followed by the caller's aad; the glue
   passes "<user>\n<account id>" so that a blob cannot be moved to another
   user or account. Key bytes are wiped with OPENSSL_cleanse() when the
   ring is cleared or destroyed. Error messages never contain key material
   or plaintext. Nothing throws. */

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fetchmail {

class KeyRing {
public:
	KeyRing();
	~KeyRing();
	KeyRing(const KeyRing &) = delete;
	KeyRing &operator=(const KeyRing &) = delete;
	KeyRing(KeyRing &&) noexcept;
	KeyRing &operator=(KeyRing &&) noexcept;

	/* Add a key given as exactly 64 hex digits (either case; whitespace
	   around it is trimmed). The first key added is the current one.
	   Adding a key that is already in the ring does nothing. */
	int add_key(std::string_view hex64, std::string &error_r);
	/* Replace the ring: current_hex (empty = no key at all) and
	   old_keys, whitespace separated, possibly empty. An old key without
	   a current one is an error. Errors start with "current key: " or
	   "old key N: " (N counting from 1). On error the ring is empty. */
	int parse(std::string_view current_hex, std::string_view old_keys,
		  std::string &error_r);
	void clear();
	bool empty() const;
	size_t size() const;
	/* The current key's id, or "" when empty. */
	std::string current_key_id() const;
	bool has_key_id(std::string_view key_id) const;

private:
	struct Key;
	/* the key with this id, or the current key when id is empty;
	   nullptr if none */
	const Key *find(std::string_view key_id) const;

	std::vector<std::unique_ptr<Key>> keys;

	friend int secret_encrypt(const KeyRing &, std::string_view,
				  std::string_view, std::string &,
				  std::string &);
	friend int secret_decrypt(const KeyRing &, std::string_view,
				  std::string_view, std::string &,
				  std::string &);
};

/* Encrypt plaintext with the current key. Fails when the ring is empty
   ("no encryption key configured") or OpenSSL fails. */
int secret_encrypt(const KeyRing &ring, std::string_view plaintext,
		   std::string_view aad, std::string &blob_r,
		   std::string &error_r);

/* Decrypt a blob made by secret_encrypt() with the same aad. Errors:
     "malformed encrypted secret: ..."          not a v1 blob
     "encrypted with key <id>, which is not configured"
     "decryption failed: wrong key or tampered data"  (also wrong aad) */
int secret_decrypt(const KeyRing &ring, std::string_view blob,
		   std::string_view aad, std::string &plain_r,
		   std::string &error_r);

/* The key id in a blob ("" when malformed): tells which records still
   need the old key after a rotation. */
std::string secret_key_id(std::string_view blob);

/* Standard base64 with padding. decode is strict (no whitespace, correct
   padding) and returns -1 on bad input. */
std::string base64_encode(std::string_view data);
int base64_decode(std::string_view text, std::string &data_r);

} // namespace fetchmail

#endif
