#ifndef COHORT_TESTS_SERVER_ROUND_ROUND_OPTIONS_TESTING_H_
#define COHORT_TESTS_SERVER_ROUND_ROUND_OPTIONS_TESTING_H_

// Helpers of the ResolveRoundOptions tests.

#include <string>

#include "gtest/gtest.h"
#include "server/round/round_options.h"

namespace cohort::server {

inline absl::Status Resolve(const cohort::v1::RoundConfig& c,
                            const cohort::v1::TrainingPlan& plan = {}) {
  return ResolveRoundOptions("", c, plan).status();
}

// The error is INVALID_ARGUMENT and starts with `field`.
inline void ExpectRefused(const absl::Status& s, const std::string& field) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(s.message().rfind(field + ":", 0), 0u) << s;
}

// A config for plain FedAvg rounds.
inline cohort::v1::RoundConfig Plain() {
  cohort::v1::RoundConfig c;
  c.mutable_secure_aggregation()->set_enabled(false);
  return c;
}

}  // namespace cohort::server

#endif  // COHORT_TESTS_SERVER_ROUND_ROUND_OPTIONS_TESTING_H_
