// The device agent's footprint, measured (docs/BENCHMARKS.md, "Agent
// footprint"; docs/bench/agent.json).
//
//   build/bin/agent_footprint [--examples=6000] [--calls=2000]
//       [--out=docs/bench/agent.json]
//
// Two processes, as on a device: a child runs the agent's parts as
// cohort-agent composes them (the example store with --examples
// Fashion-MNIST images, the SourceTrainer, the served model and the local
// API on a Unix socket) and does only what the parent asks on its stdin;
// the parent plays the application, calling Predict over the socket, and
// reads the child's memory from /proc/<pid>/status:
//   idle_rss_mib        VmRSS once the child is up, the small CNN loaded,
//                       the API listening and nothing asked yet;
//   serve_rss_mib       VmRSS after --calls Predict calls at batch 1;
//   train_peak_rss_mib  VmHWM over one round of local training (1 epoch,
//                       batch 32, the demo plan) on all the examples, the
//                       peak reset just before (clear_refs);
//   rss_after_round_mib VmRSS once that round is over;
//   swap_ms             the child building a new release's model and
//                       swapping it in, median of 5;
//   predict_p50/p99_ms_socket     Predict over the socket, batch 1;
//   predict_p50/p99_ms_inprocess  the same model called in the parent
//                       (ServingModel::Predict: the same checks and
//                       conversion, no socket), the baseline of the ratio.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/agent/agent_options.h"
#include "client/agent/local_api.h"
#include "client/agent/local_client.h"
#include "client/agent/serving_model.h"
#include "client/examples/example_source.h"
#include "client/examples/example_store.h"
#include "client/examples/feature_codec.h"
#include "client/train/source_trainer.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/percentile.h"
#include "common/crypto/sha256.h"
#include "common/data/idx_reader.h"
#include "common/ml/model.h"

ABSL_FLAG(int64_t, examples, 6000, "Examples in the device's store.");
ABSL_FLAG(int, calls, 2000, "Timed Predict calls per path.");
ABSL_FLAG(std::string, out, "", "Write the JSON figures here too.");
ABSL_FLAG(std::string, data_dir, cohort::data::kDefaultFashionMnistDir,
          "Fashion-MNIST directory (Debian's gzipped IDX files).");
ABSL_FLAG(std::string, phase, "", "Internal: 'agent' runs the child.");
ABSL_FLAG(std::string, dir, "", "Internal: the child's folder.");

namespace cohort::bench {
namespace {

constexpr char kArchitecture[] = "small_cnn";
constexpr char kPopulation[] = "fashion_mnist";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "agent_footprint: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(absl::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) Die(absl::StrCat(what, ": ", value.status().ToString()));
  return *std::move(value);
}

void Must(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Die(absl::StrCat(what, ": ", s.ToString()));
}

cohort::v1::Weights ModelWeights(uint64_t seed) {
  auto model = Must(ml::Model::Create(kArchitecture, seed), "model");
  return model->GetWeights();
}

std::unique_ptr<client::ServingModel> Serving(
    const cohort::v1::Weights& weights, int64_t version) {
  client::ServedModelInfo info;
  info.architecture = kArchitecture;
  info.sha256 = crypto::Sha256Hex(weights.SerializeAsString());
  info.version = version;
  return Must(client::ServingModel::Create(weights, info, false, {}),
              "serving model");
}

// ---------------------------------------------------------------- child

// The agent's parts; answers "train", "swap" and "quit" on stdin.
int RunAgent(const std::string& dir) {
  ml::SetNumThreads(1);  // the agent's default num_threads
  auto store = Must(client::ExampleStore::Open(dir + "/examples.db",
                                               base::RealClock::Get()),
                    "store");
  client::StoreSource source(store.get(), kPopulation);
  client::SourceTrainer trainer(&source);
  client::ServedModel served;
  cohort::v1::Weights held;
  if (!held.ParseFromString(Must(base::ReadFile(dir + "/model.pb"), "model"))) {
    Die("model.pb is not a Weights message");
  }
  served.Swap(Serving(held, 1));
  client::LocalApiOptions api;
  api.socket_path = dir + "/agent.sock";
  auto server = Must(client::LocalApiServer::Start(api, store.get(), &served),
                     "local API");
  std::cout << "ready" << std::endl;
  std::string command;
  int64_t version = 1;
  while (std::getline(std::cin, command) && command != "quit") {
    if (command == "train") {
      cohort::v1::TrainingPlan plan;
      plan.set_epochs(1);
      plan.set_batch_size(32);
      plan.set_learning_rate(0.05f);
      const absl::Time start = absl::Now();
      auto update = Must(trainer.Train(kArchitecture, held, plan, 1,
                                       absl::InfiniteFuture(), nullptr),
                         "train");
      std::cout << absl::StrFormat("trained %d %.3f", update.num_examples,
                                   absl::ToDoubleSeconds(absl::Now() - start))
                << std::endl;
    } else if (command == "swap") {
      const absl::Time start = absl::Now();
      ++version;
      served.Swap(Serving(ModelWeights(version), version));
      std::cout << absl::StrFormat(
                       "swapped %.3f",
                       absl::ToDoubleMilliseconds(absl::Now() - start))
                << std::endl;
    }
  }
  return 0;
}

// --------------------------------------------------------------- parent

struct Child {
  pid_t pid = -1;
  FILE* to = nullptr;
  FILE* from = nullptr;

