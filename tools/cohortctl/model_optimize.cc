#include "tools/cohortctl/model_optimize.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/ml/int8_model.h"
#include "common/ml/model.h"
#include "common/model/quantize.h"
#include "common/model/weights_util.h"

namespace cohort::tools {
namespace {

using base::InferenceFn;
using base::LatencyOptions;
using base::LatencyReport;
using base::MeasureLatencies;
using ml::Int8Model;
using ml::Model;

class Progress {
 public:
  void Step(const std::string& what) {
    const double s = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start_)
                         .count();
    std::fprintf(stderr, "[%6.1fs] %s\n", s, what.c_str());
  }

 private:
  std::chrono::steady_clock::time_point start_ =
      std::chrono::steady_clock::now();
};

ml::TrainOptions Sgd(int epochs, float lr, uint64_t seed, bool qat = false) {
  return {.epochs = epochs,
          .batch_size = 32,
          .learning_rate = lr,
          .momentum = 0.9f,
          .seed = seed,
          .qat = qat};
}

// Everything trained, before measurement.
struct Variants {
  std::unique_ptr<Model> fp32, qat, pruned, student;
  double student_alone_accuracy = 0.0;
};

absl::StatusOr<std::unique_ptr<Model>> LoadOrCreate(const OptimizeOptions& o) {
  if (!o.torchscript.empty()) return Model::ImportTorchScript(o.torchscript);
  return Model::Create(o.arch, o.seed);
}

// The fp32 model pruned and fine-tuned; null for a model structured pruning
// does not handle (a mobile backbone), which then has no pruned rows.
absl::StatusOr<std::unique_ptr<Model>> PrunedVariant(
    const OptimizeOptions& o, const Model& fp32,
    const data::ImageDataset& train, Progress& progress) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Model> pruned, fp32.Clone());
  const absl::Status s = pruned->PruneStructured(o.prune_fraction);
  if (absl::IsFailedPrecondition(s)) {
    progress.Step(absl::StrCat("no pruned variant: ", s.message()));
    return nullptr;
  }
  COHORT_RETURN_IF_ERROR(s);
  COHORT_RETURN_IF_ERROR(
      pruned->Train(train, Sgd(o.prune_finetune_epochs, 0.01f, o.seed + 2))
          .status());
  return pruned;
}

absl::StatusOr<Variants> TrainVariants(const OptimizeOptions& o,
                                       const data::ImageDataset& train,
                                       const data::ImageDataset& test,
                                       Progress& progress) {
  Variants v;
  COHORT_ASSIGN_OR_RETURN(v.fp32, LoadOrCreate(o));
  progress.Step(absl::StrCat("training fp32 ", v.fp32->architecture(), " (",
                             o.epochs, " epochs on ", train.num_examples,
                             " examples)"));
  // Step decay: all but the last epoch at 0.03, the last at 0.003, so the
  // baseline ends converged rather than at a noisy high-rate point.
  COHORT_RETURN_IF_ERROR(
      v.fp32->Train(train, Sgd(std::max(1, o.epochs - 1), 0.03f, o.seed))
          .status());
  if (o.epochs > 1) {
    COHORT_RETURN_IF_ERROR(
        v.fp32->Train(train, Sgd(1, 0.003f, o.seed + 10)).status());
  }

  progress.Step("QAT fine-tuning");
  COHORT_ASSIGN_OR_RETURN(v.qat, v.fp32->Clone());
  COHORT_RETURN_IF_ERROR(
      v.qat->Train(train, Sgd(o.qat_epochs, 0.005f, o.seed + 1, true))
          .status());

  progress.Step(absl::StrCat("structured pruning at ", o.prune_fraction,
                             " and fine-tuning"));
  COHORT_ASSIGN_OR_RETURN(v.pruned,
                          PrunedVariant(o, *v.fp32, train, progress));

  progress.Step(absl::StrCat("distilling ", o.student_arch));
  COHORT_ASSIGN_OR_RETURN(v.student, Model::Create(o.student_arch, o.seed));
  ml::DistillOptions distill;
  // The T^2-scaled soft loss takes a lower rate than plain training; the
  // schedule has the same shape (a last epoch at a tenth).
  distill.train = Sgd(std::max(1, o.distill_epochs - 1), 0.01f, o.seed + 3);
  COHORT_RETURN_IF_ERROR(v.student->Distill(*v.fp32, train, distill).status());
  if (o.distill_epochs > 1) {
    distill.train = Sgd(1, 0.001f, o.seed + 13);
    COHORT_RETURN_IF_ERROR(
        v.student->Distill(*v.fp32, train, distill).status());
  }

  progress.Step(absl::StrCat("training ", o.student_arch, " alone"));
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Model> alone,
                          Model::Create(o.student_arch, o.seed));
  // The same schedule as the fp32 teacher, so the comparison is fair.
  COHORT_RETURN_IF_ERROR(
      alone->Train(train, Sgd(std::max(1, o.distill_epochs - 1), 0.03f,
                              o.seed + 3))
          .status());
  if (o.distill_epochs > 1) {
    COHORT_RETURN_IF_ERROR(
        alone->Train(train, Sgd(1, 0.003f, o.seed + 13)).status());
  }
  COHORT_ASSIGN_OR_RETURN(ml::EvalResult alone_eval, alone->Evaluate(test));
  v.student_alone_accuracy = alone_eval.accuracy;
  return v;
}

