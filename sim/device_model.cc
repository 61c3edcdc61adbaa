#include "sim/device_model.h"

#include <cmath>

#include "common/base/splitmix64.h"

namespace cohort::sim {
namespace {

uint64_t SplitMix(uint64_t z) { return base::SplitMix64::Hash(z); }

// Keys that separate the independent draws of one device.
enum Stream : uint64_t {
  kSpeed = 1,
  kPhase = 2,
  kDrop = 3,
  kDropAt = 4,
  kSecAggDrop = 5
};

// Rates measured on the benchmark host (docs/BENCHMARKS.md, "Secure
// aggregation"): one local training of the small CNN took 37.5 ms for 60
// examples x 2 epochs; an X25519 operation about 44 us; multi-mask AES-CTR
// expansion about 0.78 x 6.84 GB/s; a Shamir reconstruction of 1,000
// secrets at t ~ 23 about 10 ms (~0.4 us per field multiply-add). Encoding
// (clip, scale, round, wrap) is a few ns per coordinate. Together they give
// about 10 ms for the bench's client at d = 10^5, k = 46 (measured 12.4).
constexpr double kHostMsPerExample = 37.5 / 120.0;
constexpr double kHostKeyAgreementS = 44e-6;
constexpr double kHostFieldOpS = 0.4e-6;
constexpr double kHostKeystreamBytesPerS = 0.78 * 6.84e9;
constexpr double kHostEncodeS = 10e-9;

}  // namespace

uint64_t MixKey(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  return SplitMix(SplitMix(SplitMix(seed ^ SplitMix(a)) ^ b) ^ c);
}

double DeviceModel::Uniform(uint64_t a, uint64_t b, uint64_t c) const {
  // 53 random bits -> [0, 1).
  return static_cast<double>(MixKey(seed_, a, b, c) >> 11) * 0x1.0p-53;
}

double DeviceModel::Speed(int64_t id) const {
  if (config_.speed_sigma() == 0) return 1.0;
  // Box-Muller from two keyed uniforms.
  double u1 = Uniform(kSpeed, static_cast<uint64_t>(id), 1);
  double u2 = Uniform(kSpeed, static_cast<uint64_t>(id), 2);
  double z = std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2 * M_PI * u2);
  return std::exp(config_.speed_sigma() * z);
}

bool DeviceModel::Available(int64_t id, double t_s) const {
  const double period = config_.availability_period_s();
  const double window = config_.availability_window_s();
  if (window >= period) return true;
  double phase = Uniform(kPhase, static_cast<uint64_t>(id), 0) * period;
  return std::fmod(t_s + phase, period) < window;
}

ClientTimeline DeviceModel::Plan(int64_t id, int64_t round,
                                 int64_t num_examples, int epochs,
                                 int64_t download_bytes,
                                 int64_t upload_bytes) const {
  const double speed = Speed(id);
  ClientTimeline t;
  t.download_s = download_bytes * 8.0 / (config_.downlink_mbps() * 1e6) / speed;
  t.train_s = num_examples * epochs * config_.ms_per_example() / 1000.0 / speed;
  t.upload_s = upload_bytes * 8.0 / (config_.uplink_mbps() * 1e6) / speed;
  const uint64_t key = static_cast<uint64_t>(id);
  const uint64_t r = static_cast<uint64_t>(round);
  const double at = Uniform(kDropAt, key, r);
  if (Uniform(kDrop, key, r * 3 + 0) < config_.dropout_after_checkin()) {
    t.drop = DropPhase::kAfterCheckIn;
    t.event_s = 0;
  } else if (Uniform(kDrop, key, r * 3 + 1) < config_.dropout_during_training()) {
    t.drop = DropPhase::kDuringTraining;
    t.event_s = t.download_s + at * t.train_s;
  } else if (Uniform(kDrop, key, r * 3 + 2) < config_.dropout_during_upload()) {
    t.drop = DropPhase::kDuringUpload;
    t.event_s = t.download_s + t.train_s + at * t.upload_s;
  } else {
    t.event_s = t.download_s + t.train_s + t.upload_s;
  }
  return t;
}

SecAggDrop DeviceModel::SecAggDropOf(int64_t id, int64_t round) const {
  const uint64_t key = static_cast<uint64_t>(id);
  const uint64_t r = static_cast<uint64_t>(round) * 3;
  if (Uniform(kSecAggDrop, key, r) < config_.secagg_dropout_after_keys()) {
    return SecAggDrop::kAfterKeys;
  }
  if (Uniform(kSecAggDrop, key, r + 1) < config_.secagg_dropout_after_shares()) {
    return SecAggDrop::kAfterShares;
  }
  if (Uniform(kSecAggDrop, key, r + 2) <
      config_.secagg_dropout_after_masked_input()) {
    return SecAggDrop::kAfterMaskedInput;
  }
  return SecAggDrop::kNone;
}

double DeviceModel::SecAggSeconds(int64_t id, const SecAggStep& step) const {
  const double host_s =
      step.key_agreements * kHostKeyAgreementS +
      step.field_ops * kHostFieldOpS +
      static_cast<double>(step.mask_bytes) / kHostKeystreamBytesPerS +
      step.encoded_coordinates * kHostEncodeS;
  const double compute_s = host_s * (config_.ms_per_example() / kHostMsPerExample);
  const double transfer_s =
      step.bytes_down * 8.0 / (config_.downlink_mbps() * 1e6) +
      step.bytes_up * 8.0 / (config_.uplink_mbps() * 1e6);
  return (compute_s + transfer_s) / Speed(id);
}

}  // namespace cohort::sim
