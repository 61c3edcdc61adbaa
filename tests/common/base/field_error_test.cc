#include "common/base/field_error.h"

#include "gtest/gtest.h"

namespace cohort::base {
namespace {

TEST(FieldErrorTest, FieldErrorNamesTheFieldFirst) {
  const absl::Status s = FieldError("round.goal_count", "must be >= 1");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "round.goal_count: must be >= 1");
}

TEST(FieldErrorTest, FieldErrorIsNeverOk) {
  EXPECT_FALSE(FieldError("", "").ok());
}

}  // namespace
}  // namespace cohort::base
