#include "sim/personalization.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cohort/v1/model.pb.h"
#include "common/data/idx_reader.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "sim/sim_config.h"
#include "sim/simulator.h"
#include "tests/sim/sim_run.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort::sim {
namespace {

std::vector<int64_t> Range(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 100);
  return v;
}

TEST(SplitLocalTestTest, KeepsTheLastFractionRoundedAndNeverEverything) {
  LocalSplit s = SplitLocalTest(Range(10), 0.2);
  EXPECT_EQ(s.train, (std::vector<int64_t>{100, 101, 102, 103, 104, 105, 106, 107}));
  EXPECT_EQ(s.test, (std::vector<int64_t>{108, 109}));
  // At least one test example, at least one to train on.
  EXPECT_EQ(SplitLocalTest(Range(3), 0.01).test.size(), 1u);
  EXPECT_EQ(SplitLocalTest(Range(3), 0.9).train.size(), 1u);
  // Too few to split, or no split asked for.
  EXPECT_TRUE(SplitLocalTest(Range(1), 0.5).test.empty());
  EXPECT_EQ(SplitLocalTest(Range(1), 0.5).train.size(), 1u);
  EXPECT_TRUE(SplitLocalTest(Range(10), 0).test.empty());
  EXPECT_EQ(SplitLocalTest(Range(10), 0).train.size(), 10u);
}

TEST(SummarizeTest, WeighsClientsByTheirTestExamples) {
  std::vector<ClientAccuracy> rows = {{1, 10, 0.5, 1.0}, {2, 30, 1.0, 0.0}};
  LocalAccuracy a = Summarize(rows);
  EXPECT_EQ(a.clients, 2);
  EXPECT_EQ(a.examples, 40);
  EXPECT_DOUBLE_EQ(a.global, (5.0 + 30.0) / 40);
  EXPECT_DOUBLE_EQ(a.personalized, 10.0 / 40);
  EXPECT_TRUE(std::isnan(Summarize({}).global));
  // Without personal layers the personalized accuracy stays NaN.
  std::vector<ClientAccuracy> plain = {{1, 10, 0.5}};
  EXPECT_TRUE(std::isnan(Summarize(plain).personalized));
  EXPECT_EQ(PersonalizationCsv(plain),
            "client,local_test_examples,global_accuracy,personalized_accuracy\n"
            "1,10,0.5,nan\n");
}

class LocalTestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir =
        absl::StrCat(::testing::TempDir(), "/local_tests_",
                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(testing::WriteSyntheticFashionMnist(dir, 2000, 300, 4));
    auto train = data::LoadFashionMnist(dir, false, 0);
    auto test = data::LoadFashionMnist(dir, true, 0);
    ASSERT_TRUE(train.ok() && test.ok());
    train_ = *std::move(train);
    test_ = *std::move(test);
  }
  data::ImageDataset train_;
  data::ImageDataset test_;
};

// Sampled clients share one pool: their local tests come from the test
// split, with their own label mix, and they train on everything they hold.
TEST_F(LocalTestsTest, SampledClientsAreTestedOnHoldoutExamplesOfTheirLabels) {
  data::PopulationSpec spec;
  spec.num_clients = 20;
  spec.scheme = data::PartitionScheme::kDirichlet;
  spec.alpha = 0.1;
  spec.mean_examples = 40;
  auto population = data::ClientPopulation::Create(spec, &train_);
  ASSERT_TRUE(population.ok()) << population.status();
  auto p = Personalization::Create(population->get(), test_, 0.2,
                                   model::PersonalLayers());
  ASSERT_TRUE(p.ok()) << p.status();
  for (int64_t id = 0; id < 20; ++id) {
    EXPECT_EQ((*p)->NumTrainExamplesOf(id), 40);
    EXPECT_EQ((*p)->TrainDataOf(id).num_examples, 40);
    const data::ImageDataset test = (*p)->LocalTestOf(id);
    ASSERT_EQ(test.num_examples, 10);  // 40 * 0.2 / 0.8
    // The most common label of the client's training data is among its
    // test labels (alpha 0.1: one or two labels dominate).
    const data::ImageDataset own = (*p)->TrainDataOf(id);
    std::vector<int> count(10, 0);
    for (auto label : own.labels) ++count[static_cast<size_t>(label)];
    const auto top = std::max_element(count.begin(), count.end()) - count.begin();
    EXPECT_NE(std::find(test.labels.begin(), test.labels.end(), top),
              test.labels.end()) << "client " << id;
  }
}

