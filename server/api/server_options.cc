#include "server/api/server_options.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/base/field_error.h"
#include "common/base/host_port.h"
#include "common/base/status_macros.h"
#include "server/round/task_model.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

using base::FieldError;

// "<hostname>:<pid>": names this process in a task's lease.
std::string DefaultLeaseHolder() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "localhost", ":", ::getpid());
}

absl::StatusOr<StoreOptions> ResolveStore(const cohort::v1::StoreConfig& c) {
  StoreOptions o;
  if (c.backend() == cohort::v1::StoreConfig::POSTGRES) {
    o.backend = StoreOptions::Backend::kPostgres;
    if (c.postgres_dsn().empty()) {
      return FieldError("store.postgres_dsn",
                        "is required when store.backend is POSTGRES");
    }
  }
  if (!c.directory().empty()) o.directory = c.directory();
  o.postgres_dsn = c.postgres_dsn();
  if (c.postgres_statement_timeout_ms() < 0) {
    return FieldError("store.postgres_statement_timeout_ms", "must be >= 0");
  }
  if (c.postgres_statement_timeout_ms() > 0) {
    o.postgres_statement_timeout =
        absl::Milliseconds(c.postgres_statement_timeout_ms());
  }
  o.postgres_call_timeout =
      2 * o.postgres_statement_timeout + absl::Seconds(10);
  if (c.postgres_call_timeout_ms() < 0) {
    return FieldError("store.postgres_call_timeout_ms", "must be >= 0");
  }
  if (c.postgres_call_timeout_ms() > 0) {
    o.postgres_call_timeout = absl::Milliseconds(c.postgres_call_timeout_ms());
    if (o.postgres_call_timeout < o.postgres_statement_timeout) {
      return FieldError("store.postgres_call_timeout_ms",
                        "must be at least store.postgres_statement_timeout_ms, "
                        "or PostgreSQL could not cancel a slow statement "
                        "before the connection is closed");
    }
  }
  return o;
}

// The first field of CoordinationConfig that is set, for errors that refuse
// the whole block.
std::string CoordinationPath(const cohort::v1::CoordinationConfig& c) {
  if (c.lease_ms() != 0) return "coordination.lease_ms";
  if (!c.holder().empty()) return "coordination.holder";
  return "coordination";
}

absl::StatusOr<CoordinationOptions> ResolveCoordination(
    const cohort::v1::ServerConfig& config, const StoreOptions& store) {
  CoordinationOptions o;
  if (!config.has_coordination()) return o;
  const cohort::v1::CoordinationConfig& c = config.coordination();
  if (store.backend != StoreOptions::Backend::kPostgres) {
    return FieldError(CoordinationPath(c),
                      "needs store.backend POSTGRES: a directory store serves "
                      "one coordinator");
  }
  o.enabled = true;
  if (c.lease_ms() != 0) {
    if (c.lease_ms() < 500 || c.lease_ms() > 600000) {
      return FieldError("coordination.lease_ms", "must be 500 to 600000");
    }
    o.lease = absl::Milliseconds(c.lease_ms());
  }
  o.holder = c.holder().empty() ? DefaultLeaseHolder() : c.holder();
  if (absl::Status valid = ValidateLeaseHolder(o.holder); !valid.ok()) {
    return FieldError("coordination.holder", valid.message());
  }
  return o;
}

// The holdout is always the test split: evaluating on the training split
// would report accuracy on data devices trained on. DataConfig is shared
// with the agent, so the field cannot be reserved here; it is refused.
absl::Status ResolveHoldout(const cohort::v1::DataConfig& c, ServerOptions& o) {
  if (c.use_test_split()) {
    return FieldError("holdout.use_test_split",
                      "does not apply: the holdout is always the test split; "
                      "remove the field");
  }
  if (c.max_examples() < 0) {
    return FieldError("holdout.max_examples", "must be >= 0 (0 = all)");
  }
  if (!c.idx_dir().empty()) o.holdout_dir = c.idx_dir();
  o.holdout_examples = c.max_examples();
  return absl::OkStatus();
}

