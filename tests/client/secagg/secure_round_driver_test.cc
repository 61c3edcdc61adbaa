// SecureRoundDriver: the Participate-stream envelope rules, and a full SecAgg+
// round of three drivers against the real SecAggServer.

#include "client/secagg/secure_round_driver.h"

#include <deque>
#include <optional>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/secagg/secagg_wire.h"
#include "common/secagg/secure_update.h"
#include "gtest/gtest.h"
#include "server/secagg/secagg_server.h"
#include "tests/testing/fake_random.h"

namespace cohort::secagg {
namespace {

constexpr int64_t kRound = 42;
constexpr int kClients = 3;
constexpr int64_t kDimension = 5;
constexpr int64_t kExamples = 100;  // = example_cap, so every weight is 1
constexpr double kLoss = 0.5;

// Collects what the server sends each device, wrapped as on the stream.
class StreamInbox final : public ServerSender {
 public:
  explicit StreamInbox(int n) : queues(n) {}
  void Send(int client, ServerToClient message) override {
    cohort::v1::ServerMessage m;
    *m.mutable_secagg() = ToProto(message);
    queues[client].push_back(std::move(m));
  }
  std::vector<std::deque<cohort::v1::ServerMessage>> queues;
};

class SecureRoundDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto encoding = PlanUpdateEncoding(
        /*bits_per_coordinate=*/16, /*clip_norm=*/10.0, /*rotate=*/false,
        /*rotation_seed=*/7, /*example_cap=*/kExamples, kDimension, kClients);
    ASSERT_TRUE(encoding.ok()) << encoding.status();
    encoding_ = *encoding;
    config_.n = kClients;
    config_.k = kClients - 1;  // the complete graph
    config_.t = 2;
    config_.bits = encoding_.params.bits;
    config_.vector_length = InputLength(encoding_);
    config_.graph_seed = 11;
    config_.round_id = kRound;
  }

  // Device i's update: kDimension distinct values around 0.1 * (i + 1).
  static std::vector<float> Delta(int i) {
    std::vector<float> delta(kDimension);
    for (int64_t j = 0; j < kDimension; ++j) {
      delta[j] = 0.1f * static_cast<float>(i + 1) -
                 0.03f * static_cast<float>(j);
    }
    return delta;
  }

  std::unique_ptr<SecureRoundDriver> MakeDriver(int i) {
    randoms_.push_back(std::make_unique<cohort::testing::FakeRandom>(100 + i));
    return std::make_unique<SecureRoundDriver>(kRound, Delta(i), kExamples,
                                               kLoss, 1000 + i,
                                               randoms_.back().get());
  }

  // Device i with its update from `source` (SecAggParticipant's lazy form).
  std::unique_ptr<SecureRoundDriver> MakeLazyDriver(int i, UpdateSource source) {
    randoms_.push_back(std::make_unique<cohort::testing::FakeRandom>(100 + i));
    return std::make_unique<SecureRoundDriver>(kRound, std::move(source),
                                               1000 + i, randoms_.back().get());
  }

  cohort::v1::ServerMessage Begin(int i) const {
    cohort::v1::ServerMessage m;
    *m.mutable_secagg()->mutable_begin() =
        MakeBegin(BeginParams{config_, i, encoding_});
    return m;
  }

  // Delivers every queued server message to its driver and every answer to
  // the server until nobody has anything left to say. Records the phases
  // each driver's steps reported.
  void Pump(SecAggServer& server, StreamInbox& inbox,
            std::vector<std::unique_ptr<SecureRoundDriver>>& drivers,
            std::vector<std::set<int>>& phases) {
    for (bool progressed = true; progressed;) {
      progressed = false;
      for (int i = 0; i < kClients; ++i) {
        while (!inbox.queues[i].empty()) {
          const cohort::v1::ServerMessage m =
              std::move(inbox.queues[i].front());
          inbox.queues[i].pop_front();
          progressed = true;
          const SecureRoundStep step = drivers[i]->Handle(m);
          ASSERT_TRUE(step.status.ok()) << "device " << i << ": "
                                        << step.status;
          ASSERT_FALSE(step.ack.has_value());
          phases[i].insert(step.phase);
          ASSERT_NO_FATAL_FAILURE(Forward(server, i, step));
        }
      }
    }
  }

