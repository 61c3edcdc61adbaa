#ifndef COHORT_SERVER_METRICS_METRICS_SERVER_H_
#define COHORT_SERVER_METRICS_METRICS_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/collectable.h"

namespace cohort::server {

// ServerConfig.metrics with defaults applied (ResolveServerOptions). Off by
// default.
struct MetricsOptions {
  // host:port of the metrics port ("127.0.0.1:9464", "[::1]:9464",
  // ":9464" for every interface); port 0 picks a free one. Empty: no
  // metrics port.
  std::string listen_address;
  // Empty: the bound port is only logged.
  std::string port_file;
  bool enabled() const { return !listen_address.empty(); }
};

// The metrics port: plain HTTP answering GET /metrics with the Prometheus
// text format of its collectables (MetricsResponse in metrics_http.h: any
// other request gets 404). prometheus-cpp builds the text; the HTTP is ours
// because prometheus-cpp's own server (civetweb) starts its threads with a
// fixed 100 KiB stack, below the static TLS of a process that links LibTorch
// and OpenBLAS, so it cannot start a thread inside cohort-server.
//
// One thread serves one connection at a time: it reads a request head of at
// most kMaxRequestBytes, answers and closes, all within kExchangeTimeout. A
// client that stalls therefore delays a scrape by at most that long and holds
// nothing else. The collectables are collected on that thread, so they must
// be thread-safe, and whatever they read (the round engine, the public port)
// must outlive this object. The destructor stops the thread, also in the
// middle of an exchange, and joins it. Not copyable.
class MetricsServer {
 public:
  static constexpr absl::Duration kExchangeTimeout = absl::Seconds(5);
  static constexpr size_t kMaxRequestBytes = 8192;

  // Binds `listen_address` (host:port; names resolve) and starts serving.
  // Errors start with "listen_address: ": INVALID_ARGUMENT if it is not
  // host:port or the host does not resolve; UNAVAILABLE if no resolved
  // address can be bound (in use, or not an address of this host).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen_address,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The bound port (never 0).
  int port() const { return port_; }

 private:
  MetricsServer(int listen_fd, int wake_fd, int port,
                std::vector<std::shared_ptr<prometheus::Collectable>> held);

  // The serving thread: accepts until the wake descriptor fires.
  void Loop();
  // One request and its answer on `connection`, within kExchangeTimeout.
  void Exchange(int connection);
  // Reads the request head into `head`. False if the client went away,
  // stalled past `deadline` or the server is stopping; `too_large` is set
  // when the head outgrew kMaxRequestBytes.
  bool ReadHead(int connection, absl::Time deadline, std::string* head,
                bool* too_large) const;
  bool WriteAll(int connection, const std::string& bytes,
                absl::Time deadline) const;
  // After the answer: ends the sending side and discards what the client
  // still sends until it closes, for at most kLinger. Closing with unread
  // bytes would reset the connection and could discard the answer in
  // flight (a head cut off at kMaxRequestBytes leaves some).
  void Linger(int connection, absl::Time deadline) const;
  static constexpr absl::Duration kLinger = absl::Seconds(1);
  // Waits for `events` on `fd`. False at `deadline` or once stopping.
  bool WaitFor(int fd, short events, absl::Time deadline) const;

  const int listen_fd_;
  // An eventfd; written once by the destructor to stop the thread.
  const int wake_fd_;
  const int port_;
  const std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::thread thread_;
};

// Starts the metrics port `options` describe, or returns null when it is
// off. Logs the bound port and writes it to options.port_file if set.
// Errors of MetricsServer::Start, starting "metrics.listen_address: ", and
// INTERNAL if the port file cannot be written.
absl::StatusOr<std::unique_ptr<MetricsServer>> ServeMetrics(
    const MetricsOptions& options,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables);

}  // namespace cohort::server

#endif  // COHORT_SERVER_METRICS_METRICS_SERVER_H_
