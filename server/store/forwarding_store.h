#ifndef COHORT_SERVER_STORE_FORWARDING_STORE_H_
#define COHORT_SERVER_STORE_FORWARDING_STORE_H_

// A Store that passes every call to another (borrowed) one. Decorators
// (LeaseFencedStore) and tests derive from it and override only the calls
// they change, so a method added to Store is forwarded in one place.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/store/store.h"

namespace cohort::server {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(Store* inner) : inner_(inner) {}

  absl::Status CommitVersion(const ModelVersionRecord& r) override {
    return inner_->CommitVersion(r);
  }
  absl::StatusOr<std::optional<ModelVersionRecord>> GetCurrent(
      const std::string& t) override {
    return inner_->GetCurrent(t);
  }
  absl::StatusOr<ModelVersionRecord> GetVersion(const std::string& t,
                                                int64_t v) override {
    return inner_->GetVersion(t, v);
  }
  absl::StatusOr<std::vector<ModelVersionRecord>> ListVersions(
      const std::string& t) override {
    return inner_->ListVersions(t);
  }
  absl::StatusOr<int64_t> LastRoundId(const std::string& t) override {
    return inner_->LastRoundId(t);
  }
  absl::Status RecordDevice(const std::string& d, int64_t s, int64_t c,
                            int64_t a, int64_t r) override {
    return inner_->RecordDevice(d, s, c, a, r);
  }
  absl::StatusOr<DeviceRecord> GetDevice(const std::string& d) override {
    return inner_->GetDevice(d);
  }
  absl::StatusOr<std::vector<DeviceRecord>> ListDevices(
      const std::string& after, int limit) override {
    return inner_->ListDevices(after, limit);
  }
  absl::Status AppendRelease(const ReleaseRecord& r) override {
    return inner_->AppendRelease(r);
  }
  absl::StatusOr<std::optional<ReleaseRecord>> GetCurrentRelease(
      const std::string& t) override {
    return inner_->GetCurrentRelease(t);
  }
  absl::StatusOr<std::vector<ReleaseRecord>> ListReleases(
      const std::string& t) override {
    return inner_->ListReleases(t);
  }
  absl::StatusOr<ReleaseRecord> GetRelease(const std::string& t,
                                           int64_t r) override {
    return inner_->GetRelease(t, r);
  }
  absl::Status AddEnrollmentToken(const EnrollmentTokenRecord& r) override {
    return inner_->AddEnrollmentToken(r);
  }
  absl::StatusOr<EnrollmentTokenRecord> UseEnrollmentToken(
      const std::string& h, const std::string& d, int64_t now) override {
    return inner_->UseEnrollmentToken(h, d, now);
  }

 private:
  Store* const inner_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_FORWARDING_STORE_H_
