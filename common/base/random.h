#ifndef COHORT_COMMON_BASE_RANDOM_H_
#define COHORT_COMMON_BASE_RANDOM_H_

#include <cstdint>
#include <random>

namespace cohort::base {

// Non-cryptographic randomness for sampling, shuffling and jitter. Seeded
// explicitly so runs are reproducible; never used for keys (common/crypto owns
// those). Not thread-safe: give each thread its own instance.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, n). n must be > 0.
  uint64_t Uniform(uint64_t n) {
    return std::uniform_int_distribution<uint64_t>(0, n - 1)(engine_);
  }
  // Uniform in [lo, hi].
  int64_t UniformInRange(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(engine_);
  }
  // Uniform in [0, 1).
  double UniformDouble() {
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }
  // Gamma(shape, 1); used for Dirichlet draws.
  double Gamma(double shape) {
    return std::gamma_distribution<double>(shape, 1.0)(engine_);
  }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_RANDOM_H_
