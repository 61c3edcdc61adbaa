#ifndef COHORT_SIM_RANDOM_STREAMS_H_
#define COHORT_SIM_RANDOM_STREAMS_H_

#include <cstdint>

namespace cohort::sim {

// The simulator's keyed random streams: every draw is MixKey(seed, stream,
// ...) with one of these, so each kind of draw is independent of the others
// and of the order draws are made in (device_model.cc uses 1-10).
inline constexpr uint64_t kSelectStream = 11;
inline constexpr uint64_t kTrainStream = 12;
inline constexpr uint64_t kRoundingStream = 13;
inline constexpr uint64_t kPoisonStream = 14;
inline constexpr uint64_t kNoiseStream = 15;

}  // namespace cohort::sim

#endif  // COHORT_SIM_RANDOM_STREAMS_H_
