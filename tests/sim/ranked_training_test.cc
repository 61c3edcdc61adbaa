#include "sim/ranked_training.h"

#include <deque>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto/sha256.h"
#include "common/ml/model.h"
#include "gtest/gtest.h"
#include "sim/client_data.h"
#include "sim/client_work.h"
#include "sim/sim_options.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort::sim {
namespace {

// The ranks of one run as threads of this test: Send queues the message
// (buffered, unlike MPI's synchronous send; the protocol does not rely on
// either) and Receive takes the next from that sender.
class InMemoryRanks {
 public:
  explicit InMemoryRanks(int size) : size_(size) {
    for (int i = 0; i < size * size; ++i) queues_.push_back(std::make_unique<Queue>());
    for (int r = 0; r < size; ++r) {
      endpoints_.push_back(std::make_unique<Endpoint>(this, r));
    }
  }
  RankChannel& rank(int r) { return *endpoints_[r]; }

 private:
  struct Queue {
    absl::Mutex mu;
    std::deque<std::string> messages ABSL_GUARDED_BY(mu);
  };
  class Endpoint : public RankChannel {
   public:
    Endpoint(InMemoryRanks* ranks, int rank) : ranks_(ranks), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return ranks_->size_; }
    absl::Status Send(int to, const std::string& bytes) override {
      Queue& q = ranks_->queue(rank_, to);
      absl::MutexLock lock(&q.mu);
      q.messages.push_back(bytes);
      return absl::OkStatus();
    }
    absl::StatusOr<std::string> Receive(int from) override {
      Queue& q = ranks_->queue(from, rank_);
      absl::MutexLock lock(&q.mu);
      q.mu.Await(absl::Condition(
          +[](std::deque<std::string>* m) { return !m->empty(); }, &q.messages));
      std::string bytes = std::move(q.messages.front());
      q.messages.pop_front();
      return bytes;
    }

   private:
    InMemoryRanks* const ranks_;
    const int rank_;
  };
  Queue& queue(int from, int to) { return *queues_[from * size_ + to]; }

  const int size_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
};

class RankedTrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/ranked_training_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(testing::WriteSyntheticFashionMnist(dir_ + "/data", 600, 100, 3));
    cohort::v1::SimConfig c;
    c.mutable_population()->set_num_clients(40);
    c.mutable_population()->set_mean_examples(12);
    c.set_clients_per_round(8);
    c.mutable_round()->mutable_secure_aggregation()->set_enabled(false);
    c.mutable_plan()->set_batch_size(4);
    c.mutable_plan()->add_personal_layers("fc2");
    c.set_architecture("mlp");
    c.set_seed(3);
    c.mutable_data()->set_idx_dir(dir_ + "/data");
    config_ = c;
    auto o = ResolveSimOptions(c);
    ASSERT_TRUE(o.ok()) << o.status();
    options_ = *o;
    auto model = ml::Model::Create("mlp", 5);
    ASSERT_TRUE(model.ok()) << model.status();
    (*model)->GetWeights().SerializeToString(&model_);
    job_.mutable_ref()->set_version(1);
    job_.mutable_ref()->set_size_bytes(static_cast<int64_t>(model_.size()));
    job_.mutable_ref()->set_sha256(crypto::Sha256Hex(model_));
    job_.mutable_ref()->set_architecture("mlp");
    job_.mutable_plan()->set_epochs(1);
    job_.mutable_plan()->set_batch_size(4);
    job_.mutable_plan()->set_learning_rate(0.05f);
    job_.set_round_id(2);
    job_.set_model(model_);
  }

  // One rank's view of the clients, loaded as that rank's process does.
  std::unique_ptr<ClientData> Load() {
    data::ImageDataset holdout;
    auto d = ClientData::Load(options_, &holdout);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  ClientWork WorkOn(ClientData& d) {
    return ClientWork(options_.seed, options_.poison, d.personalization.get(),
                      [this](const cohort::v1::ModelRef&) -> absl::StatusOr<std::string> {
                        return model_;
                      });
  }

  // Every client's report (serialized, or its status) in order, and the
  // layers each keeps afterwards.
  std::vector<std::string> TakeAll(RankedTraining& t, ClientData& d,
                                   const std::vector<int64_t>& ids) {
    std::vector<std::string> out;
    for (size_t k = 0; k < ids.size(); ++k) {
      auto r = t.Take(k);
      if (!r.ok()) ++failed_;
      out.push_back(r.ok() ? r->SerializeAsString() : r.status().ToString());
      out.push_back(d.personalization->KeptOf(ids[k]).SerializeAsString());
    }
    return out;
  }

  std::string dir_;
  cohort::v1::SimConfig config_;
  SimOptions options_;
  std::string model_;
  cohort::v1::SimTrainingBatch job_;
  const std::vector<int64_t> ids_ = {3, 17, 5, 29, 11, 0, 38};
  // The second round: the same clients one place on, so each trains on
  // another rank than in the first and needs the layers it kept there.
  const std::vector<int64_t> moved_ = {38, 3, 17, 5, 29, 11, 0};
  int failed_ = 0;  // Takes that returned an error
};

