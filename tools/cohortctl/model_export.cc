#include "tools/cohortctl/model_export.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "cohort/v1/model.pb.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/data/idx_reader.h"
#include "common/ml/int8_model.h"
#include "common/ml/model.h"
#include "common/model/quantize.h"
#include "common/model/trust.h"
#include "tools/cohortctl/signed_release.h"

namespace cohort::tools {
namespace {

constexpr int64_t kMaxWeightsBytes = int64_t{1} << 30;

absl::StatusOr<cohort::v1::Weights> ParseWeights(const std::string& bytes,
                                                 const std::string& path) {
  cohort::v1::Weights weights;
  if (!weights.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a serialized Weights message"));
  }
  return model::DequantizeWeights(weights);
}

// The model to export: the release's architecture when a manifest was
// given, otherwise the imported module's or the zoo architecture named.
absl::StatusOr<std::unique_ptr<ml::Model>> ModelOf(
    const ExportOptions& o, const cohort::v1::ModelManifest* release) {
  if (release != nullptr) return ml::Model::Create(release->architecture(), 1);
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
  ml::Int8Options int8_options;
  int8_options.exportable = true;
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

// The fp32 ONNX file, written only if it matches the digest the release
// signed.
absl::StatusOr<std::string> ExportSignedOnnx(
    const ml::Model& model, const cohort::v1::ModelManifest& release,
    const std::string& out) {
  COHORT_ASSIGN_OR_RETURN(std::string bytes, model.OnnxBytes());
  absl::Status match = model::VerifyArtifact(release, "onnx", bytes);
  if (absl::IsNotFound(match)) {
    return absl::NotFoundError(absl::StrCat(
        "release ", release.release(),
        " lists no ONNX digest (signed before coordinators listed them)"));
  }
  if (!match.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the ONNX export differs from the one release ", release.release(),
        " signed: ", match.message()));
  }
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(out, bytes));
  return absl::StrCat("wrote ", out, ": matches the ONNX digest signed in release ",
                      release.release(), " (version ", release.version(), ")");
}

}  // namespace

absl::StatusOr<std::string> RunModelExport(const ExportOptions& o) {
  COHORT_RETURN_IF_ERROR(CheckFormat(o));
  if (o.weights_path.empty() || o.out.empty()) {
    return absl::InvalidArgumentError("--weights and --out are required");
  }
  if (o.manifest_path.empty() != o.root_path.empty()) {
    return absl::InvalidArgumentError(
        "--manifest and --root go together: the root verifies the manifest");
  }
  std::optional<cohort::v1::ModelManifest> release;
  if (!o.manifest_path.empty()) {
    COHORT_ASSIGN_OR_RETURN(release,
                            ReadVerifiedManifest(o.manifest_path, o.root_path));
  }
  COHORT_ASSIGN_OR_RETURN(std::string bytes,
                          base::ReadFile(o.weights_path, kMaxWeightsBytes));
  std::string weights_kind;
  if (release.has_value()) {
    COHORT_ASSIGN_OR_RETURN(weights_kind, ReleaseWeightsKind(*release, bytes));
  }
  COHORT_ASSIGN_OR_RETURN(cohort::v1::Weights weights,
                          ParseWeights(bytes, o.weights_path));
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<ml::Model> model,
                          ModelOf(o, release ? &*release : nullptr));
  if (absl::Status s = model->SetWeights(weights); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        o.weights_path, " does not fit ", model->architecture(), ": ",
        s.message()));
  }
  const bool signed_onnx =
      release.has_value() && o.format == "onnx" && o.precision == "fp32";
  if (signed_onnx && weights_kind != "fp32") {
    return absl::FailedPreconditionError(absl::StrCat(
        "the signed ONNX export is made from release ", release->release(),
        "'s fp32 weights; ", o.weights_path, " is its int8 artifact"));
  }
  if (signed_onnx) return ExportSignedOnnx(*model, *release, o.out);
  if (o.format == "torchscript") {
    COHORT_RETURN_IF_ERROR(model->ExportTorchScript(o.out));
  } else if (o.precision == "int8") {
    COHORT_RETURN_IF_ERROR(ExportOnnxInt8(*model, o));
  } else {
    COHORT_RETURN_IF_ERROR(model->ExportOnnx(o.out));
  }
  return absl::StrCat(
      "wrote ", o.out,
      release.has_value()
          ? absl::StrCat(" from the weights of release ", release->release(),
                         " (verified; only the fp32 ONNX export has a signed "
                         "digest of its own)")
          : "");
}

}  // namespace cohort::tools
