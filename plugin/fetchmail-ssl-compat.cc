#include "fetchmail-ssl-compat.hh"
#include "fetchmail-dovecot.hh"

extern "C" {
#include "iostream-openssl.h"
}
#include <openssl/bio.h>
#include <openssl/x509.h>

/* struct ssl_iostream of Dovecot 2.3's OpenSSL module (iostream-openssl.h,
   installed with dovecot-dev); check it again before building against
   anything else. */
#if !(DOVECOT_VERSION_MAJOR == 2 && DOVECOT_VERSION_MINOR == 3)
#  error "fetchmail-ssl-compat.cc: check iostream-openssl.h of this Dovecot version"
#endif

namespace fetchmail {

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

} // namespace fetchmail
