// The agent killed with SIGKILL at every write point of a round (each step
// of each atomic write: before the temp file, before the rename, before the
// folder sync), then restarted: the state directory holds a whole model and
// a release counter that agree, no temp file survives, and the restarted
// agent trains and reports the next round.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "client/agent/agent_setup.h"
#include "client/agent/model_cache.h"
#include "client/agent/release_guard.h"
#include "common/base/files.h"
#include "common/crypto/sha256.h"
#include "tests/client/agent/agent_fixture.h"

namespace cohort::client {
namespace {

// The write step (counted from 1) at which the child kills itself.
int kill_at_step = 0;
int steps_seen = 0;

void KillAtStep(const std::string&, base::WriteStep) {
  if (++steps_seen == kill_at_step) ::raise(SIGKILL);
}

// Weights the fake coordinator serves, each a distinct artifact.
std::string ModelBytes(float value) {
  cohort::v1::Weights w;
  auto* t = w.add_tensors();
  t->set_name("w");
  t->add_shape(4);
  model::SetFloatData(std::vector<float>(4, value), t);
  return model::SerializeWeights(w);
}

class AgentCrashTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    options_.max_rounds = 1;
    options_.metrics_textfile = options_.state_dir + "/agent.prom";
    old_model_ = ModelBytes(0.0f);
    new_model_ = ModelBytes(1.0f);
  }

  // One round under release `release` of `model`, in this process.
  absl::Status RunRound(const std::string& model, int64_t release) {
    EXPECT_TRUE(PrepareStateDir(options_).ok());
    PinRoot();
    state_->model_bytes = model;
    auto assignment = Assignment(release);
    Sign(assignment, release);
    state_->check_ins = {assignment};
    return Run();
  }

  // Runs the round of release 2 in a child killed at write step `step`.
  // True if the child was killed, false if it finished the round first.
  bool CrashedAt(int step) {
    const pid_t child = ::fork();
    if (child == 0) {
      kill_at_step = step;
      base::SetWriteStepHookForTesting(&KillAtStep);
      ::_exit(RunRound(new_model_, 2).ok() ? 0 : 1);
    }
    int status = 0;
    EXPECT_EQ(::waitpid(child, &status, 0), child);
    if (WIFSIGNALED(status)) {
      EXPECT_EQ(WTERMSIG(status), SIGKILL);
      return true;
    }
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the round failed at step " << step;
    return false;
  }

  // What a restart finds: the release counter and the model agree.
  void ExpectConsistentState(int step) {
    ASSERT_TRUE(PrepareStateDir(options_).ok());
    for (const auto& entry :
         std::filesystem::directory_iterator(options_.state_dir)) {
      EXPECT_EQ(entry.path().filename().string().find(".tmp."),
                std::string::npos)
          << "step " << step << " left " << entry.path();
    }
    PinRoot();
    ASSERT_NE(guard_, nullptr) << "step " << step;
    const int64_t release = guard_->highest_release();
    EXPECT_TRUE(release == 1 || release == 2) << "step " << step;
    auto model = base::ReadFile(ModelCache::ModelPath(options_.state_dir));
    ASSERT_TRUE(model.ok()) << "step " << step << ": " << model.status();
    EXPECT_TRUE(*model == old_model_ || *model == new_model_)
        << "step " << step << ": a torn model";
    // The counter moves only after the new model is on disk.
    if (release == 2) EXPECT_EQ(*model, new_model_) << "step " << step;
    guard_.reset();
  }

  std::string old_model_, new_model_;
};

TEST_F(AgentCrashTest, EveryWritePointLeavesAStateTheAgentResumesFrom) {
  const std::string base = options_.state_dir;
  int crashes = 0;
  for (int step = 1; step <= 100; ++step) {
    options_.state_dir = base + "_" + std::to_string(step);
    options_.metrics_textfile = options_.state_dir + "/agent.prom";
    std::filesystem::remove_all(options_.state_dir);
    ASSERT_TRUE(RunRound(old_model_, 1).ok()) << "step " << step;
    if (!CrashedAt(step)) break;
    ++crashes;
    ASSERT_NO_FATAL_FAILURE(ExpectConsistentState(step));
    // The restarted agent takes release 3 and reports it.
    const size_t reports = state_->reports.size();
    ASSERT_TRUE(RunRound(new_model_, 3).ok()) << "step " << step;
    EXPECT_EQ(state_->reports.size(), reports + 1) << "step " << step;
    EXPECT_EQ(*base::ReadFile(ModelCache::ReleasePath(options_.state_dir)),
              "3\n")
        << "step " << step;
    std::filesystem::remove_all(options_.state_dir);
  }
  // Model, architecture, manifest, release, counters: three steps each.
  std::printf("killed the agent at %d write points\n", crashes);
  EXPECT_GE(crashes, 12);
  EXPECT_LT(crashes, 100) << "the round never finished";
}

}  // namespace
}  // namespace cohort::client
