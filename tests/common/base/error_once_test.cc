#include "common/base/error_once.h"

#include "gtest/gtest.h"

namespace cohort::base {
namespace {

TEST(ErrorOnceTest, LogsEachRunOfOneErrorOnce) {
  ErrorOnce once;
  const absl::Status full = absl::InternalError("write: No space left");
  EXPECT_FALSE(once.ShouldLog(absl::OkStatus()));
  EXPECT_TRUE(once.ShouldLog(full));
  EXPECT_FALSE(once.ShouldLog(full));
  EXPECT_FALSE(once.ShouldLog(full));
  // Another error is news; so is the first one again after it.
  EXPECT_TRUE(once.ShouldLog(absl::InternalError("rename: Read-only")));
  EXPECT_TRUE(once.ShouldLog(full));
  // A success in between starts over.
  EXPECT_FALSE(once.ShouldLog(absl::OkStatus()));
  EXPECT_TRUE(once.ShouldLog(full));
}

}  // namespace
}  // namespace cohort::base
