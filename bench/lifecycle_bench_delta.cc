// lifecycle_bench's delta figures: what a device that holds version v
// downloads to get version v + 1 (common/model/delta.h), against the full
// artifact, over the committed versions of a real simulated run.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/lifecycle_bench.h"
#include "common/model/delta.h"
#include "glog/logging.h"
#include "server/round/published_model.h"
#include "server/store/directory_store.h"
#include "sim/sim_config.h"
#include "sim/simulator.h"

namespace cohort::bench {
namespace {

// cohort-sim's task name, under which a run folder's store keeps versions.
constexpr char kSimTask[] = "sim";

// The master weights of each committed version, oldest first.
using History = std::vector<cohort::v1::Weights>;

History FromRunFolder(const std::string& run_dir) {
  auto store = server::DirectoryStore::Open(run_dir + "/state");
  CHECK(store.ok()) << store.status();
  auto versions = (*store)->ListVersions(kSimTask);
  CHECK(versions.ok()) << versions.status();
  History history;
  for (const server::ModelVersionRecord& v : *versions) {
    if (v.held) continue;
    auto record = (*store)->GetVersion(kSimTask, v.version);
    CHECK(record.ok()) << record.status();
    cohort::v1::Weights weights;
    CHECK(weights.ParseFromString(record->weights)) << "version " << v.version;
    history.push_back(std::move(weights));
  }
  return history;
}

History FromSimulation(const std::string& config_path, int rounds) {
  auto config = sim::LoadSimConfig(config_path);
  CHECK(config.ok()) << config.status();
  config->set_rounds(rounds);
  auto resolved = sim::ResolveSimConfig(*config);
  CHECK(resolved.ok()) << resolved.status();
  const std::string dir =
      absl::StrCat("/tmp/cohort-lifecycle-bench-", ::getpid());
  std::filesystem::remove_all(dir);
  History history;
  {
    auto sim =
        sim::Simulator::Create(*resolved, sim::TransportKind::kInProcess, dir);
    CHECK(sim.ok()) << sim.status();
    int64_t last = (*sim)->current_model()->version;
    history.push_back((*sim)->current_model()->weights);
    sim::Simulator::Callbacks callbacks;
    callbacks.on_round = [&](const sim::SimRoundRow& row) {
      auto model = (*sim)->current_model();
      if (model->version == last) return;
      last = model->version;
      history.push_back(model->weights);
      std::printf("delta run: round %lld committed version %lld\n",
                  static_cast<long long>(row.round),
                  static_cast<long long>(last));
      std::fflush(stdout);
    };
    absl::Status status = (*sim)->Run(callbacks);
    CHECK(status.ok()) << status;
  }
  std::filesystem::remove_all(dir);
  return history;
}

// The artifact the coordinator serves for `weights`.
std::string Artifact(const cohort::v1::Weights& weights, bool int8) {
  auto published = server::Publish(0, 0, "", weights, {}, int8);
  CHECK(published.ok()) << published.status();
  return (*published)->bytes;
}

struct PairResult {
  double ratio = 0;  // bytes downloaded / full artifact bytes
  int64_t downloaded = 0;
  double encode_ms = 0;
  double apply_ms = 0;
};

// The server streams the delta only when it is smaller, so a device
// downloads min(delta, full).
PairResult MeasurePair(const std::string& base, const std::string& target) {
  PairResult r;
  const absl::Time t0 = absl::Now();
  auto delta = model::EncodeDelta(base, target);
  const absl::Time t1 = absl::Now();
  CHECK(delta.ok()) << delta.status();
  auto rebuilt =
      model::ApplyDelta(base, *delta, static_cast<int64_t>(target.size()));
  r.apply_ms = absl::ToDoubleMilliseconds(absl::Now() - t1);
  r.encode_ms = absl::ToDoubleMilliseconds(t1 - t0);
  CHECK(rebuilt.ok() && *rebuilt == target) << "a delta does not rebuild";
  r.downloaded = static_cast<int64_t>(std::min(delta->size(), target.size()));
  r.ratio =
      static_cast<double>(r.downloaded) / static_cast<double>(target.size());
  return r;
}

}  // namespace

DeltaFigures MeasureDeltas(const DeltaSource& source) {
  DeltaFigures f;
  const History history =
      source.run_dir.empty() ? FromSimulation(source.config_path, source.rounds)
                             : FromRunFolder(source.run_dir);
  f.source = source.run_dir.empty()
                 ? absl::StrCat(source.rounds, "-round ", source.config_path)
                 : source.run_dir;
  CHECK_GE(history.size(), 2u) << "no two committed versions in " << f.source;
  std::string base8 = Artifact(history[0], true);
  std::string base32 = Artifact(history[0], false);
  int64_t delta_bytes = 0;
  for (size_t i = 1; i < history.size(); ++i) {
    std::string target8 = Artifact(history[i], true);
    std::string target32 = Artifact(history[i], false);
    const PairResult int8 = MeasurePair(base8, target8);
    const PairResult fp32 = MeasurePair(base32, target32);
    f.mean_ratio_int8 += int8.ratio;
    f.mean_ratio_fp32 += fp32.ratio;
    f.last_ratio_int8 = int8.ratio;
    f.encode_ms_int8 += int8.encode_ms;
    f.apply_ms_int8 += int8.apply_ms;
    delta_bytes += int8.downloaded;
    f.full_bytes_int8 = static_cast<int64_t>(target8.size());
    base8 = std::move(target8);
    base32 = std::move(target32);
  }
  f.pairs = static_cast<int>(history.size()) - 1;
  f.mean_ratio_int8 /= f.pairs;
  f.mean_ratio_fp32 /= f.pairs;
  f.encode_ms_int8 /= f.pairs;
  f.apply_ms_int8 /= f.pairs;
  f.mean_delta_bytes_int8 = delta_bytes / f.pairs;
  return f;
}

}  // namespace cohort::bench
