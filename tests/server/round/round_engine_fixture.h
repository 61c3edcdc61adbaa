#ifndef COHORT_TESTS_SERVER_ROUND_ROUND_ENGINE_FIXTURE_H_
#define COHORT_TESTS_SERVER_ROUND_ROUND_ENGINE_FIXTURE_H_

// The RoundEngine tests' fixture: an engine on a directory store with a
// fake task model and clock, and a helper that plays one plain round.

#include <filesystem>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "server/round/round_engine.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_task_model.h"

namespace cohort::server {

using cohort::testing::FakeClock;
using cohort::testing::FakeTaskModel;

class RoundEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/round_engine_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    auto store = DirectoryStore::Open(root_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    options_.task = "t";
    options_.goal_count = 10;
    options_.over_selection = 1.3;
    options_.min_reports = 8;
    options_.selection_timeout = absl::Seconds(10);
    options_.report_timeout = absl::Seconds(60);
  }

  std::unique_ptr<RoundEngine> MakeEngine() {
    auto engine = std::make_unique<RoundEngine>(
        options_, store_.get(), &model_, &clock_,
        [this](const RoundSummary& s) {
          (s.abandoned ? abandoned_ : summaries_).push_back(s);
        });
    EXPECT_TRUE(engine->Start().ok());
    return engine;
  }

  static std::string Dev(int i) { return "device-" + std::to_string(i); }

  cohort::v1::Report ReportOf(int64_t round, float value, int64_t n) {
    cohort::v1::Report r;
    r.set_round_id(round);
    *r.mutable_delta() = model_.Filled(value);
    r.set_num_examples(n);
    r.set_train_loss(1.0);
    return r;
  }

  // Checks in devices [0, n) and returns how many were assigned.
  int CheckInAll(RoundEngine& engine, int n) {
    int assigned = 0;
    for (int i = 0; i < n; ++i) {
      auto out = engine.CheckIn(Dev(i));
      if (std::holds_alternative<cohort::v1::TaskAssignment>(out)) ++assigned;
    }
    return assigned;
  }

  std::string root_;
  std::unique_ptr<DirectoryStore> store_;
  RoundOptions options_;
  FakeTaskModel model_;
  FakeClock clock_;
  std::vector<RoundSummary> summaries_;   // committed rounds
  std::vector<RoundSummary> abandoned_;   // abandoned rounds
};

// Plays one full round: 13 devices check in, the first 10 report `value`
// (with a field evaluation of `served` at `field_accuracy` when >= 0;
// -2: none, but field monitoring is on), then the driver commits.
inline void PlayRound(RoundEngine& engine, float value, double field_accuracy,
               int64_t served) {
  int assigned = 0;
  bool asked = false;
  for (int i = 0; i < 13; ++i) {
    auto out = engine.CheckIn("device-" + std::to_string(i));
    if (auto* a = std::get_if<cohort::v1::TaskAssignment>(&out)) {
      ++assigned;
      asked = a->evaluate_before_training();
    }
  }
  ASSERT_EQ(assigned, 13);
  EXPECT_EQ(asked, field_accuracy >= 0 || field_accuracy == -2);
  const int64_t round = engine.round_id();
  for (int i = 0; i < 10; ++i) {
    cohort::v1::Report r;
    r.set_round_id(round);
    *r.mutable_delta() = FakeTaskModel().Filled(value);
    r.set_num_examples(1);
    r.set_train_loss(1.0);
    if (field_accuracy >= 0) {
      auto* f = r.mutable_field_evaluation();
      f->set_version(served);
      f->set_num_examples(30);
      f->set_loss(0.5);
      f->set_accuracy(field_accuracy);
    }
    auto ack = engine.SubmitReport("device-" + std::to_string(i), r);
    ASSERT_TRUE(ack.ok()) << ack.status();
  }
  EXPECT_TRUE(engine.RunOnce());
}

}  // namespace cohort::server

#endif  // COHORT_TESTS_SERVER_ROUND_ROUND_ENGINE_FIXTURE_H_
