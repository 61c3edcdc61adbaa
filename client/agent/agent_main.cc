// cohort-agent: the device daemon.
//
//   cohort-agent --config=configs/agent.textproto [--device_id=... --shard_index=N]
//   cohort-agent profile --config=... [--model=PATH --architecture=NAME] [--json]
//     runs the cached (or given) model on the device's data: latency p50/p95,
//     peak RSS and time per operator.
//   cohort-agent status --config=... [--json]
//     the model, release, eligibility, budgets used and the last round's
//     outcome, read from state_dir without changing it (the daemon may run).
//
// Exit codes: 0 after SIGTERM/SIGINT or max_rounds, and once a status is
// printed (even with parts of it unreadable); 2 for a bad config,
// missing data or a check-in the server refuses; 3 for a TLS mistake of the
// device's own (the server's certificate not trusted or not naming
// server_name_override, a device certificate the server refuses, expired or
// not yet valid at the device clock); 1 otherwise.

#include <cstdio>

#include "absl/flags/flag.h"
#include "client/agent/agent.h"
#include "absl/strings/str_cat.h"
#include "client/agent/agent_counters.h"
#include "client/agent/agent_options.h"
#include "client/agent/agent_setup.h"
#include "client/agent/held_model.h"
#include "client/agent/local_api.h"
#include "client/agent/serving_model.h"
#include "client/train/source_trainer.h"
#include "client/agent/model_cache.h"
#include "client/transport/tls_probe.h"
#include "client/agent/profile.h"
#include "client/agent/agent_status.h"
#include "client/agent/status_format.h"
#include "client/agent/watched_trainer.h"
#include "client/agent/work_gate.h"
#include "common/base/clock.h"
#include "common/base/command_line.h"
#include "common/base/exit_code.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/service_notify.h"
#include "common/base/signals.h"
#include "common/base/textproto.h"

ABSL_FLAG(std::string, config, "", "Path of a cohort.v1.AgentConfig textproto.");
ABSL_FLAG(std::string, device_id, "", "Overrides device_id.");
ABSL_FLAG(int, shard_index, -1, "Overrides partition.shard_index.");
ABSL_FLAG(std::string, state_dir, "", "Overrides state_dir.");
ABSL_FLAG(std::string, server_address, "", "Overrides server_address.");
ABSL_FLAG(int, max_rounds, -1, "Overrides max_rounds.");
ABSL_FLAG(std::string, cert_path, "", "Overrides tls.cert_path (mTLS identity).");
ABSL_FLAG(std::string, key_path, "", "Overrides tls.key_path.");
ABSL_FLAG(std::string, model, "",
          "profile: serialized Weights to run (default: the cached model in "
          "state_dir).");
ABSL_FLAG(std::string, architecture, "",
          "profile: architecture of --model (default: the cached model's).");
ABSL_FLAG(bool, json, false, "profile, status: print one JSON object.");

namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "cohort-agent: %s\n", s.ToString().c_str());
  return cohort::base::ExitCodeFor(s);
}

// `cohort-agent profile`: runs the device's current model on its own data.
int Profile(const cohort::client::AgentOptions& options) {
  const std::string& dir = options.state_dir;
  std::string model_path = absl::GetFlag(FLAGS_model);
  std::string arch = absl::GetFlag(FLAGS_architecture);
  using cohort::client::ModelCache;
  if (model_path.empty()) model_path = ModelCache::ModelPath(dir);
  if (arch.empty()) {
    auto saved = cohort::base::ReadFile(ModelCache::ArchitecturePath(dir), 4096);
    if (!saved.ok()) {
      return Fail(absl::FailedPreconditionError(
          "no model architecture: pass --architecture, or run the agent until "
          "it has cached a model"));
    }
    arch = *saved;
  }
  auto bytes = cohort::base::ReadFile(model_path, ModelCache::kMaxModelBytes);
  if (!bytes.ok()) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "no model at ", model_path, " (", bytes.status().message(),
        "): pass --model, or run the agent until it has cached one")));
  }
  cohort::v1::Weights weights;
  if (!weights.ParseFromString(*bytes)) {
    return Fail(absl::InvalidArgumentError(model_path + " is not a Weights message"));
  }
  auto data = cohort::client::LoadDeviceData(options);
  if (!data.ok()) return Fail(data.status());
  auto report = cohort::client::ProfileModel(weights, arch, *data);
  if (!report.ok()) return Fail(report.status());
  std::fputs(cohort::client::FormatProfile(*report, absl::GetFlag(FLAGS_json)).c_str(),
             stdout);
  return 0;
}

