#ifndef COHORT_SERVER_STORE_LEASE_FENCED_STORE_H_
#define COHORT_SERVER_STORE_LEASE_FENCED_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "server/store/forwarding_store.h"
#include "server/store/store.h"

namespace cohort::server {

// The store as a coordinator that leads its task through a lease
// (lease_table.h) sees it: every CommitVersion and AppendRelease carries the
// epoch of the lease the coordinator holds, so the store's fence refuses
// them once another coordinator has taken the task over; while it holds no
// lease they are refused here, ABORTED, without reaching the store. Reads
// and device rows pass through. Thread-safe.
class LeaseFencedStore final : public ForwardingStore {
 public:
  explicit LeaseFencedStore(std::unique_ptr<Store> inner)
      : ForwardingStore(inner.get()), owned_(std::move(inner)) {}

  // Writes from now on carry `epoch` (>= 1).
  void Lead(int64_t epoch) { epoch_.store(epoch); }
  // Writes from now on are refused.
  void Depose() { epoch_.store(0); }
  int64_t epoch() const { return epoch_.load(); }

  absl::Status CommitVersion(const ModelVersionRecord& record) override;
  absl::Status AppendRelease(const ReleaseRecord& record) override;

 private:
  const std::unique_ptr<Store> owned_;
  std::atomic<int64_t> epoch_{0};
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_LEASE_FENCED_STORE_H_