  void Tell(const std::string& command) {
    std::fprintf(to, "%s\n", command.c_str());
    std::fflush(to);
  }
  std::string Ask(const std::string& command) {
    Tell(command);
    return Line();
  }
  std::string Line() {
    char line[256];
    if (std::fgets(line, sizeof(line), from) == nullptr) {
      int status = 0;
      waitpid(pid, &status, 0);
      Die(absl::StrCat("the agent process ended early: ",
                       WIFSIGNALED(status)
                           ? absl::StrCat("signal ", WTERMSIG(status))
                           : absl::StrCat("exit ", WEXITSTATUS(status))));
    }
    return std::string(line);
  }
};

Child Spawn(const std::string& dir) {
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) Die("pipe");
  Child child;
  child.pid = fork();
  if (child.pid < 0) Die("fork");
  if (child.pid == 0) {
    dup2(down[0], 0);
    dup2(up[1], 1);
    close(down[1]);
    close(up[0]);
    const std::string phase = "--phase=agent";
    const std::string folder = "--dir=" + dir;
    execl("/proc/self/exe", "agent_footprint", phase.c_str(), folder.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(down[0]);
  close(up[1]);
  child.to = fdopen(down[1], "w");
  child.from = fdopen(up[0], "r");
  return child;
}

// "VmRSS" or "VmHWM" of `pid`, in MiB.
double MemoryMib(pid_t pid, const std::string& field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    double kib = 0;
    if (absl::SimpleAtod(line.substr(field.size() + 1, line.size() -
                                                          field.size() - 4),
                         &kib)) {
      return kib / 1024.0;
    }
  }
  Die(absl::StrCat("no ", field, " for process ", pid));
}

// Where `pid`'s resident memory is: Rss summed per mapped file (anonymous
// memory as "[anon]", the heap as "[heap]"), the `top` largest and the
// rest together, in MiB.
std::vector<std::pair<std::string, double>> ResidentByMapping(pid_t pid,
                                                              int top) {
  std::ifstream smaps(absl::StrCat("/proc/", pid, "/smaps"));
  std::map<std::string, double> kib;
  std::string line, current = "[anon]";
  while (std::getline(smaps, line)) {
    if (line.empty()) continue;
    if (std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find('-') < line.find(' ')) {
      // "start-end perms offset dev inode [path]"
      std::istringstream fields(line);
      std::string range, perms, offset, dev, inode, path;
      fields >> range >> perms >> offset >> dev >> inode >> path;
      current = path.empty() ? "[anon]" : path;
      const size_t slash = current.rfind('/');
      if (slash != std::string::npos) current = current.substr(slash + 1);
    } else if (line.rfind("Rss:", 0) == 0) {
      double value = 0;
      if (absl::SimpleAtod(line.substr(4, line.size() - 7), &value)) {
        kib[current] += value;
      }
    }
  }
  std::vector<std::pair<std::string, double>> sorted;
  for (const auto& [name, k] : kib) sorted.push_back({name, k / 1024.0});
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  if (static_cast<int>(sorted.size()) > top) {
    double rest = 0;
    for (size_t i = top; i < sorted.size(); ++i) rest += sorted[i].second;
    const size_t files = sorted.size() - top;
    sorted.resize(top);
    sorted.push_back({absl::StrCat("(", files, " other mappings)"), rest});
  }
  return sorted;
}

std::string MappingsJson(
    const std::vector<std::pair<std::string, double>>& mappings) {
  std::string out = "{";
  for (size_t i = 0; i < mappings.size(); ++i) {
    absl::StrAppendFormat(&out, "%s\"%s\": %.1f", i == 0 ? "" : ", ",
                          mappings[i].first, mappings[i].second);
  }
  return out + "}";
}

void ResetPeak(pid_t pid) {
  std::ofstream(absl::StrCat("/proc/", pid, "/clear_refs")) << "5";
}

struct Latency {
  double p50 = 0, p99 = 0;
};

template <typename Call>
Latency Time(const data::ImageDataset& d, int calls, Call call) {
  for (int i = 0; i < 100; ++i) {  // warm-up
    call(client::IntensitiesOf(d, i % d.num_examples, 1));
  }
  std::vector<double> ms;
  for (int i = 0; i < calls; ++i) {
    const std::vector<float> x =
        client::IntensitiesOf(d, i % d.num_examples, 1);
    const absl::Time start = absl::Now();
    call(x);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  return {base::Percentile(ms, 0.5), base::Percentile(ms, 0.99)};
}

void FillStore(const std::string& path, const data::ImageDataset& d) {
  auto store = Must(client::ExampleStore::Open(path, base::RealClock::Get()),
                    "store");
  Must(store->DefinePopulation({kPopulation, {1, 28, 28}, 10}), "population");
  std::vector<client::Example> batch;
  for (int64_t i = 0; i < d.num_examples; ++i) {
    batch.push_back({client::IntensitiesOf(d, i, 1), d.labels[i]});
    if (batch.size() == 1000 || i + 1 == d.num_examples) {
      Must(store->AddBatch(kPopulation, batch), "add");
      batch.clear();
    }
  }
}

int RunParent() {
  ml::SetNumThreads(1);
  const int calls = absl::GetFlag(FLAGS_calls);
  const data::ImageDataset train =
      Must(data::LoadFashionMnist(absl::GetFlag(FLAGS_data_dir), false,
                                  absl::GetFlag(FLAGS_examples)),
           "Fashion-MNIST");
  const data::ImageDataset test = Must(
      data::LoadFashionMnist(absl::GetFlag(FLAGS_data_dir), true, 1000),
      "Fashion-MNIST test");
  const std::string dir = absl::StrCat("/tmp/agent_footprint-", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  FillStore(dir + "/examples.db", train);
  const cohort::v1::Weights weights = ModelWeights(1);
  Must(base::WriteFileAtomically(dir + "/model.pb",
                                 weights.SerializeAsString()),
       "model.pb");

  Child agent = Spawn(dir);
  if (agent.Line() != "ready\n") Die("the agent did not start");
  absl::SleepFor(absl::Seconds(2));
  const double idle = MemoryMib(agent.pid, "VmRSS");
  const auto idle_mappings = ResidentByMapping(agent.pid, 6);

  client::LocalClient app(dir + "/agent.sock");
  const Latency socket = Time(test, calls, [&](const std::vector<float>& x) {
    Must(app.Predict(x, 1), "Predict");
  });
  const double serve = MemoryMib(agent.pid, "VmRSS");
  std::unique_ptr<client::ServingModel> local = Serving(weights, 1);
  const Latency inprocess =
      Time(test, calls, [&](const std::vector<float>& x) {
        Must(local->Predict(x, 1), "in-process Predict");
      });

  std::vector<double> swaps;
  for (int i = 0; i < 5; ++i) {
    double ms = 0;
    if (std::sscanf(agent.Ask("swap").c_str(), "swapped %lf", &ms) != 1) {
      Die("swap");
    }
    swaps.push_back(ms);
  }
  ResetPeak(agent.pid);
  const double before_train = MemoryMib(agent.pid, "VmRSS");
  long long trained = 0;
  double train_s = 0;
  if (std::sscanf(agent.Ask("train").c_str(), "trained %lld %lf", &trained,
                  &train_s) != 2) {
    Die("train");
  }
  const double train_peak = MemoryMib(agent.pid, "VmHWM");
  const double after_round = MemoryMib(agent.pid, "VmRSS");
  agent.Tell("quit");
  waitpid(agent.pid, nullptr, 0);
  std::filesystem::remove_all(dir);

  const std::string json = absl::StrFormat(
      "{\n  \"machine\": \"Debian 12, 2 cores, 24 GiB\",\n"
      "  \"model\": \"%s\",\n  \"examples\": %d,\n  \"calls\": %d,\n"
      "  \"idle_rss_mib\": %.1f,\n  \"serve_rss_mib\": %.1f,\n"
      "  \"train_peak_rss_mib\": %.1f,\n  \"rss_before_train_mib\": %.1f,\n"
      "  \"rss_after_round_mib\": %.1f,\n"
      "  \"train_seconds\": %.2f,\n  \"swap_ms\": %.2f,\n"
      "  \"predict_p50_ms_socket\": %.4f,\n  \"predict_p99_ms_socket\": %.4f,\n"
      "  \"predict_p50_ms_inprocess\": %.4f,\n"
      "  \"predict_p99_ms_inprocess\": %.4f,\n"
      "  \"socket_overhead_p50_ms\": %.4f,\n"
      "  \"idle_rss_by_mapping_mib\": %s\n}\n",
      kArchitecture, trained, calls, idle, serve, train_peak, before_train,
      after_round,
      train_s, base::Percentile(swaps, 0.5), socket.p50, socket.p99,
      inprocess.p50, inprocess.p99, socket.p50 - inprocess.p50,
      MappingsJson(idle_mappings));
  std::fputs(json.c_str(), stdout);
  if (!absl::GetFlag(FLAGS_out).empty()) {
    Must(base::WriteFileAtomically(absl::GetFlag(FLAGS_out), json), "--out");
  }
  return 0;
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_phase) == "agent") {
    return cohort::bench::RunAgent(absl::GetFlag(FLAGS_dir));
  }
  return cohort::bench::RunParent();
}
