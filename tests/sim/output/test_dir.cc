#include "tests/sim/output/test_dir.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::sim {

ScopedTestDir::ScopedTestDir() {
  std::string root = ::testing::TempDir();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  std::string pattern = root + "/sim_output_XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
    return;
  }
  path_ = buf.data();
}

ScopedTestDir::~ScopedTestDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace cohort::sim
