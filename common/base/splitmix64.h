#ifndef COHORT_COMMON_BASE_SPLITMIX64_H_
#define COHORT_COMMON_BASE_SPLITMIX64_H_

#include <cstdint>

namespace cohort::base {

// SplitMix64: a tiny keyed, non-cryptographic generator, the project's one
// copy. The codec uses it for the public Hadamard rotation signs, SecAgg+ for
// the public sharing graph, the simulator for its per-client streams and
// stochastic rounding; its output is identical on every platform, unlike the
// std:: distributions. Never use it for keys or masks (common/crypto owns
// those). Not thread-safe: one instance per thread.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  // The first output for `seed`: a bijection on 64 bits whose outputs for
  // adjacent inputs look independent (keys for per-id streams).
  static uint64_t Hash(uint64_t seed) { return SplitMix64(seed).Next(); }

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1) with 53 random bits.
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Uniform in [0, n) by rejection; n must be > 0.
  uint64_t Uniform(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
      v = Next();
    } while (v >= limit);
    return v % n;
  }

 private:
  uint64_t state_;
};

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_SPLITMIX64_H_
