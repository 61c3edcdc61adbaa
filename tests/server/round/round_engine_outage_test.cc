// RoundEngine while its store is away (round_engine_outage.cc): check-ins
// are refused with UNAVAILABLE, and a round whose commit found the store
// away keeps its result and commits it, once, when the store returns.

#include <atomic>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "server/round/device_session.h"
#include "server/round/round_engine.h"
#include "tests/server/round/round_engine_fixture.h"
#include "tests/testing/forwarding_store.h"

namespace cohort::server {
namespace {

// A store that is unreachable while `away` is set, as PostgreSQL behind a
// cut connection: every call the engine makes fails with UNAVAILABLE.
class OutageStore final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  absl::Status CommitVersion(const ModelVersionRecord& r) override {
    ++commits_tried;
    if (away) return Away();
    return ForwardingStore::CommitVersion(r);
  }
  absl::StatusOr<std::optional<ModelVersionRecord>> GetCurrent(
      const std::string& t) override {
    if (away) return Away();
    return ForwardingStore::GetCurrent(t);
  }
  absl::Status RecordDevice(const std::string& d, int64_t s, int64_t c,
                            int64_t a, int64_t r) override {
    if (away) return Away();
    return ForwardingStore::RecordDevice(d, s, c, a, r);
  }
  absl::StatusOr<int64_t> LastRoundId(const std::string& t) override {
    ++round_id_reads;
    if (away) return Away();
    return ForwardingStore::LastRoundId(t);
  }
  static absl::Status Away() {
    return absl::UnavailableError("cannot connect to PostgreSQL");
  }
  std::atomic<bool> away{false};
  std::atomic<int> commits_tried{0};
  std::atomic<int> round_id_reads{0};  // one per attempt of a held commit
};

class RoundEngineOutageTest : public RoundEngineTest {
 protected:
  std::unique_ptr<RoundEngine> MakeEngineOn(Store* store) {
    auto engine = std::make_unique<RoundEngine>(
        options_, store, &model_, &clock_, [this](const RoundSummary& s) {
          (s.abandoned ? abandoned_ : summaries_).push_back(s);
        });
    EXPECT_TRUE(engine->Start().ok());
    return engine;
  }
  // 13 devices check in and the first 10 report `value`; the round's id.
  int64_t FillRound(RoundEngine& engine, float value) {
    EXPECT_EQ(CheckInAll(engine, 13), 13);
    const int64_t round = engine.round_id();
    for (int i = 0; i < 10; ++i) {
      EXPECT_TRUE(engine.SubmitReport(Dev(i), ReportOf(round, value, 1)).ok());
    }
    return round;
  }
};

TEST_F(RoundEngineOutageTest, RoundHeldWhileTheStoreIsAwayCommitsWhenItReturns) {
  OutageStore store(store_.get());
  auto engine = MakeEngineOn(&store);
  const int64_t round = FillRound(*engine, 2.0f);
  store.away = true;
  EXPECT_TRUE(engine->RunOnce());
  // Held: no version, no summary, no new round, devices turned away.
  EXPECT_TRUE(engine->waiting_for_store());
  EXPECT_EQ(engine->current_model()->version, 1);
  EXPECT_EQ(engine->round_id(), round);
  EXPECT_TRUE(summaries_.empty());
  EXPECT_TRUE(abandoned_.empty());
  EXPECT_EQ(engine->StoreStatus().code(), absl::StatusCode::kUnavailable);
  DeviceSession session(engine.get(), nullptr, "");
  cohort::v1::CheckIn hello;
  hello.set_device_id("newcomer");
  auto refused = session.CheckIn(hello);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("rounds are paused"),
            std::string::npos)
      << refused.status();
  // Devices are not told what the store said: it names the database.
  EXPECT_EQ(refused.status().message().find("PostgreSQL"), std::string::npos)
      << refused.status();

  // Retries back off while the store stays away: 1, 2, 4 s, ... so over
  // 10 s of ticks every 0.5 s, attempts at 1, 3 and 7 s, and no blind
  // commit (each attempt reads the store first).
  const int tried = store.commits_tried;
  const int reads = store.round_id_reads;
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(absl::Milliseconds(500));
    EXPECT_TRUE(engine->RunOnce());
  }
  EXPECT_TRUE(engine->waiting_for_store());
  EXPECT_EQ(store.round_id_reads - reads, 3);
  EXPECT_EQ(store.commits_tried - tried, 0);

  store.away = false;
  clock_.Advance(RoundEngine::kMaxCommitRetry);
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_FALSE(engine->waiting_for_store());
  EXPECT_TRUE(engine->StoreStatus().ok());
  // The held round's own result became version 2, once, and the next round
  // opened.
  EXPECT_EQ(engine->current_model()->version, 2);
  auto stored = store_->GetVersion("t", 2);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->round_id, round);
  EXPECT_EQ(stored->parent, 1);
  EXPECT_FLOAT_EQ(model::FloatView(engine->current_model()->weights.tensors(0))[0],
                  2.0f);
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].version, 2);
  EXPECT_TRUE(abandoned_.empty());
  EXPECT_EQ(engine->round_id(), round + 1);
  EXPECT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(
      engine->CheckIn(Dev(0))));
}

