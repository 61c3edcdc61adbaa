#ifndef COHORT_SIM_SECURE_ROUNDS_H_
#define COHORT_SIM_SECURE_ROUNDS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/secagg/secagg_participant.h"
#include "client/transport/transport.h"
#include "server/round/round_engine.h"
#include "sim/device_model.h"
#include "sim/virtual_clock.h"

namespace cohort::sim {

// A virtual device that finished training in a secure round and sent ready.
struct SecureClient {
  int64_t id = 0;
  client::ParticipationSession* session = nullptr;  // not owned
  std::unique_ptr<secagg::SecAggParticipant> participant;
  SecAggDrop drop = SecAggDrop::kNone;
  bool active = true;
};

// Plays the engine's Aggregating phase to its end: delivers each device's
// queued SecAgg messages, sends its answers, drops a device right after the
// message its SecAggDrop names, and, when no device has anything left to
// say, advances the virtual clock by `phase_timeout` so the phase deadline
// passes. Returns when the engine leaves Aggregating (committed or
// abandoned). `bytes_up` accumulates the SecAgg bytes devices sent.
// Requires the in-process transport (its Receive never blocks).
absl::Status RunSecureAggregation(server::RoundEngine* engine,
                                  VirtualClock* clock,
                                  absl::Duration phase_timeout,
                                  std::vector<SecureClient>& clients,
                                  int64_t* bytes_up);

}  // namespace cohort::sim

#endif  // COHORT_SIM_SECURE_ROUNDS_H_
