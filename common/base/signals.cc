#include "common/base/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "glog/logging.h"

namespace cohort::base {
namespace {

// Made once and never closed: the handler may run at any time until exit.
int g_signal_pipe[2] = {-1, -1};
std::atomic<bool> g_instance_alive{false};

// Byte the destructor writes to wake the reading thread; never a signal.
constexpr char kShutdownByte = 0;

// Async-signal-safe: only write(2). The write end is non-blocking, so a full
// pipe (nobody reading any more) drops the signal instead of blocking.
void OnSignal(int sig) {
  const int saved = errno;
  const char byte = static_cast<char>(sig);
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &byte, 1);
  errno = saved;
}

void InstallHandlerOnce() {
  if (g_signal_pipe[0] >= 0) return;
  CHECK_EQ(::pipe2(g_signal_pipe, O_CLOEXEC), 0);
  CHECK_EQ(::fcntl(g_signal_pipe[1], F_SETFL, O_NONBLOCK), 0);
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  CHECK_EQ(sigaction(SIGTERM, &action, nullptr), 0);
  CHECK_EQ(sigaction(SIGINT, &action, nullptr), 0);
}

// Drops what arrived while no instance was alive.
void DrainPipe() {
  pollfd readable = {g_signal_pipe[0], POLLIN, 0};
  char byte;
  while (::poll(&readable, 1, 0) == 1 &&
         ::read(g_signal_pipe[0], &byte, 1) == 1) {
  }
}

}  // namespace

// A handler rather than sigwait: libraries (OpenBLAS, for one) start threads
// before main() runs, so a signal mask set in main cannot cover every thread,
// while a handler is process-wide.
TerminationSignals::TerminationSignals(std::function<void()> on_stop)
    : on_stop_(std::move(on_stop)) {
  CHECK(!g_instance_alive.exchange(true))
      << "only one TerminationSignals at a time";
  InstallHandlerOnce();
  DrainPipe();
  thread_ = std::thread([this] { WaitForSignal(); });
}

TerminationSignals::~TerminationSignals() {
  const char byte = kShutdownByte;
  // Blocking or not, one byte fits: the reader drains the pipe as it goes.
  while (::write(g_signal_pipe[1], &byte, 1) < 0 && errno == EINTR) {
  }
  thread_.join();
  g_instance_alive.store(false);
}

void TerminationSignals::WaitForSignal() {
  bool stopped = false;
  for (;;) {
    char sig = 0;
    ssize_t n = ::read(g_signal_pipe[0], &sig, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 1 || sig == kShutdownByte) return;
    if (stopped) continue;
    stopped = true;
    LOG(INFO) << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
              << ", stopping";
    if (on_stop_) on_stop_();
  }
}

}  // namespace cohort::base
