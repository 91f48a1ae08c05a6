/* The process-wide TLS session cache: see fetchmail-tls-cache.hh. */

#include "fetchmail-tls-cache.hh"

#include "fetchmail-lru.hh"

extern "C" {
#include "sha2.h"
}

#include <algorithm>

namespace fetchmail {

namespace {

/* Allocated on first use and never destroyed by a static destructor: that
   would free OpenSSL objects after OpenSSL's own cleanup. What
   tls_session_cache_clear() has not freed by then is left to the exit. */
LruCache<TlsCachedSession> *cache = nullptr;
unsigned int max_age_secs = TLS_SESSION_MAX_AGE_SECS;

LruCache<TlsCachedSession> &the_cache()
{
	if (cache == nullptr)
		cache = new LruCache<TlsCachedSession>(TLS_SESSION_CACHE_MAX);
	return *cache;
}

void digest_str(struct sha256_ctx *ctx, const char *value)
{
	/* NULL and "" differ; the NUL ends each value */
	sha256_loop(ctx, value == nullptr ? "-" : "+", 1);
	if (value != nullptr)
		sha256_loop(ctx, value, strlen(value) + 1);
}

void digest_bool(struct sha256_ctx *ctx, bool value)
{
	sha256_loop(ctx, value ? "1" : "0", 1);
}

} // namespace

std::string tls_session_key(const std::string &host, uint16_t port,
			    bool verify,
			    const struct ssl_iostream_settings &ssl_set)
{
	struct sha256_ctx ctx;
	unsigned char digest[SHA256_RESULTLEN];

	/* Every setting that goes into the client context or the
	   connection, inline CAs and keys included (hashed, never kept) */
	sha256_init(&ctx);
	const char *const strings[] = {
		ssl_set.min_protocol, ssl_set.cipher_list, ssl_set.ciphersuites,
		ssl_set.curve_list, ssl_set.ca, ssl_set.ca_file, ssl_set.ca_dir,
		ssl_set.cert.cert, ssl_set.cert.key, ssl_set.cert.key_password,
		ssl_set.alt_cert.cert, ssl_set.alt_cert.key,
		ssl_set.alt_cert.key_password, ssl_set.dh,
		ssl_set.cert_username_field, ssl_set.crypto_device,
	};
	for (const char *value : strings)
		digest_str(&ctx, value);
	const bool flags[] = {
		ssl_set.skip_crl_check, ssl_set.verify_remote_cert,
		ssl_set.allow_invalid_cert, ssl_set.prefer_server_ciphers,
		ssl_set.compression, ssl_set.tickets,
	};
	for (bool value : flags)
		digest_bool(&ctx, value);
	sha256_result(&ctx, digest);

	/* the host last: whatever it contains, the key is unambiguous */
	return std::to_string(port) + (verify ? " verify " : " no-verify ") +
		binary_to_hex(digest, sizeof(digest)) + " " + host;
}

const TlsCachedSession *tls_session_lookup(const std::string &key)
{
	if (cache == nullptr)
		return nullptr;
	return cache->get(key, time(nullptr));
}

void tls_session_store(const std::string &key, TlsCachedSession entry)
{
	if (entry.session == nullptr)
		return;
	time_t expires = std::min(ssl_compat_session_expires(*entry.session),
		entry.authenticated + static_cast<time_t>(max_age_secs));
	the_cache().put(key, std::move(entry), expires, time(nullptr));
}

void tls_session_forget(const std::string &key)
{
	if (cache != nullptr)
		cache->erase(key);
}

void tls_session_cache_clear()
{
	if (cache != nullptr)
		cache->clear();
}

size_t tls_session_cache_size()
{
	return cache == nullptr ? 0 : cache->size();
}

void tls_session_cache_set_limits(size_t max_entries,
				  unsigned int max_age)
{
	the_cache().set_max_entries(max_entries);
	max_age_secs = max_age;
}

} // namespace fetchmail
