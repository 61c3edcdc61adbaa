// cohort-server: the federated learning coordinator.
//
//   cohort-server --config=configs/server.textproto
//
// Exit codes: 0 after a clean stop (SIGTERM, SIGINT or round.max_rounds),
// 2 for a bad config, 1 for any other start-up or runtime error.

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/synchronization/notification.h"
#include "common/base/command_line.h"
#include "common/base/exit_code.h"
#include "common/base/logging.h"
#include "common/base/malloc_tuning.h"
#include "common/base/service_notify.h"
#include "common/base/signals.h"
#include "common/base/textproto.h"
#include "server/api/server_app.h"

ABSL_FLAG(std::string, config, "", "Path of a cohort.v1.ServerConfig textproto.");
ABSL_FLAG(std::string, listen_address, "", "Overrides listen_address.");
ABSL_FLAG(std::string, port_file, "", "Overrides port_file.");
ABSL_FLAG(std::string, run_dir, "", "Overrides run_dir.");
ABSL_FLAG(std::string, postgres_dsn, "",
          "Overrides the store: PostgreSQL at this DSN.");

int main(int argc, char** argv) {
  cohort::base::RetainFreedMemory();
  cohort::base::ParseCommandLine(
      argc, argv,
      "Federated learning coordinator.\n  cohort-server --config=server.textproto");
  cohort::base::InitLogging(argv[0]);
  absl::Notification stop;
  cohort::base::TerminationSignals signals([&stop] { stop.Notify(); });

  cohort::v1::ServerConfig config;
  if (absl::GetFlag(FLAGS_config).empty()) {
    std::fprintf(stderr, "cohort-server: --config is required (see --help)\n");
    return cohort::base::kExitSetup;
  }
  absl::Status loaded =
      cohort::base::LoadTextProtoFile(absl::GetFlag(FLAGS_config), &config);
  if (!loaded.ok()) {
    std::fprintf(stderr, "cohort-server: %s\n", loaded.ToString().c_str());
    return cohort::base::kExitSetup;
  }
  if (!absl::GetFlag(FLAGS_listen_address).empty()) {
    config.set_listen_address(absl::GetFlag(FLAGS_listen_address));
  }
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    config.set_port_file(absl::GetFlag(FLAGS_port_file));
  }
  if (!absl::GetFlag(FLAGS_run_dir).empty()) {
    config.set_run_dir(absl::GetFlag(FLAGS_run_dir));
  }
  if (!absl::GetFlag(FLAGS_postgres_dsn).empty()) {
    config.mutable_store()->set_backend(cohort::v1::StoreConfig::POSTGRES);
    config.mutable_store()->set_postgres_dsn(absl::GetFlag(FLAGS_postgres_dsn));
  }
  cohort::base::SystemdNotifier notifier;  // a no-op without NOTIFY_SOCKET
  absl::Status s = cohort::server::RunServer(config, &stop, &notifier);
  if (!s.ok()) {
    std::fprintf(stderr, "cohort-server: %s\n", s.ToString().c_str());
    return cohort::base::ExitCodeFor(s);
  }
  return 0;
}
