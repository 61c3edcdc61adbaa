#include "tools/cohortctl/model_export.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "cohort/v1/model.pb.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/data/idx_reader.h"
#include "common/ml/int8_model.h"
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

absl::Status CheckFormat(const ExportOptions& o) {
  if (o.format != "torchscript" && o.format != "onnx") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--format=", o.format, " is not supported; use torchscript or onnx"));
  }
  if (o.precision != "fp32" && o.precision != "int8") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--precision=", o.precision, " is not supported; use fp32 or int8"));
  }
  if (o.precision == "int8" && o.format != "onnx") {
    return absl::InvalidArgumentError(
        "--precision=int8 is written as ONNX only (--format=onnx)");
  }
  return absl::OkStatus();
}

// The int8 form: calibrated as Int8Model does, then written as ONNX QDQ.
absl::Status ExportOnnxInt8(const ml::Model& model, const ExportOptions& o) {
  const ml::Int8Options int8_options;
  auto calibration = data::LoadFashionMnist(o.data_dir, /*test_split=*/false,
                                            int8_options.calibration_examples);
  if (!calibration.ok()) {
    return absl::Status(calibration.status().code(),
                        absl::StrCat("calibration images: ",
                                     calibration.status().message()));
  }
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<ml::Int8Model> int8,
                          ml::Int8Model::Create(model, *calibration, int8_options));
  return int8->ExportOnnx(o.out);
}

}  // namespace

absl::Status RunModelExport(const ExportOptions& o) {
  COHORT_RETURN_IF_ERROR(CheckFormat(o));
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
  if (o.format == "torchscript") return model->ExportTorchScript(o.out);
  if (o.precision == "int8") return ExportOnnxInt8(*model, o);
  return model->ExportOnnx(o.out);
}

}  // namespace cohort::tools
