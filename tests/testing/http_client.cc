#include "tests/testing/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace cohort::testing {
namespace {

// Closes the descriptor when it goes out of scope.
struct ScopedFd {
  int fd = -1;
  ~ScopedFd() {
    if (fd >= 0) ::close(fd);
  }
};

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A blocking socket connected to 127.0.0.1:port; connect and send give up
// after `timeout` (SO_SNDTIMEO bounds both on Linux).
absl::Status Connect(ScopedFd& sock, int port, absl::Duration timeout) {
  sock.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock.fd < 0) return Errno("socket");
  const timeval tv = absl::ToTimeval(timeout);
  ::setsockopt(sock.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const sockaddr_in addr = Loopback(port);
  if (::connect(sock.fd, reinterpret_cast<const sockaddr*>(&addr),
                sizeof(addr)) != 0) {
    return Errno(absl::StrCat("connect 127.0.0.1:", port));
  }
  return absl::OkStatus();
}

absl::Status SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return absl::DeadlineExceededError("sending the request timed out");
    }
    if (n < 0) return Errno("send");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Waits until `fd` is readable or `deadline` passes.
absl::Status WaitReadable(int fd, absl::Time deadline) {
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return absl::DeadlineExceededError("no complete response");
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, INT_MAX)));
    if (rc > 0) return absl::OkStatus();
    if (rc < 0 && errno != EINTR) return Errno("poll");
  }
}

// Everything the server sends until it closes the connection.
absl::StatusOr<std::string> ReadToClose(int fd, absl::Time deadline) {
  std::string out;
  char buffer[16384];
  while (true) {
    if (absl::Status s = WaitReadable(fd, deadline); !s.ok()) return s;
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) return out;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("recv");
    out.append(buffer, static_cast<size_t>(n));
  }
}

// "HTTP/1.1 404 Not Found\r\n...\r\n\r\nbody" -> {404, "body"}.
absl::StatusOr<HttpResponse> ParseResponse(const std::string& raw) {
  HttpResponse response;
  const size_t space = raw.find(' ');
  if (!absl::StartsWith(raw, "HTTP/") || space == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(raw).substr(space + 1, 3),
                        &response.status)) {
    return absl::InternalError(
        absl::StrCat("not an HTTP response: '", raw.substr(0, 80), "'"));
  }
  const size_t end = raw.find("\r\n\r\n");
  if (end != std::string::npos) response.body = raw.substr(end + 4);
  return response;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpRequest(int port, const std::string& method,
                                         const std::string& target,
                                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  ScopedFd sock;
  if (absl::Status s = Connect(sock, port, timeout); !s.ok()) return s;
  const std::string request =
      absl::StrCat(method, " ", target, " HTTP/1.0\r\nHost: 127.0.0.1:", port,
                   "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  if (absl::Status s = SendAll(sock.fd, request); !s.ok()) return s;
  absl::StatusOr<std::string> raw = ReadToClose(sock.fd, deadline);
  if (!raw.ok()) return raw.status();
  return ParseResponse(*raw);
}

absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target,
                                     absl::Duration timeout) {
  return HttpRequest(port, "GET", target, timeout);
}

int FreeLoopbackPort() {
  ScopedFd sock;
  sock.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock.fd < 0) return 0;
  sockaddr_in addr = Loopback(0);
  if (::bind(sock.fd, reinterpret_cast<const sockaddr*>(&addr),
             sizeof(addr)) != 0) {
    return 0;
  }
  socklen_t len = sizeof(addr);
  if (::getsockname(sock.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  return ntohs(addr.sin_port);
}

}  // namespace cohort::testing
