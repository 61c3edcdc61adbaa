// DirectoryStore behaviour beyond the shared contract: damage to its files,
// simulated crashes, and names that could escape the root.

#include "server/store/directory_store.h"

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/base/files.h"
#include "gtest/gtest.h"
#include "tests/server/store/store_test_util.h"

namespace cohort::server {
namespace {

namespace fs = std::filesystem;
using ::absl::StatusCode;
using store_testing::MakeTempDir;

constexpr char kTask[] = "mnist";

ModelVersionRecord MakeRecord(int64_t version, int64_t parent,
                              std::string weights = "") {
  return store_testing::MakeTestRecord(kTask, version, parent,
                                       std::move(weights));
}

class DirectoryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir("directory_store") + "/root";
    store_ = Open(root_);
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->CommitVersion(MakeRecord(1, 0)).ok());
    ASSERT_TRUE(store_->CommitVersion(MakeRecord(2, 1)).ok());
  }

  static std::unique_ptr<DirectoryStore> Open(const std::string& root) {
    auto store = DirectoryStore::Open(root);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string TaskPath(const std::string& root, const std::string& file) {
    return absl::StrCat(root, "/tasks/", kTask, "/", file);
  }
  std::string TaskPath(const std::string& file) {
    return TaskPath(root_, file);
  }

  void Write(const std::string& path, const std::string& contents) {
    ASSERT_TRUE(base::WriteFileAtomically(path, contents).ok()) << path;
  }

  std::string Read(const std::string& path) {
    auto data = base::ReadFile(path);
    EXPECT_TRUE(data.ok()) << data.status();
    return data.ok() ? *data : "";
  }

  // Expects DATA_LOSS naming `path` from `status`.
  static void ExpectDataLoss(const absl::Status& status,
                             const std::string& path) {
    EXPECT_EQ(status.code(), StatusCode::kDataLoss) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), path)) << status;
  }

  int64_t CurrentVersion(DirectoryStore& store) {
    auto current = store.GetCurrent(kTask);
    EXPECT_TRUE(current.ok()) << current.status();
    if (!current.ok() || !current->has_value()) return 0;
    return (*current)->version;
  }

  std::vector<int64_t> Versions(DirectoryStore& store) {
    std::vector<int64_t> out;
    auto versions = store.ListVersions(kTask);
    EXPECT_TRUE(versions.ok()) << versions.status();
    if (versions.ok()) {
      for (const auto& r : *versions) out.push_back(r.version);
    }
    return out;
  }

  std::string root_;
  std::unique_ptr<DirectoryStore> store_;
};

TEST_F(DirectoryStoreTest, FilesFollowTheDocumentedLayout) {
  EXPECT_EQ(Read(TaskPath("CURRENT")), "2\n");
  EXPECT_EQ(Read(TaskPath("versions/2.weights")), "weights-2");
  std::string meta = Read(TaskPath("versions/2.meta"));
  EXPECT_TRUE(absl::StartsWith(meta, "format=cohort-model-version-1\n"))
      << meta;
  EXPECT_TRUE(absl::StrContains(meta, "\nparent=1\n")) << meta;
  EXPECT_TRUE(absl::StrContains(meta, "\nmetric=accuracy 0.52\n")) << meta;
  ASSERT_TRUE(store_->RecordDevice("phone-1", 5, 1, 0, 0).ok());
  EXPECT_TRUE(fs::exists(root_ + "/devices/phone-1.device"));
}

TEST_F(DirectoryStoreTest, CorruptMetaIsDataLossNamingTheFile) {
  const std::string meta2 = TaskPath("versions/2.meta");
  Write(meta2, "not a meta file\n");
  ExpectDataLoss(store_->GetCurrent(kTask).status(), meta2);
  ExpectDataLoss(store_->ListVersions(kTask).status(), meta2);
  ExpectDataLoss(store_->LastRoundId(kTask).status(), meta2);
  // Reaching v1 means walking back through v2.
  ExpectDataLoss(store_->GetVersion(kTask, 1).status(), meta2);
}

TEST_F(DirectoryStoreTest, MetaOfAnotherVersionIsDataLoss) {
  Write(TaskPath("versions/2.meta"), Read(TaskPath("versions/1.meta")));
  ExpectDataLoss(store_->GetCurrent(kTask).status(),
                 TaskPath("versions/2.meta"));
}

