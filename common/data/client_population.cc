#include "common/data/client_population.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/field_error.h"
#include "common/base/splitmix64.h"
#include "absl/strings/string_view.h"
#include "common/base/random.h"
#include "common/data/dirichlet.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace cohort::data {
namespace {

using Pools = std::vector<std::vector<int64_t>>;

using base::FieldError;

const char* SchemeName(PartitionScheme scheme) {
  switch (scheme) {
    case PartitionScheme::kIid:
      return "kIid";
    case PartitionScheme::kDirichlet:
      return "kDirichlet";
    case PartitionScheme::kLabelShards:
      return "kLabelShards";
  }
  return "unknown";
}

int64_t EffectiveMaxExamples(const PopulationSpec& spec) {
  return spec.max_examples > 0 ? spec.max_examples
                               : int64_t{10} * spec.mean_examples;
}

// Clients 0, 1, 2, ... and seeds 1, 2, ... get unrelated streams.
uint64_t SplitMix64(uint64_t x) { return base::SplitMix64::Hash(x); }

// The count and the content come from separate streams so that
// NumExamplesOf() need not replay any content draws, and so that a client's
// count never depends on the scheme.
enum class Stream : uint64_t { kCount = 1, kContent = 2 };

base::Random ClientRandom(uint64_t seed, int64_t id, Stream stream) {
  // Distinct ids give distinct keys for a fixed seed, since SplitMix64 and
  // xor with a constant are both bijections.
  const uint64_t key = SplitMix64(seed ^ SplitMix64(static_cast<uint64_t>(id)));
  return base::Random(
      SplitMix64(key ^ SplitMix64(static_cast<uint64_t>(stream))));
}

void Shuffle(std::vector<int64_t>& values, base::Random& random) {
  for (size_t i = values.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(random.Uniform(i));
    std::swap(values[i - 1], values[j]);
  }
}

// Appends `k` positions in [0, n), mapped through `index_of`: all distinct
// when k <= n, and otherwise whole passes over [0, n) plus distinct extras, so
// no position repeats more often than it must.
template <typename IndexOf>
void AppendSpread(int64_t n, int64_t k, base::Random& random, IndexOf index_of,
                  std::vector<int64_t>& out) {
  for (; k >= n; k -= n) {
    for (int64_t i = 0; i < n; ++i) out.push_back(index_of(i));
  }
  if (k == 0) return;
  if (2 * k <= n) {
    // Each draw is new with probability >= 1/2, and this costs O(k) memory
    // however large the pool.
    std::unordered_set<int64_t> taken;
    taken.reserve(static_cast<size_t>(k));
    while (static_cast<int64_t>(taken.size()) < k) {
      const int64_t i = static_cast<int64_t>(random.Uniform(n));
      if (taken.insert(i).second) out.push_back(index_of(i));
    }
    return;
  }
  // Partial Fisher-Yates; O(n) is fine because n < 2k here.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = i + static_cast<int64_t>(random.Uniform(n - i));
    std::swap(order[i], order[j]);
    out.push_back(index_of(order[i]));
  }
}

// Per-label counts of `count` examples whose labels are drawn independently
// from the client's own Dirichlet(alpha) proportions.
std::vector<int64_t> DirichletLabelCounts(int num_classes, double alpha,
                                          int64_t count, base::Random& random) {
  std::vector<double> cumulative =
      DirichletProportions(num_classes, alpha, random);
  std::partial_sum(cumulative.begin(), cumulative.end(), cumulative.begin());
  std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
  for (int64_t i = 0; i < count; ++i) {
    // Scaling by the total (not 1) means rounding in the partial sums can
    // never select a label whose share is 0.
    const double u = random.UniformDouble() * cumulative.back();
    const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
    const size_t label = std::min(static_cast<size_t>(it - cumulative.begin()),
                                  cumulative.size() - 1);
    ++counts[label];
  }
  return counts;
}

// Per-label counts for `labels_per_client` distinct uniform labels sharing
// `count` equally; which labels get the remainder is random too.
std::vector<int64_t> ShardLabelCounts(int num_classes, int labels_per_client,
                                      int64_t count, base::Random& random) {
  std::vector<int> labels(static_cast<size_t>(num_classes));
  std::iota(labels.begin(), labels.end(), 0);
  std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
  for (int i = 0; i < labels_per_client; ++i) {
    const int j = i + static_cast<int>(random.Uniform(num_classes - i));
    std::swap(labels[i], labels[j]);
    counts[labels[i]] =
        count / labels_per_client + (i < count % labels_per_client ? 1 : 0);
  }
  return counts;
}

