#include "sim/sim_config.h"

#include <fstream>

#include "common/base/textproto.h"
#include "gtest/gtest.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort::sim {
namespace {

class SimConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = ::testing::TempDir() + "/sim_config_data";
    ASSERT_TRUE(testing::WriteSyntheticFashionMnist(data_dir_, 50, 20, 1));
  }

  // A valid scenario plus `extra` textproto fields.
  absl::StatusOr<cohort::v1::SimConfig> Resolve(const std::string& extra) {
    cohort::v1::SimConfig c, more;
    absl::Status parsed = base::ParseTextProto(
        "population { num_clients: 100 } clients_per_round: 10 data { idx_dir: '" +
            data_dir_ + "' }",
        &c);
    if (!parsed.ok()) return parsed;
    parsed = base::ParseTextProto(extra, &more);
    if (!parsed.ok()) return parsed;
    c.MergeFrom(more);
    return ResolveSimConfig(c);
  }

  void ExpectNamed(const std::string& extra, const std::string& field,
                   absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
    auto r = Resolve(extra);
    ASSERT_FALSE(r.ok()) << extra;
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_NE(r.status().message().find(field), std::string::npos)
        << "'" << field << "' not named in: " << r.status();
  }

  std::string data_dir_;
};

TEST_F(SimConfigTest, ValidScenarioGetsDocumentedDefaults) {
  auto c = Resolve("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rounds(), 10);
  EXPECT_EQ(c->threads(), 2);
  EXPECT_EQ(c->architecture(), "small_cnn");
  EXPECT_EQ(c->population().mean_examples(), 60);
  EXPECT_EQ(c->round().goal_count(), 10);
  EXPECT_EQ(c->devices().uplink_mbps(), 5.0);
}

TEST_F(SimConfigTest, ImportedModelDoesNotRecordTheZooDefault) {
  // The resolved config is written to the run folder: it must not claim
  // small_cnn for a run that trains an imported module.
  auto c = Resolve("torchscript_path: \"/tmp/module.pt\" architecture: \"mlp\"");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture(), "");
  EXPECT_EQ(c->torchscript_path(), "/tmp/module.pt");
}

TEST_F(SimConfigTest, MinimumPerClientDefaultsToTenInBothLayouts) {
  for (const std::string layout : {"SAMPLED", "SHARDS"}) {
    auto c = Resolve("population { layout: " + layout + " }");
    ASSERT_TRUE(c.ok()) << layout << ": " << c.status();
    EXPECT_EQ(c->population().min_examples(), 10) << layout;
    EXPECT_EQ(ToPopulationSpec(*c).min_examples, 10) << layout;
  }
  auto explicit_min = Resolve("population { min_examples: 3 }");
  ASSERT_TRUE(explicit_min.ok()) << explicit_min.status();
  EXPECT_EQ(ToPopulationSpec(*explicit_min).min_examples, 3);
}

// SHARDS is the agents' split: the same scheme, alpha, minimum and seed, with
// num_shards = num_clients. The split sets the counts, so the sampled
// layout's count fields are not defaulted and may not be set.
TEST_F(SimConfigTest, ShardsLayoutMapsToTheAgentsSplit) {
  auto c = Resolve(
      "population { layout: SHARDS partition: DIRICHLET alpha: 0.3 } seed: 7");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->population().mean_examples(), 0);
  const data::PopulationSpec spec = ToPopulationSpec(*c);
  EXPECT_EQ(spec.layout, data::PopulationLayout::kShards);
  const data::PartitionSpec split = data::ShardPartitionOf(spec);
  EXPECT_EQ(split.scheme, data::PartitionScheme::kDirichlet);
  EXPECT_EQ(split.num_shards, 100);
  EXPECT_EQ(split.alpha, 0.3);
  EXPECT_EQ(split.seed, 7u);
  EXPECT_EQ(split.min_examples, 10);
  EXPECT_EQ(split.fields.min_examples, "population.min_examples");
  auto sampled = Resolve("population { partition: DIRICHLET alpha: 0.3 }");
  ASSERT_TRUE(sampled.ok()) << sampled.status();
  EXPECT_EQ(ToPopulationSpec(*sampled).layout,
            data::PopulationLayout::kSampled);
}

