#ifndef COHORT_COMMON_DATA_CLIENT_POPULATION_H_
#define COHORT_COMMON_DATA_CLIENT_POPULATION_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/data/dataset.h"
#include "common/data/partition.h"

namespace cohort::data {

// How a population's clients get their data.
enum class PopulationLayout {
  // Each client's examples are sampled from the data set on demand, as a
  // pure function of (seed, client id): any number of clients, counts set by
  // mean_examples and quantity_sigma, examples shared across clients.
  kSampled,
  // The data set split into num_clients disjoint shards by
  // PartitionExamples(ShardPartitionOf(spec)): client i holds exactly what an
  // agent with the same partition config and shard_index i holds. kIid and
  // kDirichlet only; at most num_examples / min_examples clients.
  kShards,
};

// The shape of a simulated client population. In the kSampled layout every
// client's data is a pure function of (seed, client id) and these fields,
// never of num_clients, so growing the population leaves existing clients'
// data unchanged. In the kShards layout it is the agents' split, which
// depends on num_clients like any split into that many shards.
struct PopulationSpec {
  // Registered clients, ids [0, num_clients). kSampled costs no memory per
  // client, so this may be far larger than the number of clients in a round.
  int64_t num_clients = 1000;
  PopulationLayout layout = PopulationLayout::kSampled;
  PartitionScheme scheme = PartitionScheme::kIid;
  // kDirichlet only: concentration of each client's label distribution
  // (kSampled) or of each label's spread over the clients (kShards).
  // Small (0.1) gives clients dominated by one or two labels; large (100) is
  // close to IID. Must be finite and > 0.
  double alpha = 0.5;
  // kLabelShards only: distinct labels per client, in [1, num_classes].
  int labels_per_client = 2;
  // kSampled only: examples per client (the mean when quantity_sigma > 0).
  // Must lie in [min_examples, max_examples].
  int mean_examples = 60;
  // kSampled only: quantity skew. A client's count is
  //   clamp(round(mean_examples * LogNormal(-sigma^2 / 2, sigma)),
  //         min_examples, max_examples)
  // whose mean is mean_examples before clamping. 0 (the default) gives every
  // client exactly mean_examples; 1 gives a coefficient of variation near
  // sqrt(e - 1) = 1.31. Must be finite and >= 0.
  double quantity_sigma = 0.0;
  // No client holds fewer examples; must be >= 1. kSampled clamps each
  // count to it; kShards redraws the split until every shard has it
  // (PartitionSpec::min_examples).
  int min_examples = kDefaultMinExamples;
  // kSampled only: the upper clamp bound of a count; 0 means
  // 10 * mean_examples.
  int max_examples = 0;
  // Root of every client's random stream (kSampled); the split's seed
  // (kShards).
  uint64_t seed = 1;
};

// The split behind the kShards layout: scheme, num_shards = num_clients,
// alpha, seed and min_examples, with errors naming PopulationConfig's fields.
// An agent whose PartitionConfig has the same values gets the same shards.
// num_clients must be at most INT_MAX (ValidatePopulationSpec checks).
PartitionSpec ShardPartitionOf(const PopulationSpec& spec);

// Checks `spec` against a data set with `num_classes` labels. Fields that the
// chosen scheme or layout ignores (alpha unless kDirichlet, labels_per_client
// unless kLabelShards, mean_examples, quantity_sigma and max_examples unless
// kSampled) are not checked. Whether the data can fill num_clients shards is
// known only at ClientPopulation::Create().
// Returns INVALID_ARGUMENT whose message starts with the offending field,
// e.g. "population.alpha: must be finite and > 0, got 0"; OK otherwise.
absl::Status ValidatePopulationSpec(const PopulationSpec& spec,
                                    int num_classes);

// A population of simulated clients over one shared ImageDataset.
//
// kSampled: lazily materialised. Memory is O(data set size) for per-label
// index pools and nothing per client: a client's examples are recomputed
// from (spec.seed, id) on every call. Examples are drawn with replacement
// across clients (two clients may share an example) and without replacement
// within a client whenever the relevant pool (the data set for kIid, one
// label's examples otherwise) is large enough; beyond that each pool example
// is used as evenly as possible.
//
// kShards: the agents' disjoint split, computed once by Create() and held
// (one index per example).
//
// Borrows the data set, which must outlive the population and not change.
// Immutable after Create(), so every method is safe to call concurrently.
// Results are reproducible for a given build; they rely on the standard
// library's distributions, so they may differ across standard libraries.
class ClientPopulation {
 public:
  // Returns INVALID_ARGUMENT if ValidatePopulationSpec() fails, `data` is
  // null or empty, its labels/images do not match num_examples, a label is
  // outside [0, num_classes), or the layout is kSampled, the scheme is
  // kDirichlet/kLabelShards and some label in [0, num_classes) has no
  // examples (either scheme can assign any label). For kShards, also
  // INVALID_ARGUMENT naming population.num_clients when the data holds fewer
  // than num_clients * min_examples examples, and the PartitionExamples()
  // error naming population.min_examples when no draw gives every client
  // min_examples.
  static absl::StatusOr<std::unique_ptr<ClientPopulation>> Create(
      const PopulationSpec& spec, const ImageDataset* data);

  ClientPopulation(const ClientPopulation&) = delete;
  ClientPopulation& operator=(const ClientPopulation&) = delete;

  int64_t num_clients() const { return spec_.num_clients; }
  const PopulationSpec& spec() const { return spec_; }
  const ImageDataset& data() const { return *data_; }

  // Number of examples of client `id`, >= min_examples (kSampled: also
  // <= max_examples).
  // Cheaper than ExamplesOf(id).size() and always equal to it.
  // `id` must be in [0, num_clients()); anything else is a caller bug (CHECK).
  int64_t NumExamplesOf(int64_t id) const;

  // Indices into data() of client `id`'s examples, in random order (kShards:
  // in the split's order, as the agent holding shard `id` has them).
  // Identical on every call, on every thread and in any order of calls.
  // `id` must be in [0, num_clients()) (CHECK).
  std::vector<int64_t> ExamplesOf(int64_t id) const;

  // Subset(data(), ExamplesOf(id)). `id` must be in [0, num_clients()).
  ImageDataset DataOf(int64_t id) const;

 private:
  ClientPopulation(const PopulationSpec& spec, const ImageDataset* data,
                   std::vector<std::vector<int64_t>> pools,
                   std::vector<std::vector<int64_t>> shards);

  const PopulationSpec spec_;
  const ImageDataset* const data_;
  const int64_t max_examples_;
  // kSampled: pools_[label] holds the indices of that label's examples;
  // empty for kIid, which samples the index range directly, and for kShards.
  const std::vector<std::vector<int64_t>> pools_;
  // kShards: shards_[id] is client id's examples; empty for kSampled.
  const std::vector<std::vector<int64_t>> shards_;
};

}  // namespace cohort::data

#endif  // COHORT_COMMON_DATA_CLIENT_POPULATION_H_
