#include "tests/testing/socket_proxy.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cohort::testing {
namespace {

bool FillAddress(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.c_str(), path.size());
  return true;
}

int ConnectTo(const std::string& path) {
  sockaddr_un addr;
  if (!FillAddress(path, &addr)) return -1;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Copies what is readable on `from` to `to`; false at end of stream or on
// an error.
bool Pump(int from, int to) {
  char buf[16384];
  const ssize_t n = ::read(from, buf, sizeof(buf));
  if (n <= 0) return false;
  for (ssize_t done = 0; done < n;) {
    const ssize_t w = ::write(to, buf + done, static_cast<size_t>(n - done));
    if (w <= 0) return false;
    done += w;
  }
  return true;
}

}  // namespace

UnixSocketProxy::UnixSocketProxy(std::string listen_path,
                                 std::string upstream_path)
    : listen_path_(std::move(listen_path)),
      upstream_path_(std::move(upstream_path)) {}

UnixSocketProxy::~UnixSocketProxy() { Cut(); }

absl::Status UnixSocketProxy::Start() {
  Cut();
  cut_ = false;
  sockaddr_un addr;
  if (!FillAddress(listen_path_, &addr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path too long: ", listen_path_));
  }
  ::unlink(listen_path_.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, 16) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    return absl::InternalError(absl::StrCat("listen on ", listen_path_, ": ",
                                            std::strerror(err)));
  }
  absl::MutexLock lock(&mu_);
  listen_fd_ = fd;
  threads_.emplace_back([this, fd] { AcceptLoop(fd); });
  return absl::OkStatus();
}

void UnixSocketProxy::Cut() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    cut_ = true;
    if (listen_fd_ >= 0) {
      ::shutdown(listen_fd_, SHUT_RDWR);
      ::unlink(listen_path_.c_str());
    }
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  absl::MutexLock lock(&mu_);
  for (int fd : open_fds_) ::close(fd);
  open_fds_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void UnixSocketProxy::AcceptLoop(int listen_fd) {
  while (!cut_) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    absl::MutexLock lock(&mu_);
    if (cut_) {
      ::close(client);
      return;
    }
    open_fds_.push_back(client);
    threads_.emplace_back([this, client] { Forward(client); });
  }
}

void UnixSocketProxy::Forward(int client_fd) {
  const int upstream = ConnectTo(upstream_path_);
  if (upstream < 0) {
    ::shutdown(client_fd, SHUT_RDWR);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    open_fds_.push_back(upstream);
    if (cut_) ::shutdown(upstream, SHUT_RDWR);
  }
  pollfd fds[2] = {{client_fd, POLLIN, 0}, {upstream, POLLIN, 0}};
  while (!cut_) {
    if (stalled_) {
      ::poll(nullptr, 0, 10);
      continue;
    }
    if (::poll(fds, 2, 100) <= 0) continue;
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
        !Pump(client_fd, upstream)) {
      break;
    }
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
        !Pump(upstream, client_fd)) {
      break;
    }
  }
  ::shutdown(client_fd, SHUT_RDWR);
  ::shutdown(upstream, SHUT_RDWR);
}
}  // namespace cohort::testing