// `cohort-agent status`: what the device holds and may do. Reads only, so
// it may run beside the daemon; a file it cannot read is shown as
// unreadable, and the exit code is still 0.
int PrintStatus(const cohort::client::AgentOptions& options) {
  cohort::client::StatusEnvironment environment;
  // Only eligibility.min_new_examples asks.
  environment.examples_added = [&options]() -> absl::StatusOr<int64_t> {
    return cohort::client::ExamplesAdded(options);
  };
  const cohort::client::AgentStatus status =
      cohort::client::ReadAgentStatus(options, std::move(environment));
  std::fputs(cohort::client::FormatAgentStatus(status,
                                               absl::GetFlag(FLAGS_json))
                 .c_str(),
             stdout);
  return 0;
}

// The config file with the command line's overrides, resolved.
absl::StatusOr<cohort::client::AgentOptions> LoadConfig() {
  cohort::v1::AgentConfig config;
  if (absl::GetFlag(FLAGS_config).empty()) {
    return absl::InvalidArgumentError("--config is required (see --help)");
  }
  absl::Status loaded =
      cohort::base::LoadTextProtoFile(absl::GetFlag(FLAGS_config), &config);
  if (!loaded.ok()) return loaded;
  auto set = [](const std::string& flag, auto setter) {
    if (!flag.empty()) setter(flag);
  };
  set(absl::GetFlag(FLAGS_device_id), [&](auto v) { config.set_device_id(v); });
  set(absl::GetFlag(FLAGS_state_dir), [&](auto v) { config.set_state_dir(v); });
  set(absl::GetFlag(FLAGS_server_address),
      [&](auto v) { config.set_server_address(v); });
  set(absl::GetFlag(FLAGS_cert_path),
      [&](auto v) { config.mutable_tls()->set_cert_path(v); });
  set(absl::GetFlag(FLAGS_key_path),
      [&](auto v) { config.mutable_tls()->set_key_path(v); });
  if (absl::GetFlag(FLAGS_shard_index) >= 0) {
    config.mutable_partition()->set_shard_index(absl::GetFlag(FLAGS_shard_index));
  }
  if (absl::GetFlag(FLAGS_max_rounds) >= 0) {
    config.set_max_rounds(absl::GetFlag(FLAGS_max_rounds));
  }
  return cohort::client::ResolveAgentOptions(config);
}

// The local API when local_api.socket_path is set (else null), serving the
// model the state directory holds until the first round brings one.
absl::StatusOr<std::unique_ptr<cohort::client::LocalApiServer>> StartLocalApi(
    const cohort::client::AgentOptions& options,
    cohort::client::DeviceExamples& examples,
    const cohort::client::ReleaseGuard* guard,
    cohort::client::ServedModel* served) {
  if (options.local_api.socket_path.empty()) return nullptr;
  auto held = cohort::client::ReadHeldModel(options.state_dir, guard);
  if (!held.ok()) {
    LOG(WARNING) << "no model to serve until the next round: "
                 << held.status();
  } else if (held->has_value()) {
    cohort::client::ServeModel(*served, (*held)->weights, (*held)->info,
                               *examples.source,
                               options.local_api.int8_kernels);
  }
  return cohort::client::LocalApiServer::Start(options.local_api,
                                               examples.store.get(), served);
}

