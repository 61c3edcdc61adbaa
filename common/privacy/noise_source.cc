#include "common/privacy/noise_source.h"

#include <cmath>
#include <numbers>
#include <utility>

#include "common/base/status_macros.h"

namespace cohort::privacy {
namespace {
// Keystream words read per refill.
constexpr size_t kWordsPerRefill = 4096;
}  // namespace

absl::StatusOr<NoiseSource> NoiseSource::Create(
    absl::Span<const uint8_t> seed) {
  COHORT_ASSIGN_OR_RETURN(crypto::AesCtrPrg prg, crypto::AesCtrPrg::Create(seed));
  return NoiseSource(std::move(prg));
}

absl::StatusOr<double> NoiseSource::Uniform() {
  if (next_word_ == words_.size()) {
    words_.resize(kWordsPerRefill);
    COHORT_RETURN_IF_ERROR(prg_.NextModPow2(53, absl::MakeSpan(words_)));
    next_word_ = 0;
  }
  // (k + 1) / 2^53 for k uniform in [0, 2^53): never 0, so the log is finite.
  return std::ldexp(static_cast<double>(words_[next_word_++] + 1), -53);
}

absl::StatusOr<double> NoiseSource::Next() {
  if (spare_.has_value()) {
    const double out = *spare_;
    spare_.reset();
    return out;
  }
  COHORT_ASSIGN_OR_RETURN(const double u1, Uniform());
  COHORT_ASSIGN_OR_RETURN(const double u2, Uniform());
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_ = radius * std::sin(angle);
  return radius * std::cos(angle);
}

absl::Status NoiseSource::AddTo(absl::Span<float> values, double stddev) {
  for (float& v : values) {
    COHORT_ASSIGN_OR_RETURN(const double n, Next());
    v = static_cast<float>(v + stddev * n);
  }
  return absl::OkStatus();
}

}  // namespace cohort::privacy
