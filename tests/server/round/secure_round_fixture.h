// The fixture of the secure-round tests: devices run SecAggParticipant over
// in-memory channels, exactly the messages the Participate stream carries.

#ifndef COHORT_TESTS_SERVER_ROUND_SECURE_ROUND_FIXTURE_H_
#define COHORT_TESTS_SERVER_ROUND_SECURE_ROUND_FIXTURE_H_

#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/secagg/secagg_participant.h"
#include "common/crypto/secure_random.h"
#include "common/model/flat_weights.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "server/round/round_engine.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_task_model.h"
#include "tests/testing/field_summaries.h"

namespace cohort::server {
namespace testing_secure {

using cohort::testing::FakeClock;
using cohort::testing::FakeTaskModel;

class QueueChannel final : public DeviceChannel {
 public:
  void Send(cohort::v1::ServerMessage m) override { queue.push_back(std::move(m)); }
  std::deque<cohort::v1::ServerMessage> queue;
};

struct Device {
  std::string name;
  std::shared_ptr<QueueChannel> channel = std::make_shared<QueueChannel>();
  std::unique_ptr<secagg::SecAggParticipant> participant;
  bool silent = false;  // stops answering (no stream close)
  std::optional<cohort::v1::Ack> ack;
  absl::Status error;
};

class SecureRoundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/secure_round_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    auto store = DirectoryStore::Open(root_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    options_.task = "t";
    options_.goal_count = 6;
    options_.over_selection = 1.0;
    options_.min_reports = 4;
    options_.selection_timeout = absl::Seconds(10);
    options_.report_timeout = absl::Seconds(60);
    options_.secagg.enabled = true;
    options_.secagg.example_cap = 100;
    options_.secagg.phase_timeout = absl::Seconds(30);
    StartEngine(6);
  }

  void StartEngine(int goal) {
    options_.goal_count = goal;
    engine_ = std::make_unique<RoundEngine>(
        options_, store_.get(), &model_, &clock_,
        [this](const RoundSummary& s) {
          (s.abandoned ? abandoned_ : summaries_).push_back(s);
        });
    ASSERT_TRUE(engine_->Start().ok());
  }

  // Assigns n devices; device i trains to a delta of all `values[i]` on
  // `counts[i]` examples and sends ready.
  void Train(const std::vector<float>& values, const std::vector<int64_t>& counts,
             const std::vector<std::optional<cohort::v1::FieldEvaluation>>&
                 fields = {}) {
    for (size_t i = 0; i < values.size(); ++i) {
      Device d;
      d.name = "device-" + std::to_string(i);
      auto out = engine_->CheckIn(d.name);
      ASSERT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(out));
      const auto& a = std::get<cohort::v1::TaskAssignment>(out);
      ASSERT_TRUE(a.secure_aggregation());
      round_ = a.round_id();
      d.participant = std::make_unique<secagg::SecAggParticipant>(
          model::FlattenFloats(model_.Filled(values[i])), counts[i], 0.5,
          1000 + i, &random_, i < fields.size() ? fields[i] : std::nullopt);
      devices_.push_back(std::move(d));
    }
    for (auto& d : devices_) {
      auto r = engine_->SubmitSecAgg(d.name, round_, d.participant->Ready(round_),
                                     d.channel);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_FALSE(r->has_value());
    }
  }

  // Delivers queued messages until nobody has anything to say. `hook` runs
  // before each device message is submitted; returning false withholds it.
  void Pump(std::function<bool(Device&, const cohort::v1::SecAggClientMessage&)>
                hook = nullptr) {
    for (bool progressed = true; progressed;) {
      progressed = false;
      for (auto& d : devices_) {
        while (!d.channel->queue.empty()) {
          auto m = std::move(d.channel->queue.front());
          d.channel->queue.pop_front();
          progressed = true;
          if (m.has_ack()) {
            d.ack = m.ack();
            continue;
          }
          if (d.silent || !d.error.ok()) continue;
          std::vector<cohort::v1::SecAggClientMessage> out;
          absl::Status s = d.participant->Handle(m.secagg(), &out);
          for (auto& o : out) {
            if (hook && !hook(d, o)) continue;
            auto r = engine_->SubmitSecAgg(d.name, round_, o, d.channel);
            if (!r.ok()) d.error = r.status();
          }
          if (!s.ok() && d.error.ok()) d.error = s;
        }
      }
      engine_->RunOnce();
      // The engine may have answered (e.g. Acks after a commit).
      for (auto& d : devices_) progressed |= !d.channel->queue.empty();
    }
  }

  float CurrentValue() {
    return model::FloatView(engine_->current_model()->weights.tensors(0))[0];
  }

  std::string root_;
  std::unique_ptr<DirectoryStore> store_;
  RoundOptions options_;
  FakeTaskModel model_;
  FakeClock clock_;
  crypto::OpenSslRandom random_;
  std::unique_ptr<RoundEngine> engine_;
  std::vector<RoundSummary> summaries_;   // committed rounds
  std::vector<RoundSummary> abandoned_;   // abandoned rounds
  std::vector<Device> devices_;
  int64_t round_ = 0;
};

}  // namespace testing_secure
}  // namespace cohort::server

#endif  // COHORT_TESTS_SERVER_ROUND_SECURE_ROUND_FIXTURE_H_
