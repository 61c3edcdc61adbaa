#include "common/base/files.h"

#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"

namespace cohort::base {
namespace {

TEST(FilesTest, WriteAtomicallyThenReadRoundTrips) {
  std::string dir = testing::TempDir() + "/files_test";
  ASSERT_TRUE(MakeDirs(dir).ok());
  std::string path = dir + "/a.bin";
  std::string payload("x\0y", 3);
  ASSERT_TRUE(WriteFileAtomically(path, payload).ok());
  ASSERT_TRUE(WriteFileAtomically(path, payload + "z").ok());
  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, payload + "z");
  // No temp files are left behind.
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(FilesTest, ReadOverLimitIsResourceExhausted) {
  std::string path = testing::TempDir() + "/big.bin";
  ASSERT_TRUE(WriteFileAtomically(path, std::string(100, 'a')).ok());
  EXPECT_EQ(ReadFile(path, 10).status().code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace cohort::base
