#include "tools/cohortctl/model_export.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "cohort/v1/model.pb.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/ml/model.h"
#include "common/model/quantize.h"

namespace cohort::tools {
namespace {

constexpr int64_t kMaxWeightsBytes = int64_t{1} << 30;

absl::StatusOr<cohort::v1::Weights> ReadWeights(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string bytes,
                          base::ReadFile(path, kMaxWeightsBytes));
  cohort::v1::Weights weights;
  if (!weights.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a serialized Weights message"));
  }
  return model::DequantizeWeights(weights);
}

absl::StatusOr<std::unique_ptr<ml::Model>> ModelOf(const ExportOptions& o) {
  if (!o.torchscript.empty()) return ml::Model::ImportTorchScript(o.torchscript);
  return ml::Model::Create(o.arch, /*seed=*/1);
}

}  // namespace

absl::Status RunModelExport(const ExportOptions& o) {
  if (o.format != "torchscript") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--format=", o.format, " is not supported; use --format=torchscript"));
  }
  if (o.weights_path.empty() || o.out.empty()) {
    return absl::InvalidArgumentError("--weights and --out are required");
  }
  COHORT_ASSIGN_OR_RETURN(cohort::v1::Weights weights,
                          ReadWeights(o.weights_path));
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<ml::Model> model, ModelOf(o));
  if (absl::Status s = model->SetWeights(weights); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        o.weights_path, " does not fit ", model->architecture(), ": ",
        s.message()));
  }
  return model->ExportTorchScript(o.out);
}

}  // namespace cohort::tools