TEST_F(DirectoryStoreTest, DamagedWeightsAreDataLoss) {
  const std::string weights = TaskPath("versions/2.weights");
  Write(weights, "weights-X");  // Same size, different bytes.
  ExpectDataLoss(store_->GetCurrent(kTask).status(), weights);
  Write(weights, "weights-");  // Truncated.
  ExpectDataLoss(store_->GetVersion(kTask, 2).status(), weights);
  Write(weights, "weights-22");  // Extended.
  ExpectDataLoss(store_->GetVersion(kTask, 2).status(), weights);
  fs::remove(weights);
  ExpectDataLoss(store_->GetCurrent(kTask).status(), weights);
  // Listing needs no weights, and other versions are unaffected.
  EXPECT_EQ(Versions(*store_), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(store_->GetVersion(kTask, 1).ok());
}

TEST_F(DirectoryStoreTest, CorruptCurrentIsDataLoss) {
  const std::string current = TaskPath("CURRENT");
  for (const char* bad : {"", "2", "two\n", "0\n", "-1\n", "2\n\n", " 2\n"}) {
    Write(current, bad);
    ExpectDataLoss(store_->GetCurrent(kTask).status(), current);
  }
  Write(current, "9\n");  // Points at a version that was never written.
  ExpectDataLoss(store_->GetCurrent(kTask).status(),
                 TaskPath("versions/9.meta"));
}

TEST_F(DirectoryStoreTest, CorruptDeviceFileIsDataLoss) {
  ASSERT_TRUE(store_->RecordDevice("phone-1", 5, 1, 0, 0).ok());
  const std::string path = root_ + "/devices/phone-1.device";
  Write(path, "format=cohort-device-1\ndevice_id=phone-1\ncheck_ins=x\n");
  ExpectDataLoss(store_->GetDevice("phone-1").status(), path);
  ExpectDataLoss(store_->RecordDevice("phone-1", 6, 1, 0, 0), path);
}

TEST_F(DirectoryStoreTest, RandomDamageToMetaNeverCrashes) {
  const std::string path = TaskPath("versions/2.meta");
  const std::string original = Read(path);
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    std::string damaged = original;
    size_t pos = rng() % damaged.size();
    switch (rng() % 4) {
      case 0:
        damaged[pos] = static_cast<char>(rng() & 0xff);
        break;
      case 1:
        damaged.resize(pos);
        break;
      case 2:
        damaged.insert(pos, 1, "=\n\\ 9-x\0"[rng() % 8]);
        break;
      default:
        damaged.insert(pos, damaged.substr(pos, rng() % 40));
        break;
    }
    Write(path, damaged);
    for (absl::Status s : {store_->GetCurrent(kTask).status(),
                           store_->ListVersions(kTask).status()}) {
      EXPECT_TRUE(s.ok() || s.code() == StatusCode::kDataLoss) << s << " for\n"
                                                               << damaged;
    }
  }
}

