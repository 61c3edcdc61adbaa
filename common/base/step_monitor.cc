#include "common/base/step_monitor.h"

#include "absl/strings/str_cat.h"

namespace cohort::base {
namespace {

std::string TimeOf(absl::Time t) {
  if (t == absl::InfiniteFuture()) return "never";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

}  // namespace

void StepMonitor::Begin(absl::string_view what, absl::Time due) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  busy_ = true;
  what_ = std::string(what);
  began_ = now;
  due_ = due;
}

void StepMonitor::End() {
  absl::MutexLock lock(&mu_);
  if (!busy_) return;
  busy_ = false;
  ++ended_;
}

absl::Status StepMonitor::Check() const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  if (!busy_ || now <= due_) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat(what_, " running since ", TimeOf(began_), " was due by ",
                   TimeOf(due_)));
}

std::string StepMonitor::Describe() const {
  absl::MutexLock lock(&mu_);
  if (!busy_) return absl::StrCat("idle; ", ended_, " steps done");
  return absl::StrCat(what_, " since ", TimeOf(began_), ", due by ",
                      TimeOf(due_));
}

int64_t StepMonitor::steps_ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

}  // namespace cohort::base
