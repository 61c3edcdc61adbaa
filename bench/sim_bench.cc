// Benchmarks of cohort-sim (docs/BENCHMARKS.md, docs/bench/sim.json):
//   overhead     round wall time at 1,000 clients per round against the sum of
//                the same clients' bare LocalTrainer time, measured in one run
//   throughput   client updates per second, small CNN and MLP, 60 examples,
//                1 local epoch
//   memory       peak RSS for populations of 1e4, 1e5, 1e6 with 1,000 clients
//                per round (each in a child process, read with wait4)
//   convergence  rounds of the demo scenario to reach 0.85 and 0.88
//
//   sim_bench --out=docs/bench/sim.json [--convergence_rounds=150]

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/train/client_task.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/data/idx_reader.h"
#include "common/ml/model.h"
#include "sim/sim_config.h"
#include "sim/simulator.h"

ABSL_FLAG(std::string, out, "docs/bench/sim.json", "Where to write the JSON.");
ABSL_FLAG(std::string, demo_config, "configs/sim/demo.textproto",
          "Scenario for the convergence run.");
ABSL_FLAG(int, convergence_rounds, 150, "Most rounds for the convergence run.");
ABSL_FLAG(int64_t, memory_child, 0, "Internal: run one memory probe.");
ABSL_FLAG(std::string, only, "", "Run one benchmark: overhead, throughput, memory, convergence.");

extern char** environ;

