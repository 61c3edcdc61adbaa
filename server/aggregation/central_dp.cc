#include "server/aggregation/central_dp.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/base/splitmix64.h"
#include "common/base/status_macros.h"
#include "common/crypto/secure_random.h"
#include "common/model/weights_util.h"

namespace cohort::server {

absl::StatusOr<std::array<uint8_t, 32>> NoiseSeed(
    const PrivacyOptions& options, int64_t round_id) {
  std::array<uint8_t, 32> seed{};
  if (!options.noise_seed.has_value()) {
    crypto::OpenSslRandom random;
    COHORT_RETURN_IF_ERROR(random.Fill(absl::MakeSpan(seed)));
    return seed;
  }
  base::SplitMix64 words(base::SplitMix64::Hash(*options.noise_seed) ^
                         static_cast<uint64_t>(round_id));
  for (size_t i = 0; i < seed.size(); i += 8) {
    const uint64_t word = words.Next();
    for (size_t b = 0; b < 8; ++b) seed[i + b] = static_cast<uint8_t>(word >> (8 * b));
  }
  return seed;
}

absl::Status AddNoise(cohort::v1::Weights& mean, double stddev,
                      privacy::NoiseSource& noise) {
  std::vector<float> values;
  for (auto& t : *mean.mutable_tensors()) {
    auto view = model::FloatView(t);
    values.assign(view.begin(), view.end());
    COHORT_RETURN_IF_ERROR(noise.AddTo(absl::MakeSpan(values), stddev));
    model::SetFloatData(values, &t);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> NoisyCount(int64_t count, int64_t total, double stddev,
                                   privacy::NoiseSource& noise) {
  COHORT_ASSIGN_OR_RETURN(const double n, noise.Next());
  const double noisy = std::round(static_cast<double>(count) + stddev * n);
  return static_cast<int64_t>(
      std::clamp(noisy, 0.0, static_cast<double>(std::max<int64_t>(total, 0))));
}

}  // namespace cohort::server