int64_t Fp32Size(const Model& model) {
  return model::SerializedSizeBytes(model.GetWeights());
}

absl::StatusOr<int64_t> Int8Size(const Model& model) {
  COHORT_ASSIGN_OR_RETURN(cohort::v1::Weights q,
                          model::QuantizeWeights(model.GetWeights()));
  return model::SerializedSizeBytes(q);
}

absl::Status WriteArtifact(const std::string& dir, const std::string& variant,
                           const cohort::v1::Weights& weights) {
  return base::WriteFileAtomically(
      absl::StrCat(dir, "/", variant, ".weights.pb"),
      model::SerializeWeights(weights));
}

// A variant ready for measurement: its report so far and how to run it.
struct Row {
  VariantReport report;
  InferenceFn run;
  std::unique_ptr<Int8Model> int8;  // set for int8 variants
};

template <typename Net>
InferenceFn RunOn(Net& net, const data::ImageDataset& test) {
  return [&net, &test](int64_t start, int64_t count) {
    return net.Logits(test, start, count).status();
  };
}

absl::StatusOr<Row> Fp32Row(const std::string& name, Model& model,
                            const data::ImageDataset& test,
                            const OptimizeOptions& o) {
  Row row;
  row.report.variant = name;
  row.report.engine = "fp32";
  row.report.size_bytes = Fp32Size(model);
  row.report.num_parameters = model.NumParameters();
  COHORT_ASSIGN_OR_RETURN(ml::EvalResult eval, model.Evaluate(test));
  row.report.test_accuracy = eval.accuracy;
  row.run = RunOn(model, test);
  COHORT_RETURN_IF_ERROR(WriteArtifact(o.out_dir, name, model.GetWeights()));
  return row;
}

absl::StatusOr<Row> Int8Row(const std::string& name, Model& model,
                            ml::QEngine engine,
                            const data::ImageDataset& calibration,
                            const data::ImageDataset& test,
                            const OptimizeOptions& o) {
  Row row;
  COHORT_ASSIGN_OR_RETURN(
      row.int8,
      Int8Model::Create(model, calibration,
                        {.engine = engine,
                         .calibration_examples = o.calibration_examples}));
  row.report.variant = name;
  row.report.engine = ml::QEngineName(row.int8->engine());
  COHORT_ASSIGN_OR_RETURN(cohort::v1::Weights q,
                          model::QuantizeWeights(model.GetWeights()));
  row.report.size_bytes = model::SerializedSizeBytes(q);
  row.report.num_parameters = model.NumParameters();
  COHORT_ASSIGN_OR_RETURN(ml::EvalResult eval, row.int8->Evaluate(test));
  row.report.test_accuracy = eval.accuracy;
  row.run = RunOn(*row.int8, test);
  COHORT_RETURN_IF_ERROR(WriteArtifact(o.out_dir, name, q));
  return row;
}

absl::StatusOr<ml::QEngine> PickEngine(Model& model,
                                       const data::ImageDataset& calibration) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Int8Model> probe,
                          Int8Model::Create(model, calibration));
  for (const ml::EngineTiming& t : probe->engine_timings()) {
    std::fprintf(stderr, "  library pick, %s: bare batch-1 forward %.3f ms\n",
                 ml::QEngineName(t.engine).c_str(), t.median_ms);
  }
  return probe->engine();
}

// PTQ on every engine, measured end to end like the report rows; the
// engine faster at batch 1 (a device's usual case) serves the int8 rows.
struct EngineChoice {
  std::vector<Row> rows;  // one ptq_int8 row per engine
  ml::QEngine engine;
};