TEST_F(RankedTrainingTest, ThreeRanksTrainEveryClientAsOneRankDoes) {
  std::unique_ptr<ClientData> alone = Load();
  ClientWork alone_work = WorkOn(*alone);
  RankedTraining one(2, &alone_work, alone->personalization.get(), nullptr);
  EXPECT_FALSE(one.distributed());
  // Two rounds: the second starts from the layers each client kept.
  std::vector<std::vector<std::string>> expected;
  for (const auto* ids : {&ids_, &moved_}) {
    ASSERT_TRUE(one.Start(job_, *ids).ok());
    expected.push_back(TakeAll(one, *alone, *ids));
  }

  InMemoryRanks ranks(3);
  std::vector<std::thread> servers;
  std::vector<absl::Status> served(3);
  std::vector<std::unique_ptr<ClientData>> theirs;
  std::vector<std::unique_ptr<TrainingPool>> pools;
  for (int r = 1; r < 3; ++r) {
    theirs.push_back(Load());
    pools.push_back(std::make_unique<TrainingPool>(1, 4));
    servers.emplace_back([&, r, d = theirs.back().get(), p = pools.back().get()] {
      served[r] = ServeTrainingRank(ranks.rank(r), options_.seed, options_.poison,
                                    *d->personalization, *p);
    });
  }
  std::unique_ptr<ClientData> mine = Load();
  ClientWork work = WorkOn(*mine);
  RankedTraining split(1, &work, mine->personalization.get(), &ranks.rank(0));
  EXPECT_TRUE(split.distributed());
  int round = 0;
  for (const auto* ids : {&ids_, &moved_}) {
    ASSERT_TRUE(split.Start(job_, *ids).ok());
    EXPECT_EQ(TakeAll(split, *mine, *ids), expected[round]) << "round " << round;
    ++round;
  }
  EXPECT_EQ(mine->personalization->Trained(), alone->personalization->Trained());
  EXPECT_EQ(failed_, 0);
  // Clients kept their personal layers, and a report carries a delta.
  EXPECT_GT(mine->personalization->KeptOf(ids_[1]).tensors_size(), 0);
  cohort::v1::Report report;
  ASSERT_TRUE(report.ParseFromString(expected[1][2]));
  EXPECT_GT(report.ByteSizeLong(), 1000u);
  ASSERT_TRUE(split.Stop().ok());
  for (auto& s : servers) s.join();
  EXPECT_TRUE(served[1].ok()) << served[1];
  EXPECT_TRUE(served[2].ok()) << served[2];
}

TEST_F(RankedTrainingTest, AReleaseThatDoesNotVerifyOnAnotherRankFailsItsClients) {
  InMemoryRanks ranks(2);
  std::unique_ptr<ClientData> theirs = Load();
  TrainingPool pool(1, 4);
  absl::Status served;
  std::thread server([&] {
    served = ServeTrainingRank(ranks.rank(1), options_.seed, options_.poison,
                               *theirs->personalization, pool);
  });
  std::unique_ptr<ClientData> mine = Load();
  ClientWork work = WorkOn(*mine);
  RankedTraining split(1, &work, mine->personalization.get(), &ranks.rank(0));
  cohort::v1::SimTrainingBatch job = job_;
  job.mutable_model()->back() ^= 1;  // damaged on its way to rank 1
  ASSERT_TRUE(split.Start(job, ids_).ok());
  for (size_t k = 0; k < ids_.size(); ++k) {
    absl::StatusOr<cohort::v1::Report> r = split.Take(k);
    // Rank 0 fetched its own good copy; rank 1's clients check theirs.
    EXPECT_EQ(r.ok(), k % 2 == 0) << k << ": " << r.status();
    if (!r.ok()) {
      EXPECT_NE(r.status().code(), absl::StatusCode::kInternal) << r.status();
    }
  }
  ASSERT_TRUE(split.Stop().ok());
  server.join();
  EXPECT_TRUE(served.ok()) << served;
}

TEST_F(RankedTrainingTest, AMalformedOrMisorderedResultIsInternalNamingTheRank) {
  InMemoryRanks ranks(2);
  std::unique_ptr<ClientData> mine = Load();
  ClientWork work = WorkOn(*mine);
  RankedTraining split(1, &work, mine->personalization.get(), &ranks.rank(0));
  ASSERT_TRUE(split.Start(job_, ids_).ok());
  // This test plays rank 1: its batch holds clients 1, 3, 5 of the round
  // and the release's bytes.
  auto bytes = ranks.rank(1).Receive(0);
  ASSERT_TRUE(bytes.ok());
  cohort::v1::SimTrainingBatch batch;
  ASSERT_TRUE(batch.ParseFromString(*bytes));
  ASSERT_EQ(batch.clients_size(), 3);
  EXPECT_EQ(batch.clients(1).id(), ids_[3]);
  EXPECT_EQ(batch.model(), model_);
  ASSERT_TRUE(ranks.rank(1).Send(0, "\xff\xff not a result").ok());
  absl::StatusOr<cohort::v1::Report> r = split.Take(1);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("rank 1"), std::string::npos) << r.status();
  cohort::v1::SimClientResult wrong;
  wrong.set_id(ids_[5]);  // client 5's result where client 3's is due
  ASSERT_TRUE(ranks.rank(1).Send(0, wrong.SerializeAsString()).ok());
  r = split.Take(3);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(r.status().message().find(absl::StrCat("client ", ids_[3])),
            std::string::npos)
      << r.status();
  // The right client, no error and no report (what an empty message parses
  // to): not a success.
  cohort::v1::SimClientResult empty;
  empty.set_id(ids_[5]);
  ASSERT_TRUE(ranks.rank(1).Send(0, empty.SerializeAsString()).ok());
  r = split.Take(5);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("without a report"), std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace cohort::sim
