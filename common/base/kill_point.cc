#include "common/base/kill_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "glog/logging.h"

namespace cohort::base {
namespace {

struct ArmedKill {
  KillSpec spec;
  std::atomic<int64_t> arrivals{0};
};

// The armed point from COHORT_KILL_AT, read on first use; null when unset.
ArmedKill* Armed() {
  static ArmedKill* const armed = []() -> ArmedKill* {
    const char* text = std::getenv("COHORT_KILL_AT");
    if (text == nullptr || *text == '\0') return nullptr;
    std::optional<KillSpec> spec = ParseKillSpec(text);
    if (!spec.has_value()) {
      LOG(ERROR) << "COHORT_KILL_AT=\"" << text
                 << "\" is not <point> or <point>#<n> (n >= 1): no kill point "
                    "is armed";
      return nullptr;
    }
    auto* a = new ArmedKill;
    a->spec = *std::move(spec);
    return a;
  }();
  return armed;
}

}  // namespace

std::optional<KillSpec> ParseKillSpec(absl::string_view spec) {
  KillSpec out;
  const size_t hash = spec.rfind('#');
  if (hash != absl::string_view::npos) {
    if (!absl::SimpleAtoi(spec.substr(hash + 1), &out.hit) || out.hit < 1) {
      return std::nullopt;
    }
    spec = spec.substr(0, hash);
  }
  if (spec.empty()) return std::nullopt;
  out.point = std::string(spec);
  return out;
}

bool KillPointArmed() { return Armed() != nullptr; }

void KillPoint(absl::string_view point) {
  ArmedKill* armed = Armed();
  if (armed == nullptr || point != armed->spec.point) return;
  if (armed->arrivals.fetch_add(1) + 1 != armed->spec.hit) return;
  LOG(WARNING) << "kill point " << point << " reached (arrival "
               << armed->spec.hit << "): SIGKILL";
  ::kill(::getpid(), SIGKILL);
}

}  // namespace cohort::base