TEST_F(SimConfigTest, UnknownFieldIsNamed) {
  ExpectNamed("populaton { num_clients: 3 }", "populaton");
}

TEST_F(SimConfigTest, ImpossibleValuesAreNamed) {
  ExpectNamed("clients_per_round: 101", "clients_per_round");
  ExpectNamed("population { partition: DIRICHLET alpha: -1 }", "population.alpha");
  ExpectNamed("population { partition: DIRICHLET alpha: 0 }", "population.alpha");
  ExpectNamed("population { num_clients: -5 }", "population.num_clients");
  ExpectNamed("population { labels_per_client: 11 partition: LABEL_SHARDS }",
              "population.labels_per_client");
  ExpectNamed("devices { dropout_during_training: 1.5 }",
              "devices.dropout_during_training");
  ExpectNamed("devices { availability_period_s: 10 availability_window_s: 20 }",
              "devices.availability_window_s");
  ExpectNamed("threads: -1", "threads");
  ExpectNamed("architecture: 'resnet'", "architecture");
  ExpectNamed("round { min_reports: 50 }", "round.min_reports");
  ExpectNamed("plan { learning_rate: -0.1 }", "plan.learning_rate");
  ExpectNamed("name: '../x'", "name");
  ExpectNamed("population { min_examples: -1 }", "population.min_examples");
  // Below the default minimum of 10 per client.
  ExpectNamed("population { mean_examples: 5 }", "population.mean_examples");
  ExpectNamed("population { layout: SHARDS mean_examples: 20 }",
              "population.mean_examples");
  ExpectNamed("population { layout: SHARDS quantity_sigma: 0.5 }",
              "population.quantity_sigma");
  ExpectNamed("population { layout: SHARDS partition: LABEL_SHARDS }",
              "population.partition");
}

// Secure scenarios the protocol cannot serve are refused before any work,
// naming the field the scenario sets (clients_per_round sets goal_count).
TEST_F(SimConfigTest, SecureCohortsSecAggCannotServeAreRefusedNamingTheField) {
  ExpectNamed("clients_per_round: 1 round { secure_aggregation { enabled: true } }",
              "clients_per_round");
  ExpectNamed("clients_per_round: 1 round { secure_aggregation { enabled: true } }",
              "at least 2 devices");
  ExpectNamed("round { min_reports: 1 secure_aggregation { enabled: true } }",
              "round.min_reports");
  ExpectNamed("round { secure_aggregation { enabled: true expected_dropout: 0.6 } }",
              "round.secure_aggregation.expected_dropout");
  // SecAgg+ is the default: a one-client round needs plain FedAvg, and the
  // refusal says so.
  ExpectNamed("clients_per_round: 1", "enabled: false");
  EXPECT_TRUE(Resolve("clients_per_round: 1 round { secure_aggregation { "
                      "enabled: false } }")
                  .ok());
  EXPECT_TRUE(
      Resolve("clients_per_round: 2 round { secure_aggregation { enabled: true } }")
          .ok());
}

TEST_F(SimConfigTest, MissingDataSetIsNotFoundNamingTheField) {
  cohort::v1::SimConfig c;
  c.mutable_population()->set_num_clients(10);
  c.set_clients_per_round(2);
  c.mutable_data()->set_idx_dir(::testing::TempDir() + "/no_such_dir");
  auto r = ResolveSimConfig(c);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("data.idx_dir"), std::string::npos);
}

TEST_F(SimConfigTest, ShippedScenariosResolve) {
  for (const char* path : {"configs/sim/demo.textproto",
                           "configs/sim/demo-plain.textproto",
                           "configs/sim/demo-fp32.textproto",
                           "configs/sim/label_shards.textproto",
                           "configs/sim/stragglers.textproto"}) {
    auto c = LoadSimConfig(std::string(COHORT_SOURCE_DIR) + "/" + path);
    ASSERT_TRUE(c.ok()) << path << ": " << c.status();
    c->mutable_data()->set_idx_dir(data_dir_);
    EXPECT_TRUE(ResolveSimConfig(*c).ok()) << path;
  }
}

}  // namespace
}  // namespace cohort::sim
