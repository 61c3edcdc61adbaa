// FedPer through the RoundEngine: rounds aggregate the shared tensors only
// and never change the personal ones.

#include <vector>

#include "common/model/personal_layers.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "server/round/round_engine.h"
#include "tests/server/round/round_engine_fixture.h"

namespace cohort::server {
namespace {

class RoundEnginePersonalTest : public RoundEngineTest {
 protected:
  void SetUp() override {
    RoundEngineTest::SetUp();
    model_ = FakeTaskModel(4, 3);
    options_.personal = model::PersonalLayers({"head"});
  }

  static std::vector<float> Values(const PublishedModel& m, int i) {
    auto v = model::FloatView(m.weights.tensors(i));
    return {v.begin(), v.end()};
  }
};

TEST_F(RoundEnginePersonalTest, SharedLayersAverageAndPersonalOnesStayPut) {
  auto engine = MakeEngine();
  PlayRound(*engine, 1.0f, -1, 0);
  PlayRound(*engine, -0.5f, -1, 0);
  auto current = engine->current_model();
  EXPECT_EQ(current->version, 3);
  ASSERT_EQ(current->weights.tensors_size(), 2);
  EXPECT_EQ(Values(*current, 0), std::vector<float>(4, 0.5f));
  EXPECT_EQ(current->weights.tensors(1).name(), "head.weight");
  EXPECT_EQ(Values(*current, 1), std::vector<float>(3, 0.5f));
}

TEST_F(RoundEnginePersonalTest, AReportCarryingPersonalLayersIsRefused) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 13), 13);
  cohort::v1::Report full = ReportOf(engine->round_id(), 1.0f, 1);
  *full.mutable_delta() = *model_.InitialWeights();
  auto ack = engine->SubmitReport(Dev(0), full);
  EXPECT_EQ(ack.status().code(), absl::StatusCode::kInvalidArgument);
  // The shared layers alone are what a device sends.
  ack = engine->SubmitReport(Dev(1), ReportOf(engine->round_id(), 1.0f, 1));
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_TRUE(ack->accepted());
}

TEST_F(RoundEnginePersonalTest, MomentumCoversSharedLayersAndResumesAfterRestart) {
  options_.server_optimizer.momentum = 0.9;
  {
    auto engine = MakeEngine();
    PlayRound(*engine, 1.0f, -1, 0);
  }
  // The stored momentum has the shared layout: a restart resumes it (a
  // mismatch would fail Start with DATA_LOSS) and the next step uses it.
  auto engine = MakeEngine();
  PlayRound(*engine, 1.0f, -1, 0);
  auto current = engine->current_model();
  // w = 1, then 1 + (0.9 * 1 + 1) = 2.9.
  EXPECT_FLOAT_EQ(Values(*current, 0)[0], 2.9f);
  EXPECT_EQ(Values(*current, 1), std::vector<float>(3, 0.5f));
}

TEST_F(RoundEnginePersonalTest, ChangingThePersonalLayersRestartsTheMomentum) {
  options_.server_optimizer.momentum = 0.9;
  options_.personal = model::PersonalLayers();
  {
    // FedAvg: reports carry both tensors ("w" +1, the head 0).
    auto engine = MakeEngine();
    ASSERT_EQ(CheckInAll(*engine, 13), 13);
    for (int i = 0; i < 10; ++i) {
      cohort::v1::Report r = ReportOf(engine->round_id(), 1.0f, 1);
      cohort::v1::Weights full = *model_.InitialWeights();
      *full.mutable_tensors(0) = r.delta().tensors(0);
      model::SetFloatData(std::vector<float>(3, 0.0f), full.mutable_tensors(1));
      *r.mutable_delta() = full;
      ASSERT_TRUE(engine->SubmitReport(Dev(i), r).ok());
    }
    ASSERT_TRUE(engine->RunOnce());
    ASSERT_EQ(engine->current_model()->version, 2);
  }
  // Stored for "w" and "head.weight"; now "head" is personal. The task
  // resumes, with the momentum started over: w = 1 + 1.
  options_.personal = model::PersonalLayers({"head"});
  auto engine = MakeEngine();
  PlayRound(*engine, 1.0f, -1, 0);
  EXPECT_FLOAT_EQ(Values(*engine->current_model(), 0)[0], 2.0f);
}

TEST_F(RoundEnginePersonalTest, PersonalLayersThatNameNoTensorAreRefusedAtAssembly) {
  cohort::v1::Weights initial = *model_.InitialWeights();
  EXPECT_TRUE(CheckPersonalLayers(options_, initial).ok());
  options_.personal = model::PersonalLayers({"fc9"});
  absl::Status s = CheckPersonalLayers(options_, initial);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("plan.personal_layers"), std::string::npos) << s;
  options_.personal = model::PersonalLayers({"w", "head"});
  EXPECT_NE(CheckPersonalLayers(options_, initial).message().find(
                "nothing is left to federate"),
            std::string::npos);
}

}  // namespace
}  // namespace cohort::server
