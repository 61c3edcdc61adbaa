#include "server/round/buffer_ledger.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace cohort::server {

double StalenessWeight(int64_t staleness, double exponent) {
  if (staleness <= 0 || exponent == 0) return 1.0;
  return std::pow(1.0 + static_cast<double>(staleness), -exponent);
}

bool BufferLedger::Close(const std::string& device_id, int64_t round_id) {
  auto it = open_.find(device_id);
  if (it == open_.end() || it->second.round_id != round_id) return false;
  open_.erase(it);
  return true;
}

int64_t BufferLedger::Expire(absl::Time now) {
  int64_t expired = 0;
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.deadline < now) {
      it = open_.erase(it);
      ++expired;
    } else {
      ++it;
    }
  }
  return expired;
}

void BufferLedger::Forget(int64_t version) {
  known_from_ = std::max(known_from_, version);
}

absl::StatusOr<Admission> BufferLedger::Admit(const std::string& device_id,
                                              int64_t round_id,
                                              int64_t current_version) {
  auto it = open_.find(device_id);
  if (it == open_.end()) {
    return absl::AbortedError(absl::StrCat(
        "device '", device_id, "' holds no open assignment (it expired, was "
        "used, or the coordinator restarted); check in again"));
  }
  const InFlight a = it->second;
  if (a.round_id != round_id) {
    return absl::AbortedError(absl::StrCat("update is for round ", round_id,
                                           ", the device's assignment is of "
                                           "round ", a.round_id));
  }
  open_.erase(it);
  if (a.version < known_from_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model version ", a.version, " is no longer known: the task was "
        "rolled back (updates must train from version ", known_from_,
        " or later); check in again"));
  }
  const int64_t staleness = current_version - a.version;
  if (staleness > max_staleness_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "update trained from version ", a.version, " is ", staleness,
        " versions behind the current version ", current_version,
        " (max_staleness ", max_staleness_, "); check in again"));
  }
  return Admission{.staleness = staleness,
                   .scale = StalenessWeight(staleness, exponent_),
                   .clip_norm = a.clip_norm};
}

}  // namespace cohort::server
