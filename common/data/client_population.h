#ifndef COHORT_COMMON_DATA_CLIENT_POPULATION_H_
#define COHORT_COMMON_DATA_CLIENT_POPULATION_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/data/dataset.h"

namespace cohort::data {

// How a client's examples are chosen from the shared data set.
enum class PartitionScheme {
  // Uniform over the whole data set: every client sees the global label mix.
  kIid,
  // Each client draws its own label proportions from a symmetric
  // Dirichlet(alpha) and its examples' labels from those proportions.
  kDirichlet,
  // Pathological non-IID (McMahan et al., 2017): each client holds
  // `labels_per_client` distinct labels, in equal parts.
  kLabelShards,
};

// The shape of a simulated client population. Every client's data is a pure
// function of (seed, client id) and these fields, never of num_clients, so
// growing the population leaves existing clients' data unchanged.
struct PopulationSpec {
  // Registered clients, ids [0, num_clients). Costs no memory per client, so
  // this may be far larger than the number of clients in a round.
  int64_t num_clients = 1000;
  PartitionScheme scheme = PartitionScheme::kIid;
  // kDirichlet only: concentration of each client's label distribution.
  // Small (0.1) gives clients dominated by one or two labels; large (100) is
  // close to IID. Must be finite and > 0.
  double alpha = 0.5;
  // kLabelShards only: distinct labels per client, in [1, num_classes].
  int labels_per_client = 2;
  // Examples per client (the mean when quantity_sigma > 0). Must lie in
  // [min_examples, max_examples].
  int mean_examples = 60;
  // Quantity skew. A client's count is
  //   clamp(round(mean_examples * LogNormal(-sigma^2 / 2, sigma)),
  //         min_examples, max_examples)
  // whose mean is mean_examples before clamping. 0 (the default) gives every
  // client exactly mean_examples; 1 gives a coefficient of variation near
  // sqrt(e - 1) = 1.31. Must be finite and >= 0.
  double quantity_sigma = 0.0;
  // Clamp bounds of the per-client count. min_examples must be >= 1;
  // max_examples = 0 means 10 * mean_examples.
  int min_examples = 1;
  int max_examples = 0;
  // Root of every client's random stream.
  uint64_t seed = 1;
};

// Checks `spec` against a data set with `num_classes` labels. Fields that the
// chosen scheme ignores (alpha unless kDirichlet, labels_per_client unless
// kLabelShards) are not checked.
// Returns INVALID_ARGUMENT whose message starts with the offending field,
// e.g. "population.alpha: must be finite and > 0, got 0"; OK otherwise.
absl::Status ValidatePopulationSpec(const PopulationSpec& spec,
                                    int num_classes);

// A lazily materialised population of simulated clients over one shared
// ImageDataset. Memory is O(data set size) for per-label index pools and
// nothing per client: a client's examples are recomputed from
// (spec.seed, id) on every call.
//
// Examples are drawn with replacement across clients (two clients may share
// an example) and without replacement within a client whenever the relevant
// pool (the data set for kIid, one label's examples otherwise) is large
// enough; beyond that each pool example is used as evenly as possible.
//
// Borrows the data set, which must outlive the population and not change.
// Immutable after Create(), so every method is safe to call concurrently.
// Results are reproducible for a given build; they rely on the standard
// library's distributions, so they may differ across standard libraries.
class ClientPopulation {
 public:
  // Returns INVALID_ARGUMENT if ValidatePopulationSpec() fails, `data` is
  // null or empty, its labels/images do not match num_examples, a label is
  // outside [0, num_classes), or the scheme is kDirichlet/kLabelShards and
  // some label in [0, num_classes) has no examples (either scheme can assign
  // any label).
  static absl::StatusOr<std::unique_ptr<ClientPopulation>> Create(
      const PopulationSpec& spec, const ImageDataset* data);

  ClientPopulation(const ClientPopulation&) = delete;
  ClientPopulation& operator=(const ClientPopulation&) = delete;

  int64_t num_clients() const { return spec_.num_clients; }
  const PopulationSpec& spec() const { return spec_; }
  const ImageDataset& data() const { return *data_; }

  // Number of examples of client `id`, in [min_examples, max_examples].
  // Cheaper than ExamplesOf(id).size() and always equal to it.
  // `id` must be in [0, num_clients()); anything else is a caller bug (CHECK).
  int64_t NumExamplesOf(int64_t id) const;

  // Indices into data() of client `id`'s examples, in random order. Identical
  // on every call, on every thread and in any order of calls.
  // `id` must be in [0, num_clients()) (CHECK).
  std::vector<int64_t> ExamplesOf(int64_t id) const;

  // Subset(data(), ExamplesOf(id)). `id` must be in [0, num_clients()).
  ImageDataset DataOf(int64_t id) const;

 private:
  ClientPopulation(const PopulationSpec& spec, const ImageDataset* data,
                   std::vector<std::vector<int64_t>> pools);

  const PopulationSpec spec_;
  const ImageDataset* const data_;
  const int64_t max_examples_;
  // pools_[label]: indices of that label's examples; empty for kIid, which
  // samples the index range directly.
  const std::vector<std::vector<int64_t>> pools_;
};

}  // namespace cohort::data

#endif  // COHORT_COMMON_DATA_CLIENT_POPULATION_H_
