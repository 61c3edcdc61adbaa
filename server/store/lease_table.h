#ifndef COHORT_SERVER_STORE_LEASE_TABLE_H_
#define COHORT_SERVER_STORE_LEASE_TABLE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::server {

// A coordinator's lease on a task: while it lasts, that coordinator alone
// may commit the task's versions and append its releases. `epoch` is the
// fencing token: it grows by one with every grant of the task's lease and is
// never reused, and every write the holder makes carries it
// (ModelVersionRecord::lease_epoch, ReleaseRecord::lease_epoch), so a store
// that leads tasks through leases refuses a write from a deposed holder.
struct Lease {
  std::string task;
  std::string holder;  // e.g. "<hostname>:<pid>"; for messages and logs
  int64_t epoch = 0;   // 1, 2, 3, ... per task
};

// The task's lease as stored.
struct LeaseInfo {
  std::string holder;
  int64_t epoch = 0;
  bool live = false;  // not yet expired by the store's clock
};

// Leases of tasks shared by several coordinators (DECISIONS.md, "Several
// coordinators"). Expiry is judged by the store's clock alone, so the
// coordinators' clocks need not agree. Implementations are thread-safe.
//
// Status codes: UNAVAILABLE when the store cannot be reached (a holder that
// cannot renew must assume it lost the lease once its ttl has passed since
// its last successful renewal), INVALID_ARGUMENT for a bad task name, an
// empty holder or a ttl that is not positive.
class LeaseTable {
 public:
  virtual ~LeaseTable() = default;

  // Grants `holder` the task's lease for `ttl` if nobody holds a live one,
  // with the next epoch; std::nullopt while another lease is live (`current`,
  // if non-null, then receives it). A live lease of the same holder name is
  // not granted again: the name is not a proof of identity. A grant waits
  // for any write that already passed the fence of the previous epoch, so
  // the new holder reads the state that write left.
  virtual absl::StatusOr<std::optional<Lease>> TryAcquire(
      const std::string& task, const std::string& holder, absl::Duration ttl,
      LeaseInfo* current) = 0;

  // Extends a live lease to `ttl` from now. ABORTED if the lease expired or
  // another epoch holds the task: the holder must stop writing.
  virtual absl::Status Renew(const Lease& lease, absl::Duration ttl) = 0;

  // Ends the lease now, so another coordinator may take the task at once.
  // OK if the lease had already expired or been taken over.
  virtual absl::Status Release(const Lease& lease) = 0;

  // The task's lease; std::nullopt if it was never granted.
  virtual absl::StatusOr<std::optional<LeaseInfo>> Get(
      const std::string& task) = 0;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_LEASE_TABLE_H_
