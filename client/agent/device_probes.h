#ifndef COHORT_CLIENT_AGENT_DEVICE_PROBES_H_
#define COHORT_CLIENT_AGENT_DEVICE_PROBES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"

namespace cohort::client {

// What the agent reads about the machine it runs on, each behind a small
// interface so that tests use fakes (tests/client/agent/fake_probes.h) or
// point the Linux implementations at a fake tree in a temp dir. The Linux
// ones take the root of sysfs or procfs ("/sys", "/proc") and read it on
// every call; they keep no state and are thread-compatible.
//
// "Unknown" is not an error: a machine without a battery or a thermal zone
// says so with nullopt. An error means something that exists could not be
// read.

// The power supply.
struct PowerState {
  // On external power: true without a battery.
  bool on_ac = true;
  // Charge of the system battery in [0, 100], the mean over several;
  // nullopt without one, or when none reports a capacity.
  std::optional<int> battery_percent;
};

class PowerProbe {
 public:
  virtual ~PowerProbe() = default;
  // INTERNAL when a supply's files cannot be read.
  virtual absl::StatusOr<PowerState> Read() = 0;
};

class LoadProbe {
 public:
  virtual ~LoadProbe() = default;
  // The 1-minute load average. NOT_FOUND or INTERNAL when it cannot be
  // read or parsed.
  virtual absl::StatusOr<double> OneMinuteAverage() = 0;
};

class ThermalProbe {
 public:
  virtual ~ThermalProbe() = default;
  // The hottest thermal zone in degrees Celsius; nullopt when the machine
  // has no readable zone.
  virtual absl::StatusOr<std::optional<double>> HottestCelsius() = 0;
};

class MemoryProbe {
 public:
  virtual ~MemoryProbe() = default;
  // This process's resident memory in bytes. NOT_FOUND or INTERNAL when it
  // cannot be read or parsed.
  virtual absl::StatusOr<int64_t> ResidentBytes() = 0;
};

// /sys/class/power_supply/*: supplies whose `type` is Mains, USB, Wireless
// or UPS are external power, on when `online` reads 1; `Battery` ones give
// `capacity` and `status`. Supplies with `scope` Device (a mouse's battery)
// are left out. With an external supply listed, on_ac is whether one is
// online; with batteries only, whether none is Discharging; with neither
// (a desktop, a VM, a container), true.
class SysfsPowerProbe final : public PowerProbe {
 public:
  explicit SysfsPowerProbe(std::string sys_root = "/sys")
      : dir_(std::move(sys_root) + "/class/power_supply") {}
  absl::StatusOr<PowerState> Read() override;

 private:
  const std::string dir_;
};

// The first field of <proc_root>/loadavg.
class ProcLoadProbe final : public LoadProbe {
 public:
  explicit ProcLoadProbe(std::string proc_root = "/proc")
      : path_(std::move(proc_root) + "/loadavg") {}
  absl::StatusOr<double> OneMinuteAverage() override;

 private:
  const std::string path_;
};

// The highest <sys_root>/class/thermal/thermal_zone*/temp (millidegrees).
// A zone whose temp cannot be read (some report ENODATA while asleep) is
// skipped.
class SysfsThermalProbe final : public ThermalProbe {
 public:
  explicit SysfsThermalProbe(std::string sys_root = "/sys")
      : dir_(std::move(sys_root) + "/class/thermal") {}
  absl::StatusOr<std::optional<double>> HottestCelsius() override;

 private:
  const std::string dir_;
};

// VmRSS of <proc_root>/self/status.
class ProcMemoryProbe final : public MemoryProbe {
 public:
  explicit ProcMemoryProbe(std::string proc_root = "/proc")
      : path_(std::move(proc_root) + "/self/status") {}
  absl::StatusOr<int64_t> ResidentBytes() override;

 private:
  const std::string path_;
};

// The probes the eligibility rules read. A null member is replaced by the
// Linux probe on "/sys" or "/proc" where it is needed (EligibilityPolicy).
struct DeviceProbes {
  std::unique_ptr<PowerProbe> power;
  std::unique_ptr<LoadProbe> load;
  std::unique_ptr<ThermalProbe> thermal;
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_DEVICE_PROBES_H_
