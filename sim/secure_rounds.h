#ifndef COHORT_SIM_SECURE_ROUNDS_H_
#define COHORT_SIM_SECURE_ROUNDS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/secagg/secure_round_driver.h"
#include "client/transport/transport.h"
#include "server/round/round_engine.h"
#include "sim/device_model.h"
#include "sim/virtual_clock.h"

namespace cohort::sim {

// SecAgg+ phases as the device sees them (secure_round_driver.h).
inline constexpr int kSecAggPhases = secagg::kSecAggPhases;

// A virtual device that finished training in a secure round and sent ready.
struct SecureClient {
  int64_t id = 0;
  client::ParticipationSession* session = nullptr;  // not owned
  std::unique_ptr<secagg::SecureRoundDriver> driver;
  SecAggDrop drop = SecAggDrop::kNone;
  bool active = true;
  // From the device's SecAggBegin: what its work depends on.
  int threshold = 0;
  int64_t vector_length = 0;
  int modulus_bits = 0;
  // Simulated seconds of SecAgg+ work (download, compute, upload) per phase.
  std::array<double, kSecAggPhases> phase_seconds{};
};

// SecAgg+ traffic of one round, both directions, in message bytes.
struct SecAggTraffic {
  int64_t bytes_up = 0;
  int64_t bytes_down = 0;
};

// Plays the engine's Aggregating phase to its end: delivers each device's
// queued SecAgg messages (in `clients` order within each phase, which is
// the order the simulator trains them in), sends its answers, drops a device right after the
// message its SecAggDrop names, and, when no device has anything left to
// say, advances the virtual clock by `phase_timeout` so the phase deadline
// passes. Returns when the engine leaves Aggregating (committed or
// abandoned); `traffic` accumulates the bytes.
//
// Time: each message a device handles costs devices.SecAggSeconds() of its
// download, cryptography and upload. A phase lasts as long as its slowest
// device (at most phase_timeout, when the server would stop waiting), and
// the clock moves by it before the engine looks at the clock again, so a
// secure round ends later than the same plain round. A device slower than
// the deadline is still heard (the simulator does not reorder its messages
// in time): the phase is only capped.
//
// Requires the in-process transport (its Receive never blocks). INTERNAL if
// no phase makes progress across 16 deadlines.
absl::Status RunSecureAggregation(server::RoundEngine* engine,
                                  VirtualClock* clock,
                                  const DeviceModel& devices,
                                  absl::Duration phase_timeout,
                                  std::vector<SecureClient>& clients,
                                  SecAggTraffic* traffic);

}  // namespace cohort::sim

#endif  // COHORT_SIM_SECURE_ROUNDS_H_
