#ifndef COHORT_SERVER_STORE_CALL_WATCHDOG_H_
#define COHORT_SERVER_STORE_CALL_WATCHDOG_H_

// A client-side deadline for blocking calls on a socket that the peer may
// stop answering without closing it: a network that stalls, a proxy or
// firewall that drops packets, a host that froze. PostgreSQL's
// statement_timeout is enforced by the server and cannot end such a call,
// and libpq has no timeout of its own once connected.
//
// While armed past its limit, the watchdog shuts the socket down
// (shutdown(2), SHUT_RDWR): the blocked read or write returns, libpq reports
// a lost connection, and the caller replaces the connection. The descriptor
// itself is left to its owner to close.
//
//   CallWatchdog watchdog(absl::Seconds(130));
//   watchdog.Arm(conn.sock());
//   ... blocking calls ...
//   const bool fired = watchdog.Disarm();  // true: the socket was shut down

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cohort::server {

class CallWatchdog {
 public:
  // `limit` <= 0: the watchdog never fires and starts no thread.
  explicit CallWatchdog(absl::Duration limit);
  ~CallWatchdog();  // Joins its thread; never shuts a socket down.
  CallWatchdog(const CallWatchdog&) = delete;
  CallWatchdog& operator=(const CallWatchdog&) = delete;

  absl::Duration limit() const { return limit_; }

  // Starts timing one call on `fd`, replacing any call armed before.
  void Arm(int fd) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops timing. True if the limit passed while armed, so the socket was
  // shut down; the owner must then discard the connection.
  bool Disarm() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  const absl::Duration limit_;
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;  // -1: not armed.
  absl::Time deadline_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // Bumped by Arm and Disarm.
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_CALL_WATCHDOG_H_
