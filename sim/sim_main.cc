// cohort-sim: many virtual clients driving the real round engine.
//
//   cohort-sim --config=configs/sim/demo.textproto [--transport=grpc]
//   mpirun -np N cohort-sim --config=...   (rank 0 runs the engine and
//                                           writes the results; every
//                                           rank trains a share of each
//                                           round's clients)
//
// Exit codes: 0 on success, 2 for a bad scenario (checked before any work
// starts), 1 for a failure during the run.

#include <cmath>
#include <cstdio>

#include "absl/flags/flag.h"
#include "common/base/command_line.h"
#include "common/base/logging.h"
#include "common/base/malloc_tuning.h"
#include "google/protobuf/text_format.h"
#include "sim/output/plots.h"
#include "sim/output/progress_display.h"
#include "sim/output/run_directory.h"
#include "sim/output/sim_metrics.h"
#include "sim/mpi/mpi_channel.h"
#include "sim/ranked_training.h"
#include "sim/sim_config.h"
#include "sim/simulator.h"

ABSL_FLAG(std::string, config, "", "Path of a cohort.v1.SimConfig textproto.");
ABSL_FLAG(std::string, transport, "inprocess",
          "inprocess (default) or grpc (loopback TLS; needs grpc_tls).");
ABSL_FLAG(int, threads, 0, "Overrides threads.");
ABSL_FLAG(int, rounds, 0, "Overrides rounds.");
ABSL_FLAG(std::string, name, "", "Overrides name (the run folder).");
ABSL_FLAG(std::string, output_dir, "", "Overrides output_dir.");
ABSL_FLAG(bool, plots, true, "Draw PNG plots with gnuplot at the end.");

namespace {

using namespace cohort::sim;

// The run's MPI ranks when mpirun started it; null otherwise.
MpiChannel* mpi = nullptr;

// A failure on any rank ends every rank of an MPI run (the others would
// wait for it), naming the rank.
int Fail(int code, const absl::Status& s) {
  if (mpi == nullptr) {
    std::fprintf(stderr, "cohort-sim: %s\n", s.ToString().c_str());
    return code;
  }
  std::fflush(stdout);
  std::fprintf(stderr, "cohort-sim rank %d of %d: %s\n", mpi->rank(),
               mpi->size(), s.ToString().c_str());
  std::fflush(stderr);
  mpi->Abort(code);
}

absl::StatusOr<TransportKind> ParseTransport() {
  if (absl::GetFlag(FLAGS_transport) == "inprocess") return TransportKind::kInProcess;
  if (absl::GetFlag(FLAGS_transport) == "grpc") return TransportKind::kGrpc;
  return absl::InvalidArgumentError("--transport must be inprocess or grpc");
}

// The scenario with the command line's overrides, resolved. INVALID_ARGUMENT
// (exit 2) for any config mistake.
absl::StatusOr<cohort::v1::SimConfig> LoadScenario(TransportKind transport) {
  if (absl::GetFlag(FLAGS_config).empty()) {
    return absl::InvalidArgumentError("--config is required (see --help)");
  }
  auto loaded = LoadSimConfig(absl::GetFlag(FLAGS_config));
  if (!loaded.ok()) return loaded.status();
  if (absl::GetFlag(FLAGS_threads) > 0) loaded->set_threads(absl::GetFlag(FLAGS_threads));
  if (absl::GetFlag(FLAGS_rounds) > 0) loaded->set_rounds(absl::GetFlag(FLAGS_rounds));
  if (!absl::GetFlag(FLAGS_name).empty()) loaded->set_name(absl::GetFlag(FLAGS_name));
  if (!absl::GetFlag(FLAGS_output_dir).empty()) {
    loaded->set_output_dir(absl::GetFlag(FLAGS_output_dir));
  }
  auto config = ResolveSimConfig(*loaded);
  if (!config.ok()) return config.status();
  if (transport == TransportKind::kGrpc &&
      (config->grpc_tls().cert_path().empty() ||
       config->grpc_tls().ca_cert_path().empty())) {
    return absl::InvalidArgumentError(
        "grpc_tls: cert_path, key_path and ca_cert_path are required with "
        "--transport=grpc");
  }
  return config;
}

// Progress on the terminal and rows in metrics.csv, as rounds finish.
class RunReporter {
 public:
  RunReporter(const cohort::v1::SimConfig& config, MetricsCsvWriter* csv)
      : rounds_(config.rounds()),
        per_round_(config.clients_per_round()),
        csv_(csv),
        progress_(stdout, ProgressDisplay::IsTerminal(stdout)) {}

  Simulator::Callbacks Callbacks() {
    Simulator::Callbacks callbacks;
    callbacks.on_progress = [this](int64_t round, int64_t done, int64_t total) {
      progress_.Update({round, rounds_, done, total, absl::Now() - start_,
                        last_accuracy_});
    };
    callbacks.on_round = [this](const SimRoundRow& row) { OnRound(row); };
    return callbacks;
  }
  void Finish() { progress_.Finish(); }
  double sim_seconds() const { return sim_seconds_; }
  absl::Duration wall() const { return absl::Now() - start_; }

