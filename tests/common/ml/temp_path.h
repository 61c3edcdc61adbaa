#ifndef COHORT_TESTS_COMMON_ML_TEMP_PATH_H_
#define COHORT_TESTS_COMMON_ML_TEMP_PATH_H_

#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace cohort::ml::testing {

// `name` in a folder of this test process's own (ctest runs test processes
// in parallel), created if needed.
inline std::string TempPath(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      absl::StrCat("cohort_ml_", getpid());
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace cohort::ml::testing

#endif  // COHORT_TESTS_COMMON_ML_TEMP_PATH_H_
