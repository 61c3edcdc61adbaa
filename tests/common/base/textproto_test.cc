#include "common/base/textproto.h"

#include "cohort/v1/config.pb.h"
#include "gtest/gtest.h"

namespace cohort::base {
namespace {

TEST(TextProtoTest, ParseValidConfigSetsFields) {
  cohort::v1::ServerConfig config;
  ASSERT_TRUE(ParseTextProto("task: 't' round { goal_count: 7 }", &config).ok());
  EXPECT_EQ(config.task(), "t");
  EXPECT_EQ(config.round().goal_count(), 7);
}

TEST(TextProtoTest, ParseUnknownFieldNamesTheField) {
  cohort::v1::ServerConfig config;
  absl::Status s = ParseTextProto("round { goal_cuont: 7 }", &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("goal_cuont"), std::string::npos) << s;
}

TEST(TextProtoTest, LoadMissingFileIsNotFound) {
  cohort::v1::ServerConfig config;
  EXPECT_EQ(LoadTextProtoFile("/nonexistent/x.textproto", &config).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cohort::base