absl::StatusOr<EngineChoice> ChooseEngine(const OptimizeOptions& o,
                                          Model& fp32,
                                          const data::ImageDataset& calibration,
                                          const data::ImageDataset& test,
                                          const LatencyOptions& latency,
                                          ml::QEngine library_pick) {
  EngineChoice choice{{}, library_pick};
  std::vector<InferenceFn> fns;
  for (ml::QEngine e : ml::AvailableQEngines()) {
    COHORT_ASSIGN_OR_RETURN(Row row,
                            Int8Row("ptq_int8", fp32, e, calibration, test, o));
    fns.push_back(row.run);
    choice.rows.push_back(std::move(row));
  }
  COHORT_ASSIGN_OR_RETURN(std::vector<LatencyReport> by_engine,
                          MeasureLatencies(fns, latency));
  double best_ms = 0.0;
  for (size_t i = 0; i < choice.rows.size(); ++i) {
    std::fprintf(stderr, "  end to end: %s p50 batch-1 %.3f ms\n",
                 choice.rows[i].report.engine.c_str(), by_engine[i].p50_b1_ms);
    if (i == 0 || by_engine[i].p50_b1_ms < best_ms) {
      best_ms = by_engine[i].p50_b1_ms;
      choice.engine = choice.rows[i].int8->engine();
    }
  }
  return choice;
}

}  // namespace

absl::StatusOr<std::vector<VariantReport>> RunModelOptimize(
    const OptimizeOptions& o) {
  Progress progress;
  COHORT_RETURN_IF_ERROR(base::MakeDirs(o.out_dir));
  progress.Step("loading Fashion-MNIST from " + o.data_dir);
  COHORT_ASSIGN_OR_RETURN(
      data::ImageDataset train,
      data::LoadFashionMnist(o.data_dir, false, o.train_examples));
  COHORT_ASSIGN_OR_RETURN(
      data::ImageDataset test,
      data::LoadFashionMnist(o.data_dir, true, o.test_examples));
  ml::SetNumThreads(o.train_threads);
  COHORT_ASSIGN_OR_RETURN(Variants v, TrainVariants(o, train, test, progress));

  // Keep only the calibration slice, so the training set does not weigh on
  // the peak-memory figures.
  std::vector<int64_t> front(static_cast<size_t>(
      std::min(o.calibration_examples, train.num_examples)));
  std::iota(front.begin(), front.end(), int64_t{0});
  const data::ImageDataset calibration = data::Subset(train, front);
  train = data::ImageDataset();

  ml::SetNumThreads(o.bench_threads);
  progress.Step("choosing the quantized engine");
  COHORT_ASSIGN_OR_RETURN(ml::QEngine library_pick,
                          PickEngine(*v.fp32, calibration));
  LatencyOptions latency = o.latency;
  latency.num_examples = std::min(latency.num_examples, test.num_examples);
  COHORT_ASSIGN_OR_RETURN(
      EngineChoice choice,
      ChooseEngine(o, *v.fp32, calibration, test, latency, library_pick));
  std::vector<Row> engine_rows = std::move(choice.rows);
  const ml::QEngine engine = choice.engine;

  progress.Step(absl::StrCat("building variants on ", ml::QEngineName(engine),
                             " and measuring accuracy"));
  std::vector<Row> rows;
  auto add = [&rows](absl::StatusOr<Row> row) -> absl::Status {
    if (!row.ok()) return row.status();
    rows.push_back(*std::move(row));
    return absl::OkStatus();
  };
  COHORT_RETURN_IF_ERROR(add(Fp32Row("fp32", *v.fp32, test, o)));
  COHORT_RETURN_IF_ERROR(
      add(Int8Row("ptq_int8", *v.fp32, engine, calibration, test, o)));
  COHORT_RETURN_IF_ERROR(
      add(Int8Row("qat_int8", *v.qat, engine, calibration, test, o)));
  if (v.pruned != nullptr) {
    COHORT_RETURN_IF_ERROR(add(Fp32Row("pruned", *v.pruned, test, o)));
    COHORT_RETURN_IF_ERROR(
        add(Int8Row("pruned_int8", *v.pruned, engine, calibration, test, o)));
  }
  COHORT_RETURN_IF_ERROR(add(Fp32Row("distilled", *v.student, test, o)));
  rows.back().report.student_alone_accuracy = v.student_alone_accuracy;
  const size_t num_variants = rows.size();
  // Every engine again, in the same interleaved run as the fp32 baseline.
  for (Row& row : engine_rows) rows.push_back(std::move(row));

  progress.Step("measuring latency (variants interleaved)");
  std::vector<InferenceFn> fns;
  for (const Row& row : rows) fns.push_back(row.run);
  COHORT_ASSIGN_OR_RETURN(std::vector<LatencyReport> measured,
                          MeasureLatencies(fns, latency));
  std::vector<VariantReport> reports;
  for (size_t i = 0; i < num_variants; ++i) {
    rows[i].report.latency = measured[i];
    reports.push_back(rows[i].report);
  }
  for (size_t i = num_variants; i < rows.size(); ++i) {
    reports[1].per_engine.push_back({rows[i].report.engine, measured[i]});
  }
  progress.Step("done");
  return reports;
}

}  // namespace cohort::tools
