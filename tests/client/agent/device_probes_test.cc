// The Linux device probes, read from a fake /sys and /proc tree in a temp
// dir: power supplies, thermal zones, the load average and resident memory.

#include "client/agent/device_probes.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/temp_tree.h"

namespace cohort::client {
namespace {

// A fresh directory per test.
std::string TestDir() { return testing::FreshTestDir("device_probes"); }

void Put(const std::string& path, const std::string& contents) {
  testing::PutFile(path, contents);
}

class DeviceProbesTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = TestDir(); }

  void Supply(const std::string& name, const std::string& type,
              const std::string& online_or_status,
              std::optional<int> capacity = std::nullopt,
              const std::string& scope = "") {
    const std::string dir = root_ + "/class/power_supply/" + name;
    Put(dir + "/type", type + "\n");
    if (type == "Battery") {
      Put(dir + "/status", online_or_status + "\n");
      if (capacity.has_value()) {
        Put(dir + "/capacity", std::to_string(*capacity) + "\n");
      }
    } else {
      Put(dir + "/online", online_or_status + "\n");
    }
    if (!scope.empty()) Put(dir + "/scope", scope + "\n");
  }

  std::string root_;
};

TEST_F(DeviceProbesTest, PowerWithoutAnySupplyIsOnAcWithoutBattery) {
  auto power = SysfsPowerProbe(root_).Read();
  ASSERT_TRUE(power.ok()) << power.status();
  EXPECT_TRUE(power->on_ac);
  EXPECT_FALSE(power->battery_percent.has_value());
}

TEST_F(DeviceProbesTest, PowerUnpluggedLaptopIsOnBattery) {
  Supply("AC", "Mains", "0");
  Supply("BAT0", "Battery", "Discharging", 55);
  auto power = SysfsPowerProbe(root_).Read();
  ASSERT_TRUE(power.ok()) << power.status();
  EXPECT_FALSE(power->on_ac);
  EXPECT_EQ(power->battery_percent, 55);
}

TEST_F(DeviceProbesTest, PowerPluggedLaptopIsOnAcWithItsCharge) {
  Supply("AC", "Mains", "1");
  Supply("BAT0", "Battery", "Charging", 40);
  Supply("BAT1", "Battery", "Charging", 60);
  auto power = SysfsPowerProbe(root_).Read();
  ASSERT_TRUE(power.ok()) << power.status();
  EXPECT_TRUE(power->on_ac);
  EXPECT_EQ(power->battery_percent, 50);  // the mean of the two
}

TEST_F(DeviceProbesTest, PowerBatteryOnlyTellsByItsStatus) {
  Supply("BAT0", "Battery", "Discharging", 90);
  auto discharging = SysfsPowerProbe(root_).Read();
  ASSERT_TRUE(discharging.ok()) << discharging.status();
  EXPECT_FALSE(discharging->on_ac);
  Supply("BAT0", "Battery", "Full", 100);
  auto full = SysfsPowerProbe(root_).Read();
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_TRUE(full->on_ac);
}

TEST_F(DeviceProbesTest, PowerLeavesOutAMouseBattery) {
  Supply("hidpp_battery_0", "Battery", "Discharging", 5, "Device");
  auto power = SysfsPowerProbe(root_).Read();
  ASSERT_TRUE(power.ok()) << power.status();
  EXPECT_TRUE(power->on_ac);
  EXPECT_FALSE(power->battery_percent.has_value());
}

TEST_F(DeviceProbesTest, ThermalIsTheHottestReadableZone) {
  Put(root_ + "/class/thermal/thermal_zone0/temp", "45000\n");
  Put(root_ + "/class/thermal/thermal_zone1/temp", "71500\n");
  Put(root_ + "/class/thermal/thermal_zone2/temp", "not a number\n");
  Put(root_ + "/class/thermal/cooling_device0/cur_state", "99000\n");
  auto hottest = SysfsThermalProbe(root_).HottestCelsius();
  ASSERT_TRUE(hottest.ok()) << hottest.status();
  ASSERT_TRUE(hottest->has_value());
  EXPECT_DOUBLE_EQ(**hottest, 71.5);
}

TEST_F(DeviceProbesTest, ThermalWithoutZonesIsUnknown) {
  auto hottest = SysfsThermalProbe(root_).HottestCelsius();
  ASSERT_TRUE(hottest.ok()) << hottest.status();
  EXPECT_FALSE(hottest->has_value());
}

TEST_F(DeviceProbesTest, LoadIsTheFirstFieldOfLoadavg) {
  Put(root_ + "/loadavg", "3.20 1.00 0.50 2/345 6789\n");
  auto load = ProcLoadProbe(root_).OneMinuteAverage();
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_DOUBLE_EQ(*load, 3.2);
}

TEST_F(DeviceProbesTest, LoadMissingOrGarbledIsAnError) {
  EXPECT_EQ(ProcLoadProbe(root_).OneMinuteAverage().status().code(),
            absl::StatusCode::kNotFound);
  Put(root_ + "/loadavg", "busy\n");
  EXPECT_FALSE(ProcLoadProbe(root_).OneMinuteAverage().ok());
}

// Resident memory.

TEST(ProcMemoryProbeTest, ReadsVmRssInBytes) {
  const std::string root = ::testing::TempDir() + "/device_probes_fake_proc";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root + "/self");
  std::ofstream(root + "/self/status")
      << "Name:\tcohort-agent\nVmHWM:\t  409600 kB\nVmRSS:\t  204800 kB\n";
  auto rss = ProcMemoryProbe(root).ResidentBytes();
  ASSERT_TRUE(rss.ok()) << rss.status();
  EXPECT_EQ(*rss, int64_t{204800} * 1024);
}

TEST(ProcMemoryProbeTest, MissingVmRssIsAnError) {
  const std::string root = ::testing::TempDir() + "/device_probes_fake_proc_empty";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root + "/self");
  std::ofstream(root + "/self/status") << "Name:\tcohort-agent\n";
  EXPECT_EQ(ProcMemoryProbe(root).ResidentBytes().status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(ProcMemoryProbe(root + "/nothing").ResidentBytes().ok());
}

// The real one, on this machine: a running test has some resident memory.
TEST(ProcMemoryProbeTest, ReadsThisProcess) {
  auto rss = ProcMemoryProbe().ResidentBytes();
  ASSERT_TRUE(rss.ok()) << rss.status();
  EXPECT_GT(*rss, 0);
}

}  // namespace
}  // namespace cohort::client
