#ifndef COHORT_TESTS_CLIENT_AGENT_AGENT_FIXTURE_H_
#define COHORT_TESTS_CLIENT_AGENT_AGENT_FIXTURE_H_

// One agent against a scripted coordinator (FakeTransport) and a fake
// trainer, in a fresh state directory per test; the loop and counter tests
// derive from it.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/agent/agent.h"
#include "client/agent/agent_options.h"
#include "common/crypto/sha256.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_trainer.h"
#include "tests/testing/fake_transport.h"

namespace cohort::client {

class AgentFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = std::make_shared<testing::FakeTransport::State>();
    cohort::v1::Weights w;
    auto* t = w.add_tensors();
    t->set_name("w");
    t->add_shape(4);
    model::SetFloatData(std::vector<float>(4, 0.0f), t);
    state_->model_bytes = model::SerializeWeights(w);
    options_.device_id = "dev-1";
    options_.state_dir =
        ::testing::TempDir() + "/agent_" +
        ::testing::UnitTest::GetInstance()->current_test_suite()->name() +
        "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(options_.state_dir);
    options_.backoff_initial = absl::Milliseconds(1);
    options_.backoff_max = absl::Milliseconds(2);
  }

  // An assignment of round `round` to the fake's model, version 1.
  cohort::v1::ServerMessage Assignment(
      int64_t round, absl::Time deadline = absl::InfiniteFuture()) {
    cohort::v1::ServerMessage m;
    auto* a = m.mutable_task_assignment();
    a->set_round_id(round);
    a->set_task("t");
    auto* ref = a->mutable_model();
    ref->set_version(1);
    ref->set_architecture("fake");
    ref->set_size_bytes(static_cast<int64_t>(state_->model_bytes.size()));
    ref->set_sha256(crypto::Sha256Hex(state_->model_bytes));
    if (deadline != absl::InfiniteFuture()) {
      a->set_report_deadline_unix_ms(absl::ToUnixMillis(deadline));
    }
    return m;
  }

  absl::Status Run() {
    Agent agent(options_, std::make_unique<testing::FakeTransport>(state_),
                &trainer_, &stop_, std::move(guard_));
    return agent.Run();
  }

  std::shared_ptr<testing::FakeTransport::State> state_;
  AgentOptions options_;
  testing::FakeTrainer trainer_;
  absl::Notification stop_;
  std::unique_ptr<ReleaseGuard> guard_;
};

}  // namespace cohort::client

#endif  // COHORT_TESTS_CLIENT_AGENT_AGENT_FIXTURE_H_
