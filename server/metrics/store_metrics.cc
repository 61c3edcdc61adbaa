#include "server/metrics/store_metrics.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "server/metrics/families.h"

namespace cohort::server {
namespace {

// From a local disk's fsync to a database across a congested network.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
}

// Whether `code` is a fault of the store rather than one of its answers.
bool IsFault(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& result) {
  return result.status();
}
const absl::Status& StatusOf(const absl::Status& status) { return status; }

}  // namespace

InstrumentedStore::InstrumentedStore(std::unique_ptr<Store> inner,
                                     const std::string& task,
                                     prometheus::Registry& registry,
                                     base::Clock* clock)
    : inner_(std::move(inner)),
      clock_(clock),
      duration_(MakeFamily(prometheus::BuildHistogram(), registry, task,
                           "cohort_store_operation_duration_seconds",
                           "Seconds each store call took, by operation.")),
      errors_(MakeFamily(prometheus::BuildCounter(), registry, task,
                         "cohort_store_errors_total",
                         "Store calls that failed with a fault of the store "
                         "(unavailable, data_loss, internal, ...), by "
                         "operation and code.")) {}

template <typename Call>
auto InstrumentedStore::Measure(const char* operation, Call call)
    -> decltype(call()) {
  const absl::Time start = clock_->Now();
  auto result = call();
  Observe(operation, clock_->Now() - start, StatusOf(result));
  return result;
}

void InstrumentedStore::Observe(const char* operation, absl::Duration took,
                                const absl::Status& status) {
  duration_.Add({{"operation", operation}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(took));
  if (IsFault(status.code())) {
    errors_
        .Add({{"operation", operation},
              {"code", absl::AsciiStrToLower(
                           absl::StatusCodeToString(status.code()))}})
        .Increment();
  }
}

absl::Status InstrumentedStore::CommitVersion(const ModelVersionRecord& r) {
  return Measure("commit_version", [&] { return inner_->CommitVersion(r); });
}

absl::StatusOr<std::optional<ModelVersionRecord>> InstrumentedStore::GetCurrent(
    const std::string& task) {
  return Measure("get_current", [&] { return inner_->GetCurrent(task); });
}

absl::StatusOr<ModelVersionRecord> InstrumentedStore::GetVersion(
    const std::string& task, int64_t version) {
  return Measure("get_version",
                 [&] { return inner_->GetVersion(task, version); });
}

absl::StatusOr<std::vector<ModelVersionRecord>> InstrumentedStore::ListVersions(
    const std::string& task) {
  return Measure("list_versions", [&] { return inner_->ListVersions(task); });
}

absl::StatusOr<int64_t> InstrumentedStore::LastRoundId(const std::string& task) {
  return Measure("last_round_id", [&] { return inner_->LastRoundId(task); });
}

absl::Status InstrumentedStore::RecordDevice(const std::string& device_id,
                                             int64_t seen_unix_ms,
                                             int64_t check_ins,
                                             int64_t reports_accepted,
                                             int64_t reports_rejected) {
  return Measure("record_device", [&] {
    return inner_->RecordDevice(device_id, seen_unix_ms, check_ins,
                                reports_accepted, reports_rejected);
  });
}

absl::StatusOr<DeviceRecord> InstrumentedStore::GetDevice(
    const std::string& device_id) {
  return Measure("get_device", [&] { return inner_->GetDevice(device_id); });
}

absl::StatusOr<std::vector<DeviceRecord>> InstrumentedStore::ListDevices(
    const std::string& after, int limit) {
  return Measure("list_devices",
                 [&] { return inner_->ListDevices(after, limit); });
}

absl::Status InstrumentedStore::AppendRelease(const ReleaseRecord& record) {
  return Measure("append_release",
                 [&] { return inner_->AppendRelease(record); });
}

absl::StatusOr<std::optional<ReleaseRecord>>
InstrumentedStore::GetCurrentRelease(const std::string& task) {
  return Measure("get_current_release",
                 [&] { return inner_->GetCurrentRelease(task); });
}

absl::StatusOr<std::vector<ReleaseRecord>> InstrumentedStore::ListReleases(
    const std::string& task) {
  return Measure("list_releases", [&] { return inner_->ListReleases(task); });
}

absl::StatusOr<ReleaseRecord> InstrumentedStore::GetRelease(
    const std::string& task, int64_t release) {
  return Measure("get_release",
                 [&] { return inner_->GetRelease(task, release); });
}

absl::Status InstrumentedStore::AddEnrollmentToken(
    const EnrollmentTokenRecord& record) {
  return Measure("add_enrollment_token",
                 [&] { return inner_->AddEnrollmentToken(record); });
}

absl::StatusOr<EnrollmentTokenRecord> InstrumentedStore::UseEnrollmentToken(
    const std::string& token_sha256, const std::string& device_id,
    int64_t now_unix_ms) {
  return Measure("use_enrollment_token", [&] {
    return inner_->UseEnrollmentToken(token_sha256, device_id, now_unix_ms);
  });
}

}  // namespace cohort::server
