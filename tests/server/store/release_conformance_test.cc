// The release-log part of the Store contract (server/store/store.h), run
// against every backend. Part of the store_conformance_test binary: the
// fixture is in store_conformance.h and the suite is instantiated in
// store_conformance_test.cc.

#include <cstdint>
#include <functional>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "server/store/store_util.h"
#include "tests/server/store/store_conformance.h"
#include "tests/server/store/store_test_util.h"

namespace cohort::server {
namespace {

using ::absl::StatusCode;
using store_testing::ExpectSameRelease;
using store_testing::kTask;
using store_testing::MakeRecord;
using store_testing::MakeRelease;
using store_testing::MakeTestRecord;
using store_testing::MakeTestRelease;
using store_testing::StoreConformanceTest;
using Kind = ReleaseRecord::Kind;

constexpr char kOtherTask[] = "cifar-cnn";

// The release numbers of `store`'s log for `task`, oldest first.
std::vector<int64_t> ReleaseNumbers(Store& store, const std::string& task) {
  std::vector<int64_t> out;
  auto releases = store.ListReleases(task);
  EXPECT_TRUE(releases.ok()) << releases.status();
  if (releases.ok()) {
    for (const ReleaseRecord& r : *releases) out.push_back(r.release);
  }
  return out;
}

// The task's current release number, 0 if it has none.
int64_t CurrentRelease(Store& store, const std::string& task) {
  auto current = store.GetCurrentRelease(task);
  EXPECT_TRUE(current.ok()) << current.status();
  if (!current.ok() || !current->has_value()) return 0;
  return (*current)->release;
}

TEST_P(StoreConformanceTest, TaskWithoutReleasesHasNoCurrentRelease) {
  EXPECT_EQ(CurrentRelease(*store_, kTask), 0);
  EXPECT_TRUE(ReleaseNumbers(*store_, kTask).empty());
  EXPECT_EQ(store_->GetRelease(kTask, 1).status().code(),
            StatusCode::kNotFound);
  // Committing a version publishes nothing by itself.
  Commit(MakeRecord(1, 0));
  auto current = store_->GetCurrentRelease(kTask);
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_FALSE(current->has_value());
}

TEST_P(StoreConformanceTest, ReleasesRoundTripEveryField) {
  Commit(MakeRecord(1, 0));
  Commit(MakeRecord(2, 1));
  ReleaseRecord promote = MakeRelease(1, 1);
  promote.reason =
      "text with spaces, = signs,\nnewlines, \\escapes, \"quotes\" and "
      "caf\xc3\xa9";
  promote.actor = "CN=operator-1,O=Example Corp";
  ReleaseRecord pin = MakeRelease(2, 2);
  pin.kind = Kind::kPin;
  pin.reason.clear();
  pin.actor.clear();
  pin.created_at_unix_ms = 0;
  pin.signed_manifest = std::string("\x00\xff", 2);
  ReleaseRecord rollback = MakeRelease(3, 1);
  rollback.kind = Kind::kRollback;
  rollback.reason = "field accuracy fell";
  rollback.signed_manifest.clear();
  for (int b = 0; b < 256; ++b) {
    rollback.signed_manifest.push_back(static_cast<char>(b));
  }
  const std::vector<ReleaseRecord> appended = {promote, pin, rollback};
  for (const ReleaseRecord& want : appended) {
    Append(want);
    auto current = store_->GetCurrentRelease(kTask);
    ASSERT_TRUE(current.ok()) << current.status();
    ASSERT_TRUE(current->has_value());
    ExpectSameRelease(**current, want);
  }
  for (const ReleaseRecord& want : appended) {
    auto got = store_->GetRelease(kTask, want.release);
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectSameRelease(*got, want);
  }
  auto listed = store_->ListReleases(kTask);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), appended.size());
  for (size_t i = 0; i < appended.size(); ++i) {
    ExpectSameRelease((*listed)[i], appended[i]);
  }
}

TEST_P(StoreConformanceTest, ReleaseNumberMustBeCurrentPlusOne) {
  Commit(MakeRecord(1, 0));
  for (int64_t first : {2, 3}) {
    absl::Status s = store_->AppendRelease(MakeRelease(first, 1));
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
  }
  EXPECT_EQ(CurrentRelease(*store_, kTask), 0);

  const ReleaseRecord r1 = MakeRelease(1, 1);
  const ReleaseRecord r2 = MakeRelease(2, 1);
  Append(r1);
  Append(r2);
  ReleaseRecord gap = MakeRelease(4, 1);
  ReleaseRecord repeat = MakeRelease(2, 1);
  ReleaseRecord lower = MakeRelease(1, 1);
  for (ReleaseRecord* bad : {&gap, &repeat, &lower}) {
    bad->reason = "impostor";
    bad->signed_manifest = "impostor manifest";
    absl::Status s = store_->AppendRelease(*bad);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition)
        << "release " << bad->release << ": " << s;
  }
  // Nothing changed: the log and the pointer are as before.
  EXPECT_EQ(ReleaseNumbers(*store_, kTask), (std::vector<int64_t>{1, 2}));
  auto current = store_->GetCurrentRelease(kTask);
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  ExpectSameRelease(**current, r2);
  auto got = store_->GetRelease(kTask, 1);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRelease(*got, r1);
  EXPECT_EQ(store_->GetRelease(kTask, 4).status().code(),
            StatusCode::kNotFound);
  // And the log continues from where it was.
  Append(MakeRelease(3, 1));
  EXPECT_EQ(CurrentRelease(*store_, kTask), 3);
}

