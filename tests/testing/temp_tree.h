#ifndef COHORT_TESTS_TESTING_TEMP_TREE_H_
#define COHORT_TESTS_TESTING_TEMP_TREE_H_

// Files in a test's own temp folder, for tests that fake a tree such as
// /sys or /proc.

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace cohort::testing {

// An empty folder "<TempDir>/<prefix>_<test name>", made fresh.
inline std::string FreshTestDir(const std::string& prefix) {
  const std::string dir =
      ::testing::TempDir() + "/" + prefix + "_" +
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Writes `contents` to `path`, creating its folders.
inline void PutFile(const std::string& path, const std::string& contents) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  std::ofstream(path) << contents;
}

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_TEMP_TREE_H_
