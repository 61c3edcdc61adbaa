#ifndef COHORT_COMMON_DATA_PARTITION_H_
#define COHORT_COMMON_DATA_PARTITION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::data {

// The one partitioner of a data set into disjoint shards. Agents call it to
// find their own shard (client/agent/agent_setup.cc) and the simulator calls
// it for a population with the SHARDS layout (client_population.h), so shard
// i of a PartitionSpec is the same on a device and in cohort-sim.

// The default of PartitionConfig.min_examples and of
// PopulationConfig.min_examples.
inline constexpr int kDefaultMinExamples = 10;
// How many Dirichlet draws PartitionExamples() makes before it gives up.
inline constexpr int kDefaultMaxDraws = 100;

// How a client's examples are chosen from the data set.
enum class PartitionScheme {
  // Uniform over the whole data set: every client sees the global label mix.
  kIid,
  // Label skew controlled by a symmetric Dirichlet(alpha): small alpha (0.1)
  // gives clients dominated by one or two labels, large (100) is near IID.
  kDirichlet,
  // Pathological non-IID (McMahan et al., 2017): each client holds
  // `labels_per_client` distinct labels. Only the simulator's sampled
  // population has it; PartitionExamples() rejects it.
  kLabelShards,
};

// The config fields behind a PartitionSpec, so that errors name what the
// user wrote. The defaults are an agent's (PartitionConfig).
struct PartitionFieldNames {
  std::string scheme = "partition.scheme";
  std::string num_shards = "partition.num_shards";
  std::string alpha = "partition.alpha";
  std::string min_examples = "partition.min_examples";
};

// The same fields of a simulated population (PopulationConfig).
PartitionFieldNames PopulationFieldNames();

// A split of a labelled data set into num_shards disjoint, complete shards.
// The split is a pure function of the labels and these fields.
struct PartitionSpec {
  // kIid: a seeded shuffle cut into num_shards parts whose sizes differ by at
  // most one. kDirichlet: for each label, its (shuffled) examples are cut
  // across the shards by proportions drawn from Dirichlet(alpha), as in
  // NIID-Bench (Li et al., 2022); this skews both labels and sizes.
  PartitionScheme scheme = PartitionScheme::kIid;
  // >= 1.
  int num_shards = 1;
  // kDirichlet only: finite and > 0.
  double alpha = 0.5;
  uint64_t seed = 1;
  // No shard may hold fewer examples (>= 1). A Dirichlet split is drawn
  // again, from the same seeded stream, until every shard has this many, at
  // most max_draws times (NIID-Bench's rule, bounded). A split whose first
  // draw meets the minimum is the one drawn without any minimum.
  int min_examples = kDefaultMinExamples;
  // >= 1.
  int max_draws = kDefaultMaxDraws;
  PartitionFieldNames fields;
};

// INVALID_ARGUMENT naming the field (by spec.fields) if a field is outside
// the ranges above or num_classes < 1; OK otherwise.
absl::Status ValidatePartitionSpec(const PartitionSpec& spec, int num_classes);

// The shards of example indices [0, labels.size()): disjoint, complete, in
// a fixed order (kIid: the shuffle's order; kDirichlet: ascending).
// Returns INVALID_ARGUMENT if ValidatePartitionSpec() fails, a label is
// >= num_classes, or no split gives every shard min_examples examples: the
// message starts with spec.fields.min_examples and names the shard count,
// the data size, the smallest shard of the best draw and the fields to
// change.
absl::StatusOr<std::vector<std::vector<int64_t>>> PartitionExamples(
    const PartitionSpec& spec, const std::vector<uint8_t>& labels,
    int num_classes);

// Shard `index` of PartitionExamples(spec, labels, num_classes): what one
// device keeps. The same errors, except that an unmet minimum names shard
// `index` and its count in the best draw (e.g. "shard 37 of 100 would hold
// no examples"). INVALID_ARGUMENT also if index is outside [0, num_shards).
absl::StatusOr<std::vector<int64_t>> ShardOf(const PartitionSpec& spec,
                                             const std::vector<uint8_t>& labels,
                                             int num_classes, int index);

}  // namespace cohort::data

#endif  // COHORT_COMMON_DATA_PARTITION_H_
