#include "common/data/partition.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/random.h"
#include "common/data/dirichlet.h"

namespace cohort::data {
namespace {

using Shards = std::vector<std::vector<int64_t>>;

void Shuffle(std::vector<int64_t>& values, base::Random& random) {
  for (size_t i = values.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(random.Uniform(i));
    std::swap(values[i - 1], values[j]);
  }
}

}  // namespace

absl::StatusOr<Shards> PartitionIid(int64_t num_examples, int num_shards,
                                    uint64_t seed) {
  if (num_shards < 1 || num_examples < num_shards) {
    return absl::InvalidArgumentError(
        absl::StrCat("PartitionIid needs 1 <= num_shards <= num_examples, got ",
                     num_shards, " shards for ", num_examples, " examples"));
  }
  std::vector<int64_t> order(static_cast<size_t>(num_examples));
  std::iota(order.begin(), order.end(), int64_t{0});
  base::Random random(seed);
  Shuffle(order, random);

  Shards shards(static_cast<size_t>(num_shards));
  const int64_t base_size = num_examples / num_shards;
  const int64_t extra = num_examples % num_shards;
  auto next = order.begin();
  for (int s = 0; s < num_shards; ++s) {
    const int64_t size = base_size + (s < extra ? 1 : 0);
    shards[s].assign(next, next + size);
    next += size;
  }
  return shards;
}

absl::StatusOr<Shards> PartitionDirichlet(const std::vector<uint8_t>& labels,
                                          int num_classes, int num_shards,
                                          double alpha, uint64_t seed) {
  if (!(alpha > 0.0) || !std::isfinite(alpha)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dirichlet alpha must be finite and > 0, got ", alpha));
  }
  if (num_shards < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_shards must be >= 1, got ", num_shards));
  }
  if (num_classes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_classes must be >= 1, got ", num_classes));
  }
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", labels[i], " at index ", i, " is not in [0, ",
                       num_classes, ")"));
    }
    by_class[labels[i]].push_back(static_cast<int64_t>(i));
  }

  base::Random random(seed);
  Shards shards(static_cast<size_t>(num_shards));
  for (std::vector<int64_t>& members : by_class) {
    Shuffle(members, random);
    const std::vector<double> share =
        DirichletProportions(num_shards, alpha, random);
    // Cutting at rounded cumulative boundaries (the last pinned to the end)
    // makes the pieces disjoint and complete whatever the rounding does.
    const double n = static_cast<double>(members.size());
    double cumulative = 0.0;
    size_t begin = 0;
    for (int s = 0; s < num_shards; ++s) {
      cumulative += share[s];
      size_t end = s + 1 == num_shards
                       ? members.size()
                       : static_cast<size_t>(std::llround(cumulative * n));
      end = std::clamp(end, begin, members.size());
      shards[s].insert(shards[s].end(), members.begin() + begin,
                       members.begin() + end);
      begin = end;
    }
  }
  for (std::vector<int64_t>& shard : shards) {
    std::sort(shard.begin(), shard.end());
  }
  return shards;
}

}  // namespace cohort::data
