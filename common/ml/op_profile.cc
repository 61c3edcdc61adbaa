#include "common/ml/op_profile.h"

#include <algorithm>
#include <map>
#include <utility>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "absl/strings/str_cat.h"

namespace cohort::ml {
namespace {

namespace prof = torch::autograd::profiler;

// Folds one thread's push/pop events into per-operator self and total time.
// Ranges nest within a thread, so a stack pairs each pop with its push.
void Accumulate(const std::vector<prof::LegacyEvent>& events,
                std::map<std::string, OperatorTime>* out) {
  struct Open {
    const prof::LegacyEvent* push;
    double child_us = 0.0;
  };
  std::vector<Open> stack;
  for (const auto& e : events) {
    if (e.kind() == prof::EventKind::PushRange) {
      stack.push_back({&e});
    } else if (e.kind() == prof::EventKind::PopRange && !stack.empty()) {
      Open open = stack.back();
      stack.pop_back();
      const double total_us = open.push->cpuElapsedUs(e);
      OperatorTime& t = (*out)[open.push->name()];
      t.name = open.push->name();
      ++t.calls;
      t.total_ms += total_us / 1000.0;
      t.self_ms += std::max(0.0, total_us - open.child_us) / 1000.0;
      if (!stack.empty()) stack.back().child_us += total_us;
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<OperatorTime>> ProfileOperators(
    const std::function<absl::Status()>& work) {
  prof::thread_event_lists lists;
  absl::Status status;
  try {
    prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(
        torch::profiler::impl::ProfilerState::CPU));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("cannot start the LibTorch profiler: ", e.what_without_backtrace()));
  }
  status = work();
  try {
    lists = prof::disableProfilerLegacy();
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("cannot stop the LibTorch profiler: ", e.what_without_backtrace()));
  }
  if (!status.ok()) return status;
  std::map<std::string, OperatorTime> by_name;
  for (const auto& events : lists) Accumulate(events, &by_name);
  std::vector<OperatorTime> out;
  for (auto& [name, t] : by_name) {
    // The profiler's own bookkeeping ranges are not operators.
    if (name == "profiler::_record_function_enter" || name.empty()) continue;
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.self_ms > b.self_ms;
  });
  return out;
}

}  // namespace cohort::ml
