#ifndef COHORT_SERVER_ROUND_BUFFER_LEDGER_H_
#define COHORT_SERVER_ROUND_BUFFER_LEDGER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::server {

// FedBuff's staleness weight (Nguyen et al. 2022, section 3): an update
// trained `staleness` versions ago is scaled by (1 + staleness)^-exponent,
// in (0, 1]. exponent 0 weighs every update 1.
double StalenessWeight(int64_t staleness, double exponent);

// One device's open assignment in a buffered task.
struct InFlight {
  // The round (buffer) it was assigned in; its report must name it.
  int64_t round_id = 0;
  // The version it trains from.
  int64_t version = 0;
  // The L2 bound it was told to clip to (TaskAssignment.clip_norm).
  double clip_norm = 0.0;
  absl::Time deadline;
};

// What an update that may join the open buffer weighs.
struct Admission {
  int64_t staleness = 0;
  // StalenessWeight(staleness, exponent).
  double scale = 1.0;
  double clip_norm = 0.0;
};

// The assignments of a buffered task that are open across its buffers: a
// device assigned while buffer r was open may report into any later one.
// Not thread-safe; the engine touches it under its mutex.
class BufferLedger {
 public:
  BufferLedger(int max_staleness, double staleness_exponent)
      : max_staleness_(max_staleness), exponent_(staleness_exponent) {}

  size_t size() const { return open_.size(); }
  bool contains(const std::string& device_id) const {
    return open_.contains(device_id);
  }
  void Assign(const std::string& device_id, InFlight assignment) {
    open_[device_id] = assignment;
  }
  // Closes `device_id`'s assignment if it was made in `round_id`: its
  // stream ended. Returns whether one was closed.
  bool Close(const std::string& device_id, int64_t round_id);
  // Closes the assignments whose deadline is before `now`; returns how many.
  int64_t Expire(absl::Time now);
  // A rollback (or another coordinator's version) left the versions before
  // `version` behind: updates trained from them are refused from now on.
  void Forget(int64_t version);

  // Takes `device_id`'s assignment for an update of `round_id` into a
  // buffer built on `current_version`, closing it either way but the first.
  // ABORTED: no open assignment (never made, expired, used, or made by a
  // coordinator that has since restarted), or one of another round (left
  // open). FAILED_PRECONDITION: the version it trained from is no longer
  // known (Forget) or more than max_staleness versions behind.
  absl::StatusOr<Admission> Admit(const std::string& device_id,
                                  int64_t round_id, int64_t current_version);

 private:
  const int max_staleness_;
  const double exponent_;
  int64_t known_from_ = 0;
  std::map<std::string, InFlight> open_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_BUFFER_LEDGER_H_