  // Hands device i's answers to the server, which must accept them.
  void Forward(SecAggServer& server, int i, const SecureRoundStep& step) {
    for (const cohort::v1::ClientMessage& out : step.send) {
      ASSERT_TRUE(out.has_secagg());
      auto parsed = FromProto(out.secagg(), config_);
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      absl::Status accepted = server.ReceiveMessage(i, *parsed);
      ASSERT_TRUE(accepted.ok()) << "device " << i << ": " << accepted;
    }
  }

  // A whole round of kClients drivers holding their updates (MakeDriver);
  // the server's sum, and the phases each device's steps reported.
  std::vector<uint64_t> EagerRoundSum(std::vector<std::set<int>>& phases) {
    StreamInbox inbox(kClients);
    auto server = SecAggServer::Create(config_, &inbox);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return {};
    std::vector<std::unique_ptr<SecureRoundDriver>> drivers;
    for (int i = 0; i < kClients; ++i) {
      drivers.push_back(MakeDriver(i));
      inbox.queues[i].push_back(Begin(i));
    }
    phases.assign(kClients, {});
    Pump(**server, inbox, drivers, phases);
    EXPECT_TRUE((*server)->IsCompleted()) << (*server)->StateName();
    EXPECT_EQ((*server)->Contributors(), (std::vector<int>{0, 1, 2}));
    for (int i = 0; i < kClients; ++i) {
      EXPECT_EQ(drivers[i]->StateName(), "Completed") << i;
    }
    auto sum = (*server)->Result();
    EXPECT_TRUE(sum.ok()) << sum.status();
    return sum.ok() ? *sum : std::vector<uint64_t>();
  }

  UpdateEncoding encoding_;
  SecAggConfig config_;
  std::vector<std::unique_ptr<cohort::testing::FakeRandom>> randoms_;
};

TEST_F(SecureRoundDriverTest, ReadyWrapsTheRoundIdInSecAggReady) {
  auto driver = MakeDriver(0);
  const cohort::v1::ClientMessage ready = driver->Ready();
  ASSERT_TRUE(ready.has_secagg());
  ASSERT_TRUE(ready.secagg().has_ready());
  EXPECT_EQ(ready.secagg().ready().round_id(), kRound);
  EXPECT_EQ(driver->StateName(), "Waiting");
}

TEST_F(SecureRoundDriverTest, HandleAckEndsTheRoundWithNoAnswers) {
  auto driver = MakeDriver(0);
  for (bool accepted : {true, false}) {
    cohort::v1::ServerMessage m;
    m.mutable_ack()->set_round_id(kRound);
    m.mutable_ack()->set_accepted(accepted);
    m.mutable_ack()->set_message("done");
    const SecureRoundStep step = driver->Handle(m);
    ASSERT_TRUE(step.ack.has_value());
    EXPECT_EQ(step.ack->accepted(), accepted);
    EXPECT_EQ(step.ack->round_id(), kRound);
    EXPECT_EQ(step.ack->message(), "done");
    EXPECT_TRUE(step.send.empty());
    EXPECT_TRUE(step.status.ok()) << step.status;
    EXPECT_EQ(step.phase, 0);
  }
}