// The last attempt before the store went away may have landed (an unknown
// COMMIT outcome): the engine adopts the stored version instead of
// committing the round a second time.
TEST_F(RoundEngineOutageTest, AHeldCommitThatLandedIsAdoptedNotRepeated) {
  class LandsThenAway final : public testing::ForwardingStore {
   public:
    using ForwardingStore::ForwardingStore;
    absl::Status CommitVersion(const ModelVersionRecord& r) override {
      absl::Status s = ForwardingStore::CommitVersion(r);
      if (r.version == 2 && s.ok()) {
        away = true;
        return absl::UnavailableError("connection lost during COMMIT");
      }
      return s;
    }
    absl::StatusOr<std::optional<ModelVersionRecord>> GetCurrent(
        const std::string& t) override {
      if (away) return absl::UnavailableError("cannot connect");
      return ForwardingStore::GetCurrent(t);
    }
    bool away = false;
  };
  LandsThenAway store(store_.get());
  auto engine = MakeEngineOn(&store);
  const int64_t round = FillRound(*engine, 3.0f);
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_TRUE(engine->waiting_for_store());
  store.away = false;
  clock_.Advance(RoundEngine::kMaxCommitRetry);
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_FALSE(engine->waiting_for_store());
  EXPECT_EQ(engine->current_model()->version, 2);
  auto versions = store_->ListVersions("t");
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 2u);  // 1 and the landed 2, nothing more
  // It counts as this round's commit, not as an abandoned round.
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].version, 2);
  EXPECT_EQ(summaries_[0].round_id, round);
  EXPECT_TRUE(abandoned_.empty());
  EXPECT_EQ(engine->rounds_committed(), 1);
  // The next round builds on it and commits as usual.
  FillRound(*engine, 3.0f);
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->current_model()->version, 3);
  EXPECT_EQ(summaries_.size(), 2u);
}

// A statement timeout (DEADLINE_EXCEEDED) is a store away too: the round
// is held, not abandoned, and committed by the next attempt.
TEST_F(RoundEngineOutageTest, AStatementTimeoutHoldsTheRoundLikeAnAbsentStore) {
  class SlowOnce final : public testing::ForwardingStore {
   public:
    using ForwardingStore::ForwardingStore;
    absl::Status CommitVersion(const ModelVersionRecord& r) override {
      if (r.version == 2 && !timed_out) {
        timed_out = true;
        return absl::DeadlineExceededError("canceling statement due to statement timeout");
      }
      return ForwardingStore::CommitVersion(r);
    }
    bool timed_out = false;
  };
  SlowOnce store(store_.get());
  auto engine = MakeEngineOn(&store);
  const int64_t round = FillRound(*engine, 4.0f);
  EXPECT_TRUE(engine->RunOnce());  // the timeout, then an immediate retry
  EXPECT_FALSE(engine->waiting_for_store());
  EXPECT_TRUE(abandoned_.empty());
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].round_id, round);
  EXPECT_EQ(engine->current_model()->version, 2);
}

TEST_F(RoundEngineOutageTest, TheStoreProbePausesCheckInsOnlyWhileTheStoreIsAway) {
  auto engine = MakeEngine();
  engine->SetStoreHealth(absl::UnavailableError("connection refused"));
  EXPECT_EQ(engine->StoreStatus().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(engine->waiting_for_store());  // nothing is held
  engine->SetStoreHealth(absl::DeadlineExceededError("statement timeout"));
  EXPECT_EQ(engine->StoreStatus().code(), absl::StatusCode::kUnavailable);
  // A probe error that is not the store's absence pauses nothing.
  engine->SetStoreHealth(absl::InternalError("odd"));
  EXPECT_TRUE(engine->StoreStatus().ok());
  engine->SetStoreHealth(absl::OkStatus());
  EXPECT_TRUE(engine->StoreStatus().ok());
}

}  // namespace
}  // namespace cohort::server
