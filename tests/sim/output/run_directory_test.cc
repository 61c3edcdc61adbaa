#include "sim/output/run_directory.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/base/files.h"
#include "gtest/gtest.h"
#include "tests/sim/output/test_dir.h"

namespace cohort::sim {
namespace {

namespace fs = std::filesystem;

std::string LatestTarget(const std::string& base) {
  std::error_code ec;
  fs::path target = fs::read_symlink(base + "/latest", ec);
  return ec ? "<not a symlink: " + ec.message() + ">" : target.string();
}

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    names.insert(e.path().filename().string());
  }
  return names;
}

TEST(RunDirectoryTest, CreateMakesFolderAndPointsLatestAtIt) {
  ScopedTestDir tmp;
  std::string base = tmp.path() + "/runs";  // Created on demand.
  auto run = RunDirectory::Create(base, "baseline");
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->path(), base + "/baseline");
  EXPECT_EQ(run->name(), "baseline");
  EXPECT_TRUE(fs::is_directory(run->path()));
  EXPECT_EQ(LatestTarget(base), "baseline");  // Relative target.
  EXPECT_EQ(run->File("metrics.csv"), base + "/baseline/metrics.csv");
}

TEST(RunDirectoryTest, RepeatedNameGetsSuffixesAndNeverOverwrites) {
  ScopedTestDir tmp;
  std::string base = tmp.path() + "/runs/";  // Trailing slash is tolerated.
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    auto run = RunDirectory::Create(base, "exp");
    ASSERT_TRUE(run.ok()) << run.status();
    ASSERT_TRUE(run->WriteText("marker", run->name()).ok());
    names.push_back(run->name());
    EXPECT_EQ(run->path(), tmp.path() + "/runs/" + run->name());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"exp", "exp-2", "exp-3"}));
  for (const std::string& name : names) {
    auto marker = base::ReadFile(tmp.path() + "/runs/" + name + "/marker");
    ASSERT_TRUE(marker.ok()) << marker.status();
    EXPECT_EQ(*marker, name);
  }
  EXPECT_EQ(LatestTarget(tmp.path() + "/runs"), "exp-3");
  // No temporary symlinks left behind.
  EXPECT_EQ(Entries(tmp.path() + "/runs"),
            (std::set<std::string>{"exp", "exp-2", "exp-3", "latest"}));
}

TEST(RunDirectoryTest, LatestFollowsNewestRunAcrossNames) {
  ScopedTestDir tmp;
  ASSERT_TRUE(RunDirectory::Create(tmp.path(), "a").ok());
  EXPECT_EQ(LatestTarget(tmp.path()), "a");
  ASSERT_TRUE(RunDirectory::Create(tmp.path(), "b").ok());
  EXPECT_EQ(LatestTarget(tmp.path()), "b");
  auto again = RunDirectory::Create(tmp.path(), "a");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->name(), "a-2");
  EXPECT_EQ(LatestTarget(tmp.path()), "a-2");
  // The link resolves to the run's folder.
  EXPECT_TRUE(fs::equivalent(tmp.path() + "/latest", again->path()));
}

TEST(RunDirectoryTest, LatestAsRealDirectoryIsFailedPrecondition) {
  ScopedTestDir tmp;
  ASSERT_EQ(::mkdir((tmp.path() + "/latest").c_str(), 0755), 0);
  auto run = RunDirectory::Create(tmp.path(), "exp");
  EXPECT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(run.status().message().find(tmp.path() + "/latest"),
            std::string::npos)
      << run.status();
  EXPECT_TRUE(fs::is_directory(tmp.path() + "/latest"));
  EXPECT_FALSE(fs::exists(tmp.path() + "/exp"));  // Refused before creating.
}

TEST(RunDirectoryTest, LatestAsRegularFileIsFailedPrecondition) {
  ScopedTestDir tmp;
  ASSERT_TRUE(base::WriteFileAtomically(tmp.path() + "/latest", "keep").ok());
  auto run = RunDirectory::Create(tmp.path(), "exp");
  EXPECT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition);
  auto kept = base::ReadFile(tmp.path() + "/latest");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, "keep");
}

TEST(RunDirectoryTest, BadNamesAreInvalidArgumentAndCreateNothing) {
  ScopedTestDir tmp;
  std::string base = tmp.path() + "/runs";
  const std::vector<std::string> bad = {"",
                                        ".",
                                        "..",
                                        "a/b",
                                        "/abs",
                                        "trailing/",
                                        "latest",
                                        std::string("nul\0byte", 8),
                                        std::string(201, 'x')};
  for (const std::string& name : bad) {
    EXPECT_EQ(RunDirectory::Create(base, name).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "name: " << name;
  }
  EXPECT_EQ(RunDirectory::Create("", "ok").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(base));
  // The same names are fine with a little change.
  EXPECT_TRUE(RunDirectory::Create(base, "latest-run").ok());
  EXPECT_TRUE(RunDirectory::Create(base, "...").ok());
  EXPECT_TRUE(RunDirectory::Create(base, std::string(200, 'x')).ok());
}

TEST(RunDirectoryTest, WriteTextWritesInsideRunAndRejectsEscapes) {
  ScopedTestDir tmp;
  auto run = RunDirectory::Create(tmp.path(), "exp");
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(run->WriteText("config.txt", "rounds: 5\n").ok());
  auto read = base::ReadFile(run->File("config.txt"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "rounds: 5\n");
  for (const char* bad : {"../escape", "..", "", "sub/file"}) {
    EXPECT_EQ(run->WriteText(bad, "x").code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_FALSE(fs::exists(tmp.path() + "/escape"));
}

TEST(RunDirectoryTest, ConcurrentCreatesGetDistinctFolders) {
  ScopedTestDir tmp;
  constexpr int kThreads = 8;
  std::vector<std::string> paths(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto run = RunDirectory::Create(tmp.path(), "race");
      paths[i] = run.ok() ? run->path() : run.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(paths.begin(), paths.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads));
  for (const std::string& p : paths) EXPECT_TRUE(fs::is_directory(p)) << p;
  EXPECT_TRUE(distinct.count(tmp.path() + "/" + LatestTarget(tmp.path())));
  EXPECT_EQ(Entries(tmp.path()).size(), static_cast<size_t>(kThreads) + 1);
}

}  // namespace
}  // namespace cohort::sim
