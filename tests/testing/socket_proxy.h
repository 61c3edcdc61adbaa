#ifndef COHORT_TESTS_TESTING_SOCKET_PROXY_H_
#define COHORT_TESTS_TESTING_SOCKET_PROXY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace cohort::testing {

// A Unix-socket forwarder between a client and a server (PostgreSQL's
// socket), so a test can take the server away from the client and give it
// back without stopping the real server, which other tests share:
//
//   UnixSocketProxy proxy(dir + "/.s.PGSQL.55432",
//                         "/tmp/pg/.s.PGSQL.55432");
//   proxy.Start();   // the client's DSN says host=<dir> port=55432
//   proxy.Cut();     // open connections break, new ones are refused
//   proxy.Start();   // the server is reachable again
//   proxy.Stall();   // connections stay open but nothing gets through
//
// One thread accepts; each connection gets a thread copying both ways.
// Everything is closed and joined on Cut() and on destruction.
class UnixSocketProxy {
 public:
  UnixSocketProxy(std::string listen_path, std::string upstream_path);
  ~UnixSocketProxy();
  UnixSocketProxy(const UnixSocketProxy&) = delete;
  UnixSocketProxy& operator=(const UnixSocketProxy&) = delete;

  // Listens on listen_path (replacing a stale socket file).
  absl::Status Start();
  // Stops listening, removes the socket file and breaks every forwarded
  // connection, as a database that went down does. Idempotent.
  void Cut();
  // Stops copying bytes either way but keeps every connection open and
  // accepts new ones, as a network that stalls without closing does (a
  // dropped route, a frozen host). Resume() copies again, what was held
  // first.
  void Stall() { stalled_ = true; }
  void Resume() { stalled_ = false; }

 private:
  void AcceptLoop(int listen_fd);
  void Forward(int client_fd);

  const std::string listen_path_;
  const std::string upstream_path_;
  absl::Mutex mu_;
  int listen_fd_ ABSL_GUARDED_BY(mu_) = -1;
  // Both ends of every forwarded connection, shut down by Cut().
  std::vector<int> open_fds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> cut_{false};
  std::atomic<bool> stalled_{false};
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_SOCKET_PROXY_H_
