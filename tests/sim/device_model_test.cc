#include "sim/device_model.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::sim {
namespace {

cohort::v1::DeviceProfileConfig Profile() {
  cohort::v1::DeviceProfileConfig c;
  c.set_ms_per_example(2.0);
  c.set_speed_sigma(0.5);
  c.set_downlink_mbps(20);
  c.set_uplink_mbps(5);
  c.set_availability_period_s(100);
  c.set_availability_window_s(25);
  c.set_dropout_after_checkin(0.1);
  c.set_dropout_during_training(0.2);
  c.set_dropout_during_upload(0.3);
  return c;
}

TEST(DeviceModelTest, SpeedIsLogNormalAroundOne) {
  DeviceModel m(Profile(), 7);
  std::vector<double> logs;
  for (int id = 0; id < 20000; ++id) logs.push_back(std::log(m.Speed(id)));
  double mean = 0, var = 0;
  for (double l : logs) mean += l;
  mean /= logs.size();
  for (double l : logs) var += (l - mean) * (l - mean);
  var /= logs.size();
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(var), 0.5, 0.02);
  EXPECT_EQ(m.Speed(5), m.Speed(5));
}

TEST(DeviceModelTest, AvailabilityMatchesWindowShare) {
  DeviceModel m(Profile(), 7);
  int available = 0;
  for (int id = 0; id < 20000; ++id) available += m.Available(id, 1234.5);
  EXPECT_NEAR(available / 20000.0, 0.25, 0.015);
  // A client is available for exactly a quarter of its period.
  int on = 0;
  for (int t = 0; t < 1000; ++t) on += m.Available(42, t * 0.1);
  EXPECT_NEAR(on / 1000.0, 0.25, 0.01);
}

TEST(DeviceModelTest, DropoutsFollowPerPhaseProbabilities) {
  DeviceModel m(Profile(), 7);
  int n = 40000, after = 0, training = 0, upload = 0;
  for (int id = 0; id < n; ++id) {
    ClientTimeline t = m.Plan(id, 3, 60, 1, 200000, 200000);
    after += t.drop == DropPhase::kAfterCheckIn;
    training += t.drop == DropPhase::kDuringTraining;
    upload += t.drop == DropPhase::kDuringUpload;
    if (t.drop == DropPhase::kNone) {
      EXPECT_DOUBLE_EQ(t.event_s, t.download_s + t.train_s + t.upload_s);
    } else {
      EXPECT_LE(t.event_s, t.download_s + t.train_s + t.upload_s);
    }
  }
  // Each phase applies to the devices that survived the previous ones.
  EXPECT_NEAR(after / double(n), 0.1, 0.01);
  EXPECT_NEAR(training / double(n), 0.9 * 0.2, 0.01);
  EXPECT_NEAR(upload / double(n), 0.9 * 0.8 * 0.3, 0.01);
}

TEST(DeviceModelTest, TimesScaleWithWorkAndSpeed) {
  auto c = Profile();
  c.set_speed_sigma(0);
  DeviceModel m(c, 1);
  ClientTimeline t = m.Plan(1, 1, 100, 2, 2500000, 625000);
  EXPECT_DOUBLE_EQ(t.train_s, 100 * 2 * 2.0 / 1000);
  EXPECT_DOUBLE_EQ(t.download_s, 1.0);  // 20 Mbit at 20 Mbit/s
  EXPECT_DOUBLE_EQ(t.upload_s, 1.0);    // 5 Mbit at 5 Mbit/s
}

}  // namespace
}  // namespace cohort::sim
