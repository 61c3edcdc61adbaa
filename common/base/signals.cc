#include "common/base/signals.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

#include "glog/logging.h"

namespace cohort::base {

void StopOnTerminationSignals(absl::Notification* stop,
                              std::function<void()> on_stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  CHECK_EQ(pthread_sigmask(SIG_BLOCK, &set, nullptr), 0);
  std::thread([set, stop, on_stop = std::move(on_stop)]() {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    LOG(INFO) << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
              << ", stopping";
    if (on_stop) on_stop();
    if (!stop->HasBeenNotified()) stop->Notify();
  }).detach();
}

}  // namespace cohort::base
