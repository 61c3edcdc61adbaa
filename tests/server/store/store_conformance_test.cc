// The contract of server/store/store.h, run against every backend. The
// PostgreSQL cases need COHORT_TEST_PG_DSN and are skipped without it. The
// release-log cases are in release_conformance_test.cc; the fixture is in
// store_conformance.h.

#include "tests/server/store/store_conformance.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <latch>
#include <limits>
#include <memory>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "tests/server/store/store_test_util.h"

namespace cohort::server {
namespace {

using ::absl::StatusCode;
using store_testing::ExpectSameRecord;
using store_testing::kTask;
using store_testing::MakeRecord;
using store_testing::MakeRelease;
using store_testing::StoreConformanceTest;

TEST_P(StoreConformanceTest, EmptyTaskHasNoCurrentVersionsOrRounds) {
  auto current = store_->GetCurrent(kTask);
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_FALSE(current->has_value());
  auto versions = store_->ListVersions(kTask);
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_TRUE(versions->empty());
  auto last = store_->LastRoundId(kTask);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 0);
}

TEST_P(StoreConformanceTest, CommitChainAdvancesCurrent) {
  ModelVersionRecord v1 = MakeRecord(1, 0);
  v1.round_id = 0;
  Commit(v1);
  auto current = store_->GetCurrent(kTask);
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  ExpectSameRecord(**current, v1, /*with_weights=*/true);

  ModelVersionRecord v2 = MakeRecord(2, 1);
  Commit(v2);
  current = store_->GetCurrent(kTask);
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  ExpectSameRecord(**current, v2, /*with_weights=*/true);
}

TEST_P(StoreConformanceTest, CommitWithWrongParentFailsAndChangesNothing) {
  EXPECT_EQ(store_->CommitVersion(MakeRecord(2, 1)).code(),
            StatusCode::kFailedPrecondition);
  auto none = store_->GetCurrent(kTask);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  Commit(MakeRecord(1, 0));
  for (const ModelVersionRecord& bad :
       {MakeRecord(2, 0, "fork"), MakeRecord(3, 2, "ahead"),
        MakeRecord(7, 5, "far")}) {
    absl::Status s = store_->CommitVersion(bad);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
  }
  ExpectCurrentVersion(1);
  auto versions = store_->ListVersions(kTask);
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_EQ(versions->size(), 1u);
  EXPECT_EQ(store_->GetVersion(kTask, 2).status().code(),
            StatusCode::kNotFound);
  auto last = store_->LastRoundId(kTask);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 10);
}

TEST_P(StoreConformanceTest, RecommittingAVersionIsFailedPrecondition) {
  // The parent check comes first: once v2 is current, a second v2 (parent 1)
  // names a stale parent, whatever its number.
  Commit(MakeRecord(1, 0));
  ModelVersionRecord v2 = MakeRecord(2, 1);
  Commit(v2);
  absl::Status s = store_->CommitVersion(MakeRecord(2, 1, "impostor"));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
  auto got = store_->GetVersion(kTask, 2);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, v2, /*with_weights=*/true);
}

TEST_P(StoreConformanceTest, InvalidRecordsAreInvalidArgument) {
  ModelVersionRecord no_task = MakeRecord(1, 0);
  no_task.task = "";
  ModelVersionRecord nul_architecture = MakeRecord(1, 0);
  nul_architecture.architecture = std::string("a\0b", 3);
  for (const ModelVersionRecord& bad :
       {MakeRecord(1, 1), MakeRecord(0, 0), MakeRecord(1, -1), MakeRecord(3, 4),
        no_task, nul_architecture}) {
    absl::Status s = store_->CommitVersion(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument)
        << "version " << bad.version << " parent " << bad.parent << ": " << s;
  }
  auto current = store_->GetCurrent(kTask);
  ASSERT_TRUE(current.ok());
  EXPECT_FALSE(current->has_value());
}

// Without a lease on the task (and a directory has none), a write that
// claims one is refused, and a negative epoch is malformed; nothing changes.
TEST_P(StoreConformanceTest, LeaseEpochWithoutALeaseIsRefused) {
  ASSERT_TRUE(store_->CommitVersion(MakeRecord(1, 0)).ok());
  ModelVersionRecord claimed = MakeRecord(2, 1);
  claimed.lease_epoch = 3;
  absl::Status s = store_->CommitVersion(claimed);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "has no lease")) << s;
  claimed.lease_epoch = -1;
  EXPECT_EQ(store_->CommitVersion(claimed).code(),
            StatusCode::kInvalidArgument);
  ReleaseRecord release = store_testing::MakeTestRelease(kTask, 1, 1);
  release.lease_epoch = 3;
  EXPECT_EQ(store_->AppendRelease(release).code(),
            StatusCode::kFailedPrecondition);
  release.lease_epoch = -1;
  EXPECT_EQ(store_->AppendRelease(release).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListVersions(kTask)->size(), 1u);
  EXPECT_TRUE(store_->ListReleases(kTask)->empty());
  release.lease_epoch = 0;
  ASSERT_TRUE(store_->AppendRelease(release).ok());
  EXPECT_EQ(store_->GetRelease(kTask, 1)->lease_epoch, 0);
  EXPECT_EQ(store_->GetVersion(kTask, 1)->lease_epoch, 0);
}

