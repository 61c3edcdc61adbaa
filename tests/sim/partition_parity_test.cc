// The agent's path to its data (client/agent/agent_setup.cc, from the
// options client/agent/agent_options.cc resolves) and the
// simulator's SHARDS layout (common/data/client_population.cc) split a data
// set with the same function: for the same partition config and seed, agent
// shard i and simulator client i hold the same examples, and a split that
// cannot give every shard the minimum is refused on both paths alike.

#include <string>

#include "absl/strings/str_cat.h"
#include "client/agent/agent_options.h"
#include "client/agent/agent_setup.h"
#include "common/base/textproto.h"
#include "common/data/client_population.h"
#include "common/data/idx_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/sim_config.h"
#include "sim/simulator.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort::sim {
namespace {

using ::testing::HasSubstr;

constexpr int kTrain = 3000;

class PartitionParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(
        ::testing::TempDir(), "/partition_parity_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(testing::WriteSyntheticFashionMnist(dir_ + "/data", kTrain,
                                                    100, 11));
  }

  // The resolved options of an agent config with `partition` (a
  // PartitionConfig textproto).
  client::AgentOptions Agent(const std::string& partition) {
    cohort::v1::AgentConfig c;
    EXPECT_TRUE(base::ParseTextProto(
                    absl::StrCat("device_id: 'd' tls { ca_cert_path: 'ca' } "
                                 "data { idx_dir: '", dir_, "/data' } "
                                 "partition { ", partition, " }"),
                    &c)
                    .ok());
    absl::StatusOr<client::AgentOptions> options =
        client::ResolveAgentOptions(c);
    EXPECT_TRUE(options.ok()) << options.status();
    return options.ok() ? *options : client::AgentOptions();
  }

  // A resolved scenario with `population` (a PopulationConfig textproto).
  absl::StatusOr<cohort::v1::SimConfig> Sim(const std::string& population,
                                            uint64_t seed) {
    cohort::v1::SimConfig c;
    absl::Status parsed = base::ParseTextProto(
        absl::StrCat("population { ", population, " } clients_per_round: 5 "
                     "architecture: 'mlp' seed: ", seed, " data { idx_dir: '",
                     dir_, "/data' }"),
        &c);
    if (!parsed.ok()) return parsed;
    return ResolveSimConfig(c);
  }

  std::string dir_;
};

TEST_F(PartitionParityTest, AgentShardIIsSimulatorClientI) {
  struct Case {
    std::string agent, population;
  };
  const Case cases[] = {
      {"scheme: DIRICHLET num_shards: 30 alpha: 0.3 seed: 7",
       "num_clients: 30 partition: DIRICHLET alpha: 0.3 layout: SHARDS"},
      {"scheme: IID num_shards: 30 seed: 7",
       "num_clients: 30 partition: IID layout: SHARDS"},
  };
  auto train = data::LoadFashionMnist(dir_ + "/data", false);
  ASSERT_TRUE(train.ok()) << train.status();
  for (const Case& c : cases) {
    auto sim = Sim(c.population, /*seed=*/7);
    ASSERT_TRUE(sim.ok()) << sim.status();
    auto population =
        data::ClientPopulation::Create(ToPopulationSpec(*sim), &*train);
    ASSERT_TRUE(population.ok()) << population.status();
    client::AgentOptions agent = Agent(c.agent);
    int64_t total = 0;
    for (int i = 0; i < 30; ++i) {
      agent.shard_index = i;
      auto mine = client::LoadDeviceData(agent);
      ASSERT_TRUE(mine.ok()) << mine.status();
      const data::ImageDataset simulated = (*population)->DataOf(i);
      ASSERT_EQ(mine->labels, simulated.labels) << c.agent << " shard " << i;
      ASSERT_EQ(mine->images, simulated.images) << c.agent << " shard " << i;
      EXPECT_GE(mine->num_examples, data::kDefaultMinExamples);
      total += mine->num_examples;
    }
    // Disjoint and complete: the shards add up to the data set.
    EXPECT_EQ(total, kTrain) << c.agent;
  }
}

// The field report's split (Dirichlet 0.01 over 100 shards) cannot give every
// shard 10 examples. A device is told which shard, how many and what to
// change; the simulator refuses the same split before any round.
TEST_F(PartitionParityTest, UnfillableSplitIsRefusedOnBothPaths) {
  auto device = client::LoadDeviceData(
      Agent("scheme: DIRICHLET num_shards: 100 shard_index: 37 alpha: 0.01 "
            "seed: 7"));
  ASSERT_EQ(device.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(device.status().message());
  EXPECT_THAT(message, HasSubstr("partition.min_examples: shard 37 of 100 "
                                 "would hold "));
  EXPECT_THAT(message, HasSubstr("raise partition.alpha"));
  EXPECT_THAT(message, HasSubstr("partition.num_shards"));

  auto sim = Sim("num_clients: 100 partition: DIRICHLET alpha: 0.01 "
                 "layout: SHARDS",
                 /*seed=*/7);
  ASSERT_TRUE(sim.ok()) << sim.status();
  auto simulator =
      Simulator::Create(*sim, TransportKind::kInProcess, dir_ + "/state");
  ASSERT_EQ(simulator.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(simulator.status().message()),
              HasSubstr("population.min_examples: shard "));
  EXPECT_THAT(std::string(simulator.status().message()),
              HasSubstr("population.num_clients"));
}

// An IID split too fine for the data: the device holding an empty shard gets
// its shard, "no examples" and the largest shard count that works.
TEST_F(PartitionParityTest, EmptyIidShardNamesShardCountAndFix) {
  auto device = client::LoadDeviceData(
      Agent("scheme: IID num_shards: 6000 shard_index: 5999 seed: 5"));
  ASSERT_EQ(device.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(device.status().message());
  EXPECT_THAT(message, HasSubstr("shard 5999 of 6000 would hold no examples"));
  EXPECT_THAT(message,
              HasSubstr("use at most 300 shards (partition.num_shards) or "
                        "lower partition.min_examples"));
  // Lowering the minimum to 1 is not enough: 3,000 examples, 6,000 shards.
  auto one = client::LoadDeviceData(
      Agent("scheme: IID num_shards: 6000 shard_index: 5999 seed: 5 "
            "min_examples: 1"));
  EXPECT_THAT(std::string(one.status().message()),
              HasSubstr("use at most 3000 shards"));
  // A shard count the data can fill works, and each device gets 10.
  auto fits = client::LoadDeviceData(
      Agent("scheme: IID num_shards: 300 shard_index: 299 seed: 5"));
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->num_examples, 10);
}

TEST_F(PartitionParityTest, NegativeMinimumIsNamedByTheAgentResolver) {
  cohort::v1::AgentConfig c;
  ASSERT_TRUE(base::ParseTextProto(
                  "device_id: 'd' tls { ca_cert_path: 'ca' } "
                  "partition { min_examples: -1 }",
                  &c)
                  .ok());
  const absl::Status status = client::ResolveAgentOptions(c).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("partition.min_examples"));
  // Unset means the documented default.
  const client::AgentOptions defaults = Agent("num_shards: 2");
  EXPECT_EQ(defaults.partition.min_examples, data::kDefaultMinExamples);
}

}  // namespace
}  // namespace cohort::sim
