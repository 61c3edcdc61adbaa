#ifndef COHORT_TESTS_COMMON_ML_ONNX_RUNTIME_H_
#define COHORT_TESTS_COMMON_ML_ONNX_RUNTIME_H_

// Runs exported ONNX files in the real runtimes for tests: ONNX Runtime
// (npm onnxruntime-node, run with Debian's node) and python3-onnx's
// checker. Needs COHORT_SOURCE_DIR.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/data/dataset.h"
#include "common/ml/int8_model.h"
#include "common/ml/model.h"
#include "common/ml/testing/onnx_checker.h"
#include "gtest/gtest.h"
#include "tests/common/ml/logits.h"
#include "tests/common/ml/temp_path.h"

namespace cohort::ml::testing {

inline const std::string& OnnxTestDir() {
  static const std::string* dir =
      new std::string(COHORT_SOURCE_DIR "/tests/testdata/onnx");
  return *dir;
}

// Skips (returning false) when `what` is missing, unless
// COHORT_TEST_REQUIRE_ONNXRUNTIME=1 (./scripts/test when install-deps.sh
// could install ONNX Runtime), which makes it a failure.
inline bool Have(bool present, const std::string& what) {
  if (present) return true;
  const char* require = std::getenv("COHORT_TEST_REQUIRE_ONNXRUNTIME");
  EXPECT_FALSE(require != nullptr && std::string(require) == "1")
      << what << " is required (deploy/install-deps.sh installs it)";
  return false;
}

inline bool HaveOnnxRuntime() {
  const std::string cmd = absl::StrCat(
      "node -e \"require('", OnnxTestDir(),
      "/node_modules/onnxruntime-node')\" >/dev/null 2>&1");
  return Have(std::system(cmd.c_str()) == 0, "onnxruntime-node (npm)") &&
         Have(std::system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0,
              "python3-onnx");
}

// ONNX Runtime's logits for `count` images from `start`.
inline absl::StatusOr<std::vector<float>> OnnxRuntimeLogits(
    const std::string& model_path, const data::ImageDataset& data,
    int64_t start, int64_t count) {
  const std::string images = TempPath("ort_images.bin");
  const std::string out = TempPath("ort_logits.bin");
  std::ofstream(images, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.images.data()) + start * 784,
             static_cast<std::streamsize>(count * 784));
  const std::string cmd =
      absl::StrCat("node ", OnnxTestDir(), "/run_onnxruntime.js ", model_path, " ",
                   images, " ", count, " ", out);
  if (std::system(cmd.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("failed: ", cmd));
  }
  std::ifstream in(out, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.size() != static_cast<size_t>(count) * 10 * sizeof(float)) {
    return absl::InternalError(absl::StrCat(out, ": ", bytes.size(), " bytes"));
  }
  std::vector<float> logits(static_cast<size_t>(count) * 10);
  std::copy_n(bytes.data(), bytes.size(), reinterpret_cast<char*>(logits.data()));
  return logits;
}


inline void ExpectPythonCheckerAccepts(const std::string& path) {
  const std::string cmd = absl::StrCat(
      "/usr/bin/python3 ", OnnxTestDir(), "/check_model.py ", path);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// `model` and its int8 quantization (calibrated on `calibration`,
// exportable) as ONNX files "<prefix>_fp32.onnx" and "<prefix>_int8.onnx",
// which both checkers (C++ and python3-onnx) must accept, and the logits of
// Cohort and ONNX Runtime for all of `data` from each.
struct BothRuntimes {
  std::string fp32_path, int8_path;
  std::vector<float> ours_fp32, ours_int8, ort_fp32, ort_int8;
};

inline absl::StatusOr<BothRuntimes> ExportAndRunBoth(
    Model& model, const data::ImageDataset& calibration,
    const std::string& prefix, const data::ImageDataset& data) {
  Int8Options exportable;
  exportable.exportable = true;
  auto int8 = Int8Model::Create(model, calibration, exportable);
  if (!int8.ok()) return int8.status();
  BothRuntimes out{prefix + "_fp32.onnx", prefix + "_int8.onnx"};
  if (absl::Status s = model.ExportOnnx(out.fp32_path); !s.ok()) return s;
  if (absl::Status s = (*int8)->ExportOnnx(out.int8_path); !s.ok()) return s;
  for (const std::string& path : {out.fp32_path, out.int8_path}) {
    if (absl::Status s = CheckOnnxFile(path); !s.ok()) return s;
    ExpectPythonCheckerAccepts(path);
  }
  const int64_t n = data.num_examples;
  auto ours_fp32 = model.Logits(data, 0, n);
  auto ours_int8 = (*int8)->Logits(data, 0, n);
  auto ort_fp32 = OnnxRuntimeLogits(out.fp32_path, data, 0, n);
  auto ort_int8 = OnnxRuntimeLogits(out.int8_path, data, 0, n);
  for (const auto* run : {&ours_fp32, &ours_int8, &ort_fp32, &ort_int8}) {
    if (!run->ok()) return run->status();
  }
  out.ours_fp32 = *std::move(ours_fp32);
  out.ours_int8 = *std::move(ours_int8);
  out.ort_fp32 = *std::move(ort_fp32);
  out.ort_int8 = *std::move(ort_int8);
  return out;
}

}  // namespace cohort::ml::testing

#endif  // COHORT_TESTS_COMMON_ML_ONNX_RUNTIME_H_
