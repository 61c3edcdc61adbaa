#ifndef COHORT_SERVER_API_SERVER_OPTIONS_H_
#define COHORT_SERVER_API_SERVER_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/config.pb.h"
#include "common/data/idx_reader.h"
#include "server/api/admin_service.h"
#include "server/api/front_door.h"
#include "server/metrics/metrics_server.h"
#include "server/round/report_size.h"
#include "server/round/round_options.h"

namespace cohort::server {

// StoreConfig with defaults applied.
struct StoreOptions {
  enum class Backend { kDirectory, kPostgres };
  Backend backend = Backend::kDirectory;
  // kDirectory: root folder, created if missing.
  std::string directory = "cohort-state";
  // kPostgres: libpq connection string; never empty for kPostgres.
  std::string postgres_dsn;
  // kPostgres: the statement timeout of the coordinator's connections.
  absl::Duration postgres_statement_timeout = absl::Seconds(60);
  // kPostgres: a store call with no answer this long loses its connection.
  absl::Duration postgres_call_timeout = absl::Seconds(130);
  // kPostgres: how long a session stopped mid-transaction keeps its locks;
  // zero: the statement timeout. Half the lease with `coordination`.
  absl::Duration postgres_idle_in_transaction_timeout = absl::ZeroDuration();
};

// SigningConfig with defaults applied. Both paths empty: releases are not
// signed.
struct SigningOptions {
  std::string release_key_path;
  std::string certificate_path;
  absl::Duration manifest_ttl = absl::Hours(720);
  // Root rotations sent with every manifest (root-2.pb, ...), oldest first.
  std::vector<std::string> root_paths;
  bool enabled() const { return !release_key_path.empty(); }
};

// enrollment.*: the enrollment port and the fleet CA's key (the CA
// certificate is tls.ca_cert_path).
struct EnrollmentOptions {
  // Empty: no enrollment.
  std::string listen_address;
  std::string port_file;
  std::string ca_key_path;
  absl::Duration certificate_validity = absl::Hours(24 * 90);
  bool enabled() const { return !listen_address.empty(); }
};

// coordination.*: several coordinators for one task (CoordinationConfig).
struct CoordinationOptions {
  bool enabled = false;
  absl::Duration lease = absl::Seconds(10);
  // "<hostname>:<pid>" unless configured.
  std::string holder;
  // A leader renews its lease this often; a standby tries for it this often.
  absl::Duration renew_every() const { return lease / 3; }
  absl::Duration poll_every() const { return lease / 10; }
};

// ServerConfig with defaults applied and values checked: everything
// cohort-server reads from its config, read once by ResolveServerOptions.
// Defaults are the members' initializers, as in RoundOptions.
struct ServerOptions {
  // host:port of the public port; port 0 picks a free one.
  std::string listen_address = "127.0.0.1:50051";
  // Empty: the bound port is only logged.
  std::string port_file;
  // Certificate and key (and, for mTLS, the CA); MakeServerCredentials checks
  // them when the server starts.
  cohort::v1::TlsConfig tls;
  StoreOptions store;
  // Zoo architecture of the initial model. Empty when torchscript_path is
  // set: the module names its own architecture.
  std::string architecture = "small_cnn";
  std::string torchscript_path;
  // Seeds the initial weights of a zoo architecture, nothing else.
  uint64_t seed = 1;
  // The task name, round engine parameters and training plan.
  RoundOptions round;
  // Holdout: the test split of the data set in holdout_dir, at most
  // holdout_examples examples (0 = all).
  std::string holdout_dir = data::kDefaultFashionMnistDir;
  int64_t holdout_examples = 0;
  // Largest Participate message accepted, in bytes.
  int64_t max_message_bytes = kDefaultMaxMessageBytes;
  // Empty: no metrics.csv.
  std::string run_dir;
  // Limits of the public port and gRPC's transport (ConnectionLimits).
  FrontDoorOptions limits;
  // The release key; RunServer reads the files.
  SigningOptions signing;
  // The operator's admin port (mTLS with tls.ca_cert_path); off by default.
  AdminOptions admin;
  // The Prometheus metrics port (plain HTTP); off by default.
  MetricsOptions metrics;
  EnrollmentOptions enrollment;
  CoordinationOptions coordination;
};

// The one resolver of ServerConfig. `descriptor_limit` is the process's soft
// RLIMIT_NOFILE (base::RaiseDescriptorLimit() at start-up), which bounds
// limits.max_connections (see ResolveFrontDoorOptions). Returns
// INVALID_ARGUMENT, naming the field first ("round.goal_count: ..."), for:
// any value ResolveRoundOptions or ResolveFrontDoorOptions refuses; a
// negative max_message_bytes, holdout.max_examples or
// signing.manifest_ttl_hours; one of signing.release_key_path and
// signing.certificate_path without the other; signing.root_paths without
// signing.release_key_path; store.backend POSTGRES
// without store.postgres_dsn; admin.listen_address that is not host:port
// or comes without tls.ca_cert_path; admin.port_file or
// admin.allowed_subjects without admin.listen_address; an empty
// admin.allowed_subjects entry; metrics.listen_address that is not
// host:port; metrics.port_file without metrics.listen_address; and
// holdout.use_test_split, which does not apply (the holdout is always the
// test split). Reads no files: a missing holdout or certificate is reported
// when RunServer opens it.
absl::StatusOr<ServerOptions> ResolveServerOptions(
    const cohort::v1::ServerConfig& config, int64_t descriptor_limit);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_SERVER_OPTIONS_H_