TEST_P(StoreConformanceTest, ReleaseOfUnknownVersionIsNotFound) {
  EXPECT_EQ(store_->AppendRelease(MakeRelease(1, 1)).code(),
            StatusCode::kNotFound);
  Commit(MakeRecord(1, 0));
  Commit(MakeRecord(2, 1));
  // Version 3 exists, but for another task.
  for (int64_t v = 1; v <= 3; ++v) {
    ASSERT_TRUE(
        store_->CommitVersion(MakeTestRecord(kOtherTask, v, v - 1)).ok());
  }
  for (int64_t version : {int64_t{0}, int64_t{-1}, int64_t{3}, int64_t{7}}) {
    absl::Status s = store_->AppendRelease(MakeRelease(1, version));
    EXPECT_EQ(s.code(), StatusCode::kNotFound) << version << ": " << s;
  }
  EXPECT_EQ(CurrentRelease(*store_, kTask), 0);
  EXPECT_TRUE(ReleaseNumbers(*store_, kTask).empty());
  // The refused appends used up no number.
  Append(MakeRelease(1, 2));
  EXPECT_EQ(ReleaseNumbers(*store_, kTask), (std::vector<int64_t>{1}));
}

TEST_P(StoreConformanceTest, InvalidReleasesAreInvalidArgument) {
  Commit(MakeRecord(1, 0));
  using Edit = std::function<void(ReleaseRecord&)>;
  const std::vector<std::pair<std::string, Edit>> cases = {
      {"empty task", [](ReleaseRecord& r) { r.task.clear(); }},
      {"unsafe task", [](ReleaseRecord& r) { r.task = "../escape"; }},
      {"release 0", [](ReleaseRecord& r) { r.release = 0; }},
      {"release -1", [](ReleaseRecord& r) { r.release = -1; }},
      {"kind 0", [](ReleaseRecord& r) { r.kind = static_cast<Kind>(0); }},
      {"kind 4", [](ReleaseRecord& r) { r.kind = static_cast<Kind>(4); }},
      {"empty manifest", [](ReleaseRecord& r) { r.signed_manifest.clear(); }},
      {"oversized manifest",
       [](ReleaseRecord& r) {
         r.signed_manifest.assign(kMaxSignedManifestBytes + 1, 'm');
       }},
      {"NUL in reason",
       [](ReleaseRecord& r) { r.reason = std::string("a\0b", 3); }},
      {"NUL in actor",
       [](ReleaseRecord& r) { r.actor = std::string("a\0b", 3); }},
      {"oversized reason",
       [](ReleaseRecord& r) {
         r.reason.assign(kMaxReleaseTextBytes + 1, 'r');
       }},
  };
  for (const auto& [name, edit] : cases) {
    SCOPED_TRACE(name);
    ReleaseRecord r = MakeRelease(1, 1);
    edit(r);
    absl::Status s = store_->AppendRelease(r);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  }
  EXPECT_EQ(CurrentRelease(*store_, kTask), 0);
  EXPECT_TRUE(ReleaseNumbers(*store_, kTask).empty());
  Append(MakeRelease(1, 1));
}

TEST_P(StoreConformanceTest, ListReleasesIsOldestFirst) {
  for (int64_t v = 1; v <= 3; ++v) Commit(MakeRecord(v, v - 1));
  std::vector<ReleaseRecord> appended;
  const int64_t versions[] = {1, 2, 3, 2, 3};
  for (int64_t i = 0; i < 5; ++i) {
    appended.push_back(MakeRelease(i + 1, versions[i]));
    Append(appended.back());
  }
  auto listed = store_->ListReleases(kTask);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), appended.size());
  for (size_t i = 0; i < appended.size(); ++i) {
    ExpectSameRelease((*listed)[i], appended[i]);
  }
}

