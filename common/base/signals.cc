#include "common/base/signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "glog/logging.h"

namespace cohort::base {
namespace {

int g_signal_pipe[2] = {-1, -1};

// Async-signal-safe: only write(2).
void OnSignal(int sig) {
  const char byte = static_cast<char>(sig);
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &byte, 1);
}

}  // namespace

// A handler rather than sigwait: libraries (OpenBLAS, for one) start threads
// before main() runs, so a signal mask set in main cannot cover every thread,
// while a handler is process-wide.
void StopOnTerminationSignals(absl::Notification* stop,
                              std::function<void()> on_stop) {
  CHECK_EQ(::pipe2(g_signal_pipe, O_CLOEXEC), 0);
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  CHECK_EQ(sigaction(SIGTERM, &action, nullptr), 0);
  CHECK_EQ(sigaction(SIGINT, &action, nullptr), 0);
  std::thread([stop, on_stop = std::move(on_stop)]() {
    char sig = 0;
    ssize_t n;
    do {
      n = ::read(g_signal_pipe[0], &sig, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) return;
    LOG(INFO) << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
              << ", stopping";
    if (on_stop) on_stop();
    if (!stop->HasBeenNotified()) stop->Notify();
  }).detach();
}

}  // namespace cohort::base