// listen_address, port_file, run_dir, tls, architecture, seed and
// max_message_bytes.
absl::Status ResolveProcess(const cohort::v1::ServerConfig& c,
                            ServerOptions& o) {
  if (!c.listen_address().empty()) o.listen_address = c.listen_address();
  o.port_file = c.port_file();
  o.run_dir = c.run_dir();
  o.tls = c.tls();
  o.torchscript_path = c.torchscript_path();
  o.architecture =
      ZooArchitecture(c.torchscript_path(), c.architecture(), o.architecture);
  if (c.seed() != 0) o.seed = c.seed();
  if (c.max_message_bytes() < 0) {
    return FieldError("max_message_bytes", "must be >= 0 (0 = 16 MiB)");
  }
  if (c.max_message_bytes() > 0) o.max_message_bytes = c.max_message_bytes();
  return absl::OkStatus();
}

absl::StatusOr<SigningOptions> ResolveSigning(
    const cohort::v1::SigningConfig& c) {
  SigningOptions o;
  if (c.release_key_path().empty() != c.certificate_path().empty()) {
    return FieldError(c.release_key_path().empty() ? "signing.release_key_path"
                                                   : "signing.certificate_path",
                      "signing.release_key_path and signing.certificate_path "
                      "go together");
  }
  if (c.manifest_ttl_hours() < 0) {
    return FieldError("signing.manifest_ttl_hours", "must be >= 0 (0 = 720)");
  }
  if (c.root_paths_size() > 0 && c.release_key_path().empty()) {
    return FieldError("signing.root_paths",
                      "needs signing.release_key_path: roots travel with "
                      "signed manifests");
  }
  o.release_key_path = c.release_key_path();
  o.certificate_path = c.certificate_path();
  o.root_paths.assign(c.root_paths().begin(), c.root_paths().end());
  if (c.manifest_ttl_hours() > 0)
    o.manifest_ttl = absl::Hours(c.manifest_ttl_hours());
  return o;
}

// The admin port admits operators by their client certificate, so it needs
// the CA that signs them; without one gRPC would accept any caller.
absl::StatusOr<AdminOptions> ResolveAdmin(const cohort::v1::AdminConfig& c,
                                          const cohort::v1::TlsConfig& tls) {
  AdminOptions o;
  if (c.listen_address().empty()) {
    if (!c.port_file().empty()) {
      return FieldError("admin.port_file", "needs admin.listen_address");
    }
    if (c.allowed_subjects_size() > 0) {
      return FieldError("admin.allowed_subjects", "needs admin.listen_address");
    }
    return o;
  }
  COHORT_RETURN_IF_ERROR(
      base::SplitHostPort(c.listen_address(), "admin.listen_address").status());
  if (tls.ca_cert_path().empty()) {
    return FieldError("admin.listen_address",
                      "needs tls.ca_cert_path: the admin API only admits "
                      "operator certificates");
  }
  for (const std::string& subject : c.allowed_subjects()) {
    if (subject.empty()) {
      return FieldError("admin.allowed_subjects",
                        "an entry is empty; list certificate common names");
    }
  }
  o.listen_address = c.listen_address();
  o.port_file = c.port_file();
  if (c.allowed_subjects_size() > 0) {
    o.allowed_subjects.assign(c.allowed_subjects().begin(),
                              c.allowed_subjects().end());
  }
  return o;
}

// The metrics port is plain HTTP and off unless an address is given.
absl::StatusOr<MetricsOptions> ResolveMetrics(
    const cohort::v1::MetricsConfig& c) {
  MetricsOptions o;
  if (c.listen_address().empty()) {
    if (!c.port_file().empty()) {
      return FieldError("metrics.port_file", "needs metrics.listen_address");
    }
    return o;
  }
  COHORT_RETURN_IF_ERROR(
      base::SplitHostPort(c.listen_address(), "metrics.listen_address")
          .status());
  o.listen_address = c.listen_address();
  o.port_file = c.port_file();
  return o;
}

