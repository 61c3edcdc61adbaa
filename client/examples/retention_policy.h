#ifndef COHORT_CLIENT_EXAMPLES_RETENTION_POLICY_H_
#define COHORT_CLIENT_EXAMPLES_RETENTION_POLICY_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace cohort::client {

// How much an ExampleStore keeps, across all its populations together (the
// limits are the device's disk budget, not a population's). Each limit is
// off at its default. When a limit is exceeded the oldest examples go first:
// oldest by the time they were added, ties by the order they were added.
struct RetentionPolicy {
  // Examples added longer ago than this are deleted, and never trained on
  // even before they are. Default absl::InfiniteDuration(): off; zero is off
  // too. A short age keeps data fresh; a long one keeps more to train on.
  absl::Duration max_age = absl::InfiniteDuration();
  // At most this many examples in the store. Default 0: off.
  int64_t max_count = 0;
  // At most this many bytes of features in the store (4 per value; the file
  // is larger by SQLite's page and index overhead, typically a few percent
  // for image-sized examples). Default 0: off. An example larger than this
  // is refused with RESOURCE_EXHAUSTED.
  int64_t max_bytes = 0;
};

// INVALID_ARGUMENT naming the field if a limit is negative.
absl::Status ValidateRetention(const RetentionPolicy& policy);

// Whether `policy` limits age (a positive, finite max_age).
bool LimitsAge(const RetentionPolicy& policy);

// Examples added before this time are too old at `now`;
// absl::InfinitePast() when age is not limited.
absl::Time AgeCutoff(const RetentionPolicy& policy, absl::Time now);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_EXAMPLES_RETENTION_POLICY_H_
