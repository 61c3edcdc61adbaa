#ifndef COHORT_TESTS_TESTING_SUBPROCESS_H_
#define COHORT_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cohort::testing {

// A child process started with posix_spawn, stdout+stderr to a log file.
// Killed with SIGKILL on destruction if still running.
class Subprocess {
 public:
  Subprocess(std::vector<std::string> argv, std::string log_path);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Exit code once exited (128 + signal if killed); nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  void Signal(int sig);
  bool running();
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// Path of a binary built into build/bin.
std::string BinaryPath(const std::string& name);

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_SUBPROCESS_H_