TEST_P(StoreConformanceTest, UnsafeNamesAreInvalidArgument) {
  const std::string bad_names[] = {"",
                                   ".",
                                   "..",
                                   "../escape",
                                   "a/b",
                                   "/abs",
                                   "a b",
                                   "-flag",
                                   ".hidden",
                                   std::string("a\0b", 3),
                                   "caf\xc3\xa9",
                                   std::string(129, 'a')};
  for (const std::string& name : bad_names) {
    SCOPED_TRACE(absl::StrCat("name \"", name, "\""));
    ModelVersionRecord r = MakeRecord(1, 0);
    r.task = name;
    EXPECT_EQ(store_->CommitVersion(r).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->GetCurrent(name).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->GetVersion(name, 1).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->ListVersions(name).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->LastRoundId(name).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->RecordDevice(name, 1, 1, 0, 0).code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->GetDevice(name).status().code(),
              StatusCode::kInvalidArgument);
    ReleaseRecord release = MakeRelease(1, 1);
    release.task = name;
    EXPECT_EQ(store_->AppendRelease(release).code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->GetCurrentRelease(name).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->ListReleases(name).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->GetRelease(name, 1).status().code(),
              StatusCode::kInvalidArgument);
  }
  ModelVersionRecord longest = MakeRecord(1, 0);
  longest.task = std::string(128, 'a');
  EXPECT_TRUE(store_->CommitVersion(longest).ok());
  EXPECT_TRUE(store_->RecordDevice("Dev_1.x-y", 1, 1, 0, 0).ok());
}

TEST_P(StoreConformanceTest, GetVersionOfMissingVersionIsNotFound) {
  EXPECT_EQ(store_->GetVersion(kTask, 1).status().code(),
            StatusCode::kNotFound);
  Commit(MakeRecord(1, 0));
  Commit(MakeRecord(2, 1));
  for (int64_t missing : {int64_t{0}, int64_t{-1}, int64_t{3}}) {
    EXPECT_EQ(store_->GetVersion(kTask, missing).status().code(),
              StatusCode::kNotFound)
        << missing;
  }
  EXPECT_EQ(store_->GetVersion("other-task", 1).status().code(),
            StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, GetVersionReturnsOlderVersionsWithWeights) {
  std::vector<ModelVersionRecord> committed;
  for (int64_t v = 1; v <= 4; ++v) {
    committed.push_back(MakeRecord(v, v - 1));
    Commit(committed.back());
  }
  for (const ModelVersionRecord& want : committed) {
    auto got = store_->GetVersion(kTask, want.version);
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectSameRecord(*got, want, /*with_weights=*/true);
  }
}

// The server optimizer's state travels with its version, byte for byte;
// a version stored without one reads back empty.
TEST_P(StoreConformanceTest, OptimizerStateIsStoredWithItsVersion) {
  Commit(MakeRecord(1, 0));
  ModelVersionRecord v2 = MakeRecord(2, 1);
  // A NUL and a 0xff byte inside. The literal is split so that "\xff" does
  // not swallow the hex digit "b" that follows, and the length is counted by
  // the compiler (a hand count of 17 read past the literal's end).
  static constexpr char kState[] = "state\0with\xff" "bytes";
  v2.optimizer_state = std::string(kState, sizeof(kState) - 1);
  ASSERT_EQ(v2.optimizer_state.size(), 16u);
  Commit(v2);
  auto current = store_->GetCurrent(kTask);
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->optimizer_state, v2.optimizer_state);
  auto first = store_->GetVersion(kTask, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->optimizer_state.empty());
}

TEST_P(StoreConformanceTest, ListVersionsIsOldestFirstWithoutWeights) {
  // Numbers need not be consecutive; only version > parent == current.
  std::vector<ModelVersionRecord> committed = {
      MakeRecord(1, 0), MakeRecord(2, 1), MakeRecord(5, 2), MakeRecord(6, 5)};
  for (const ModelVersionRecord& r : committed) Commit(r);
  auto versions = store_->ListVersions(kTask);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), committed.size());
  for (size_t i = 0; i < committed.size(); ++i) {
    ExpectSameRecord((*versions)[i], committed[i], /*with_weights=*/false);
  }
}