// Enrollment issues certificates the device port must trust, and its
// tokens are made on the admin port: both are required.
absl::StatusOr<EnrollmentOptions> ResolveEnrollment(
    const cohort::v1::ServerConfig& config) {
  const cohort::v1::EnrollmentConfig& c = config.enrollment();
  EnrollmentOptions o;
  if (c.listen_address().empty()) {
    if (!c.port_file().empty()) {
      return FieldError("enrollment.port_file",
                        "needs enrollment.listen_address");
    }
    if (!c.ca_key_path().empty()) {
      return FieldError("enrollment.ca_key_path",
                        "needs enrollment.listen_address");
    }
    if (c.certificate_validity_days() != 0) {
      return FieldError("enrollment.certificate_validity_days",
                        "needs enrollment.listen_address");
    }
    return o;
  }
  COHORT_RETURN_IF_ERROR(
      base::SplitHostPort(c.listen_address(), "enrollment.listen_address")
          .status());
  if (config.tls().ca_cert_path().empty()) {
    return FieldError("enrollment.listen_address",
                      "needs tls.ca_cert_path: the fleet CA's certificate, "
                      "which the device port trusts");
  }
  if (config.admin().listen_address().empty()) {
    return FieldError("enrollment.listen_address",
                      "needs admin.listen_address: tokens are made there");
  }
  if (c.ca_key_path().empty()) {
    return FieldError("enrollment.ca_key_path",
                      "is required with enrollment.listen_address");
  }
  const int days =
      c.certificate_validity_days() == 0 ? 90 : c.certificate_validity_days();
  if (days < 1 || days > 3650) {
    return FieldError("enrollment.certificate_validity_days",
                      "must be in [1, 3650] (0: 90)");
  }
  o.listen_address = c.listen_address();
  o.port_file = c.port_file();
  o.ca_key_path = c.ca_key_path();
  o.certificate_validity = absl::Hours(24) * days;
  return o;
}

}  // namespace

absl::StatusOr<ServerOptions> ResolveServerOptions(
    const cohort::v1::ServerConfig& config, int64_t descriptor_limit) {
  ServerOptions o;
  COHORT_RETURN_IF_ERROR(ResolveProcess(config, o));
  COHORT_ASSIGN_OR_RETURN(
      o.round,
      ResolveRoundOptions(config.task(), config.round(), config.plan()));
  COHORT_ASSIGN_OR_RETURN(o.store, ResolveStore(config.store()));
  COHORT_RETURN_IF_ERROR(ResolveHoldout(config.holdout(), o));
  COHORT_ASSIGN_OR_RETURN(o.signing, ResolveSigning(config.signing()));
  COHORT_ASSIGN_OR_RETURN(o.admin, ResolveAdmin(config.admin(), config.tls()));
  COHORT_ASSIGN_OR_RETURN(o.metrics, ResolveMetrics(config.metrics()));
  COHORT_ASSIGN_OR_RETURN(o.enrollment, ResolveEnrollment(config));
  COHORT_ASSIGN_OR_RETURN(o.coordination, ResolveCoordination(config, o.store));
  // A leader frozen mid-commit must not hold a standby off past its lease.
  if (o.coordination.enabled) {
    o.store.postgres_idle_in_transaction_timeout = o.coordination.lease / 2;
  }
  COHORT_ASSIGN_OR_RETURN(
      o.limits, ResolveFrontDoorOptions(config.limits(), descriptor_limit,
                                        o.max_message_bytes));
  COHORT_RETURN_IF_ERROR(FitCheckInRateToRetries(
      config.limits(), o.round.retry_min, &o.limits.check_in));
  return o;
}

}  // namespace cohort::server
