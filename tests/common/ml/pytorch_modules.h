#ifndef COHORT_TESTS_COMMON_ML_PYTORCH_MODULES_H_
#define COHORT_TESTS_COMMON_ML_PYTORCH_MODULES_H_

// Modules written by PyTorch itself (tests/testdata/torchscript/
// make_modules.py), for tests that need what only real PyTorch exports.

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/data/dataset.h"
#include "gtest/gtest.h"
#include "tests/common/ml/temp_path.h"

namespace cohort::ml::testing {

// The folder holding every module of make_modules.py, written once per
// test process; nullopt (after a failure when COHORT_TEST_REQUIRE_PYTORCH=1,
// as ./scripts/test sets) when python3-torch is missing. Callers skip then.
inline std::optional<std::string> PyTorchModulesDir() {
  static const std::optional<std::string> dir =
      []() -> std::optional<std::string> {
    if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") !=
        0) {
      const char* require = std::getenv("COHORT_TEST_REQUIRE_PYTORCH");
      EXPECT_FALSE(require != nullptr && std::string(require) == "1")
          << "python3-torch is required (deploy/install-deps.sh installs it)";
      return std::nullopt;
    }
    const std::string out = TempPath("pytorch_modules");
    const std::string cmd =
        absl::StrCat("/usr/bin/python3 ", COHORT_SOURCE_DIR,
                     "/tests/testdata/torchscript/make_modules.py ", out);
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "failed: " << cmd;
      return std::nullopt;
    }
    return out;
  }();
  return dir;
}

// The images make_modules.py fed mobilenet_style.pt and the logits PyTorch
// computed for them ([N * 10], row-major).
struct Probe {
  data::ImageDataset images;
  std::vector<float> logits;
};

inline Probe ReadProbe(const std::string& path) {
  Probe probe;
  probe.images.height = probe.images.width = 28;
  std::ifstream in(path);
  std::string pixels, logits;
  while (std::getline(in, pixels) && std::getline(in, logits)) {
    std::istringstream p(pixels), l(logits);
    int value = 0;
    while (p >> value) probe.images.images.push_back(static_cast<uint8_t>(value));
    float logit = 0;
    while (l >> logit) probe.logits.push_back(logit);
    probe.images.labels.push_back(0);
    ++probe.images.num_examples;
  }
  return probe;
}

}  // namespace cohort::ml::testing

#endif  // COHORT_TESTS_COMMON_ML_PYTORCH_MODULES_H_
