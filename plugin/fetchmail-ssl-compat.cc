#include "fetchmail-ssl-compat.hh"
#include "fetchmail-dovecot.hh"

extern "C" {
#include "iostream-openssl.h"
}
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>

/* struct ssl_iostream of Dovecot 2.3's OpenSSL module (iostream-openssl.h,
   installed with dovecot-dev); check it again before building against
   anything else. */
#if !(DOVECOT_VERSION_MAJOR == 2 && DOVECOT_VERSION_MINOR == 3)
#  error "fetchmail-ssl-compat.cc: check iostream-openssl.h of this Dovecot version"
#endif
/* SSL_get0_peer_certificate(), SSL_get1_peer_certificate() */
#if OPENSSL_VERSION_NUMBER < 0x30000000L
#  error "fetchmail-ssl-compat.cc: OpenSSL 3 is required"
#endif

namespace fetchmail {

struct SslSession {
	SSL_SESSION *session;
};

std::string ssl_compat_peer_subject(struct ssl_iostream *ssl_io)
{
	std::string subject;
	X509 *cert = SSL_get1_peer_certificate(ssl_io->ssl);

	if (cert == nullptr)
		return subject;
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio != nullptr) {
		char *data;
		X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
				   XN_FLAG_RFC2253);
		long len = BIO_get_mem_data(bio, &data);
		if (len > 0)
			subject.assign(data, len);
		BIO_free(bio);
	}
	X509_free(cert);
	return subject;
}

bool ssl_compat_low_memory(struct ssl_iostream *ssl_io, size_t bio_size)
{
	BIO *bio_ext = ssl_io->bio_ext;
	/* ssl-iostream's bio_int: the SSL's read and write BIO */
	BIO *bio_int = SSL_get_rbio(ssl_io->ssl);

	if (bio_ext == nullptr || bio_int == nullptr ||
	    SSL_get_wbio(ssl_io->ssl) != bio_int ||
	    BIO_ctrl_pending(bio_ext) != 0 || BIO_ctrl_pending(bio_int) != 0)
		return false;
	/* unpaired, a BIO takes a new size (its buffer is freed) and gets
	   a buffer of that size when paired again */
	if (BIO_destroy_bio_pair(bio_ext) != 1 ||
	    BIO_set_write_buf_size(bio_int, bio_size) != 1 ||
	    BIO_set_write_buf_size(bio_ext, bio_size) != 1 ||
	    BIO_make_bio_pair(bio_int, bio_ext) != 1)
		return false;
	SSL_set_mode(ssl_io->ssl, SSL_MODE_RELEASE_BUFFERS);
	return true;
}

void SslSessionFree::operator()(SslSession *session) const
{
	if (session == nullptr)
		return;
	SSL_SESSION_free(session->session);
	delete session;
}

SslSessionPtr ssl_compat_get_session(struct ssl_iostream *ssl_io)
{
	if (ssl_io == nullptr || ssl_io->ssl == nullptr)
		return nullptr;
	SSL_SESSION *session = SSL_get_session(ssl_io->ssl);
	if (session == nullptr || SSL_SESSION_is_resumable(session) != 1)
		return nullptr;
	/* the wrapper first: if new throws, no reference is taken */
	SslSessionPtr held(new SslSession{ nullptr });
	SSL_SESSION_up_ref(session);
	held->session = session;
	return held;
}

time_t ssl_compat_session_expires(const SslSession &session)
{
	const SSL_SESSION *s = session.session;
	time_t expires = static_cast<time_t>(SSL_SESSION_get_time(s)) +
		static_cast<time_t>(SSL_SESSION_get_timeout(s));
	X509 *cert = SSL_SESSION_get0_peer(const_cast<SSL_SESSION *>(s));
	struct tm tm;

	if (cert != nullptr &&
	    ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
		time_t not_after = timegm(&tm);
		if (not_after < expires)
			expires = not_after;
	}
	return expires;
}

bool ssl_compat_offer_session(struct ssl_iostream *ssl_io,
			      const SslSession &session)
{
	return SSL_set_session(ssl_io->ssl, session.session) == 1;
}

bool ssl_compat_session_resumed(struct ssl_iostream *ssl_io)
{
	return SSL_session_reused(ssl_io->ssl) == 1;
}

bool ssl_compat_check_resumed(struct ssl_iostream *ssl_io, const char *host,
			      std::string &error_r)
{
	X509 *cert = SSL_get0_peer_certificate(ssl_io->ssl);

	if (cert == nullptr) {
		error_r = "SSL certificate not received (resumed session)";
		return false;
	}
	long result = SSL_get_verify_result(ssl_io->ssl);
	if (result != X509_V_OK) {
		error_r = std::string("Received invalid SSL certificate: ") +
			X509_verify_cert_error_string(result) +
			" (resumed session)";
		return false;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		error_r = "Received invalid SSL certificate: certificate has expired (resumed session)";
		return false;
	}
	/* DNS names first, then IP addresses, as ssl-iostream's
	   openssl_cert_match_name() does, with its wildcard rule */
	int ret = X509_check_host(cert, host, strlen(host),
				  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr);
	if (ret == 0)
		ret = X509_check_ip_asc(cert, host, 0);
	if (ret == 1)
		return true;
	error_r = std::string("SSL certificate doesn't match expected host name ") +
		host + (ret == 0 ? ": did not match to any IP or DNS fields" :
			": Malformed input") + " (resumed session)";
	return false;
}

} // namespace fetchmail
