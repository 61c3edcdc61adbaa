#include "server/metrics/metrics_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/base/listen_socket.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"
#include "server/metrics/metrics_http.h"

namespace cohort::server {
absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen_address,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables) {
  COHORT_ASSIGN_OR_RETURN(int listen_fd, base::BindListener(listen_address));
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int error = errno;
    ::close(listen_fd);
    return absl::UnavailableError(
        absl::StrCat("listen_address: eventfd: ", std::strerror(error)));
  }
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(listen_fd, wake_fd, base::BoundPort(listen_fd),
                        std::move(collectables)));
}

MetricsServer::MetricsServer(
    int listen_fd, int wake_fd, int port,
    std::vector<std::shared_ptr<prometheus::Collectable>> held)
    : listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port),
      collectables_(std::move(held)),
      thread_([this] { Loop(); }) {}

MetricsServer::~MetricsServer() {
  const uint64_t one = 1;
  // The eventfd stays readable, so every wait of the thread ends at once.
  if (::write(wake_fd_, &one, sizeof(one)) != sizeof(one)) {
    PLOG(ERROR) << "cannot stop the metrics server";
  }
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void MetricsServer::Loop() {
  while (WaitFor(listen_fd_, POLLIN, absl::InfiniteFuture())) {
    const int connection =
        ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (connection >= 0) {
      Exchange(connection);
      ::close(connection);
    } else if (errno == EMFILE || errno == ENFILE) {
      // Out of descriptors: the pending connection stays queued; retrying
      // at once would spin.
      WaitFor(wake_fd_, POLLIN, absl::Now() + absl::Milliseconds(100));
    }
  }
}

void MetricsServer::Exchange(int connection) {
  const absl::Time deadline = absl::Now() + kExchangeTimeout;
  std::string head;
  bool too_large = false;
  std::string response;
  if (ReadHead(connection, deadline, &head, &too_large)) {
    response = MetricsResponse(
        head, [this] { return TextExposition(collectables_); });
  } else if (too_large) {
    response = HeadTooLargeResponse();
  } else {
    return;
  }
  if (WriteAll(connection, response, deadline)) Linger(connection, deadline);
}

void MetricsServer::Linger(int connection, absl::Time deadline) const {
  ::shutdown(connection, SHUT_WR);
  char buffer[2048];
  const absl::Time until = std::min(deadline, absl::Now() + kLinger);
  while (WaitFor(connection, POLLIN, until)) {
    const ssize_t n = ::recv(connection, buffer, sizeof(buffer), 0);
    if (n == 0) return;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return;
    }
  }
}

bool MetricsServer::ReadHead(int connection, absl::Time deadline,
                             std::string* head, bool* too_large) const {
  char buffer[2048];
  while (true) {
    if (head->size() > kMaxRequestBytes) {
      *too_large = true;
      return false;
    }
    if (head->find("\r\n\r\n") != std::string::npos ||
        head->find("\n\n") != std::string::npos) {
      return true;
    }
    if (!WaitFor(connection, POLLIN, deadline)) return false;
    const ssize_t n = ::recv(connection, buffer, sizeof(buffer), 0);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return false;
    }
    head->append(buffer, static_cast<size_t>(n));
  }
}

bool MetricsServer::WriteAll(int connection, const std::string& bytes,
                             absl::Time deadline) const {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(connection, bytes.data() + sent,
                             bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
        WaitFor(connection, POLLOUT, deadline)) {
      continue;
    }
    return false;
  }
  return true;
}

bool MetricsServer::WaitFor(int fd, short events, absl::Time deadline) const {
  while (true) {
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (ms <= 0) return false;
      timeout_ms = static_cast<int>(std::min<int64_t>(ms, INT_MAX));
    }
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd, events, 0}};
    const int rc = ::poll(fds, fd == wake_fd_ ? 1 : 2, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0 || fds[0].revents != 0) return false;
    // Readiness, or an error or hang-up that the next call reports.
    return true;
  }
}

absl::StatusOr<std::unique_ptr<MetricsServer>> ServeMetrics(
    const MetricsOptions& options,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables) {
  if (!options.enabled()) return nullptr;
  auto server = MetricsServer::Start(options.listen_address,
                                     std::move(collectables));
  if (!server.ok()) {
    // Start names "listen_address"; the operator's field is under metrics.
    return absl::Status(server.status().code(),
                        absl::StrCat("metrics.", server.status().message()));
  }
  LOG(INFO) << "serving Prometheus metrics on port " << (*server)->port()
            << " (GET /metrics, plain HTTP)";
  if (!options.port_file.empty()) {
    COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
        options.port_file, absl::StrCat((*server)->port(), "\n")));
  }
  return server;
}

}  // namespace cohort::server