TEST_F(SecureRoundDriverTest, HandleNeitherAckNorSecAggIsInvalidArgument) {
  auto driver = MakeDriver(0);
  cohort::v1::ServerMessage retry;
  retry.mutable_retry_window()->set_min_delay_ms(1);
  cohort::v1::ServerMessage assignment;
  assignment.mutable_task_assignment()->set_round_id(kRound);
  for (const auto& m : {retry, assignment, cohort::v1::ServerMessage()}) {
    const SecureRoundStep step = driver->Handle(m);
    EXPECT_EQ(step.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(step.status.message(), "unexpected server message");
    EXPECT_TRUE(step.send.empty());
    EXPECT_FALSE(step.ack.has_value());
    EXPECT_EQ(step.phase, 0);
  }
}

TEST_F(SecureRoundDriverTest, HandleSecAggBeforeBeginFails) {
  auto driver = MakeDriver(0);
  cohort::v1::ServerMessage keys;
  keys.mutable_secagg()->mutable_keys();
  const SecureRoundStep step = driver->Handle(keys);
  EXPECT_EQ(step.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(step.send.empty());
  EXPECT_FALSE(step.ack.has_value());
  EXPECT_EQ(step.phase, 2);
  EXPECT_EQ(driver->StateName(), "Waiting");
}

TEST_F(SecureRoundDriverTest, HandleBeginAnswersWithWrappedAdvertiseKeys) {
  auto driver = MakeDriver(1);
  const SecureRoundStep step = driver->Handle(Begin(1));
  ASSERT_TRUE(step.status.ok()) << step.status;
  EXPECT_FALSE(step.ack.has_value());
  EXPECT_EQ(step.phase, 1);
  ASSERT_EQ(step.send.size(), 1u);
  ASSERT_TRUE(step.send[0].has_secagg());
  ASSERT_TRUE(step.send[0].secagg().has_advertise_keys());
  const auto& keys = step.send[0].secagg().advertise_keys();
  EXPECT_EQ(keys.enc_public_key().size(), 32u);
  EXPECT_EQ(keys.mask_public_key().size(), 32u);
  EXPECT_EQ(driver->StateName(), "ShareKeys");
}

TEST_F(SecureRoundDriverTest, HandleSecondBeginIsInvalidArgument) {
  auto driver = MakeDriver(0);
  ASSERT_TRUE(driver->Handle(Begin(0)).status.ok());
  const SecureRoundStep again = driver->Handle(Begin(0));
  EXPECT_EQ(again.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(again.send.empty());
}

TEST_F(SecureRoundDriverTest, HandleBeginForAnotherDimensionIsInvalidArgument) {
  randoms_.push_back(std::make_unique<cohort::testing::FakeRandom>(9));
  SecureRoundDriver driver(kRound, std::vector<float>(kDimension + 1, 0.1f),
                           kExamples, kLoss, 1, randoms_.back().get());
  const SecureRoundStep step = driver.Handle(Begin(0));
  EXPECT_EQ(step.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(step.send.empty());
  EXPECT_EQ(driver.StateName(), "Waiting");
}

TEST_F(SecureRoundDriverTest, HandleServerAbortIsAborted) {
  auto driver = MakeDriver(0);
  ASSERT_TRUE(driver->Handle(Begin(0)).status.ok());
  cohort::v1::ServerMessage abort;
  abort.mutable_secagg()->mutable_abort()->set_reason("too few devices left");
  const SecureRoundStep step = driver->Handle(abort);
  EXPECT_EQ(step.status.code(), absl::StatusCode::kAborted);
  EXPECT_NE(step.status.message().find("too few devices left"),
            absl::string_view::npos)
      << step.status;
  EXPECT_TRUE(step.send.empty());
  EXPECT_FALSE(step.ack.has_value());
  EXPECT_EQ(step.phase, 0);
}

// Three drivers against the real server: every phase runs, every driver
// completes, and the unmasked sum decodes to the plain sum of the updates.
TEST_F(SecureRoundDriverTest, HandleFullRoundOfThreeDriversSumsTheirUpdates) {
  std::vector<std::set<int>> phases;
  const std::vector<uint64_t> sum = EagerRoundSum(phases);
  ASSERT_FALSE(HasFailure());
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(phases[i], (std::set<int>{1, 2, 3, 4})) << i;
  }
  auto decoded = DecodeUpdateSum(encoding_, sum);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->capped_examples, kClients * kExamples);
  EXPECT_EQ(decoded->clipped_updates, 0);
  EXPECT_NEAR(decoded->mean_loss, kLoss, 1e-3);
  ASSERT_EQ(decoded->weighted_delta_sum.size(),
            static_cast<size_t>(kDimension));
  for (int64_t j = 0; j < kDimension; ++j) {
    double plain = 0;
    for (int i = 0; i < kClients; ++i) plain += Delta(i)[j];
    // Stochastic rounding: under 1/scale per device and coordinate.
    EXPECT_NEAR(decoded->weighted_delta_sum[j], plain, 2e-3) << j;
  }
}

// The simulator's form: each device's update comes from a source, asked
// once, when the shares arrive (not at begin or keys), and the round sums
// exactly what the eager drivers sum.
TEST_F(SecureRoundDriverTest, AnUpdateSourceIsAskedOnceAtTheSharesAndSumsTheSame) {
  StreamInbox inbox(kClients);
  auto server = SecAggServer::Create(config_, &inbox);
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<int> asked(kClients, 0);
  std::vector<std::unique_ptr<SecureRoundDriver>> drivers;
  for (int i = 0; i < kClients; ++i) {
    drivers.push_back(MakeLazyDriver(
        i, [&asked, i]() -> absl::StatusOr<TrainedUpdate> {
          ++asked[i];
          return TrainedUpdate{Delta(i), kExamples, kLoss, std::nullopt, false};
        }));
    inbox.queues[i].push_back(Begin(i));
  }
  // Begin, then keys: nobody's update is needed yet.
  for (int phase = 1; phase <= 2; ++phase) {
    for (int i = 0; i < kClients; ++i) {
      ASSERT_EQ(inbox.queues[i].size(), 1u) << "phase " << phase;
      const SecureRoundStep step = drivers[i]->Handle(inbox.queues[i].front());
      inbox.queues[i].pop_front();
      ASSERT_TRUE(step.status.ok()) << step.status;
      EXPECT_EQ(step.phase, phase);
      ASSERT_NO_FATAL_FAILURE(Forward(**server, i, step));
    }
    EXPECT_EQ(asked, std::vector<int>(kClients, 0)) << "phase " << phase;
  }
  std::vector<std::set<int>> phases(kClients);
  ASSERT_NO_FATAL_FAILURE(Pump(**server, inbox, drivers, phases));
  EXPECT_EQ(asked, std::vector<int>(kClients, 1));
  ASSERT_TRUE((*server)->IsCompleted()) << (*server)->StateName();
  auto lazy = (*server)->Result();
  ASSERT_TRUE(lazy.ok()) << lazy.status();

  // The same devices with their updates given up front.
  std::vector<std::set<int>> eager_phases;
  EXPECT_EQ(*lazy, EagerRoundSum(eager_phases));
}

TEST_F(SecureRoundDriverTest, AnUpdateSourceErrorOrWrongLengthEndsTheDeviceAtTheShares) {
  for (const bool wrong_length : {false, true}) {
    StreamInbox inbox(kClients);
    auto server = SecAggServer::Create(config_, &inbox);
    ASSERT_TRUE(server.ok()) << server.status();
    std::vector<std::unique_ptr<SecureRoundDriver>> drivers;
    for (int i = 0; i < kClients; ++i) {
      drivers.push_back(MakeLazyDriver(
          i, [i, wrong_length]() -> absl::StatusOr<TrainedUpdate> {
            if (i != 1) return TrainedUpdate{Delta(i), kExamples, kLoss};
            if (!wrong_length) return absl::DataLossError("training failed");
            return TrainedUpdate{std::vector<float>(kDimension + 1, 0.1f),
                                 kExamples, kLoss};
          }));
      inbox.queues[i].push_back(Begin(i));
    }
    // Device 1 fails at its shares: its step says why and sends nothing.
    std::optional<SecureRoundStep> failed;
    for (bool progressed = true; progressed && !failed.has_value();) {
      progressed = false;
      for (int i = 0; i < kClients && !failed.has_value(); ++i) {
        while (!inbox.queues[i].empty()) {
          const cohort::v1::ServerMessage m = inbox.queues[i].front();
          inbox.queues[i].pop_front();
          progressed = true;
          SecureRoundStep step = drivers[i]->Handle(m);
          if (!step.status.ok()) {
            ASSERT_EQ(i, 1) << step.status;
            failed = std::move(step);
            break;
          }
          ASSERT_NO_FATAL_FAILURE(Forward(**server, i, step));
        }
      }
    }
    ASSERT_TRUE(failed.has_value());
    EXPECT_EQ(failed->phase, 3);
    EXPECT_TRUE(failed->send.empty());
    EXPECT_EQ(failed->status.code(), wrong_length
                                         ? absl::StatusCode::kInvalidArgument
                                         : absl::StatusCode::kDataLoss)
        << failed->status;
    EXPECT_EQ(drivers[1]->StateName(), "Aborted");
  }
}

}  // namespace
}  // namespace cohort::secagg
