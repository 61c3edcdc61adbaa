#include "server/store/call_watchdog.h"

#include <sys/socket.h>

namespace cohort::server {

CallWatchdog::CallWatchdog(absl::Duration limit) : limit_(limit) {
  if (limit_ > absl::ZeroDuration()) thread_ = std::thread([this] { Loop(); });
}

CallWatchdog::~CallWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    fd_ = -1;
  }
  if (thread_.joinable()) thread_.join();
}

void CallWatchdog::Arm(int fd) {
  absl::MutexLock lock(&mu_);
  if (limit_ <= absl::ZeroDuration() || fd < 0) return;
  fd_ = fd;
  deadline_ = absl::Now() + limit_;
  fired_ = false;
  ++generation_;
}

bool CallWatchdog::Disarm() {
  absl::MutexLock lock(&mu_);
  fd_ = -1;
  ++generation_;
  const bool fired = fired_;
  fired_ = false;
  return fired;
}

void CallWatchdog::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (fd_ < 0) {
      mu_.Await(absl::Condition(
          +[](CallWatchdog* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
            return w->stopping_ || w->fd_ >= 0;
          },
          this));
      continue;
    }
    // Waits for this call to end, be replaced, or pass its deadline.
    struct Armed {
      CallWatchdog* self;
      uint64_t generation;
    } armed{this, generation_};
    const bool ended = mu_.AwaitWithDeadline(
        absl::Condition(
            +[](Armed* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return a->self->stopping_ ||
                     a->self->generation_ != a->generation;
            },
            &armed),
        deadline_);
    if (ended) continue;
    ::shutdown(fd_, SHUT_RDWR);
    fired_ = true;
    fd_ = -1;
  }
}

}  // namespace cohort::server
