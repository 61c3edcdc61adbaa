#ifndef COHORT_CLIENT_AGENT_AGENT_OPTIONS_H_
#define COHORT_CLIENT_AGENT_AGENT_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/agent/budgets.h"
#include "client/agent/eligibility.h"
#include "client/examples/retention_policy.h"
#include "client/transport/grpc_transport.h"
#include "cohort/v1/config.pb.h"
#include "common/data/idx_reader.h"
#include "common/data/partition.h"

namespace cohort::client {

// example_store.*: the on-device store the agent trains on instead of the
// Fashion-MNIST shard.
struct ExampleStoreOptions {
  // The store's SQLite file; empty: train on the shard.
  std::string path;
  // The population trained on; AgentOptions.population unless set.
  std::string population;
  // The newest examples trained on; 0: all.
  int64_t max_examples = 0;
  RetentionPolicy retention;
};

// local_api.*: the Unix socket for the device's applications.
struct LocalApiOptions {
  // Empty: no local API.
  std::string socket_path;
  // Predict on int8 kernels even when the held weights are fp32.
  bool int8_kernels = false;
  // Most inputs per Predict, in [1, 4096].
  int max_batch = 64;
  // Most examples per AddExamples, in [1, 65536].
  int max_add_batch = 1024;
};

// enrollment.*: a token instead of a pre-made certificate.
struct AgentEnrollmentOptions {
  // The enrollment port; empty: no enrollment.
  std::string server_address;
  std::string token_path;
  // Zero: a third of the certificate's lifetime.
  absl::Duration renew_before = absl::ZeroDuration();
  bool enabled() const { return !server_address.empty(); }
};

// AgentConfig with defaults applied and values checked: everything
// cohort-agent reads from its config, read once by ResolveAgentOptions.
// Defaults are the members' initializers, as in server::ServerOptions.
struct AgentOptions {
  // host:port of the coordinator.
  std::string server_address = "127.0.0.1:50051";
  // ca_cert_path is the only trust root and is always set; cert_path and
  // key_path, the device's mTLS identity, are both set or both empty.
  // CheckDeviceCertificate and MakeTransport read the files.
  cohort::v1::TlsConfig tls;
  // Name the server's certificate must carry.
  std::string server_name_override = "localhost";
  // Identity reported at check-in (an mTLS certificate's name wins). Never
  // empty.
  std::string device_id;
  // Population to join.
  std::string population = "fashion_mnist";
  // Fashion-MNIST IDX files: the test split instead of the training split
  // when use_test_split, at most max_examples examples of it (0 = all).
  std::string idx_dir = data::kDefaultFashionMnistDir;
  bool use_test_split = false;
  int64_t max_examples = 0;
  // The split every device computes (num_shards 1, alpha 0.5, seed 1 and
  // min_examples data::kDefaultMinExamples unless set; scheme kIid unless
  // DIRICHLET), and this device's shard of it, in [0, partition.num_shards).
  // The simulator's SHARDS layout (data::ShardPartitionOf) builds the same
  // spec from the same values, so shard i is the same on both.
  data::PartitionSpec partition;
  int shard_index = 0;
  // The agent's state (the cached model).
  std::string state_dir = "cohort-agent-state";
  // Training threads, in [1, 256], at most budgets.max_training_threads
  // when that is set. One by default: an agent is a background daemon and
  // must not take over the device.
  int num_threads = 1;
  // Backoff after a retryable error: exponential from backoff_initial to
  // backoff_max, with jitter. Millisecond resolution; initial <= max.
  absl::Duration backoff_initial = absl::Milliseconds(500);
  absl::Duration backoff_max = absl::Seconds(30);
  // Leave after this many reported rounds; 0 runs until SIGTERM.
  int max_rounds = 0;
  // HTTP/2 keepalive ping interval to the coordinator (also while training).
  // Must be at least the server's limits.min_client_keepalive_ms, or the
  // server closes the connection.
  absl::Duration keepalive = GrpcTransport::kDefaultKeepalive;
  // The pinned root (trust.root_path). Set: every model must come with a
  // manifest its certified release key signed (common/model/trust.h).
  // Empty: models are checked against the assignment's SHA-256 only.
  std::string trusted_root_path;
  // A Prometheus text-format file of the agent's counters (AgentCounters),
  // rewritten atomically after every check-in cycle and at exit. Empty: off.
  // Ends in ".prom" otherwise.
  std::string metrics_textfile;
  // When the device may work, and what it may use (WorkGate). All off by
  // default.
  EligibilityOptions eligibility;
  BudgetOptions budgets;
  // Where the examples come from, and the local API.
  ExampleStoreOptions example_store;
  LocalApiOptions local_api;
  // With enrollment on, tls.cert_path and tls.key_path are the state
  // directory's device.crt and device.key (device_identity.h).
  AgentEnrollmentOptions enrollment;
  // How often a check-in may carry a field evaluation of the held model
  // (CheckIn.field_evaluation); InfiniteDuration: never.
  absl::Duration field_report_interval = absl::Hours(1);
};

// The one resolver of AgentConfig: a zero or empty field takes the default
// above. Returns INVALID_ARGUMENT, naming the field first
// ("partition.shard_index: ..."), for: an empty device_id or
// tls.ca_cert_path (the agent only speaks TLS); tls.cert_path without
// tls.key_path or the reverse (the error names the missing one first);
// num_threads negative or above 256; a negative partition.num_shards;
// partition.shard_index outside [0, num_shards); a negative (or NaN)
// partition.alpha; a negative partition.min_examples, data.max_examples,
// backoff_initial_ms, backoff_max_ms, max_rounds or keepalive_ms; and
// backoff_initial_ms above backoff_max_ms (after defaults); a
// metrics_textfile not ending in ".prom"; eligibility.min_battery_percent
// outside [0, 100]; a negative (or NaN) eligibility.max_load_average or
// max_temperature_c; eligibility.window_start_minute or window_end_minute
// outside [0, 1440), or equal and non-zero (the error names
// window_end_minute); a negative eligibility.min_new_examples,
// recheck_interval_ms or training_check_interval_ms;
// field_report_interval_ms below -1;
// budgets.max_training_threads outside [0, 256]; a negative
// budgets.max_round_time_ms, max_rounds_per_day,
// max_upload_bytes_per_day or max_download_bytes_per_day; and
// budgets.max_resident_mib outside [0, 2^40]; a negative
// example_store.max_examples, max_age_ms, max_count or max_bytes, or an
// invalid example_store.population; eligibility.min_new_examples without
// example_store.path (a fixed shard never grows); local_api.max_batch
// outside [1, 4096] or max_add_batch outside [1, 65536];
// enrollment.server_address without token_path, or with tls.cert_path or
// tls.key_path set, and a negative enrollment.renew_before_hours. num_threads is lowered to
// budgets.max_training_threads when that is set. Reads no files:
// missing data or certificates are reported when the agent opens them
// (LoadDeviceData, CheckDeviceCertificate, MakeTransport), and whether the
// data can give every shard partition.min_examples by LoadDeviceData.
absl::StatusOr<AgentOptions> ResolveAgentOptions(
    const cohort::v1::AgentConfig& config);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_AGENT_OPTIONS_H_