// Shards are disjoint: a client's local test is the end of its own shard,
// held out of its training.
TEST_F(LocalTestsTest, ShardClientsHoldOutTheEndOfTheirShard) {
  data::PopulationSpec spec;
  spec.num_clients = 20;
  spec.layout = data::PopulationLayout::kShards;
  spec.scheme = data::PartitionScheme::kIid;
  auto population = data::ClientPopulation::Create(spec, &train_);
  ASSERT_TRUE(population.ok()) << population.status();
  auto p = Personalization::Create(population->get(), test_, 0.2,
                                   model::PersonalLayers());
  ASSERT_TRUE(p.ok()) << p.status();
  for (int64_t id = 0; id < 20; ++id) {
    const int64_t n = (*population)->NumExamplesOf(id);
    EXPECT_EQ((*p)->NumTrainExamplesOf(id), n - (n + 2) / 5);
    EXPECT_EQ((*p)->TrainDataOf(id).num_examples + (*p)->LocalTestOf(id).num_examples, n);
  }
  // No local tests: everything is trained on.
  auto none = Personalization::Create(population->get(), test_, 0,
                                      model::PersonalLayers());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)->LocalTestOf(0).num_examples, 0);
  EXPECT_EQ((*none)->NumTrainExamplesOf(0), (*population)->NumExamplesOf(0));
}

class SimPersonalizationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/sim_personal_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(testing::WriteSyntheticFashionMnist(dir_ + "/data", 2000, 300, 4));
  }

  // Label-skewed clients, plain FedAvg on the MLP (fc1 -> fc2), fc2 kept
  // personal.
  cohort::v1::SimConfig Scenario() {
    cohort::v1::SimConfig c;
    c.mutable_population()->set_num_clients(60);
    c.mutable_population()->set_partition(cohort::v1::PopulationConfig::DIRICHLET);
    c.mutable_population()->set_alpha(0.2);
    c.mutable_population()->set_mean_examples(30);
    c.set_clients_per_round(10);
    c.mutable_round()->set_min_reports(8);
    c.mutable_round()->mutable_secure_aggregation()->set_enabled(false);
    c.mutable_plan()->set_batch_size(8);
    c.mutable_plan()->set_epochs(4);
    c.mutable_plan()->set_learning_rate(0.1f);
    c.mutable_plan()->add_personal_layers("fc2");
    c.set_architecture("mlp");
    c.set_rounds(3);
    c.set_seed(5);
    c.mutable_data()->set_idx_dir(dir_ + "/data");
    return c;
  }

  struct Outcome {
    std::vector<SimRoundRow> rows;
    std::string csv;
    cohort::v1::Weights weights;
    std::vector<ClientAccuracy> clients;
  };

  Outcome Run(const cohort::v1::SimConfig& config, const std::string& name) {
    testing::SimRun run =
        testing::RunScenario(config, TransportKind::kInProcess, dir_ + "/" + name);
    Outcome out{std::move(run.rows), std::move(run.csv), {}, {}};
    if (run.sim == nullptr) return out;
    out.weights = run.sim->current_model()->weights;
    auto clients = run.sim->EvaluateClients();
    EXPECT_TRUE(clients.ok()) << clients.status();
    if (clients.ok()) out.clients = *std::move(clients);
    return out;
  }

  static std::string Tensor(const cohort::v1::Weights& w, const std::string& name) {
    for (const auto& t : w.tensors()) {
      if (t.name() == name) return t.data();
    }
    return "";
  }

  std::string dir_;
};

TEST_F(SimPersonalizationTest, PersonalLayersStayOnDevicesAndAreEvaluatedLocally) {
  Outcome one_round = Run([&] { auto c = Scenario(); c.set_rounds(1); return c; }(), "r1");
  Outcome fedper = Run(Scenario(), "fedper");
  ASSERT_EQ(fedper.rows.size(), 3u);
  // The coordinator never changes fc2: it is the initial model's after one
  // round and after three, while fc1 moves.
  EXPECT_FALSE(Tensor(fedper.weights, "fc2.weight").empty());
  EXPECT_EQ(Tensor(fedper.weights, "fc2.weight"), Tensor(one_round.weights, "fc2.weight"));
  EXPECT_EQ(Tensor(fedper.weights, "fc2.bias"), Tensor(one_round.weights, "fc2.bias"));
  EXPECT_NE(Tensor(fedper.weights, "fc1.weight"), Tensor(one_round.weights, "fc1.weight"));
  for (const SimRoundRow& r : fedper.rows) {
    EXPECT_GE(r.local_accuracy, 0.0);
    EXPECT_LE(r.local_accuracy, 1.0);
    EXPECT_GE(r.personalized_accuracy, 0.0);
    EXPECT_LE(r.personalized_accuracy, 1.0);
  }
  // Every client that trained is in the final evaluation, once.
  std::set<int64_t> ids;
  for (const ClientAccuracy& c : fedper.clients) {
    EXPECT_TRUE(ids.insert(c.id).second);
    EXPECT_GT(c.examples, 0);
    EXPECT_FALSE(std::isnan(c.personalized));
  }
  EXPECT_GT(ids.size(), 10u);
  // Each client is scored with its own head, not the global one: on some
  // client the two disagree. (Whether personalization helps is measured on
  // Fashion-MNIST by bench/personalization; on this easy synthetic data the
  // shared layers learn to work with heads near the initial one, so the
  // global model scores well too.)
  bool differs = false;
  for (const ClientAccuracy& c : fedper.clients) differs |= c.personalized != c.global;
  EXPECT_TRUE(differs);
  const LocalAccuracy final_accuracy = Summarize(fedper.clients);
  EXPECT_GT(final_accuracy.personalized, 0.5);
}

