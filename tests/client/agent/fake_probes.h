#ifndef COHORT_TESTS_CLIENT_AGENT_FAKE_PROBES_H_
#define COHORT_TESTS_CLIENT_AGENT_FAKE_PROBES_H_

// Scripted device probes for the eligibility, budget and agent loop tests.
// Each returns its readings in order (the last one repeats), counts its
// reads and runs `on_read` before each, so a test can see what else had
// happened by then. Not thread-safe: the agent loop reads them on its one
// thread.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "client/agent/device_probes.h"

namespace cohort::client {

template <typename T>
class Script {
 public:
  T Next() {
    if (on_read) on_read();
    const size_t i =
        std::min(static_cast<size_t>(reads), readings.size() - 1);
    ++reads;
    return readings[i];
  }

  std::vector<T> readings;
  int reads = 0;
  std::function<void()> on_read;
};

class FakePowerProbe final : public PowerProbe {
 public:
  absl::StatusOr<PowerState> Read() override { return script.Next(); }
  Script<absl::StatusOr<PowerState>> script;
};

class FakeLoadProbe final : public LoadProbe {
 public:
  absl::StatusOr<double> OneMinuteAverage() override { return script.Next(); }
  Script<absl::StatusOr<double>> script;
};

class FakeThermalProbe final : public ThermalProbe {
 public:
  absl::StatusOr<std::optional<double>> HottestCelsius() override {
    return script.Next();
  }
  Script<absl::StatusOr<std::optional<double>>> script;
};

class FakeMemoryProbe final : public MemoryProbe {
 public:
  absl::StatusOr<int64_t> ResidentBytes() override { return script.Next(); }
  Script<absl::StatusOr<int64_t>> script;
};

inline PowerState OnAc(std::optional<int> battery = std::nullopt) {
  return PowerState{true, battery};
}

inline PowerState OnBattery(int percent) {
  return PowerState{false, percent};
}

}  // namespace cohort::client

#endif  // COHORT_TESTS_CLIENT_AGENT_FAKE_PROBES_H_
