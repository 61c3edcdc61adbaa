#ifndef COHORT_TESTS_CLIENT_AGENT_AGENT_FIXTURE_H_
#define COHORT_TESTS_CLIENT_AGENT_AGENT_FIXTURE_H_

// One agent against a scripted coordinator (FakeTransport) and a fake
// trainer, in a fresh state directory per test; the loop, counter and gate
// tests derive from it. The agent counts into counters_ and, when a test
// sets gate_, asks that WorkGate (else one with the Linux probes, which the
// default options never read).

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/agent/agent.h"
#include "client/agent/agent_counters.h"
#include "client/agent/agent_options.h"
#include "client/agent/work_gate.h"
#include "common/base/files.h"
#include "common/crypto/sha256.h"
#include "common/model/signing.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_trainer.h"
#include "tests/testing/fake_transport.h"
#include "tests/testing/test_keys.h"

namespace cohort::client {

// The smallest AgentConfig that resolves: a device id and a CA.
inline cohort::v1::AgentConfig MinimalAgentConfig() {
  cohort::v1::AgentConfig c;
  c.set_device_id("d1");
  c.mutable_tls()->set_ca_cert_path("ca.pem");
  return c;
}

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

  // Pins the test root: the agent then needs signed releases.
  void PinRoot() {
    const std::string root = options_.state_dir + ".root.pb";
    ASSERT_TRUE(base::WriteFileAtomically(root, keys_.Root().SerializeAsString()).ok());
    auto guard = ReleaseGuard::Open(root, options_.state_dir);
    ASSERT_TRUE(guard.ok()) << guard.status();
    guard_ = *std::move(guard);
  }

  // Signs `m`'s model as release `release` of task "t".
  void Sign(cohort::v1::ServerMessage& m, int64_t release) {
    cohort::v1::ModelRef* ref = m.mutable_task_assignment()->mutable_model();
    cohort::v1::ModelManifest manifest;
    manifest.set_task("t");
    manifest.set_version(ref->version());
    manifest.set_release(release);
    manifest.set_architecture(ref->architecture());
    manifest.set_expires_at_unix_ms(
        absl::ToUnixMillis(absl::Now() + absl::Hours(1)));
    auto* a = manifest.add_artifacts();
    a->set_kind("fp32");
    a->set_sha256(ref->sha256());
    a->set_size_bytes(ref->size_bytes());
    *ref->mutable_manifest() =
        model::SignManifest(manifest, keys_.release, keys_.Certificate());
  }

  absl::Status Run() {
    Agent agent(options_, std::make_unique<testing::FakeTransport>(state_),
                &trainer_, &stop_, std::move(guard_), &counters_,
                std::move(gate_));
    return agent.Run();
  }

  std::shared_ptr<testing::FakeTransport::State> state_;
  AgentOptions options_;
  testing::FakeTrainer trainer_;
  absl::Notification stop_;
  std::unique_ptr<ReleaseGuard> guard_;
  AgentCounters counters_;
  std::unique_ptr<WorkGate> gate_;
  testing::TestKeys keys_;
};

}  // namespace cohort::client

#endif  // COHORT_TESTS_CLIENT_AGENT_AGENT_FIXTURE_H_