TEST_F(DirectoryStoreTest, LeftoverTempFilesAreIgnored) {
  Write(TaskPath("CURRENT.tmp.4242"), "3\n");
  Write(TaskPath("versions/3.meta.tmp.4242"), "garbage");
  Write(TaskPath("versions/3.weights.tmp.4242"), "garbage");
  Write(root_ + "/devices/phone-1.device.tmp.4242", "garbage");
  auto reopened = Open(root_);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(CurrentVersion(*reopened), 2);
  EXPECT_EQ(Versions(*reopened), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(reopened->GetDevice("phone-1").status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(reopened->CommitVersion(MakeRecord(3, 2)).ok());
  EXPECT_EQ(CurrentVersion(*reopened), 3);
}

// A crash after a commit wrote its version files but before CURRENT moved:
// simulated by copying v3's files from a store where the commit completed.
TEST_F(DirectoryStoreTest, VersionFilesWithoutCurrentUpdateAreIgnored) {
  const std::string crashed = MakeTempDir("crashed") + "/root";
  fs::copy(root_, crashed, fs::copy_options::recursive);
  ASSERT_TRUE(store_->CommitVersion(MakeRecord(3, 2, "lost")).ok());
  for (const char* file : {"versions/3.meta", "versions/3.weights"}) {
    fs::copy_file(TaskPath(file), TaskPath(crashed, file));
  }

  auto store = Open(crashed);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(CurrentVersion(*store), 2);
  EXPECT_EQ(Versions(*store), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(store->GetVersion(kTask, 3).status().code(), StatusCode::kNotFound);
  auto last = store->LastRoundId(kTask);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 20);

  // The next commit may reuse the number; its own bytes win.
  ASSERT_TRUE(store->CommitVersion(MakeRecord(3, 2, "redone")).ok());
  auto v3 = store->GetVersion(kTask, 3);
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->weights, "redone");
}

TEST_F(DirectoryStoreTest, SkippedLeftoverVersionStaysOffTheHistory) {
  // Leftover v3 (parent 2), then the retried commit is numbered 4.
  ASSERT_TRUE(store_->CommitVersion(MakeRecord(3, 2)).ok());
  Write(TaskPath("CURRENT"), "2\n");  // As if CURRENT never moved to 3.
  ASSERT_TRUE(store_->CommitVersion(MakeRecord(4, 2)).ok());
  EXPECT_EQ(Versions(*store_), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(store_->GetVersion(kTask, 3).status().code(),
            StatusCode::kNotFound);
}

TEST_F(DirectoryStoreTest, NamesCannotEscapeTheRoot) {
  const std::string parent = fs::path(root_).parent_path();
  for (const char* name : {"..", "../outside", "../../x", "a/../../b"}) {
    ModelVersionRecord r = MakeRecord(1, 0);
    r.task = name;
    EXPECT_EQ(store_->CommitVersion(r).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->RecordDevice(name, 1, 1, 0, 0).code(),
              StatusCode::kInvalidArgument);
  }
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(parent)) {
    entries.push_back(e.path().filename());
  }
  EXPECT_EQ(entries, std::vector<std::string>{"root"});
}

ReleaseRecord MakeRelease(int64_t release, int64_t version) {
  return store_testing::MakeTestRelease(kTask, release, version);
}

// Releases 1 (version 1) and 2 (version 2) on top of the two versions.
class DirectoryStoreReleaseTest : public DirectoryStoreTest {
 protected:
  void SetUp() override {
    DirectoryStoreTest::SetUp();
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->AppendRelease(MakeRelease(1, 1)).ok());
    ASSERT_TRUE(store_->AppendRelease(MakeRelease(2, 2)).ok());
  }

  std::vector<int64_t> Releases(DirectoryStore& store) {
    std::vector<int64_t> out;
    auto releases = store.ListReleases(kTask);
    EXPECT_TRUE(releases.ok()) << releases.status();
    if (releases.ok()) {
      for (const auto& r : *releases) out.push_back(r.release);
    }
    return out;
  }

  int64_t CurrentRelease(DirectoryStore& store) {
    auto current = store.GetCurrentRelease(kTask);
    EXPECT_TRUE(current.ok()) << current.status();
    if (!current.ok() || !current->has_value()) return 0;
    return (*current)->release;
  }
};

TEST_F(DirectoryStoreReleaseTest, FilesFollowTheDocumentedLayout) {
  EXPECT_EQ(Read(TaskPath("CURRENT_RELEASE")), "2\n");
  std::string release = Read(TaskPath("releases/2.release"));
  EXPECT_TRUE(absl::StartsWith(release, "format=cohort-release-1\n"))
      << release;
  EXPECT_TRUE(absl::StrContains(release, "\nrelease=2\nversion=2\n"))
      << release;
  EXPECT_TRUE(absl::StrContains(release, "\nkind=promote\n")) << release;
  // Binary manifest bytes are escaped: the file is printable ASCII lines.
  for (char c : release) {
    EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << static_cast<int>(c);
  }
  // Appending a release leaves the version files alone.
  EXPECT_EQ(Read(TaskPath("CURRENT")), "2\n");
}

TEST_F(DirectoryStoreReleaseTest, CorruptReleaseFileIsDataLossNamingTheFile) {
  const std::string path = TaskPath("releases/2.release");
  const std::string original = Read(path);
  const std::string damaged_manifest =
      absl::StrReplaceAll(original, {{"manifest-2", "manifest-X"}});
  ASSERT_NE(damaged_manifest, original);
  for (const std::string& bad :
       {std::string("garbage\n"), std::string(""),
        original.substr(0, original.size() - 1),  // no final newline
        damaged_manifest,                         // fails its CRC-32
        absl::StrReplaceAll(original, {{"kind=promote", "kind=demote"}}),
        absl::StrCat(original, "extra=1\n"),
        Read(TaskPath("releases/1.release"))}) {
    SCOPED_TRACE(bad);
    Write(path, bad);
    ExpectDataLoss(store_->GetCurrentRelease(kTask).status(), path);
    ExpectDataLoss(store_->ListReleases(kTask).status(), path);
    ExpectDataLoss(store_->GetRelease(kTask, 2).status(), path);
    // Other releases are unaffected.
    EXPECT_TRUE(store_->GetRelease(kTask, 1).ok());
  }
  std::filesystem::remove(path);
  ExpectDataLoss(store_->GetCurrentRelease(kTask).status(), path);
}