// The daemon: trains and reports until `stop` or max_rounds. `running` is
// what the signal callback cancels, guarded by `mu`. `notifier` hears
// READY=1 after set-up, status and watchdog pings while it runs
// (WatchedTrainer), and STOPPING=1.
int RunAgent(const cohort::client::AgentOptions& options,
             absl::Notification* stop, absl::Mutex* mu,
             cohort::client::Agent** running,
             cohort::base::ServiceNotifier* notifier) {
  if (absl::Status state = cohort::client::PrepareStateDir(options);
      !state.ok()) {
    return Fail(state);
  }
  // Before the certificate check: enrollment makes the certificate.
  auto keeper = cohort::client::EnsureEnrolled(options);
  if (!keeper.ok()) return Fail(keeper.status());
  if (absl::Status own =
          cohort::client::CheckDeviceCertificate(options.tls, absl::Now());
      !own.ok()) {
    return Fail(own);
  }
  auto examples = cohort::client::OpenDeviceExamples(options);
  if (!examples.ok()) return Fail(examples.status());
  cohort::client::SourceTrainer trainer(examples->source.get());
  auto transport = cohort::client::MakeTransport(options);
  if (!transport.ok()) return Fail(transport.status());
  auto guard = cohort::client::MakeReleaseGuard(options);
  if (!guard.ok()) return Fail(guard.status());
  // Declared before the local API, which serves it, so it outlives it.
  cohort::client::ServedModel served;
  auto local_api = StartLocalApi(options, *examples, guard->get(), &served);
  if (!local_api.ok()) return Fail(local_api.status());
  cohort::client::WatchedTrainer watched(&trainer,
                                        cohort::base::RealClock::Get());
  // Written to options.metrics_textfile when it is set.
  cohort::client::AgentCounters counters;
  // Eligibility and budgets on this machine's /sys, /proc, clock and zone.
  cohort::client::Agent agent(options, std::move(*transport), &watched, stop,
                              *std::move(guard), &counters,
                              cohort::client::WorkGate::ForDevice(options));
  agent.set_identity_keeper(keeper->get());
  if (*local_api != nullptr) {
    agent.set_model_listener([&](const cohort::v1::ModelRef& ref,
                                 const cohort::v1::Weights& weights,
                                 int64_t release, bool int8_artifact) {
      cohort::client::ServeModel(
          served, weights,
          {ref.architecture(), ref.sha256(), ref.version(), release, ""},
          *examples->source,
          options.local_api.int8_kernels || int8_artifact);
    });
  }
  {
    absl::MutexLock lock(mu);
    *running = &agent;
  }
  LOG(INFO) << "device " << options.device_id << " holds "
            << trainer.num_examples() << " examples; server "
            << options.server_address;
  auto monitor =
      cohort::client::NotifyAgentRunning(*notifier, options, watched);
  absl::Status s = agent.Run();
  monitor.reset();  // no watchdog pings once the loop has returned
  cohort::base::NotifyStopping(
      *notifier, absl::StrCat("stopping after ", agent.rounds_reported(),
                              " rounds reported"));
  {
    absl::MutexLock lock(mu);
    *running = nullptr;
  }
  return s.ok() ? 0 : Fail(s);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = cohort::base::ParseCommandLine(
      argc, argv,
      "Federated learning device agent.\n  cohort-agent --config=agent.textproto\n"
      "  cohort-agent profile --config=agent.textproto [--json]\n"
      "  cohort-agent status --config=agent.textproto [--json]");
  const std::string command = args.size() > 1 ? args[1] : "";
  const bool profile = command == "profile";
  const bool status = command == "status";
  if (args.size() > 1 && !profile && !status) {
    std::fprintf(stderr,
                 "cohort-agent: unknown command '%s' (try: profile, status)\n",
                 args[1]);
    return 2;
  }
  cohort::base::InitLogging(argv[0]);
  absl::Notification stop;
  absl::Mutex agent_mu;
  cohort::client::Agent* running = nullptr;
  cohort::base::TerminationSignals signals([&] {
    absl::MutexLock lock(&agent_mu);
    if (running != nullptr) running->Cancel();
    stop.Notify();
  });
  auto options = LoadConfig();
  if (!options.ok()) return Fail(options.status());
  if (profile) return Profile(*options);
  if (status) return PrintStatus(*options);
  cohort::base::SystemdNotifier notifier;  // a no-op without NOTIFY_SOCKET
  return RunAgent(*options, &stop, &agent_mu, &running, &notifier);
}
