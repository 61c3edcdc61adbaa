#include "client/agent/agent_options.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/agent/device_identity.h"
#include "client/examples/population_schema.h"
#include "common/base/field_error.h"
#include "common/base/status_macros.h"

namespace cohort::client {
namespace {

using base::FieldError;

// server_address, tls, server_name_override, device_id, population,
// state_dir, num_threads and trust.
absl::Status ResolveProcess(const cohort::v1::AgentConfig& c,
                            AgentOptions& o) {
  if (!c.server_address().empty()) o.server_address = c.server_address();
  if (!c.server_name_override().empty()) {
    o.server_name_override = c.server_name_override();
  }
  if (!c.population().empty()) o.population = c.population();
  if (!c.state_dir().empty()) o.state_dir = c.state_dir();
  if (c.num_threads() != 0) o.num_threads = c.num_threads();
  o.device_id = c.device_id();
  o.tls = c.tls();
  if (o.device_id.empty()) return FieldError("device_id", "is required");
  if (o.tls.ca_cert_path().empty()) {
    return FieldError("tls.ca_cert_path",
                      "is required: the agent only speaks TLS");
  }
  // A certificate without its key (or the reverse) is no identity. The
  // error names the missing field first and the one that was set.
  if (o.tls.key_path().empty() && !o.tls.cert_path().empty()) {
    return FieldError("tls.key_path",
                      "is required with tls.cert_path: cert_path and "
                      "key_path go together");
  }
  if (o.tls.cert_path().empty() && !o.tls.key_path().empty()) {
    return FieldError("tls.cert_path",
                      "is required with tls.key_path: cert_path and "
                      "key_path go together");
  }
  o.trusted_root_path = c.trust().root_path();
  if (o.num_threads < 1 || o.num_threads > 256) {
    return FieldError("num_threads", "must be in [1, 256]");
  }
  return absl::OkStatus();
}

// metrics_textfile: empty (off) or a *.prom file.
absl::Status ResolveMetrics(const cohort::v1::AgentConfig& c,
                            AgentOptions& o) {
  o.metrics_textfile = c.metrics_textfile();
  // node_exporter's textfile collector reads only *.prom files.
  if (!o.metrics_textfile.empty() &&
      !absl::EndsWith(o.metrics_textfile, ".prom")) {
    return FieldError("metrics_textfile",
                      "must end in \".prom\" (node_exporter's textfile "
                      "collector reads only those); empty turns it off");
  }
  return absl::OkStatus();
}

// The split every device computes, and this device's shard of it.
absl::Status ResolvePartition(const cohort::v1::PartitionConfig& p,
                              AgentOptions& o) {
  data::PartitionSpec& spec = o.partition;
  spec.scheme = p.scheme() == cohort::v1::PartitionConfig::DIRICHLET
                    ? data::PartitionScheme::kDirichlet
                    : data::PartitionScheme::kIid;
  if (p.num_shards() != 0) spec.num_shards = p.num_shards();
  if (p.alpha() != 0) spec.alpha = p.alpha();
  if (p.seed() != 0) spec.seed = p.seed();
  if (p.min_examples() != 0) spec.min_examples = p.min_examples();
  o.shard_index = p.shard_index();
  if (spec.num_shards < 1) {
    return FieldError("partition.num_shards", "must be >= 1");
  }
  if (o.shard_index < 0 || o.shard_index >= spec.num_shards) {
    return FieldError("partition.shard_index", "must be in [0, num_shards)");
  }
  if (!(spec.alpha > 0)) return FieldError("partition.alpha", "must be > 0");
  if (spec.min_examples < 1) {
    return FieldError("partition.min_examples", "must be >= 1 (0 means 10)");
  }
  return absl::OkStatus();
}

absl::Status ResolveData(const cohort::v1::DataConfig& d, AgentOptions& o) {
  if (!d.idx_dir().empty()) o.idx_dir = d.idx_dir();
  o.use_test_split = d.use_test_split();
  if (d.max_examples() < 0) {
    return FieldError("data.max_examples", "must be >= 0");
  }
  o.max_examples = d.max_examples();
  return absl::OkStatus();
}

// A non-negative millisecond field; 0 keeps `*out` (the default).
absl::Status ResolveMillis(absl::string_view field, int64_t ms,
                           absl::Duration* out) {
  if (ms < 0) return FieldError(field, "must not be negative");
  if (ms > 0) *out = absl::Milliseconds(ms);
  return absl::OkStatus();
}

// backoff_initial_ms, backoff_max_ms, max_rounds, field_report_interval_ms
// and keepalive_ms.
absl::Status ResolveTiming(const cohort::v1::AgentConfig& c,
                           AgentOptions& o) {
  COHORT_RETURN_IF_ERROR(ResolveMillis(
      "backoff_initial_ms", c.backoff_initial_ms(), &o.backoff_initial));
  COHORT_RETURN_IF_ERROR(
      ResolveMillis("backoff_max_ms", c.backoff_max_ms(), &o.backoff_max));
  if (o.backoff_initial > o.backoff_max) {
    return FieldError(
        "backoff_initial_ms",
        absl::StrCat("must be <= backoff_max_ms (",
                     absl::ToInt64Milliseconds(o.backoff_max),
                     " ms; 0 means 30000)"));
  }
  if (c.max_rounds() < 0) {
    return FieldError("max_rounds", "must be >= 0 (0 = run until SIGTERM)");
  }
  o.max_rounds = c.max_rounds();
  const int64_t field_ms = c.field_report_interval_ms();
  if (field_ms < -1) {
    return FieldError("field_report_interval_ms",
                      "must be >= -1 (-1 = never, 0 = an hour)");
  }
  if (field_ms == -1) o.field_report_interval = absl::InfiniteDuration();
  if (field_ms > 0) o.field_report_interval = absl::Milliseconds(field_ms);
  return ResolveMillis("keepalive_ms", c.keepalive_ms(), &o.keepalive);
}

// A value of `field` in [lo, hi].
absl::Status InRange(absl::string_view field, int64_t value, int64_t lo,
                     int64_t hi) {
  if (value >= lo && value <= hi) return absl::OkStatus();
  return FieldError(field, absl::StrCat("must be in [", lo, ", ", hi, "]"));
}

// A limit that must be >= 0 (0: off); NaN is refused too.
absl::Status NotNegative(absl::string_view field, double value) {
  if (value >= 0) return absl::OkStatus();
  return FieldError(field, "must be >= 0 (0: off)");
}

// eligibility.*: every rule off at zero.
absl::Status ResolveEligibility(const cohort::v1::EligibilityConfig& c,
                                EligibilityOptions& e) {
  e.require_ac_power = c.require_ac_power();
  COHORT_RETURN_IF_ERROR(InRange("eligibility.min_battery_percent",
                                 c.min_battery_percent(), 0, 100));
  e.min_battery_percent = c.min_battery_percent();
  COHORT_RETURN_IF_ERROR(
      NotNegative("eligibility.max_load_average", c.max_load_average()));
  e.max_load_average = c.max_load_average();
  COHORT_RETURN_IF_ERROR(
      NotNegative("eligibility.max_temperature_c", c.max_temperature_c()));
  e.max_temperature_c = c.max_temperature_c();
  COHORT_RETURN_IF_ERROR(InRange("eligibility.window_start_minute",
                                 c.window_start_minute(), 0, 1439));
  COHORT_RETURN_IF_ERROR(InRange("eligibility.window_end_minute",
                                 c.window_end_minute(), 0, 1439));
  if (c.window_start_minute() == c.window_end_minute() &&
      c.window_start_minute() != 0) {
    return FieldError("eligibility.window_end_minute",
                      "must differ from window_start_minute: an empty "
                      "window would never open (both 0: any time)");
  }
  e.window_start_minute = c.window_start_minute();
  e.window_end_minute = c.window_end_minute();
  if (c.min_new_examples() < 0) {
    return FieldError("eligibility.min_new_examples", "must be >= 0 (0: off)");
  }
  e.min_new_examples = c.min_new_examples();
  COHORT_RETURN_IF_ERROR(ResolveMillis("eligibility.recheck_interval_ms",
                                       c.recheck_interval_ms(),
                                       &e.recheck_interval));
  return ResolveMillis("eligibility.training_check_interval_ms",
                       c.training_check_interval_ms(),
                       &e.training_check_interval);
}

// budgets.*: every cap off at zero. Lowers o.num_threads to the thread cap.
absl::Status ResolveBudgets(const cohort::v1::BudgetConfig& c,
                            AgentOptions& o) {
  BudgetOptions& b = o.budgets;
  COHORT_RETURN_IF_ERROR(InRange("budgets.max_training_threads",
                                 c.max_training_threads(), 0, 256));
  b.max_training_threads = c.max_training_threads();
  if (b.max_training_threads > 0) {
    o.num_threads = std::min(o.num_threads, b.max_training_threads);
  }
  COHORT_RETURN_IF_ERROR(ResolveMillis("budgets.max_round_time_ms",
                                       c.max_round_time_ms(),
                                       &b.max_round_time));
  if (c.max_rounds_per_day() < 0) {
    return FieldError("budgets.max_rounds_per_day", "must be >= 0 (0: no cap)");
  }
  b.max_rounds_per_day = c.max_rounds_per_day();
  if (c.max_upload_bytes_per_day() < 0) {
    return FieldError("budgets.max_upload_bytes_per_day",
                      "must be >= 0 (0: no cap)");
  }
  b.max_upload_bytes_per_day = c.max_upload_bytes_per_day();
  if (c.max_download_bytes_per_day() < 0) {
    return FieldError("budgets.max_download_bytes_per_day",
                      "must be >= 0 (0: no cap)");
  }
  b.max_download_bytes_per_day = c.max_download_bytes_per_day();
  // 2^40 MiB (an exbibyte) keeps the cap in bytes inside an int64.
  COHORT_RETURN_IF_ERROR(InRange("budgets.max_resident_mib",
                                 c.max_resident_mib(), 0, int64_t{1} << 40));
  b.max_resident_mib = c.max_resident_mib();
  return absl::OkStatus();
}

// INVALID_ARGUMENT naming the first field of `set` that is set: it means
// nothing without `needed`.
absl::Status NeedsField(
    absl::string_view needed,
    std::initializer_list<std::pair<absl::string_view, bool>> set) {
  for (const auto& [field, is_set] : set) {
    if (is_set) return FieldError(field, absl::StrCat("needs ", needed));
  }
  return absl::OkStatus();
}

// example_store.*. The population defaults to o.population, so
// ResolveProcess runs first.
absl::Status ResolveExampleStore(const cohort::v1::AgentConfig& config,
                                 AgentOptions& o) {
  const cohort::v1::ExampleStoreConfig& c = config.example_store();
  ExampleStoreOptions& e = o.example_store;
  e.path = c.path();
  e.population = c.population().empty() ? o.population : c.population();
  if (e.path.empty()) {
    // The other fields describe a store; without one nothing reads them.
    COHORT_RETURN_IF_ERROR(NeedsField(
        "example_store.path",
        {{"example_store.population", !c.population().empty()},
         {"example_store.max_examples", c.max_examples() != 0},
         {"example_store.max_age_ms", c.max_age_ms() != 0},
         {"example_store.max_count", c.max_count() != 0},
         {"example_store.max_bytes", c.max_bytes() != 0}}));
  } else if (absl::Status name = ValidatePopulationName(e.population);
             !name.ok()) {
    return FieldError("example_store.population", name.message());
  }
  if (c.max_examples() < 0) {
    return FieldError("example_store.max_examples", "must be >= 0 (0: all)");
  }
  e.max_examples = c.max_examples();
  if (c.max_age_ms() < 0) {
    return FieldError("example_store.max_age_ms", "must be >= 0 (0: no limit)");
  }
  if (c.max_age_ms() > 0) e.retention.max_age = absl::Milliseconds(c.max_age_ms());
  if (c.max_count() < 0) {
    return FieldError("example_store.max_count", "must be >= 0 (0: no limit)");
  }
  e.retention.max_count = c.max_count();
  if (c.max_bytes() < 0) {
    return FieldError("example_store.max_bytes", "must be >= 0 (0: no limit)");
  }
  e.retention.max_bytes = c.max_bytes();
  // The rule counts examples added since the last round; a fixed shard
  // never gains one, so the device would stop after its first round.
  if (o.eligibility.min_new_examples > 0 && e.path.empty()) {
    return FieldError("eligibility.min_new_examples",
                      "needs example_store.path: the Fashion-MNIST shard "
                      "never gains examples, so the device would stop after "
                      "its first round");
  }
  return absl::OkStatus();
}

// local_api.*.
absl::Status ResolveLocalApi(const cohort::v1::LocalApiConfig& c,
                             LocalApiOptions& l) {
  l.socket_path = c.socket_path();
  if (l.socket_path.empty()) {
    COHORT_RETURN_IF_ERROR(NeedsField(
        "local_api.socket_path",
        {{"local_api.int8_kernels", c.int8_kernels()},
         {"local_api.max_batch", c.max_batch() != 0},
         {"local_api.max_add_batch", c.max_add_batch() != 0}}));
  }
  l.int8_kernels = c.int8_kernels();
  if (c.max_batch() != 0) l.max_batch = c.max_batch();
  COHORT_RETURN_IF_ERROR(
      InRange("local_api.max_batch", l.max_batch, 1, 4096));
  if (c.max_add_batch() != 0) l.max_add_batch = c.max_add_batch();
  return InRange("local_api.max_add_batch", l.max_add_batch, 1, 65536);
}

// enrollment.*: the device's identity then lives in state_dir, so
// ResolveProcess runs first.
absl::Status ResolveEnrollment(const cohort::v1::AgentEnrollmentConfig& c,
                               AgentOptions& o) {
  AgentEnrollmentOptions& e = o.enrollment;
  if (c.renew_before_hours() < 0) {
    return FieldError("enrollment.renew_before_hours",
                      "must be >= 0 (0: a third of the lifetime)");
  }
  e.renew_before = absl::Hours(c.renew_before_hours());
  if (c.server_address().empty()) {
    if (!c.token_path().empty()) {
      return FieldError("enrollment.token_path",
                        "needs enrollment.server_address");
    }
    if (c.renew_before_hours() != 0) {
      return FieldError("enrollment.renew_before_hours",
                        "needs enrollment.server_address");
    }
    return absl::OkStatus();
  }
  if (o.tls.ca_cert_path().empty()) {
    return FieldError("enrollment.server_address",
                      "needs tls.ca_cert_path: the fleet CA");
  }
  if (c.token_path().empty()) {
    return FieldError("enrollment.token_path",
                      "is required with enrollment.server_address");
  }
  if (!o.tls.cert_path().empty() || !o.tls.key_path().empty()) {
    return FieldError("enrollment.server_address",
                      "an enrolled device keeps its key and certificate in "
                      "state_dir; leave tls.cert_path and tls.key_path empty");
  }
  e.server_address = c.server_address();
  e.token_path = c.token_path();
  o.tls.set_cert_path(DeviceCertificatePath(o.state_dir));
  o.tls.set_key_path(DeviceKeyPath(o.state_dir));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AgentOptions> ResolveAgentOptions(
    const cohort::v1::AgentConfig& config) {
  AgentOptions o;
  COHORT_RETURN_IF_ERROR(ResolveProcess(config, o));
  COHORT_RETURN_IF_ERROR(ResolvePartition(config.partition(), o));
  COHORT_RETURN_IF_ERROR(ResolveData(config.data(), o));
  COHORT_RETURN_IF_ERROR(ResolveTiming(config, o));
  COHORT_RETURN_IF_ERROR(ResolveMetrics(config, o));
  COHORT_RETURN_IF_ERROR(ResolveEligibility(config.eligibility(), o.eligibility));
  COHORT_RETURN_IF_ERROR(ResolveBudgets(config.budgets(), o));
  COHORT_RETURN_IF_ERROR(ResolveExampleStore(config, o));
  COHORT_RETURN_IF_ERROR(ResolveLocalApi(config.local_api(), o.local_api));
  COHORT_RETURN_IF_ERROR(ResolveEnrollment(config.enrollment(), o));
  return o;
}

}  // namespace cohort::client
