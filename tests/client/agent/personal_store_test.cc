// FedPer on the agent: the personal layers it keeps between rounds (and
// restarts), what it uploads, and what it does with a damaged file.

#include "client/agent/personal_store.h"

#include <filesystem>
#include <limits>
#include <vector>

#include "common/base/files.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "tests/client/agent/agent_fixture.h"

namespace cohort::client {
namespace {

std::vector<float> Values(const cohort::v1::Weights& w, const std::string& name) {
  for (const auto& t : w.tensors()) {
    if (t.name() == name) {
      auto v = model::FloatView(t);
      return {v.begin(), v.end()};
    }
  }
  return {};
}

class PersonalAgentTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    // "w" (4 values) shared, "head.weight" (2 values) personal; all 0.
    cohort::v1::Weights w;
    for (auto [name, n] : {std::pair{"w", 4}, std::pair{"head.weight", 2}}) {
      auto* t = w.add_tensors();
      t->set_name(name);
      t->add_shape(n);
      model::SetFloatData(std::vector<float>(static_cast<size_t>(n), 0.0f), t);
    }
    state_->model_bytes = model::SerializeWeights(w);
  }

  cohort::v1::ServerMessage PersonalAssignment(int64_t round) {
    cohort::v1::ServerMessage m = Assignment(round);
    m.mutable_task_assignment()->mutable_plan()->add_personal_layers("head");
    return m;
  }
};

TEST_F(PersonalAgentTest, UploadsSharedLayersAndTrainsFromItsOwnHeadAcrossRestarts) {
  options_.max_rounds = 2;
  state_->check_ins = {PersonalAssignment(1), PersonalAssignment(2)};
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(state_->reports.size(), 2u);
  for (const auto& r : state_->reports) {
    ASSERT_EQ(r.delta().tensors_size(), 1);
    EXPECT_EQ(r.delta().tensors(0).name(), "w");
  }
  ASSERT_EQ(trainer_.calls.size(), 2u);
  // Round 1 starts from the global head (0), round 2 from the head round 1
  // trained (0 + 0.25); the shared layer always comes from the server.
  EXPECT_EQ(Values(trainer_.calls[0].start, "head.weight"),
            (std::vector<float>{0, 0}));
  EXPECT_EQ(Values(trainer_.calls[1].start, "head.weight"),
            (std::vector<float>{0.25f, 0.25f}));
  EXPECT_EQ(Values(trainer_.calls[1].start, "w"), std::vector<float>(4, 0.0f));
  // A restarted agent keeps its head: the file holds 0.5 after two rounds.
  PersonalStore store(options_.state_dir);
  EXPECT_EQ(Values(store.Load("t", "fake"), "head.weight"),
            (std::vector<float>{0.5f, 0.5f}));
  state_->check_ins = {PersonalAssignment(3)};
  options_.max_rounds = 1;
  trainer_.calls.clear();
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(trainer_.calls.size(), 1u);
  EXPECT_EQ(Values(trainer_.calls[0].start, "head.weight"),
            (std::vector<float>{0.5f, 0.5f}));
}

TEST_F(PersonalAgentTest, ADivergedHeadIsForgottenAndTheRoundNotReported) {
  options_.max_rounds = 2;
  state_->check_ins = {PersonalAssignment(1), PersonalAssignment(2)};
  trainer_.between_batches = [this](int) {
    trainer_.step = trainer_.calls.size() == 1
                        ? std::numeric_limits<float>::quiet_NaN()
                        : 0.25f;
  };
  ASSERT_TRUE(Run().ok());
  // Round 1 diverged: not reported, nothing kept; the next round starts
  // from the global head again.
  ASSERT_FALSE(state_->reports.empty());
  for (const auto& r : state_->reports) EXPECT_EQ(r.round_id(), 2);
  ASSERT_GE(trainer_.calls.size(), 2u);
  EXPECT_EQ(Values(trainer_.calls[1].start, "head.weight"),
            (std::vector<float>{0, 0}));
}

