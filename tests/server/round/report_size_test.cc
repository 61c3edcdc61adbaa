#include "server/round/report_size.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

using ::testing::HasSubstr;

// Only shapes matter to the size check; no tensor data is needed.
cohort::v1::Weights Mlp(std::vector<std::pair<int, int>> layers) {
  cohort::v1::Weights w;
  for (auto [in, out] : layers) {
    auto* t = w.add_tensors();
    t->add_shape(out);
    t->add_shape(in);
    t->add_shape(1);
    w.add_tensors()->add_shape(out);
  }
  return w;
}

TEST(ReportSizeTest, LargeModelOverTheDefaultLimitIsRefusedNamingFieldAndSize) {
  // The field report: 784 -> 4096 -> 1024 -> 10, 7.4M parameters, 29.7 MB of
  // fp32 per report against 16 MiB.
  const auto weights = Mlp({{784, 4096}, {4096, 1024}, {1024, 10}});
  RoundOptions options;
  absl::Status s = CheckReportFits(weights, options, kDefaultMaxMessageBytes,
                                   "max_message_bytes");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("max_message_bytes"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("7420938 parameters"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("29.7 MB"));
  // The limit that would fit is accepted.
  EXPECT_TRUE(CheckReportFits(weights, options,
                              LargestReportBytes(weights, options),
                              "max_message_bytes")
                  .ok());
}

TEST(ReportSizeTest, SecureRoundsAreSizedAtTheirPackedWidth) {
  const auto weights = Mlp({{784, 4096}, {4096, 1024}, {1024, 10}});
  RoundOptions plain;
  RoundOptions secure;
  secure.secagg.enabled = true;
  secure.secagg.bits_per_coordinate = 16;
  const int64_t fp32 = LargestReportBytes(weights, plain);
  const int64_t packed = LargestReportBytes(weights, secure);
  // 16 bits plus headroom for the cohort's sum: well under fp32's 32 bits.
  EXPECT_LT(packed, fp32);
  EXPECT_GT(packed, 7413770 * 2);
}

TEST(ReportSizeTest, SmallCnnFitsTheDefault) {
  const auto weights = Mlp({{784, 60}});
  EXPECT_TRUE(CheckReportFits(weights, RoundOptions(), kDefaultMaxMessageBytes,
                              "max_message_bytes")
                  .ok());
}

}  // namespace
}  // namespace cohort::server
