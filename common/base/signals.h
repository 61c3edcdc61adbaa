#ifndef COHORT_COMMON_BASE_SIGNALS_H_
#define COHORT_COMMON_BASE_SIGNALS_H_

#include <functional>
#include <thread>

namespace cohort::base {

// Turns SIGTERM and SIGINT into one call of `on_stop`, for a clean daemon
// stop. While an instance lives, a process-wide handler writes the signal to
// a self-pipe and a thread of the instance reads it and runs `on_stop`;
// signals after the first are ignored.
//
// Lifetime is the point: the destructor wakes and joins that thread, so
// `on_stop` never runs after the objects it captures are gone. Declare the
// instance after them in main(). Signals that arrive after the destructor
// are absorbed (the handler stays, writing to a non-blocking pipe nobody
// reads), so a process that is already exiting finishes its exit with its
// own code instead of dying in it.
//
// One instance at a time per process (CHECKed). Not copyable.
class TerminationSignals {
 public:
  explicit TerminationSignals(std::function<void()> on_stop);
  ~TerminationSignals();
  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;

 private:
  void WaitForSignal();

  std::function<void()> on_stop_;
  std::thread thread_;
};

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_SIGNALS_H_
