#ifndef COHORT_TESTS_SIM_OUTPUT_TEST_DIR_H_
#define COHORT_TESTS_SIM_OUTPUT_TEST_DIR_H_

#include <string>

namespace cohort::sim {

// A fresh, uniquely named directory under the gtest temp dir, removed with
// its contents on destruction. Unique per instance, so tests stay hermetic
// when ctest runs them in parallel or after an earlier run left files.
class ScopedTestDir {
 public:
  ScopedTestDir();
  ~ScopedTestDir();
  ScopedTestDir(const ScopedTestDir&) = delete;
  ScopedTestDir& operator=(const ScopedTestDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace cohort::sim

#endif  // COHORT_TESTS_SIM_OUTPUT_TEST_DIR_H_