TEST_P(StoreConformanceTest, ReleasesOfTwoTasksAreIndependent) {
  Commit(MakeRecord(1, 0));
  Commit(MakeRecord(2, 1));
  ASSERT_TRUE(store_->CommitVersion(MakeTestRecord(kOtherTask, 1, 0)).ok());
  Append(MakeRelease(1, 1));
  Append(MakeRelease(2, 2));
  // The other task numbers its own releases from 1.
  EXPECT_EQ(store_->AppendRelease(MakeTestRelease(kOtherTask, 3, 1)).code(),
            StatusCode::kFailedPrecondition);
  // And its versions are its own: it has no version 2.
  EXPECT_EQ(store_->AppendRelease(MakeTestRelease(kOtherTask, 1, 2)).code(),
            StatusCode::kNotFound);
  const ReleaseRecord other = MakeTestRelease(kOtherTask, 1, 1);
  ASSERT_TRUE(store_->AppendRelease(other).ok());

  EXPECT_EQ(ReleaseNumbers(*store_, kTask), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(ReleaseNumbers(*store_, kOtherTask), (std::vector<int64_t>{1}));
  EXPECT_EQ(CurrentRelease(*store_, kTask), 2);
  auto current = store_->GetCurrentRelease(kOtherTask);
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  ExpectSameRelease(**current, other);
  EXPECT_EQ(store_->GetRelease(kOtherTask, 2).status().code(),
            StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, RollbackReleasesAnOlderVersion) {
  Commit(MakeRecord(1, 0));
  Commit(MakeRecord(2, 1));
  Append(MakeRelease(1, 1));
  Append(MakeRelease(2, 2));
  ReleaseRecord rollback = MakeRelease(3, 1);
  rollback.kind = Kind::kRollback;
  rollback.reason = "field accuracy fell";
  rollback.actor = "CN=operator-1";
  Append(rollback);

  auto current = store_->GetCurrentRelease(kTask);
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  ExpectSameRelease(**current, rollback);
  auto r2 = store_->GetRelease(kTask, 2);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->version, 2);
  // The version history and its pointer are untouched by releases.
  ExpectCurrentVersion(2);
  Commit(MakeRecord(3, 2));
  ExpectCurrentVersion(3);
  EXPECT_EQ(CurrentRelease(*store_, kTask), 3);
}

TEST_P(StoreConformanceTest, GetReleaseOfMissingReleaseIsNotFound) {
  Commit(MakeRecord(1, 0));
  Append(MakeRelease(1, 1));
  Append(MakeRelease(2, 1));
  for (int64_t missing : {int64_t{0}, int64_t{-1}, int64_t{3}, int64_t{100}}) {
    EXPECT_EQ(store_->GetRelease(kTask, missing).status().code(),
              StatusCode::kNotFound)
        << missing;
  }
  EXPECT_EQ(store_->GetRelease(kOtherTask, 1).status().code(),
            StatusCode::kNotFound);
}

// Each round, every thread appends release round + 1 and exactly one may win.
// Even-numbered threads share store_, the others have their own instance (own
// connection or own lock descriptor), so both levels of locking are raced.
TEST_P(StoreConformanceTest, ConcurrentAppendsHaveOneWinner) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 3;
  Commit(MakeRecord(1, 0));
  std::vector<std::unique_ptr<Store>> instances;
  for (int t = 0; t < kThreads; ++t) {
    instances.push_back(t % 2 == 0 ? nullptr : OpenStore());
  }
  for (int round = 0; round < kRounds; ++round) {
    std::vector<absl::Status> results(kThreads);
    std::latch start(kThreads);
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([&, t] {
        Store* store = instances[t] ? instances[t].get() : store_.get();
        ReleaseRecord r = MakeRelease(round + 1, 1);
        r.actor = absl::StrCat("thread-", t);
        start.arrive_and_wait();
        results[t] = store->AppendRelease(r);
      });
    }
    for (auto& w : workers) w.join();
    int winner = -1;
    for (int t = 0; t < kThreads; ++t) {
      if (results[t].ok()) {
        EXPECT_EQ(winner, -1) << "two winners in round " << round;
        winner = t;
      } else {
        EXPECT_EQ(results[t].code(), StatusCode::kFailedPrecondition)
            << results[t];
      }
    }
    ASSERT_NE(winner, -1) << "no winner in round " << round;
    auto current = store_->GetCurrentRelease(kTask);
    ASSERT_TRUE(current.ok()) << current.status();
    ASSERT_TRUE(current->has_value());
    EXPECT_EQ((*current)->release, round + 1);
    EXPECT_EQ((*current)->actor, absl::StrCat("thread-", winner));
  }
  EXPECT_EQ(ReleaseNumbers(*store_, kTask), (std::vector<int64_t>{1, 2, 3}));
}

TEST_P(StoreConformanceTest, ReopenedStoreKeepsReleases) {
  Commit(MakeRecord(1, 0));
  Commit(MakeRecord(2, 1));
  std::vector<ReleaseRecord> appended = {MakeRelease(1, 1), MakeRelease(2, 2)};
  appended[1].kind = Kind::kPin;
  for (const ReleaseRecord& r : appended) Append(r);
  store_.reset();

  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  auto current = store_->GetCurrentRelease(kTask);
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  ExpectSameRelease(**current, appended[1]);
  auto listed = store_->ListReleases(kTask);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  ExpectSameRelease((*listed)[0], appended[0]);
  // Numbering continues where it was; a used number stays used.
  EXPECT_EQ(store_->AppendRelease(MakeRelease(2, 1)).code(),
            StatusCode::kFailedPrecondition);
  Append(MakeRelease(3, 1));
  EXPECT_EQ(CurrentRelease(*store_, kTask), 3);
}

}  // namespace
}  // namespace cohort::server
