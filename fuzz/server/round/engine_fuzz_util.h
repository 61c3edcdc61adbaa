// What the fuzzers that drive a live round engine share: a fresh store
// directory per input, a device channel that drops what it is sent, and the
// check that a published model keeps the initial layout and finite values,
// and the round options they start from.

#ifndef COHORT_FUZZ_SERVER_ROUND_ENGINE_FUZZ_UTIL_H_
#define COHORT_FUZZ_SERVER_ROUND_ENGINE_FUZZ_UTIL_H_

#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cohort/v1/model.pb.h"
#include "common/model/weights_util.h"
#include "server/round/device_channel.h"
#include "server/round/round_engine.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_task_model.h"

namespace cohort::fuzz {

class DroppingChannel final : public server::DeviceChannel {
 public:
  void Send(cohort::v1::ServerMessage message) override {}
};

// Round options for task "t" with fuzzed goal (1 to `max_goal`) and minimum
// (1 to the goal), consumed in that order; short selection and report
// timeouts, every device selected.
inline server::RoundOptions FuzzRoundOptions(FuzzedDataProvider& in,
                                             int max_goal) {
  server::RoundOptions o;
  o.task = "t";
  o.goal_count = in.ConsumeIntegralInRange(1, max_goal);
  o.over_selection = 1.0;
  o.min_reports = in.ConsumeIntegralInRange(1, o.goal_count);
  o.selection_timeout = absl::Seconds(1);
  o.report_timeout = absl::Seconds(5);
  o.max_examples_per_report = 1000;
  return o;
}

// The published model has the initial tensors, shapes and finite values.
inline void CheckModel(const server::RoundEngine& engine,
                       const cohort::v1::Weights& initial) {
  const cohort::v1::Weights& w = engine.current_model()->weights;
  if (w.tensors_size() != initial.tensors_size()) std::abort();
  for (int i = 0; i < w.tensors_size(); ++i) {
    const auto& t = w.tensors(i);
    if (t.name() != initial.tensors(i).name()) std::abort();
    if (t.shape_size() != initial.tensors(i).shape_size()) std::abort();
    for (int d = 0; d < t.shape_size(); ++d) {
      if (t.shape(d) != initial.tensors(i).shape(d)) std::abort();
    }
    if (!model::AllFinite(model::FloatView(t))) std::abort();
  }
}

// A started round engine for one input: a directory store at `dir`, a fake
// model and clock, and the weights the engine started with, which Check()
// compares every published version against. Aborts if the store does not
// open or the engine does not start.
class FuzzEngine {
 public:
  FuzzEngine(const std::string& dir, const server::RoundOptions& options) {
    auto store = server::DirectoryStore::Open(dir);
    if (!store.ok()) std::abort();
    store_ = *std::move(store);
    engine_ = std::make_unique<server::RoundEngine>(options, store_.get(),
                                                    &model_, &clock_);
    if (!engine_->Start().ok()) std::abort();
    initial_ = engine_->current_model()->weights;
  }
  // The engine points at the members beside it.
  FuzzEngine(const FuzzEngine&) = delete;
  FuzzEngine& operator=(const FuzzEngine&) = delete;

  server::DirectoryStore& store() { return *store_; }
  const testing::FakeTaskModel& model() const { return model_; }
  testing::FakeClock& clock() { return clock_; }
  server::RoundEngine& engine() { return *engine_; }
  // CheckModel against the initial weights.
  void Check() const { CheckModel(*engine_, initial_); }

 private:
  std::unique_ptr<server::DirectoryStore> store_;
  testing::FakeTaskModel model_;
  testing::FakeClock clock_;
  std::unique_ptr<server::RoundEngine> engine_;
  cohort::v1::Weights initial_;
};

// A directory that does not exist yet, in memory where there is a tmpfs
// (the store syncs every write), named after `fuzzer`.
inline std::string FreshDir(const std::string& fuzzer) {
  static int inputs = 0;
  const char* base =
      std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  const std::string dir =
      absl::StrCat(base, "/cohort-", fuzzer, "-", ::getpid(), "-", inputs++);
  std::filesystem::remove_all(dir);
  return dir;
}

// One input: `run(in, dir)` on a fresh directory (FreshDir(fuzzer)),
// removed afterwards. The body of a LLVMFuzzerTestOneInput.
template <typename F>
int RunInFreshDir(const std::string& fuzzer, const uint8_t* data, size_t size,
                  F run) {
  FuzzedDataProvider in(data, size);
  const std::string dir = FreshDir(fuzzer);
  run(in, dir);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace cohort::fuzz

#endif  // COHORT_FUZZ_SERVER_ROUND_ENGINE_FUZZ_UTIL_H_