TEST_P(StoreConformanceTest, EmptyWeightsAndArchitectureRoundTrip) {
  ModelVersionRecord r = MakeRecord(1, 0);
  r.weights.clear();
  r.architecture.clear();
  r.metrics.clear();
  Commit(r);
  auto got = store_->GetVersion(kTask, 1);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, r, /*with_weights=*/true);
}

TEST_P(StoreConformanceTest, MetricsRoundTripBitForBit) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  ModelVersionRecord r = MakeRecord(1, 0);
  r.architecture = "name with spaces, = signs,\nnewlines and caf\xc3\xa9";
  r.metrics = {
      {"accuracy", 0.1},
      {"third", 1.0 / 3.0},
      {"pi", std::numbers::pi},
      {"tiny", 1e-308},
      {"denormal", std::numeric_limits<double>::denorm_min()},
      {"max", std::numeric_limits<double>::max()},
      {"lowest", std::numeric_limits<double>::lowest()},
      {"negative zero", -0.0},
      {"zero", 0.0},
      {"inf", kInf},
      {"-inf", -kInf},
      {"nan", std::numeric_limits<double>::quiet_NaN()},
      {"big", 123456789.123456789},
      {"key=value", 2.5},
      {"line\nbreak", -7.25},
      {"", 1.0},
      {"m\xc3\xa9trique", 0.75},
  };
  // Plus random bit patterns across the whole double range.
  std::mt19937_64 rng(20240601);
  for (int i = 0; i < 200; ++i) {
    double value = std::bit_cast<double>(rng());
    if (!std::isnan(value)) r.metrics[absl::StrCat("random-", i)] = value;
  }
  Commit(r);
  auto got = store_->GetVersion(kTask, 1);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, r, /*with_weights=*/true);
  auto listed = store_->ListVersions(kTask);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  ExpectSameRecord((*listed)[0], r, /*with_weights=*/false);
}

TEST_P(StoreConformanceTest, LargeBinaryWeightsRoundTripExactly) {
  std::string weights(5 << 20, '\0');
  std::mt19937 rng(42);
  for (size_t i = 0; i < weights.size(); ++i) {
    weights[i] = static_cast<char>(rng() & 0xff);
  }
  for (int b = 0; b < 256; ++b) weights[b] = static_cast<char>(b);
  std::fill(weights.begin() + 1000, weights.begin() + 5000, '\0');
  weights.back() = '\0';
  Commit(MakeRecord(1, 0, weights));
  auto current = store_->GetCurrent(kTask);
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  EXPECT_TRUE((*current)->weights == weights);
  auto v1 = store_->GetVersion(kTask, 1);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_TRUE(v1->weights == weights);
}

TEST_P(StoreConformanceTest, LastRoundIdIsHighestCommittedRound) {
  ModelVersionRecord v1 = MakeRecord(1, 0);
  v1.round_id = 0;
  ModelVersionRecord v2 = MakeRecord(2, 1);
  v2.round_id = 17;
  ModelVersionRecord v3 = MakeRecord(3, 2);
  v3.round_id = 12;  // A rollback re-publishes an older round's weights.
  for (const auto& r : {v1, v2, v3}) Commit(r);
  auto last = store_->LastRoundId(kTask);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 17);
  auto other = store_->LastRoundId("other-task");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(*other, 0);
}

TEST_P(StoreConformanceTest, TasksAreIndependent) {
  Commit(MakeRecord(1, 0));
  ModelVersionRecord other = MakeRecord(1, 0, "other weights");
  other.task = "cifar-cnn";
  ASSERT_TRUE(store_->CommitVersion(other).ok());
  ExpectCurrentVersion(1);
  auto got = store_->GetVersion("cifar-cnn", 1);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, other, /*with_weights=*/true);
}

TEST_P(StoreConformanceTest, RecordDeviceAccumulatesCounters) {
  EXPECT_EQ(store_->GetDevice("phone-1").status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(store_->RecordDevice("phone-1", 1000, 1, 0, 0).ok());
  ASSERT_TRUE(store_->RecordDevice("phone-1", 3000, 1, 1, 0).ok());
  ASSERT_TRUE(store_->RecordDevice("phone-1", 2000, 2, 3, 4).ok());
  ASSERT_TRUE(store_->RecordDevice("phone-2", 5000, 1, 0, 1).ok());
  auto d = store_->GetDevice("phone-1");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->device_id, "phone-1");
  EXPECT_EQ(d->last_seen_unix_ms, 2000);  // Set by the latest call.
  EXPECT_EQ(d->check_ins, 4);
  EXPECT_EQ(d->reports_accepted, 4);
  EXPECT_EQ(d->reports_rejected, 4);
  auto d2 = store_->GetDevice("phone-2");
  ASSERT_TRUE(d2.ok()) << d2.status();
  EXPECT_EQ(d2->check_ins, 1);
  EXPECT_EQ(d2->reports_rejected, 1);
  EXPECT_EQ(store_->RecordDevice("phone-1", 1, -1, 0, 0).code(),
            StatusCode::kInvalidArgument);
}