namespace cohort::sim {
namespace {

std::string TempDir(const std::string& name) {
  std::string dir = absl::StrCat("/tmp/cohort-sim-bench-", ::getpid(), "-", name);
  std::filesystem::remove_all(dir);
  return dir;
}

cohort::v1::SimConfig Base(const std::string& arch, int64_t population,
                           int per_round, int threads) {
  cohort::v1::SimConfig c;
  c.mutable_population()->set_num_clients(population);
  c.mutable_population()->set_mean_examples(60);
  c.set_clients_per_round(per_round);
  c.mutable_round()->set_min_reports(per_round * 8 / 10);
  c.mutable_plan()->set_epochs(1);
  c.mutable_plan()->set_batch_size(10);
  c.set_architecture(arch);
  c.set_threads(threads);
  c.set_rounds(1);
  // A small holdout keeps evaluation from dominating one-round timings.
  c.set_holdout_examples(1000);
  return c;
}

std::vector<SimRoundRow> RunScenario(cohort::v1::SimConfig c,
                                     const std::string& name) {
  auto resolved = ResolveSimConfig(c);
  CHECK(resolved.ok()) << resolved.status();
  auto sim = Simulator::Create(*resolved, TransportKind::kInProcess, TempDir(name));
  CHECK(sim.ok()) << sim.status();
  std::vector<SimRoundRow> rows;
  Simulator::Callbacks cb;
  cb.on_round = [&](const SimRoundRow& r) { rows.push_back(r); };
  absl::Status s = (*sim)->Run(cb);
  CHECK(s.ok()) << s;
  return rows;
}

// Simulator round at 1,000 clients against bare training of 1,000 clients of
// the same population, one thread each.
std::map<std::string, double> Overhead() {
  auto config = Base("small_cnn", 10000, 1000, 1);
  auto rows = RunScenario(config, "overhead");
  const double round_s = rows.at(0).wall_seconds;

  auto resolved = ResolveSimConfig(config);
  auto train = data::LoadFashionMnist(resolved->data().idx_dir(), false);
  CHECK(train.ok());
  auto population = data::ClientPopulation::Create(ToPopulationSpec(*resolved), &*train);
  CHECK(population.ok());
  auto model = ml::Model::Create("small_cnn", resolved->seed());
  CHECK(model.ok());
  const cohort::v1::Weights start = (*model)->GetWeights();
  auto trainer = client::LocalTrainer::CreateWithoutData();
  double bare_s = 0;
  for (int64_t id = 0; id < rows.at(0).participants; ++id) {
    data::ImageDataset local = (*population)->DataOf(id);
    absl::Time t0 = absl::Now();
    auto update = trainer->TrainOn(local, "small_cnn", start, resolved->plan(),
                                   client::TrainingSeed(id, 1));
    bare_s += absl::ToDoubleSeconds(absl::Now() - t0);
    CHECK(update.ok());
  }
  std::printf("overhead: round %.2f s for %lld clients, bare training %.2f s, ratio %.3f\n",
              round_s, static_cast<long long>(rows.at(0).participants), bare_s,
              round_s / bare_s);
  return {{"round_seconds", round_s}, {"bare_training_seconds", bare_s},
          {"ratio", round_s / bare_s}};
}

std::map<std::string, double> Throughput() {
  std::map<std::string, double> out;
  for (const char* arch : {"small_cnn", "mlp"}) {
    auto config = Base(arch, 10000, 1000, 2);
    config.set_rounds(2);
    auto rows = RunScenario(config, arch);
    // The second round: start-up and the first evaluation are excluded.
    const double s = rows.at(1).wall_seconds - rows.at(0).wall_seconds;
    out[arch] = rows.at(1).participants / s;
    std::printf("throughput %s: %.0f client updates/s (2 threads)\n", arch, out[arch]);
  }
  return out;
}

// Runs in a fresh process (this binary re-executed with --memory_child), so
// the peak RSS is that of one simulation alone.
int MemoryChild(int64_t population) {
  auto rows = RunScenario(Base("mlp", population, 1000, 2),
                          absl::StrCat("mem", population));
  return rows.size() == 1 ? 0 : 1;
}

double PeakRssMiB(int64_t population) {
  std::fflush(stdout);
  std::string flag = absl::StrCat("--memory_child=", population);
  char self[] = "/proc/self/exe";
  char* args[] = {self, flag.data(), nullptr};
  pid_t pid = 0;
  CHECK_EQ(posix_spawn(&pid, self, nullptr, nullptr, args, environ), 0);
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const double mib = usage.ru_maxrss / 1024.0;
  std::printf("peak RSS, population %lld, 1000 per round: %.0f MiB\n",
              static_cast<long long>(population), mib);
  return mib;
}

std::map<std::string, double> Convergence() {
  auto loaded = LoadSimConfig(absl::GetFlag(FLAGS_demo_config));
  CHECK(loaded.ok()) << loaded.status();
  loaded->set_rounds(absl::GetFlag(FLAGS_convergence_rounds));
  auto resolved = ResolveSimConfig(*loaded);
  CHECK(resolved.ok()) << resolved.status();
  auto sim = Simulator::Create(*resolved, TransportKind::kInProcess, TempDir("conv"));
  CHECK(sim.ok()) << sim.status();
  std::map<std::string, double> out{{"rounds_to_0_85", -1}, {"rounds_to_0_88", -1}};
  Simulator::Callbacks cb;
  cb.on_round = [&](const SimRoundRow& r) {
    if (r.test_accuracy >= 0.85 && out["rounds_to_0_85"] < 0) out["rounds_to_0_85"] = r.round;
    if (r.test_accuracy >= 0.88 && out["rounds_to_0_88"] < 0) out["rounds_to_0_88"] = r.round;
    out["final_accuracy"] = r.test_accuracy;
    out["rounds_run"] = r.round;
    out["wall_seconds"] = r.wall_seconds;
    if (r.round % 10 == 0) {
      std::printf("convergence: round %lld accuracy %.4f\n",
                  static_cast<long long>(r.round), r.test_accuracy);
      std::fflush(stdout);
    }
  };
  CHECK((*sim)->Run(cb).ok());
  std::printf("convergence: 0.85 at round %.0f, 0.88 at round %.0f (-1 = not reached in %d)\n",
              out["rounds_to_0_85"], out["rounds_to_0_88"],
              absl::GetFlag(FLAGS_convergence_rounds));
  return out;
}

std::string Json(const std::map<std::string, double>& m) {
  std::string s = "{";
  for (const auto& [k, v] : m) {
    absl::StrAppend(&s, s.size() > 1 ? ", " : "", "\"", k, "\": ",
                    absl::StrFormat("%.4g", v));
  }
  return s + "}";
}

}  // namespace
}  // namespace cohort::sim

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  cohort::base::InitLogging(argv[0]);
  using namespace cohort::sim;
  if (absl::GetFlag(FLAGS_memory_child) > 0) {
    return MemoryChild(absl::GetFlag(FLAGS_memory_child));
  }
  const std::string only = absl::GetFlag(FLAGS_only);
  auto want = [&](const char* name) { return only.empty() || only == name; };
  std::string json = "{\n";
  auto field = [&](const std::string& key, const std::string& value) {
    absl::StrAppend(&json, json.size() > 2 ? ",\n" : "", "  \"", key, "\": ", value);
  };
  if (want("overhead")) {
    auto o = Overhead();
    field("overhead_ratio", absl::StrFormat("%.4f", o["ratio"]));
    field("overhead_detail", Json(o));
  }
  if (want("throughput")) field("client_updates_per_second", Json(Throughput()));
  if (want("memory")) {
    std::map<std::string, double> rss;
    for (int64_t n : {10000, 100000, 1000000}) rss[std::to_string(n)] = PeakRssMiB(n);
    field("peak_rss_mib", Json(rss));
  }
  if (want("convergence")) {
    auto c = Convergence();
    field("rounds_to_0_85", absl::StrFormat("%.0f", c["rounds_to_0_85"]));
    field("rounds_to_0_88", absl::StrFormat("%.0f", c["rounds_to_0_88"]));
    field("convergence_detail", Json(c));
  }
  json += "\n}\n";
  absl::Status s = cohort::base::WriteFileAtomically(absl::GetFlag(FLAGS_out), json);
  std::printf("%s", json.c_str());
  return s.ok() ? 0 : 1;
}