absl::Status ValidateData(const ImageDataset& data) {
  if (data.num_examples < 1) return FieldError("data", "has no examples");
  const uint64_t n = static_cast<uint64_t>(data.num_examples);
  if (data.labels.size() != n) {
    return FieldError("data.labels",
                      absl::StrCat("has ", data.labels.size(), " entries for ",
                                   n, " examples"));
  }
  if (data.height < 0 || data.width < 0 ||
      data.images.size() < n * data.height * data.width) {
    return FieldError(
        "data.images",
        absl::StrCat("has ", data.images.size(), " bytes for ", n,
                     " examples of ", data.height, "x", data.width));
  }
  for (uint64_t i = 0; i < n; ++i) {
    if (data.labels[i] >= data.num_classes) {
      return FieldError("data.labels",
                        absl::StrCat("label ", data.labels[i], " at index ", i,
                                     " is not in [0, ", data.num_classes, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Pools> LabelPools(const ImageDataset& data,
                                 PartitionScheme scheme) {
  Pools pools(static_cast<size_t>(data.num_classes));
  for (int64_t i = 0; i < data.num_examples; ++i) {
    pools[data.labels[i]].push_back(i);
  }
  for (int label = 0; label < data.num_classes; ++label) {
    if (pools[label].empty()) {
      return FieldError(
          "data.labels",
          absl::StrCat("label ", label, " has no examples, but the ",
                       SchemeName(scheme), " scheme can assign any label"));
    }
  }
  return pools;
}

absl::Status ValidateScheme(const PopulationSpec& spec, int num_classes) {
  switch (spec.scheme) {
    case PartitionScheme::kIid:
      return absl::OkStatus();
    case PartitionScheme::kDirichlet:
      if (!(spec.alpha > 0.0) || !std::isfinite(spec.alpha)) {
        return FieldError(
            "population.alpha",
            absl::StrCat("must be finite and > 0, got ", spec.alpha));
      }
      return absl::OkStatus();
    case PartitionScheme::kLabelShards:
      if (spec.labels_per_client < 1 || spec.labels_per_client > num_classes) {
        return FieldError(
            "population.labels_per_client",
            absl::StrCat("must be in [1, num_classes = ", num_classes,
                         "], got ", spec.labels_per_client));
      }
      return absl::OkStatus();
  }
  return FieldError(
      "population.scheme",
      absl::StrCat("unknown value ", static_cast<int>(spec.scheme)));
}

absl::Status ValidateLayout(const PopulationSpec& spec) {
  switch (spec.layout) {
    case PopulationLayout::kSampled:
      return absl::OkStatus();
    case PopulationLayout::kShards:
      if (spec.scheme == PartitionScheme::kLabelShards) {
        return FieldError("population.partition",
                          "LABEL_SHARDS has no disjoint split: use IID or "
                          "DIRICHLET with layout SHARDS, or layout SAMPLED");
      }
      if (spec.num_clients > std::numeric_limits<int>::max()) {
        return FieldError("population.num_clients",
                          absl::StrCat("must fit an int in layout SHARDS, got ",
                                       spec.num_clients));
      }
      return absl::OkStatus();
  }
  return FieldError(
      "population.layout",
      absl::StrCat("unknown value ", static_cast<int>(spec.layout)));
}

absl::Status ValidateMinExamples(const PopulationSpec& spec) {
  if (spec.min_examples < 1) {
    return FieldError("population.min_examples",
                      absl::StrCat("must be >= 1, got ", spec.min_examples));
  }
  return absl::OkStatus();
}

// The count fields of the kSampled layout.
absl::Status ValidateSampledCounts(const PopulationSpec& spec) {
  if (spec.mean_examples < 1) {
    return FieldError("population.mean_examples",
                      absl::StrCat("must be >= 1, got ", spec.mean_examples));
  }
  if (!(spec.quantity_sigma >= 0.0) || !std::isfinite(spec.quantity_sigma)) {
    return FieldError(
        "population.quantity_sigma",
        absl::StrCat("must be finite and >= 0, got ", spec.quantity_sigma));
  }
  COHORT_RETURN_IF_ERROR(ValidateMinExamples(spec));
  if (spec.max_examples < 0) {
    return FieldError(
        "population.max_examples",
        absl::StrCat("must be >= 0 (0 = 10 * mean_examples), got ",
                     spec.max_examples));
  }
  const int64_t max_examples = EffectiveMaxExamples(spec);
  if (spec.min_examples > max_examples) {
    return FieldError("population.min_examples",
                      absl::StrCat("must be <= max_examples (", max_examples,
                                   "), got ", spec.min_examples));
  }
  if (spec.mean_examples < spec.min_examples ||
      spec.mean_examples > max_examples) {
    return FieldError(
        "population.mean_examples",
        absl::StrCat("must lie in [min_examples, max_examples] = [",
                     spec.min_examples, ", ", max_examples, "], got ",
                     spec.mean_examples));
  }
  return absl::OkStatus();
}

// The kShards layout's split of `data`: the agents' PartitionExamples().
absl::StatusOr<Pools> SplitIntoShards(const PopulationSpec& spec,
                                      const ImageDataset& data) {
  const int64_t most = data.num_examples / spec.min_examples;
  if (spec.num_clients > most) {
    return FieldError(
        "population.num_clients",
        absl::StrCat("is ", spec.num_clients, ", but layout SHARDS gives each "
                     "client population.min_examples = ", spec.min_examples,
                     " of the ", data.num_examples, " examples, so at most ",
                     most, " clients fit; lower one of the two"));
  }
  return PartitionExamples(ShardPartitionOf(spec), data.labels,
                           data.num_classes);
}

}  // namespace

PartitionSpec ShardPartitionOf(const PopulationSpec& spec) {
  PartitionSpec split;
  split.scheme = spec.scheme;
  split.num_shards = static_cast<int>(spec.num_clients);
  split.alpha = spec.alpha;
  split.seed = spec.seed;
  split.min_examples = spec.min_examples;
  split.fields = PopulationFieldNames();
  return split;
}

absl::Status ValidatePopulationSpec(const PopulationSpec& spec,
                                    int num_classes) {
  if (num_classes < 1) {
    return FieldError("data.num_classes",
                      absl::StrCat("must be >= 1, got ", num_classes));
  }
  if (spec.num_clients < 1) {
    return FieldError("population.num_clients",
                      absl::StrCat("must be >= 1, got ", spec.num_clients));
  }
  COHORT_RETURN_IF_ERROR(ValidateScheme(spec, num_classes));
  COHORT_RETURN_IF_ERROR(ValidateLayout(spec));
  if (spec.layout == PopulationLayout::kShards) {
    return ValidateMinExamples(spec);
  }
  return ValidateSampledCounts(spec);
}

absl::StatusOr<std::unique_ptr<ClientPopulation>> ClientPopulation::Create(
    const PopulationSpec& spec, const ImageDataset* data) {
  if (data == nullptr) return FieldError("data", "must not be null");
  COHORT_RETURN_IF_ERROR(ValidatePopulationSpec(spec, data->num_classes));
  COHORT_RETURN_IF_ERROR(ValidateData(*data));
  Pools pools, shards;
  if (spec.layout == PopulationLayout::kShards) {
    COHORT_ASSIGN_OR_RETURN(shards, SplitIntoShards(spec, *data));
  } else if (spec.scheme != PartitionScheme::kIid) {
    COHORT_ASSIGN_OR_RETURN(pools, LabelPools(*data, spec.scheme));
  }
  return std::unique_ptr<ClientPopulation>(
      new ClientPopulation(spec, data, std::move(pools), std::move(shards)));
}

ClientPopulation::ClientPopulation(const PopulationSpec& spec,
                                   const ImageDataset* data, Pools pools,
                                   Pools shards)
    : spec_(spec),
      data_(data),
      max_examples_(EffectiveMaxExamples(spec)),
      pools_(std::move(pools)),
      shards_(std::move(shards)) {}

int64_t ClientPopulation::NumExamplesOf(int64_t id) const {
  CHECK(id >= 0 && id < spec_.num_clients)
      << "client id " << id << " out of range [0, " << spec_.num_clients << ")";
  if (spec_.layout == PopulationLayout::kShards) {
    return static_cast<int64_t>(shards_[static_cast<size_t>(id)].size());
  }
  if (spec_.quantity_sigma == 0.0) return spec_.mean_examples;
  base::Random random = ClientRandom(spec_.seed, id, Stream::kCount);
  const double sigma = spec_.quantity_sigma;
  const double z = std::normal_distribution<double>(0.0, 1.0)(random.engine());
  double scaled =
      spec_.mean_examples * std::exp(sigma * z - 0.5 * sigma * sigma);
  // Clamp before rounding: a large sigma can overflow to inf (or NaN, which
  // the first test sends to the minimum), and llround of those is undefined.
  const double lo = static_cast<double>(spec_.min_examples);
  const double hi = static_cast<double>(max_examples_);
  if (!(scaled >= lo)) scaled = lo;
  if (scaled > hi) scaled = hi;
  return std::clamp<int64_t>(std::llround(scaled), spec_.min_examples,
                             max_examples_);
}

std::vector<int64_t> ClientPopulation::ExamplesOf(int64_t id) const {
  const int64_t count = NumExamplesOf(id);
  if (spec_.layout == PopulationLayout::kShards) {
    return shards_[static_cast<size_t>(id)];
  }
  base::Random random = ClientRandom(spec_.seed, id, Stream::kContent);
  std::vector<int64_t> examples;
  examples.reserve(static_cast<size_t>(count));
  if (spec_.scheme == PartitionScheme::kIid) {
    AppendSpread(
        data_->num_examples, count, random, [](int64_t i) { return i; },
        examples);
  } else {
    const std::vector<int64_t> counts =
        spec_.scheme == PartitionScheme::kDirichlet
            ? DirichletLabelCounts(data_->num_classes, spec_.alpha, count,
                                   random)
            : ShardLabelCounts(data_->num_classes, spec_.labels_per_client,
                               count, random);
    for (size_t label = 0; label < counts.size(); ++label) {
      const std::vector<int64_t>& pool = pools_[label];
      AppendSpread(
          static_cast<int64_t>(pool.size()), counts[label], random,
          [&pool](int64_t i) { return pool[i]; }, examples);
    }
  }
  // The draws above come grouped by label (and in whole passes when a pool is
  // small); training should not see that order.
  Shuffle(examples, random);
  return examples;
}

ImageDataset ClientPopulation::DataOf(int64_t id) const {
  return Subset(*data_, ExamplesOf(id));
}

}  // namespace cohort::data
