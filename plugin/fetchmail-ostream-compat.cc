#include "fetchmail-ostream-compat.hh"
#include "fetchmail-dovecot.hh"

#include <cstddef>

extern "C" {
#include "net.h"
#include "ostream-file-private.h"
}

/* struct file_ostream of Dovecot 2.3 (ostream-file-private.h, installed
   with dovecot-dev); check it again before building against anything
   else. */
#if !(DOVECOT_VERSION_MAJOR == 2 && DOVECOT_VERSION_MINOR == 3)
#  error "fetchmail-ostream-compat.cc: check ostream-file-private.h of this Dovecot version"
#endif

namespace fetchmail {

void ostream_compat_no_cork(struct ostream *output, int fd)
{
	/* the ostream o_stream_create_fd() made is the first member of its
	   file_ostream (container_of() does not compile as C++) */
	static_assert(offsetof(struct file_ostream, ostream) == 0);
	auto *fstream = reinterpret_cast<struct file_ostream *>(
		output->real_stream);

	i_assert(fstream->fd == fd);
	if (net_set_tcp_nodelay(fd, TRUE) < 0)
		return;
	fstream->no_socket_cork = TRUE;
	fstream->no_socket_nodelay = TRUE;
	fstream->no_socket_quickack = TRUE;
}

} // namespace fetchmail