 private:
  void OnRound(const SimRoundRow& row) {
    csv_->Append(row).IgnoreError();
    last_accuracy_ = row.test_accuracy;
    sim_seconds_ = row.sim_seconds;
    if (!ProgressDisplay::IsTerminal(stdout)) {
      std::printf("%s\n", ProgressDisplay::RoundLine(row, rounds_).c_str());
      std::fflush(stdout);
    }
    progress_.Update({row.round, rounds_, per_round_, per_round_,
                      absl::Now() - start_, last_accuracy_});
  }

  const int rounds_;
  const int64_t per_round_;
  MetricsCsvWriter* const csv_;
  ProgressDisplay progress_;
  const absl::Time start_ = absl::Now();
  std::optional<double> last_accuracy_;
  double sim_seconds_ = 0;
};

// Rank 0's messages over the run: what the benchmarks read as the
// communication share (transfer seconds over wall seconds).
void PrintTraffic(const MpiChannel& ranks, const RunReporter& reporter) {
  const MpiChannel::Traffic& t = ranks.traffic();
  std::printf("MPI rank 0: sent %.1f MB, received %.1f MB; transfer %.2f s, "
              "waiting for ranks %.2f s, of %.1f s wall\n",
              t.bytes_sent / 1e6, t.bytes_received / 1e6, t.transfer_seconds,
              t.wait_seconds, absl::ToDoubleSeconds(reporter.wall()));
}

// The final model, plots and the closing lines.
int WriteResults(Simulator& sim, const RunDirectory& run,
                 const RunReporter& reporter) {
  auto model = sim.current_model();
  if (auto s = run.WriteText("model.pb", model->bytes); !s.ok()) return Fail(1, s);
  auto clients = sim.EvaluateClients();
  if (!clients.ok()) return Fail(1, clients.status());
  if (!clients->empty()) {
    absl::Status s =
        run.WriteText("personalization.csv", PersonalizationCsv(*clients));
    if (!s.ok()) return Fail(1, s);
  }
  if (absl::GetFlag(FLAGS_plots)) {
    absl::Status plotted = WritePlots(run.path());
    if (!plotted.ok()) LOG(WARNING) << "plots not drawn: " << plotted;
  }
  auto acc = model->metrics.find("test_accuracy");
  std::printf("results: %s (metrics.csv, model.pb, plots%s)\n",
              run.path().c_str(),
              clients->empty() ? "" : ", personalization.csv");
  std::printf("simulated time: %.1f s, wall time: %.1f s\n",
              reporter.sim_seconds(), absl::ToDoubleSeconds(reporter.wall()));
  std::printf("final test accuracy: %.4f\n",
              acc == model->metrics.end() ? std::nan("") : acc->second);
  if (!clients->empty()) {
    const LocalAccuracy local = Summarize(*clients);
    std::printf("on %lld clients' local tests (personalization.csv): "
                "global %.4f, personalized %.4f\n",
                static_cast<long long>(clients->size()), local.global,
                local.personalized);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cohort::base::RetainFreedMemory();
  cohort::base::ParseCommandLine(
      argc, argv,
      "Federated learning simulator.\n  cohort-sim --config=scenario.textproto");
  cohort::base::InitLogging(argv[0]);
  std::unique_ptr<MpiChannel> ranks;
  if (MpiChannel::LaunchedByMpirun()) {
    auto started = MpiChannel::Init();
    if (!started.ok()) return Fail(1, started.status());
    ranks = *std::move(started);
    mpi = ranks.get();
  }
  auto transport = ParseTransport();
  if (!transport.ok()) return Fail(2, transport.status());
  auto config = LoadScenario(*transport);
  if (!config.ok()) return Fail(2, config.status());
  if (mpi != nullptr && mpi->rank() != 0) {
    absl::Status served = RunTrainingRank(*config, *mpi);
    return served.ok() ? 0 : Fail(1, served);
  }

  auto run = RunDirectory::Create(config->output_dir(), config->name());
  if (!run.ok()) return Fail(1, run.status());
  std::string text;
  google::protobuf::TextFormat::PrintToString(*config, &text);
  if (auto s = run->WriteText("config.textproto", text); !s.ok()) return Fail(1, s);
  auto csv = MetricsCsvWriter::Create(run->File(MetricsCsvWriter::kFileName));
  if (!csv.ok()) return Fail(1, csv.status());
  auto sim = Simulator::Create(*config, *transport, run->File("state"), mpi);
  if (!sim.ok()) return Fail(1, sim.status());

  RunReporter reporter(*config, csv->get());
  std::printf("cohort-sim: %lld clients, %d per round, %d rounds, %s, %s transport, "
              "%d process%s -> %s\n",
              static_cast<long long>(config->population().num_clients()),
              config->clients_per_round(), config->rounds(),
              (*sim)->architecture().c_str(),
              absl::GetFlag(FLAGS_transport).c_str(), mpi ? mpi->size() : 1,
              mpi && mpi->size() > 1 ? "es" : "", run->path().c_str());
  std::fflush(stdout);
  absl::Status ran = (*sim)->Run(reporter.Callbacks());
  reporter.Finish();
  if (!ran.ok()) return Fail(1, ran);
  if (mpi != nullptr && mpi->size() > 1) PrintTraffic(*mpi, reporter);
  return WriteResults(**sim, *run, reporter);
}
