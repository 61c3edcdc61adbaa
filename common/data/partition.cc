#include "common/data/partition.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/base/field_error.h"
#include "common/base/random.h"
#include "common/base/status_macros.h"
#include "common/data/dirichlet.h"

namespace cohort::data {
namespace {

using Shards = std::vector<std::vector<int64_t>>;

using base::FieldError;

void Shuffle(std::vector<int64_t>& values, base::Random& random) {
  for (size_t i = values.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(random.Uniform(i));
    std::swap(values[i - 1], values[j]);
  }
}

// Each label's example indices, ascending.
absl::StatusOr<Shards> ByClass(const std::vector<uint8_t>& labels,
                               int num_classes) {
  Shards by_class(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      return FieldError("data.labels",
                        absl::StrCat("label ", labels[i], " at index ", i,
                                     " is not in [0, ", num_classes, ")"));
    }
    by_class[labels[i]].push_back(static_cast<int64_t>(i));
  }
  return by_class;
}

Shards DrawIid(int64_t num_examples, int num_shards, base::Random& random) {
  std::vector<int64_t> order(static_cast<size_t>(num_examples));
  std::iota(order.begin(), order.end(), int64_t{0});
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

// Appends consecutive pieces of `members` to the shards, sized by `share`.
void CutInto(const std::vector<int64_t>& members,
             const std::vector<double>& share, Shards& shards) {
  // Cutting at rounded cumulative boundaries (the last pinned to the end)
  // makes the pieces disjoint and complete whatever the rounding does.
  const double n = static_cast<double>(members.size());
  const size_t num_shards = shards.size();
  double cumulative = 0.0;
  size_t begin = 0;
  for (size_t s = 0; s < num_shards; ++s) {
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

Shards DrawDirichlet(const Shards& by_class, int num_shards, double alpha,
                     base::Random& random) {
  Shards shards(static_cast<size_t>(num_shards));
  for (const std::vector<int64_t>& ascending : by_class) {
    std::vector<int64_t> members = ascending;
    Shuffle(members, random);
    CutInto(members, DirichletProportions(num_shards, alpha, random), shards);
  }
  for (std::vector<int64_t>& shard : shards) {
    std::sort(shard.begin(), shard.end());
  }
  return shards;
}

int64_t CountShort(const Shards& shards, int min_examples) {
  return std::count_if(shards.begin(), shards.end(), [&](const auto& shard) {
    return static_cast<int64_t>(shard.size()) < min_examples;
  });
}

int SmallestShard(const Shards& shards) {
  const auto it = std::min_element(
      shards.begin(), shards.end(),
      [](const auto& a, const auto& b) { return a.size() < b.size(); });
  return static_cast<int>(it - shards.begin());
}

std::string Examples(size_t count) {
  if (count == 0) return "no examples";
  return absl::StrCat(count, count == 1 ? " example" : " examples");
}

// What to change when the data cannot give every shard the minimum however it
// is split: fewer shards or a lower minimum.
std::string FewerShardsFix(const PartitionSpec& spec, int64_t num_examples) {
  const PartitionFieldNames& f = spec.fields;
  const int64_t most = num_examples / spec.min_examples;
  const std::string lower =
      spec.min_examples > 1 ? absl::StrCat(" or lower ", f.min_examples) : "";
  if (most < 1) return absl::StrCat("use more data", lower);
  return absl::StrCat("use at most ", most, " shards (", f.num_shards, ")",
                      lower);
}

// Why no split met the minimum, and what to change.
std::string ShortfallCause(const PartitionSpec& spec, int64_t num_examples,
                           int draws, int64_t short_count) {
  const int64_t k = spec.num_shards;
  const int64_t min = spec.min_examples;
  if (spec.scheme == PartitionScheme::kIid) {
    const int64_t size = num_examples / k;
    return absl::StrCat(
        "an IID split of ", num_examples, " examples into ", k,
        " shards gives shards of ", size,
        num_examples % k == 0 ? "" : absl::StrCat(" or ", size + 1),
        " examples, and ", short_count, " fall below ", min, "; fix: ",
        FewerShardsFix(spec, num_examples));
  }
  if (num_examples < k * min) {
    return absl::StrCat(num_examples, " examples cannot give ", k,
                        " shards ", min, " each; fix: ",
                        FewerShardsFix(spec, num_examples));
  }
  const PartitionFieldNames& f = spec.fields;
  return absl::StrCat("no Dirichlet(alpha=", spec.alpha, ") split of ",
                      num_examples, " examples into ", k,
                      " shards gave every shard ", min, " examples in ", draws,
                      draws == 1 ? " draw" : " draws", " (the best left ",
                      short_count,
                      " short); fix: raise ", f.alpha, ", use fewer shards (",
                      f.num_shards, "), or lower ", f.min_examples);
}

// INVALID_ARGUMENT for the best draw, naming shard `focus` (or the smallest
// shard when focus < 0) and its count.
absl::Status ShortfallError(const PartitionSpec& spec, int64_t num_examples,
                            int draws, const Shards& best,
                            int64_t short_count, int focus) {
  const int smallest = SmallestShard(best);
  const int shard = focus >= 0 ? focus : smallest;
  std::string subject =
      absl::StrCat("shard ", shard, " of ", spec.num_shards, " would hold ",
                   Examples(best[shard].size()));
  if (best[smallest].size() < best[shard].size()) {
    absl::StrAppend(&subject, " (the smallest, shard ", smallest, ", ",
                    Examples(best[smallest].size()), ")");
  }
  const std::string cause =
      ShortfallCause(spec, num_examples, draws, short_count);
  return FieldError(spec.fields.min_examples,
                    absl::StrCat(subject, ": ", cause));
}

// The split of PartitionExamples(); `focus` is the shard errors name (< 0:
// the smallest).
absl::StatusOr<Shards> Split(const PartitionSpec& spec,
                             const std::vector<uint8_t>& labels,
                             int num_classes, int focus) {
  COHORT_RETURN_IF_ERROR(ValidatePartitionSpec(spec, num_classes));
  COHORT_ASSIGN_OR_RETURN(const Shards by_class, ByClass(labels, num_classes));
  const int64_t n = static_cast<int64_t>(labels.size());
  const bool dirichlet = spec.scheme == PartitionScheme::kDirichlet;
  // IID sizes do not depend on the draw, nor can any Dirichlet draw succeed
  // without min_examples per shard; one draw then only feeds the message.
  const bool hopeless = n < int64_t{spec.num_shards} * spec.min_examples;
  const int draws = dirichlet && !hopeless ? spec.max_draws : 1;
  base::Random random(spec.seed);
  Shards best;
  int64_t best_short = std::numeric_limits<int64_t>::max();
  for (int d = 0; d < draws; ++d) {
    Shards shards = dirichlet
                        ? DrawDirichlet(by_class, spec.num_shards, spec.alpha,
                                        random)
                        : DrawIid(n, spec.num_shards, random);
    const int64_t short_count = CountShort(shards, spec.min_examples);
    if (short_count == 0) return shards;
    if (short_count < best_short) {
      best = std::move(shards);
      best_short = short_count;
    }
  }
  return ShortfallError(spec, n, draws, best, best_short, focus);
}

}  // namespace

PartitionFieldNames PopulationFieldNames() {
  return {.scheme = "population.partition",
          .num_shards = "population.num_clients",
          .alpha = "population.alpha",
          .min_examples = "population.min_examples"};
}

absl::Status ValidatePartitionSpec(const PartitionSpec& spec,
                                   int num_classes) {
  const PartitionFieldNames& f = spec.fields;
  if (num_classes < 1) {
    return FieldError("data.num_classes",
                      absl::StrCat("must be >= 1, got ", num_classes));
  }
  if (spec.scheme != PartitionScheme::kIid &&
      spec.scheme != PartitionScheme::kDirichlet) {
    return FieldError(f.scheme, "must be IID or DIRICHLET: label shards have "
                                "no disjoint split of a data set");
  }
  if (spec.num_shards < 1) {
    return FieldError(f.num_shards,
                      absl::StrCat("must be >= 1, got ", spec.num_shards));
  }
  if (spec.scheme == PartitionScheme::kDirichlet &&
      (!(spec.alpha > 0.0) || !std::isfinite(spec.alpha))) {
    return FieldError(f.alpha,
                      absl::StrCat("must be finite and > 0, got ", spec.alpha));
  }
  if (spec.min_examples < 1) {
    return FieldError(f.min_examples,
                      absl::StrCat("must be >= 1, got ", spec.min_examples));
  }
  if (spec.max_draws < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_draws must be >= 1, got ", spec.max_draws));
  }
  return absl::OkStatus();
}

absl::StatusOr<Shards> PartitionExamples(const PartitionSpec& spec,
                                         const std::vector<uint8_t>& labels,
                                         int num_classes) {
  return Split(spec, labels, num_classes, /*focus=*/-1);
}

absl::StatusOr<std::vector<int64_t>> ShardOf(const PartitionSpec& spec,
                                             const std::vector<uint8_t>& labels,
                                             int num_classes, int index) {
  if (index < 0 || index >= spec.num_shards) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard index ", index, " is not in [0, ", spec.num_shards,
                     ")"));
  }
  COHORT_ASSIGN_OR_RETURN(Shards shards,
                          Split(spec, labels, num_classes, index));
  return std::move(shards[static_cast<size_t>(index)]);
}

}  // namespace cohort::data
