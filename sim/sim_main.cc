// cohort-sim: many virtual clients driving the real round engine.
//
//   cohort-sim --config=configs/sim/demo.textproto [--transport=grpc]
//
// Exit codes: 0 on success, 2 for a bad scenario (checked before any work
// starts), 1 for a failure during the run.

#include <cmath>
#include <cstdio>

#include "absl/flags/flag.h"
#include "common/base/command_line.h"
#include "common/base/logging.h"
#include "google/protobuf/text_format.h"
#include "sim/output/plots.h"
#include "sim/output/progress_display.h"
#include "sim/output/run_directory.h"
#include "sim/output/sim_metrics.h"
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

int Fail(int code, const absl::Status& s) {
  std::fprintf(stderr, "cohort-sim: %s\n", s.ToString().c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  cohort::base::ParseCommandLine(
      argc, argv,
      "Federated learning simulator.\n  cohort-sim --config=scenario.textproto");
  cohort::base::InitLogging(argv[0]);
  using namespace cohort::sim;

  if (absl::GetFlag(FLAGS_config).empty()) {
    std::fprintf(stderr, "cohort-sim: --config is required (see --help)\n");
    return 2;
  }
  TransportKind transport;
  if (absl::GetFlag(FLAGS_transport) == "inprocess") {
    transport = TransportKind::kInProcess;
  } else if (absl::GetFlag(FLAGS_transport) == "grpc") {
    transport = TransportKind::kGrpc;
  } else {
    std::fprintf(stderr, "cohort-sim: --transport must be inprocess or grpc\n");
    return 2;
  }
  auto loaded = LoadSimConfig(absl::GetFlag(FLAGS_config));
  if (!loaded.ok()) return Fail(2, loaded.status());
  if (absl::GetFlag(FLAGS_threads) > 0) loaded->set_threads(absl::GetFlag(FLAGS_threads));
  if (absl::GetFlag(FLAGS_rounds) > 0) loaded->set_rounds(absl::GetFlag(FLAGS_rounds));
  if (!absl::GetFlag(FLAGS_name).empty()) loaded->set_name(absl::GetFlag(FLAGS_name));
  if (!absl::GetFlag(FLAGS_output_dir).empty()) {
    loaded->set_output_dir(absl::GetFlag(FLAGS_output_dir));
  }
  auto config = ResolveSimConfig(*loaded);
  if (!config.ok()) return Fail(2, config.status());
  if (transport == TransportKind::kGrpc &&
      (config->grpc_tls().cert_path().empty() ||
       config->grpc_tls().ca_cert_path().empty())) {
    return Fail(2, absl::InvalidArgumentError(
                       "grpc_tls: cert_path, key_path and ca_cert_path are "
                       "required with --transport=grpc"));
  }

  auto run = RunDirectory::Create(config->output_dir(), config->name());
  if (!run.ok()) return Fail(1, run.status());
  std::string text;
  google::protobuf::TextFormat::PrintToString(*config, &text);
  if (auto s = run->WriteText("config.textproto", text); !s.ok()) return Fail(1, s);
  auto csv = MetricsCsvWriter::Create(run->File(MetricsCsvWriter::kFileName));
  if (!csv.ok()) return Fail(1, csv.status());

  auto sim = Simulator::Create(*config, transport, run->File("state"));
  if (!sim.ok()) return Fail(1, sim.status());

  ProgressDisplay progress(stdout, ProgressDisplay::IsTerminal(stdout));
  const absl::Time start = absl::Now();
  std::optional<double> last_accuracy;
  double sim_seconds = 0;
  const int64_t per_round = config->clients_per_round();
  Simulator::Callbacks callbacks;
  callbacks.on_progress = [&](int64_t round, int64_t done, int64_t total) {
    progress.Update({round, config->rounds(), done, total, absl::Now() - start,
                     last_accuracy});
  };
  callbacks.on_round = [&](const SimRoundRow& row) {
    (*csv)->Append(row).IgnoreError();
    last_accuracy = row.test_accuracy;
    sim_seconds = row.sim_seconds;
    if (!ProgressDisplay::IsTerminal(stdout)) {
      std::printf("%s\n", ProgressDisplay::RoundLine(row, config->rounds()).c_str());
      std::fflush(stdout);
    }
    progress.Update({row.round, config->rounds(), per_round, per_round,
                     absl::Now() - start, last_accuracy});
  };
  std::printf("cohort-sim: %lld clients, %d per round, %d rounds, %s, %s transport -> %s\n",
              static_cast<long long>(config->population().num_clients()),
              config->clients_per_round(), config->rounds(),
              (*sim)->architecture().c_str(),
              absl::GetFlag(FLAGS_transport).c_str(), run->path().c_str());
  std::fflush(stdout);
  absl::Status ran = (*sim)->Run(callbacks);
  progress.Finish();
  if (!ran.ok()) return Fail(1, ran);

  auto model = (*sim)->current_model();
  if (auto s = run->WriteText("model.pb", model->bytes); !s.ok()) return Fail(1, s);
  if (absl::GetFlag(FLAGS_plots)) {
    absl::Status plotted = WritePlots(run->path());
    if (!plotted.ok()) LOG(WARNING) << "plots not drawn: " << plotted;
  }
  auto acc = model->metrics.find("test_accuracy");
  std::printf("results: %s (metrics.csv, model.pb, plots)\n", run->path().c_str());
  std::printf("simulated time: %.1f s, wall time: %.1f s\n", sim_seconds,
              absl::ToDoubleSeconds(absl::Now() - start));
  std::printf("final test accuracy: %.4f\n",
              acc == model->metrics.end() ? std::nan("") : acc->second);
  return 0;
}
