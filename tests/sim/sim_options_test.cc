#include "sim/sim_options.h"

#include "absl/strings/match.h"
#include "common/base/textproto.h"
#include "gtest/gtest.h"
#include "sim/sim_config.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort::sim {
namespace {

class SimOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = ::testing::TempDir() + "/sim_options_data";
    ASSERT_TRUE(testing::WriteSyntheticFashionMnist(data_dir_, 50, 20, 1));
  }

  // A valid scenario plus `extra` textproto fields.
  cohort::v1::SimConfig Config(const std::string& extra) {
    cohort::v1::SimConfig c, more;
    EXPECT_TRUE(base::ParseTextProto(
                    "population { num_clients: 100 } clients_per_round: 10 "
                    "data { idx_dir: '" + data_dir_ + "' }", &c)
                    .ok());
    EXPECT_TRUE(base::ParseTextProto(extra, &more).ok()) << extra;
    c.MergeFrom(more);
    return c;
  }

  void ExpectRefusedNaming(const std::string& extra, const std::string& field) {
    auto o = ResolveSimOptions(Config(extra));
    ASSERT_FALSE(o.ok()) << extra;
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(o.status().message(), field)) << o.status();
  }

  std::string data_dir_;
};

TEST_F(SimOptionsTest, UnsetFieldsGetTheMemberDefaults) {
  auto o = ResolveSimOptions(Config(""));
  ASSERT_TRUE(o.ok()) << o.status();
  const SimOptions d;
  EXPECT_EQ(o->name, d.name);
  EXPECT_EQ(o->rounds, d.rounds);
  EXPECT_EQ(o->seed, d.seed);
  EXPECT_EQ(o->threads, d.threads);
  EXPECT_EQ(o->architecture, d.architecture);
  EXPECT_EQ(o->train_examples, 0);
  EXPECT_EQ(o->max_message_bytes, d.max_message_bytes);
  EXPECT_EQ(o->round.goal_count, 10);
  EXPECT_EQ(o->round.max_rounds, d.rounds);
  EXPECT_EQ(o->population.seed, d.seed);
}

TEST_F(SimOptionsTest, DataMaxExamplesCapsTheTrainingSet) {
  auto o = ResolveSimOptions(Config("data { max_examples: 30 }"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->train_examples, 30);
  ExpectRefusedNaming("data { max_examples: -1 }", "data.max_examples");
}

TEST_F(SimOptionsTest, FieldsThatDoNotApplyAreRefused) {
  ExpectRefusedNaming("data { use_test_split: true }", "data.use_test_split");
  ExpectRefusedNaming("round { goal_count: 3 }", "round.goal_count");
  ExpectRefusedNaming("round { max_rounds: 3 }", "round.max_rounds");
  ExpectRefusedNaming("max_message_bytes: -1", "max_message_bytes");
}

TEST_F(SimOptionsTest, SeedSeedsThePopulation) {
  auto o = ResolveSimOptions(Config("seed: 9"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->seed, 9u);
  EXPECT_EQ(o->population.seed, 9u);
}

// The simulator resolves the record it is given again: that must change
// nothing, and the record must agree with the options.
TEST_F(SimOptionsTest, ResolvingTheRecordIsIdempotent) {
  const cohort::v1::SimConfig c = Config(
      "population { partition: DIRICHLET alpha: 0.3 } rounds: 4 seed: 5 "
      "devices { speed_sigma: 0.5 } data { max_examples: 40 }");
  auto record = ResolveSimConfig(c);
  ASSERT_TRUE(record.ok()) << record.status();
  auto again = ResolveSimConfig(*record);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), record->SerializeAsString());
  auto from_input = ResolveSimOptions(c);
  auto from_record = ResolveSimOptions(*record);
  ASSERT_TRUE(from_input.ok() && from_record.ok());
  EXPECT_EQ(from_record->devices.SerializeAsString(),
            from_input->devices.SerializeAsString());
  EXPECT_EQ(from_record->population.alpha, 0.3);
  EXPECT_EQ(from_record->train_examples, 40);
  EXPECT_EQ(from_record->round.max_rounds, 4);
  EXPECT_EQ(ToPopulationSpec(*record).seed, 5u);
}

}  // namespace
}  // namespace cohort::sim