TEST_F(SimPersonalizationTest, ReportsCarryTheSharedLayersOnly) {
  cohort::v1::SimConfig fedavg = Scenario();
  fedavg.mutable_plan()->clear_personal_layers();
  fedavg.set_local_test_fraction(0.2);
  Outcome plain = Run(fedavg, "fedavg");
  Outcome fedper = Run(Scenario(), "fedper");
  ASSERT_EQ(plain.rows.size(), 3u);
  ASSERT_EQ(fedper.rows.size(), 3u);
  // fc2 is 96 * 10 + 10 of the MLP's 784 * 96 + 96 + 970 floats.
  for (size_t i = 0; i < 3; ++i) {
    const double per_device_plain =
        static_cast<double>(plain.rows[i].bytes_up) / plain.rows[i].participants;
    const double per_device_fedper =
        static_cast<double>(fedper.rows[i].bytes_up) / fedper.rows[i].participants;
    EXPECT_NEAR(per_device_plain - per_device_fedper, 970 * 4, 200);
  }
  // FedAvg on the same local splits: a global accuracy, no personalized one.
  EXPECT_FALSE(std::isnan(plain.rows.back().local_accuracy));
  EXPECT_TRUE(std::isnan(plain.rows.back().personalized_accuracy));
}

TEST_F(SimPersonalizationTest, SecureRoundsSumTheSharedLayersOnly) {
  cohort::v1::SimConfig secure = Scenario();
  secure.mutable_round()->mutable_secure_aggregation()->set_enabled(true);
  secure.mutable_round()->mutable_secure_aggregation()->set_example_cap(100);
  Outcome one_round = Run([&] { auto c = secure; c.set_rounds(1); return c; }(), "s1");
  Outcome o = Run(secure, "secure");
  ASSERT_EQ(o.rows.size(), 3u);
  EXPECT_GE(o.rows.back().participants, 8);
  EXPECT_EQ(Tensor(o.weights, "fc2.weight"), Tensor(one_round.weights, "fc2.weight"));
  EXPECT_NE(Tensor(o.weights, "fc1.weight"), Tensor(one_round.weights, "fc1.weight"));
  EXPECT_FALSE(std::isnan(o.rows.back().personalized_accuracy));
}

TEST_F(SimPersonalizationTest, ResultsDoNotDependOnTheThreadCount) {
  cohort::v1::SimConfig one = Scenario();
  one.set_threads(1);
  cohort::v1::SimConfig three = Scenario();
  three.set_threads(3);
  Outcome a = Run(one, "t1");
  Outcome b = Run(three, "t3");
  ASSERT_FALSE(a.csv.empty());
  EXPECT_EQ(a.csv, b.csv);
  ASSERT_EQ(a.clients.size(), b.clients.size());
  for (size_t i = 0; i < a.clients.size(); ++i) {
    EXPECT_EQ(a.clients[i].personalized, b.clients[i].personalized);
  }
}

TEST_F(SimPersonalizationTest, LocalTestFractionIsCheckedAndDefaultsWithPersonalLayers) {
  auto resolved = ResolveSimConfig(Scenario());
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_DOUBLE_EQ(resolved->local_test_fraction(), 0.2);
  cohort::v1::SimConfig plain = Scenario();
  plain.mutable_plan()->clear_personal_layers();
  resolved = ResolveSimConfig(plain);
  ASSERT_TRUE(resolved.ok());
  EXPECT_DOUBLE_EQ(resolved->local_test_fraction(), 0.0);
  for (double bad : {-0.1, 0.95, std::nan("")}) {
    cohort::v1::SimConfig c = Scenario();
    c.set_local_test_fraction(bad);
    auto refused = ResolveSimConfig(c);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(refused.status().message().find("local_test_fraction"),
              std::string::npos);
  }
  // A layer the model does not have is refused when the task is assembled.
  cohort::v1::SimConfig unknown = Scenario();
  unknown.mutable_plan()->add_personal_layers("fc9");
  auto sim = Simulator::Create(*ResolveSimConfig(unknown), TransportKind::kInProcess,
                               dir_ + "/unknown");
  EXPECT_EQ(sim.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(sim.status().message().find("plan.personal_layers"), std::string::npos)
      << sim.status();
}

}  // namespace
}  // namespace cohort::sim
