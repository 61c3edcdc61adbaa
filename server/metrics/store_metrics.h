#ifndef COHORT_SERVER_METRICS_STORE_METRICS_H_
#define COHORT_SERVER_METRICS_STORE_METRICS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/store/store.h"

namespace cohort::server {

// A Store that passes every call to the store it owns and measures it, for
// the coordinator's metrics. Every series carries task="<task>".
//
//   cohort_store_operation_duration_seconds{operation}  histogram; time of
//       each call, 0.5 ms to 10 s. `operation` is the method in snake case
//       (commit_version, get_current, last_round_id, append_release,
//       use_enrollment_token, ...).
//   cohort_store_errors_total{operation,code}  counter; calls that failed
//       with a fault of the store: code unavailable, deadline_exceeded,
//       data_loss, internal, resource_exhausted, unknown or aborted. The
//       store's answers (NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,
//       INVALID_ARGUMENT, PERMISSION_DENIED) are not faults and are not
//       counted.
//
// The health probe's LastRoundId every few seconds is measured too, so a
// database that slows down shows even between rounds. Thread-safe if the
// inner store is. `clock` is borrowed.
class InstrumentedStore final : public Store {
 public:
  InstrumentedStore(std::unique_ptr<Store> inner, const std::string& task,
                    prometheus::Registry& registry, base::Clock* clock);
  InstrumentedStore(const InstrumentedStore&) = delete;
  InstrumentedStore& operator=(const InstrumentedStore&) = delete;

  absl::Status CommitVersion(const ModelVersionRecord& record) override;
  absl::StatusOr<std::optional<ModelVersionRecord>> GetCurrent(
      const std::string& task) override;
  absl::StatusOr<ModelVersionRecord> GetVersion(const std::string& task,
                                                int64_t version) override;
  absl::StatusOr<std::vector<ModelVersionRecord>> ListVersions(
      const std::string& task) override;
  absl::StatusOr<int64_t> LastRoundId(const std::string& task) override;
  absl::Status RecordDevice(const std::string& device_id, int64_t seen_unix_ms,
                            int64_t check_ins, int64_t reports_accepted,
                            int64_t reports_rejected) override;
  absl::StatusOr<DeviceRecord> GetDevice(const std::string& device_id) override;
  absl::StatusOr<std::vector<DeviceRecord>> ListDevices(const std::string& after,
                                                        int limit) override;
  absl::Status AppendRelease(const ReleaseRecord& record) override;
  absl::StatusOr<std::optional<ReleaseRecord>> GetCurrentRelease(
      const std::string& task) override;
  absl::StatusOr<std::vector<ReleaseRecord>> ListReleases(
      const std::string& task) override;
  absl::StatusOr<ReleaseRecord> GetRelease(const std::string& task,
                                           int64_t release) override;
  absl::Status AddEnrollmentToken(const EnrollmentTokenRecord& record) override;
  absl::StatusOr<EnrollmentTokenRecord> UseEnrollmentToken(
      const std::string& token_sha256, const std::string& device_id,
      int64_t now_unix_ms) override;

 private:
  // Runs `call` (returning a Status or StatusOr), observes its duration
  // under `operation` and counts it if it failed with a fault.
  template <typename Call>
  auto Measure(const char* operation, Call call) -> decltype(call());
  void Observe(const char* operation, absl::Duration took,
               const absl::Status& status);

  const std::unique_ptr<Store> inner_;
  base::Clock* const clock_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& errors_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_METRICS_STORE_METRICS_H_
