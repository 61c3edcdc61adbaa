#include "sim/personalization.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "client/train/personalization.h"
#include "common/base/status_macros.h"

namespace cohort::sim {

LocalSplit SplitLocalTest(std::vector<int64_t> examples, double fraction) {
  const size_t n = examples.size();
  size_t test = 0;
  if (fraction > 0 && n >= 2) {
    test = static_cast<size_t>(std::llround(static_cast<double>(n) * fraction));
    test = std::clamp<size_t>(test, 1, n - 1);
  }
  LocalSplit split;
  split.test.assign(examples.end() - static_cast<std::ptrdiff_t>(test),
                    examples.end());
  examples.resize(n - test);
  split.train = std::move(examples);
  return split;
}

absl::StatusOr<std::unique_ptr<Personalization>> Personalization::Create(
    const data::ClientPopulation* population,
    const data::ImageDataset& holdout, double local_test_fraction,
    model::PersonalLayers personal) {
  std::unique_ptr<Personalization> p(new Personalization(
      population, local_test_fraction, std::move(personal)));
  if (local_test_fraction <= 0 ||
      population->spec().layout != data::PopulationLayout::kSampled) {
    return p;
  }
  data::PopulationSpec spec = population->spec();
  spec.mean_examples = std::max<int>(
      1, static_cast<int>(std::llround(spec.mean_examples * local_test_fraction /
                                       (1 - local_test_fraction))));
  spec.quantity_sigma = 0;
  spec.min_examples = 1;
  spec.max_examples = 0;
  p->holdout_ = holdout;
  auto tests = data::ClientPopulation::Create(spec, &p->holdout_);
  if (!tests.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "local_test_fraction: local test examples cannot be drawn from the "
        "holdout: ", tests.status().message()));
  }
  p->local_tests_ = *std::move(tests);
  return p;
}

LocalSplit Personalization::SplitOf(int64_t id) const {
  return SplitLocalTest(population_->ExamplesOf(id), fraction_);
}

data::ImageDataset Personalization::TrainDataOf(int64_t id) const {
  if (!splits()) return population_->DataOf(id);
  return data::Subset(population_->data(), SplitOf(id).train);
}

int64_t Personalization::NumTrainExamplesOf(int64_t id) const {
  if (!splits()) return population_->NumExamplesOf(id);
  return static_cast<int64_t>(SplitOf(id).train.size());
}

data::ImageDataset Personalization::LocalTestOf(int64_t id) const {
  if (local_tests_ != nullptr) return local_tests_->DataOf(id);
  return data::Subset(population_->data(), SplitOf(id).test);
}

cohort::v1::Weights Personalization::KeptOf(int64_t id) const {
  absl::MutexLock lock(&mu_);
  auto it = kept_.find(id);
  return it == kept_.end() ? cohort::v1::Weights() : it->second;
}

void Personalization::Keep(int64_t id, cohort::v1::Weights personal) {
  absl::MutexLock lock(&mu_);
  kept_[id] = std::move(personal);
}

std::vector<int64_t> Personalization::Trained() const {
  absl::MutexLock lock(&mu_);
  std::vector<int64_t> ids;
  ids.reserve(kept_.size());
  for (const auto& [id, unused] : kept_) ids.push_back(id);
  return ids;
}

absl::StatusOr<LocalAccuracy> Personalization::Evaluate(
    const std::vector<int64_t>& clients, const std::string& architecture,
    const cohort::v1::Weights& global, client::LocalTrainer& trainer,
    std::vector<ClientAccuracy>* rows) const {
  std::vector<ClientAccuracy> mine;
  std::vector<ClientAccuracy>& out = rows != nullptr ? *rows : mine;
  const size_t first = out.size();
  for (int64_t id : clients) {
    const data::ImageDataset test = LocalTestOf(id);
    if (test.num_examples == 0) continue;
    COHORT_ASSIGN_OR_RETURN(client::LocalEvaluation g,
                            trainer.EvaluateOn(test, architecture, global));
    ClientAccuracy row{id, g.num_examples, g.accuracy};
    if (!personal_.empty()) {
      COHORT_ASSIGN_OR_RETURN(
          cohort::v1::Weights weights,
          client::PersonalizedModel(global, KeptOf(id), personal_));
      COHORT_ASSIGN_OR_RETURN(client::LocalEvaluation p,
                              trainer.EvaluateOn(test, architecture, weights));
      row.personalized = p.accuracy;
    }
    out.push_back(row);
  }
  return Summarize(std::span<const ClientAccuracy>(out).subspan(first));
}

LocalAccuracy Summarize(std::span<const ClientAccuracy> rows) {
  LocalAccuracy out;
  double global_correct = 0;
  double personal_correct = 0;
  for (const ClientAccuracy& r : rows) {
    const double n = static_cast<double>(r.examples);
    ++out.clients;
    out.examples += r.examples;
    global_correct += r.global * n;
    personal_correct += r.personalized * n;
  }
  if (out.examples > 0) {
    out.global = global_correct / static_cast<double>(out.examples);
    // NaN stays NaN: no personal layers.
    out.personalized = personal_correct / static_cast<double>(out.examples);
  }
  return out;
}

std::string PersonalizationCsv(const std::vector<ClientAccuracy>& rows) {
  std::string out =
      "client,local_test_examples,global_accuracy,personalized_accuracy\n";
  for (const ClientAccuracy& r : rows) {
    absl::StrAppend(&out, r.id, ",", r.examples, ",",
                    absl::SixDigits(r.global), ",",
                    std::isnan(r.personalized) ? std::string("nan")
                                               : absl::StrCat(absl::SixDigits(
                                                     r.personalized)),
                    "\n");
  }
  return out;
}

}  // namespace cohort::sim