TEST_F(PersonalAgentTest, KeptLayersHoldingNanAreDroppedForTheGlobalOnes) {
  PersonalStore store(options_.state_dir);
  std::filesystem::create_directories(options_.state_dir);
  cohort::v1::Weights kept;
  auto* t = kept.add_tensors();
  t->set_name("head.weight");
  t->add_shape(2);
  model::SetFloatData(
      std::vector<float>{1, std::numeric_limits<float>::quiet_NaN()}, t);
  ASSERT_TRUE(store.Save("t", "fake", kept).ok());
  options_.max_rounds = 1;
  state_->check_ins = {PersonalAssignment(1)};
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(state_->reports.size(), 1u);
  EXPECT_EQ(Values(trainer_.calls[0].start, "head.weight"),
            (std::vector<float>{0, 0}));
  // What round 1 trained replaced the damaged layers.
  EXPECT_EQ(Values(store.Load("t", "fake"), "head.weight"),
            (std::vector<float>{0.25f, 0.25f}));
}

TEST_F(PersonalAgentTest, FieldEvaluationsScoreTheDevicesOwnModel) {
  options_.max_rounds = 2;
  options_.field_report_interval = absl::ZeroDuration();
  auto asked = PersonalAssignment(1);
  asked.mutable_task_assignment()->set_evaluate_before_training(true);
  state_->check_ins = {asked, PersonalAssignment(2)};
  ASSERT_TRUE(Run().ok());
  // Before round 1's training: the global head; at the next check-in, the
  // head round 1 trained.
  ASSERT_EQ(trainer_.evaluated.size(), 2u);
  EXPECT_EQ(Values(trainer_.evaluated[0], "head.weight"),
            (std::vector<float>{0, 0}));
  EXPECT_EQ(Values(trainer_.evaluated[1], "head.weight"),
            (std::vector<float>{0.25f, 0.25f}));
  ASSERT_TRUE(state_->seen_check_ins[1].has_field_evaluation());
}

TEST_F(PersonalAgentTest, WithoutPersonalLayersEverythingIsUploadedAndNothingKept) {
  options_.max_rounds = 1;
  state_->check_ins = {Assignment(1)};
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(state_->reports.size(), 1u);
  EXPECT_EQ(state_->reports[0].delta().tensors_size(), 2);
  EXPECT_FALSE(std::filesystem::exists(options_.state_dir + "/" + kPersonalLayersFile));
}

TEST(PersonalStoreTest, AnotherTasksOrArchitecturesLayersAreNotUsed) {
  const std::string dir = ::testing::TempDir() + "/personal_store_other";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  PersonalStore store(dir);
  EXPECT_EQ(store.Load("t", "a").tensors_size(), 0);
  cohort::v1::Weights w;
  w.add_tensors()->set_name("head.weight");
  ASSERT_TRUE(store.Save("t", "a", w).ok());
  EXPECT_EQ(store.Load("t", "a").tensors_size(), 1);
  EXPECT_EQ(store.Load("u", "a").tensors_size(), 0);
  EXPECT_EQ(store.Load("t", "b").tensors_size(), 0);
}

TEST(PersonalStoreTest, ADamagedFileIsSetAsideAndTheGlobalLayersAreUsed) {
  const std::string dir = ::testing::TempDir() + "/personal_store_damaged";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  PersonalStore store(dir);
  ASSERT_TRUE(base::WriteFileAtomically(store.path(), "\xff\xff\xff not a record").ok());
  EXPECT_EQ(store.Load("t", "a").tensors_size(), 0);
  EXPECT_FALSE(std::filesystem::exists(store.path()));
  EXPECT_TRUE(std::filesystem::exists(store.path() + ".corrupt"));
}

TEST(PersonalStoreTest, KeptLayersThatNoLongerFitAreForgotten) {
  const std::string dir = ::testing::TempDir() + "/personal_store_misfit";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  PersonalStore store(dir);
  cohort::v1::Weights kept;
  auto* t = kept.add_tensors();
  t->set_name("head.weight");
  t->add_shape(3);
  model::SetFloatData(std::vector<float>{1, 2, 3}, t);
  ASSERT_TRUE(store.Save("t", "fake", kept).ok());
  cohort::v1::TaskAssignment a;
  a.set_task("t");
  a.mutable_model()->set_architecture("fake");
  a.mutable_plan()->add_personal_layers("head");
  cohort::v1::Weights global;
  auto* g = global.add_tensors();
  g->set_name("head.weight");
  g->add_shape(2);
  model::SetFloatData(std::vector<float>{0, 0}, g);
  cohort::v1::Weights start = PersonalizedStart(store, a, global);
  EXPECT_EQ(Values(start, "head.weight"), (std::vector<float>{0, 0}));
  EXPECT_FALSE(std::filesystem::exists(store.path()));
}

}  // namespace
}  // namespace cohort::client
