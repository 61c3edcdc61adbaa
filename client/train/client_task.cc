#include "client/train/client_task.h"

#include "absl/strings/str_cat.h"
#include "common/base/splitmix64.h"
#include "common/crypto/sha256.h"
#include "common/model/quantize.h"
#include "common/model/running_statistics.h"
#include "common/model/weights_util.h"

namespace cohort::client {

absl::StatusOr<cohort::v1::Weights> VerifyModelBytes(
    const cohort::v1::ModelRef& ref, const std::string& bytes) {
  if (static_cast<int64_t>(bytes.size()) != ref.size_bytes()) {
    return absl::DataLossError(absl::StrCat("model version ", ref.version(),
                                            " has ", bytes.size(),
                                            " bytes, expected ",
                                            ref.size_bytes()));
  }
  if (crypto::Sha256Hex(bytes) != ref.sha256()) {
    return absl::DataLossError(absl::StrCat(
        "model version ", ref.version(), " failed its SHA-256 check"));
  }
  cohort::v1::Weights weights;
  if (!weights.ParseFromString(bytes)) {
    return absl::DataLossError("model bytes do not parse as Weights");
  }
  if (!model::IsQuantized(weights)) return weights;
  // An int8 artifact: train from (and send the delta against) exactly its
  // dequantized values.
  auto dequantized = model::DequantizeWeights(weights);
  if (!dequantized.ok()) {
    return absl::DataLossError(absl::StrCat("model version ", ref.version(),
                                            " is a malformed int8 artifact: ",
                                            dequantized.status().message()));
  }
  return *std::move(dequantized);
}

cohort::v1::Report MakeReport(int64_t round_id, double clip_norm,
                              double statistics_clip_norm,
                              LocalUpdate update) {
  cohort::v1::Report report;
  report.set_round_id(round_id);
  // A coordinator before 0.9 sends no bound (0). A non-finite delta stays
  // non-finite (NaN norm: untouched; infinite: NaN after scaling), so the
  // coordinator drops it.
  report.set_clipped(
      model::PrepareUpdate(&update.delta, clip_norm, statistics_clip_norm));
  *report.mutable_delta() = std::move(update.delta);
  report.set_num_examples(update.num_examples);
  report.set_train_loss(update.train_loss);
  if (update.field_evaluation.has_value()) {
    *report.mutable_field_evaluation() = *std::move(update.field_evaluation);
  }
  return report;
}

cohort::v1::FieldEvaluation MakeFieldEvaluation(int64_t release,
                                                int64_t version,
                                                const LocalEvaluation& e) {
  cohort::v1::FieldEvaluation f;
  f.set_release(release);
  f.set_version(version);
  f.set_num_examples(e.num_examples);
  f.set_loss(e.loss);
  f.set_accuracy(e.accuracy);
  if (e.summary.has_value()) *f.mutable_summary() = *e.summary;
  return f;
}

uint64_t TrainingSeed(uint64_t device_key, int64_t round_id) {
  // SplitMix64's finaliser over the pair, so nearby keys and rounds
  // decorrelate. The offset keeps the seeds of every earlier run: Hash adds
  // the golden-ratio increment itself.
  return base::SplitMix64::Hash(device_key * 0x9e3779b97f4a7c15ULL +
                                static_cast<uint64_t>(round_id) +
                                0xc4f46be25a6a6404ULL);
}

}  // namespace cohort::client
