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

// Only "<name>.tmp.<digits>", what a killed WriteFileAtomically leaves.
TEST(FilesTest, RemoveStaleTempFilesTakesOnlyTempFiles) {
  const std::string dir = testing::TempDir() + "/stale_temps";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* name : {"model.pb.tmp.4242", "release.tmp.7", "model.pb",
                           "notes.tmp.", "notes.tmp.x1", "tmp.123"}) {
    ASSERT_TRUE(WriteFileAtomically(dir + "/" + name, "x").ok()) << name;
  }
  EXPECT_EQ(RemoveStaleTempFiles(dir), 2);
  EXPECT_FALSE(std::filesystem::exists(dir + "/model.pb.tmp.4242"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/release.tmp.7"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/tmp.123"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/model.pb"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/notes.tmp."));
  EXPECT_TRUE(std::filesystem::exists(dir + "/notes.tmp.x1"));
  EXPECT_EQ(RemoveStaleTempFiles(dir + "/missing"), 0);
}

}  // namespace
}  // namespace cohort::base
