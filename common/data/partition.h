#ifndef COHORT_COMMON_DATA_PARTITION_H_
#define COHORT_COMMON_DATA_PARTITION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::data {

// Splits example indices [0, labels.size()) into num_shards disjoint shards.
// The result depends only on the inputs and the seed, so every device computes
// the same split and takes its own shard.

// IID: a seeded shuffle cut into num_shards near-equal parts.
// INVALID_ARGUMENT if num_shards < 1 or num_shards > num_examples.
absl::StatusOr<std::vector<std::vector<int64_t>>> PartitionIid(
    int64_t num_examples, int num_shards, uint64_t seed);

// Dirichlet(alpha) over labels: for each class, proportions across shards are
// drawn from Dirichlet(alpha) and that class's (shuffled) examples are cut by
// them. Smaller alpha gives more skew. INVALID_ARGUMENT if alpha <= 0,
// num_shards < 1, or a label >= num_classes.
absl::StatusOr<std::vector<std::vector<int64_t>>> PartitionDirichlet(
    const std::vector<uint8_t>& labels, int num_classes, int num_shards,
    double alpha, uint64_t seed);

}  // namespace cohort::data

#endif  // COHORT_COMMON_DATA_PARTITION_H_
