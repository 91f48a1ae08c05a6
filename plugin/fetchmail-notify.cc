#include "fetchmail-notify.hh"

extern "C" {
#include "strescape.h"
}

#include <poll.h>
#include <unistd.h>

namespace fetchmail {

const char *const SERVICE_SOCKET_NAME = "fetchmail";
const char *const SERVICE_PROTOCOL_NAME = "fetchmail";

static std::string service_request(const char *verb, const std::string &user)
{
	std::string out = "VERSION\t" + std::string(SERVICE_PROTOCOL_NAME) +
		"\t" + std::to_string(SERVICE_PROTOCOL_MAJOR) + "\t" +
		std::to_string(SERVICE_PROTOCOL_MINOR) + "\n";
	out += verb;
	out += '\t';
	out += str_tabescape(user.c_str());
	out += '\n';
	return out;
}

/* 1 connected, 0 nobody listens, -1 error */
static int service_connect(const char *base_dir, int &fd_r,
			   std::string &error_r)
{
	std::string path = std::string(base_dir) + "/" + SERVICE_SOCKET_NAME;

	fd_r = net_connect_unix(path.c_str());
	if (fd_r != -1)
		return 1;
	if (errno == ENOENT || errno == ECONNREFUSED)
		return 0;
	error_r = "net_connect_unix(" + path + ") failed: " + strerror(errno);
	return -1;
}

/* Connect and send the request: 1 with fd_r open, 0 when no service
   listens, -1 on error. */
static int service_send(const char *base_dir, const std::string &request,
			int &fd_r, std::string &error_r)
{
	int ret = service_connect(base_dir, fd_r, error_r);
	if (ret <= 0)
		return ret;
	/* a few dozen bytes into an empty socket buffer: never short */
	ssize_t n = write(fd_r, request.data(), request.size());
	if (n != static_cast<ssize_t>(request.size())) {
		error_r = std::string("write(fetchmail service) failed: ") +
			(n < 0 ? strerror(errno) : "short write");
		i_close_fd(&fd_r);
		return -1;
	}
	return 1;
}

int service_notify(const char *base_dir, const char *verb,
		   const std::string &user, std::string &error_r)
{
	int fd, ret;

	if ((ret = service_send(base_dir, service_request(verb, user), fd,
				error_r)) <= 0)
		return ret;
	i_close_fd(&fd);
	return 1;
}

/* Read until the second line (after the service's VERSION). */
static int service_read_reply(int fd, unsigned int timeout_msecs,
			      std::string &reply_r, std::string &error_r)
{
	/* a STATUS reply is a few hundred bytes per account */
	const size_t max_size = 16 * 1024 * 1024;
	std::string data;
	char buf[4096];
	int64_t deadline = static_cast<int64_t>(time(nullptr)) * 1000 +
		timeout_msecs;

	for (;;) {
		size_t first = data.find('\n');
		size_t second = first == std::string::npos ? first :
			data.find('\n', first + 1);
		if (second != std::string::npos) {
			if (data.compare(0, 8, "VERSION\t") != 0) {
				error_r = "the fetch service sent no VERSION";
				return -1;
			}
			reply_r = data.substr(first + 1, second - first - 1);
			return 0;
		}
		int64_t left = deadline - static_cast<int64_t>(time(nullptr)) * 1000;
		struct pollfd pfd = { fd, POLLIN, 0 };
		int ret = left <= 0 ? 0 : poll(&pfd, 1, static_cast<int>(left));
		if (ret == 0) {
			error_r = "the fetch service did not answer in time";
			return -1;
		}
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			error_r = std::string("poll() failed: ") + strerror(errno);
			return -1;
		}
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			error_r = n == 0 ? "the fetch service closed the connection" :
				std::string("read() failed: ") + strerror(errno);
			return -1;
		}
		data.append(buf, n);
		if (data.size() > max_size) {
			error_r = "the fetch service's reply is too long";
			return -1;
		}
	}
}

int service_status(const char *base_dir, const std::string &user,
		   unsigned int timeout_msecs,
		   std::map<std::string, ServiceLiveStatus> &statuses_r,
		   std::string &error_r)
{
	std::string reply;
	int fd, ret;

	if ((ret = service_send(base_dir, service_request("STATUS", user), fd,
				error_r)) <= 0)
		return ret;
	ret = service_read_reply(fd, timeout_msecs, reply, error_r);
	i_close_fd(&fd);
	if (ret < 0)
		return -1;
	if (reply.compare(0, 3, "OK\t") != 0) {
		error_r = "the fetch service refused: " +
			(reply.compare(0, 5, "FAIL\t") == 0 ?
			 std::string(str_tabunescape(t_strdup_noconst(
				 reply.c_str() + 5))) : reply);
		return -1;
	}
	if (service_status_decode(std::string_view(reply).substr(3),
				  statuses_r, error_r) < 0) {
		error_r = "the fetch service's STATUS: " + error_r;
		return -1;
	}
	return 1;
}

} // namespace fetchmail