// Each round, every thread commits version round + 1 on parent round, and
// exactly one may win. Threads use `shared` or, if it is null, their own
// instance (own connection or own lock descriptor), which exercises locking
// across instances.
void RaceCommits(Store* shared, std::vector<std::unique_ptr<Store>>& instances,
                 int rounds) {
  const int threads = static_cast<int>(instances.size());
  for (int round = 0; round < rounds; ++round) {
    std::vector<absl::Status> results(threads);
    std::latch start(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        Store* store = shared != nullptr ? shared : instances[t].get();
        ModelVersionRecord r =
            MakeRecord(round + 1, round, absl::StrCat("thread-", t));
        start.arrive_and_wait();
        results[t] = store->CommitVersion(r);
      });
    }
    for (auto& w : workers) w.join();
    int winner = -1;
    for (int t = 0; t < threads; ++t) {
      if (results[t].ok()) {
        EXPECT_EQ(winner, -1) << "two winners in round " << round;
        winner = t;
      } else {
        EXPECT_EQ(results[t].code(), StatusCode::kFailedPrecondition)
            << results[t];
      }
    }
    ASSERT_NE(winner, -1) << "no winner in round " << round;
    Store* reader = shared != nullptr ? shared : instances[0].get();
    auto current = reader->GetCurrent(kTask);
    ASSERT_TRUE(current.ok()) << current.status();
    ASSERT_TRUE(current->has_value());
    EXPECT_EQ((*current)->version, round + 1);
    EXPECT_EQ((*current)->weights, absl::StrCat("thread-", winner));
  }
}

TEST_P(StoreConformanceTest, ConcurrentCommitsOnOneInstanceHaveOneWinner) {
  std::vector<std::unique_ptr<Store>> slots(8);
  RaceCommits(store_.get(), slots, /*rounds=*/3);
}

TEST_P(StoreConformanceTest, ConcurrentCommitsAcrossInstancesHaveOneWinner) {
  std::vector<std::unique_ptr<Store>> instances;
  for (int i = 0; i < 6; ++i) {
    instances.push_back(OpenStore());
    ASSERT_NE(instances.back(), nullptr);
  }
  RaceCommits(nullptr, instances, /*rounds=*/3);
  auto versions = store_->ListVersions(kTask);
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_EQ(versions->size(), 3u);
}

TEST_P(StoreConformanceTest, ConcurrentRecordDeviceLosesNoUpdates) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 20;
  std::vector<std::unique_ptr<Store>> instances;
  for (int i = 0; i < kThreads; ++i) {
    instances.push_back(i % 2 == 0 ? nullptr : OpenStore());
  }
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      Store* store = instances[t] ? instances[t].get() : store_.get();
      for (int i = 0; i < kCalls; ++i) {
        EXPECT_TRUE(store->RecordDevice("phone-1", 100 + i, 1, 2, 1).ok());
      }
    });
  }
  for (auto& w : workers) w.join();
  auto d = store_->GetDevice("phone-1");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->check_ins, kThreads * kCalls);
  EXPECT_EQ(d->reports_accepted, 2 * kThreads * kCalls);
  EXPECT_EQ(d->reports_rejected, kThreads * kCalls);
}

TEST_P(StoreConformanceTest, ReopenedStoreSeesTheSameState) {
  std::vector<ModelVersionRecord> committed = {MakeRecord(1, 0),
                                               MakeRecord(2, 1)};
  for (const auto& r : committed) Commit(r);
  ASSERT_TRUE(store_->RecordDevice("phone-1", 1234, 2, 1, 1).ok());
  store_.reset();

  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  auto current = store_->GetCurrent(kTask);
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  ExpectSameRecord(**current, committed[1], /*with_weights=*/true);
  auto versions = store_->ListVersions(kTask);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), 2u);
  ExpectSameRecord((*versions)[0], committed[0], /*with_weights=*/false);
  auto last = store_->LastRoundId(kTask);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 20);
  auto d = store_->GetDevice("phone-1");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->last_seen_unix_ms, 1234);
  EXPECT_EQ(d->check_ins, 2);
  // And history continues from where it was.
  Commit(MakeRecord(3, 2));
  ExpectCurrentVersion(3);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest,
                         ::testing::Values("directory", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace cohort::server
