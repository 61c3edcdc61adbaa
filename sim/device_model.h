#ifndef COHORT_SIM_DEVICE_MODEL_H_
#define COHORT_SIM_DEVICE_MODEL_H_

#include <cstdint>

#include "cohort/v1/config.pb.h"

namespace cohort::sim {

// Where in the round a device drops out, if it does.
enum class DropPhase { kNone, kAfterCheckIn, kDuringTraining, kDuringUpload };

// Secure rounds: the last SecAgg message a device sends before it drops.
enum class SecAggDrop { kNone, kAfterKeys, kAfterShares, kAfterMaskedInput };

// A device's SecAgg+ work for one server message: what it downloaded, the
// cryptography its answer took, and what it uploaded. Counted by the
// simulator from the real messages (sim/secure_rounds.cc).
struct SecAggStep {
  int64_t bytes_down = 0;
  int64_t bytes_up = 0;
  int64_t key_agreements = 0;  // X25519 key generations and agreements
  int64_t field_ops = 0;  // Shamir field multiply-adds (k * t per secret)
  int64_t mask_bytes = 0;  // AES-CTR keystream expanded into masks
  int64_t encoded_coordinates = 0;  // update coordinates encoded
};

// A device's round on the virtual clock, in seconds from its assignment.
struct ClientTimeline {
  double download_s = 0;
  double train_s = 0;
  double upload_s = 0;
  DropPhase drop = DropPhase::kNone;
  // When the device reports (finish) or goes silent (drop).
  double event_s = 0;
};

// Device heterogeneity from DeviceProfileConfig: a speed per device, fixed by
// (seed, id); dropouts per (seed, round, id); availability windows. Every
// draw is a pure function of its key, so results do not depend on thread
// count or call order. Immutable and thread-safe.
class DeviceModel {
 public:
  DeviceModel(const cohort::v1::DeviceProfileConfig& config, uint64_t seed)
      : config_(config), seed_(seed) {}

  // Speed multiplier of device `id` (1 = median device).
  double Speed(int64_t id) const;

  // Whether device `id` is reachable at simulated time `t_s`.
  bool Available(int64_t id, double t_s) const;

  ClientTimeline Plan(int64_t id, int64_t round, int64_t num_examples,
                      int epochs, int64_t download_bytes,
                      int64_t upload_bytes) const;

  // Whether, and after which message, device `id` drops out of the SecAgg
  // protocol of `round` (the secagg_dropout_* probabilities, in order).
  SecAggDrop SecAggDropOf(int64_t id, int64_t round) const;

  // Seconds device `id` spends on `step`: the transfers at its link speeds,
  // and the cryptography at rates measured on the benchmark host
  // (docs/BENCHMARKS.md, secure aggregation) scaled by how much slower than
  // that host the device trains (ms_per_example against the host's
  // kHostMsPerExample), all divided by Speed(id). Deterministic.
  double SecAggSeconds(int64_t id, const SecAggStep& step) const;

 private:
  double Uniform(uint64_t a, uint64_t b, uint64_t c) const;

  const cohort::v1::DeviceProfileConfig config_;
  const uint64_t seed_;
};

// A well-mixed 64-bit hash of (seed, a, b, c), for keyed random draws.
uint64_t MixKey(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0);

}  // namespace cohort::sim

#endif  // COHORT_SIM_DEVICE_MODEL_H_
