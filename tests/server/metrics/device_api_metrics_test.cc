#include "server/metrics/device_api_metrics.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "tests/server/metrics/task_sample.h"

namespace cohort::server {
namespace {

using ::cohort::testing::SampleLabels;

class DeviceApiMetricsTest : public ::testing::Test {
 protected:
  std::optional<double> Value(const std::string& name, SampleLabels labels) {
    return TaskSample(registry_, name, std::move(labels));
  }

  prometheus::Registry registry_;
  DeviceApiMetrics metrics_{"t", registry_};
};

TEST_F(DeviceApiMetricsTest, CommonSeriesStartAtZero) {
  EXPECT_EQ(Value("cohort_check_ins_total", {{"result", "assigned"}}), 0);
  EXPECT_EQ(Value("cohort_check_ins_total", {{"result", "round_full"}}), 0);
  EXPECT_EQ(Value("cohort_device_api_bytes_total",
                  {{"rpc", "fetch_model"}, {"direction", "out"}}),
            0);
  // Rare results appear when they first happen.
  EXPECT_EQ(Value("cohort_check_ins_total", {{"result", "paused"}}),
            std::nullopt);
}

TEST_F(DeviceApiMetricsTest, CountsEachLabelSetApart) {
  metrics_.CheckIn("assigned");
  metrics_.CheckIn("assigned");
  metrics_.CheckIn("paused");
  metrics_.Rejected("report", "malformed");
  metrics_.Rejected("secagg", "malformed");
  metrics_.Rejected("secagg", "malformed");
  metrics_.Bytes("participate", "in", 100);
  metrics_.Bytes("participate", "in", 23);
  metrics_.Bytes("fetch_model", "out", 1 << 20);
  EXPECT_EQ(Value("cohort_check_ins_total", {{"result", "assigned"}}), 2);
  EXPECT_EQ(Value("cohort_check_ins_total", {{"result", "paused"}}), 1);
  EXPECT_EQ(Value("cohort_messages_rejected_total",
                  {{"kind", "report"}, {"reason", "malformed"}}),
            1);
  EXPECT_EQ(Value("cohort_messages_rejected_total",
                  {{"kind", "secagg"}, {"reason", "malformed"}}),
            2);
  EXPECT_EQ(Value("cohort_device_api_bytes_total",
                  {{"rpc", "participate"}, {"direction", "in"}}),
            123);
  EXPECT_EQ(Value("cohort_device_api_bytes_total",
                  {{"rpc", "participate"}, {"direction", "out"}}),
            0);
  EXPECT_EQ(Value("cohort_device_api_bytes_total",
                  {{"rpc", "fetch_model"}, {"direction", "out"}}),
            1 << 20);
}

}  // namespace
}  // namespace cohort::server