TEST_F(DirectoryStoreReleaseTest, CorruptCurrentReleaseIsDataLoss) {
  const std::string current = TaskPath("CURRENT_RELEASE");
  for (const char* bad : {"", "2", "two\n", "0\n", "-1\n", "2\n\n", " 2\n"}) {
    Write(current, bad);
    ExpectDataLoss(store_->GetCurrentRelease(kTask).status(), current);
    ExpectDataLoss(store_->ListReleases(kTask).status(), current);
    ExpectDataLoss(store_->AppendRelease(MakeRelease(3, 1)), current);
  }
  Write(current, "9\n");  // Points at a release that was never written.
  ExpectDataLoss(store_->GetCurrentRelease(kTask).status(),
                 TaskPath("releases/9.release"));
  ExpectDataLoss(store_->ListReleases(kTask).status(),
                 TaskPath("releases/3.release"));
}

TEST_F(DirectoryStoreReleaseTest, RandomDamageToReleaseNeverCrashes) {
  const std::string path = TaskPath("releases/2.release");
  const std::string original = Read(path);
  std::mt19937 rng(11);
  for (int i = 0; i < 300; ++i) {
    std::string damaged = original;
    size_t pos = rng() % damaged.size();
    switch (rng() % 3) {
      case 0:
        damaged[pos] = static_cast<char>(rng() & 0xff);
        break;
      case 1:
        damaged.resize(pos);
        break;
      default:
        damaged.insert(pos, 1, "=\n\\ 9-x\0"[rng() % 8]);
        break;
    }
    Write(path, damaged);
    for (absl::Status s : {store_->GetCurrentRelease(kTask).status(),
                           store_->ListReleases(kTask).status()}) {
      EXPECT_TRUE(s.ok() || s.code() == StatusCode::kDataLoss) << s;
    }
  }
}

// A crash after AppendRelease wrote the release file but before
// CURRENT_RELEASE moved: simulated by copying release 3's file from a store
// where the append completed.
TEST_F(DirectoryStoreReleaseTest, ReleaseFileWithoutPointerUpdateIsIgnored) {
  const std::string crashed = MakeTempDir("crashed") + "/root";
  fs::copy(root_, crashed, fs::copy_options::recursive);
  ReleaseRecord lost = MakeRelease(3, 1);
  lost.reason = "lost";
  ASSERT_TRUE(store_->AppendRelease(lost).ok());
  fs::copy_file(TaskPath("releases/3.release"),
                TaskPath(crashed, "releases/3.release"));

  auto store = Open(crashed);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(CurrentRelease(*store), 2);
  EXPECT_EQ(Releases(*store), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(store->GetRelease(kTask, 3).status().code(), StatusCode::kNotFound);

  // The number was never committed, so the next append takes it; its own
  // bytes win.
  ReleaseRecord redone = MakeRelease(3, 2);
  redone.reason = "redone";
  ASSERT_TRUE(store->AppendRelease(redone).ok());
  auto r3 = store->GetRelease(kTask, 3);
  ASSERT_TRUE(r3.ok()) << r3.status();
  store_testing::ExpectSameRelease(*r3, redone);
}

TEST(DirectoryStoreOpenTest, BadRootsAreErrors) {
  EXPECT_EQ(DirectoryStore::Open("").status().code(),
            StatusCode::kInvalidArgument);
  const std::string file = MakeTempDir("open") + "/file";
  ASSERT_TRUE(base::WriteFileAtomically(file, "x").ok());
  // A setup mistake (exit 2 for the server), naming the field and the path.
  const absl::Status not_a_dir = DirectoryStore::Open(file).status();
  EXPECT_EQ(not_a_dir.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(not_a_dir.message().find("store.directory " + file),
            std::string::npos)
      << not_a_dir;
  EXPECT_FALSE(DirectoryStore::Open(file + "/below").ok());
}

}  // namespace
}  // namespace cohort::server
