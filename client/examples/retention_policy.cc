#include "client/examples/retention_policy.h"

#include "absl/strings/str_cat.h"

namespace cohort::client {

absl::Status ValidateRetention(const RetentionPolicy& policy) {
  if (policy.max_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention max_age ", absl::FormatDuration(policy.max_age),
                     " is negative; use zero or infinite to keep any age"));
  }
  if (policy.max_count < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention max_count ", policy.max_count,
                     " is negative; use 0 for no limit"));
  }
  if (policy.max_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention max_bytes ", policy.max_bytes,
                     " is negative; use 0 for no limit"));
  }
  return absl::OkStatus();
}

bool LimitsAge(const RetentionPolicy& policy) {
  return policy.max_age > absl::ZeroDuration() &&
         policy.max_age != absl::InfiniteDuration();
}

absl::Time AgeCutoff(const RetentionPolicy& policy, absl::Time now) {
  if (!LimitsAge(policy)) return absl::InfinitePast();
  return now - policy.max_age;
}

}  // namespace cohort::client
