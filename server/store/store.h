#ifndef COHORT_SERVER_STORE_STORE_H_
#define COHORT_SERVER_STORE_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::server {

// One committed model version. `weights` is a serialized cohort.v1.Weights;
// the store treats it as opaque bytes.
struct ModelVersionRecord {
  std::string task;
  int64_t version = 0;   // 1, 2, 3, ... per task
  int64_t parent = 0;    // 0 for the initial model
  int64_t round_id = 0;  // round that produced it; 0 for the initial model
  std::string architecture;
  int64_t created_at_unix_ms = 0;
  std::map<std::string, double> metrics;
  std::string weights;
  // Kept from release by the gate; never current.
  bool held = false;
  // A serialized cohort.v1.ServerOptimizerState: the server optimizer's
  // state after the step that made this version; empty when it keeps none
  // (plain FedAvg, the initial model, a rollback, a held version). Opaque
  // to the store.
  std::string optimizer_state;
  // The lease (lease_table.h) under which the writer leads the task; 0: the
  // writer holds none. Checked by CommitVersion's fence and stored.
  int64_t lease_epoch = 0;
};

// One release: a model version published to devices under a release number.
// `signed_manifest` is a serialized cohort.v1.SignedManifest; the store treats
// it as opaque bytes.
struct ReleaseRecord {
  std::string task;
  // 1, 2, 3, ... per task: strictly increasing, never reused.
  int64_t release = 0;
  int64_t version = 0;  // the model version it publishes (must exist)
  enum class Kind { kPromote = 1, kRollback = 2, kPin = 3 };
  Kind kind = Kind::kPromote;
  // Free text, e.g. "holdout gate passed", "field accuracy fell".
  std::string reason;
  std::string actor;  // operator certificate subject, or "gate"
  int64_t created_at_unix_ms = 0;
  std::string signed_manifest;
  // As ModelVersionRecord::lease_epoch: checked by AppendRelease's fence
  // and stored.
  int64_t lease_epoch = 0;
};

// A device as the coordinator remembers it: identity, last seen and counters.
// Raw device data is never stored.
struct DeviceRecord {
  std::string device_id;
  int64_t last_seen_unix_ms = 0;
  int64_t check_ins = 0;
  int64_t reports_accepted = 0;
  int64_t reports_rejected = 0;
};

// A single-use enrollment token (docs: coordinator.proto, service
// Enrollment). Only the SHA-256 of the token is stored: the token itself is
// shown once to the operator who created it.
struct EnrollmentTokenRecord {
  std::string token_sha256;  // 64 lower-case hex chars
  // The identity the token may enroll (ValidateStoreName rules, "device id").
  std::string device_id;
  int64_t created_unix_ms = 0;
  int64_t expires_unix_ms = 0;
  // e.g. "operator:alice"; no NUL, at most kMaxReleaseTextBytes
  // (store_util.h), as a release's actor.
  std::string created_by;
  int64_t used_unix_ms = 0;  // 0 while unused
};

// Durable state of the coordinator: the model history of each task (an
// append-only log of versions plus a "current" pointer), the release log of
// each task (an append-only log of releases plus a "current release"
// pointer, independent of the current version), per-device rows and the
// enrollment tokens.
//
// Implementations are thread-safe. Every mutating call is atomic: after a
// crash at any point, a reader sees either all of a call's effects or none.
//
// Several coordinators may share a store that keeps task leases
// (PostgresLeases): then every version and release a coordinator writes
// carries the epoch of its lease, and CommitVersion and AppendRelease check
// it (the fence, CheckLeaseEpoch in store_util.h) before anything else of
// the store's state: ABORTED if the writer's lease is no longer live (it
// was deposed and must stop writing), FAILED_PRECONDITION for an epoch the
// store never granted, or for a write without one while another process
// holds a live lease on the task. A store without leases (DirectoryStore)
// serves one coordinator and refuses every epoch but 0. With these codes
// nothing changes.
//
// Status codes: UNAVAILABLE when the backing service cannot be reached (the
// caller may retry), DATA_LOSS when stored state fails to parse, INTERNAL for
// other I/O failures.
class Store {
 public:
  virtual ~Store() = default;

  // Appends `record` and makes it the task's current version, atomically;
  // a held record (record.held) is appended without becoming current.
  // FAILED_PRECONDITION unless record.parent equals the current version
  // (0 when the task has none): this stops two writers from forking history.
  // ALREADY_EXISTS if the version number is taken; FAILED_PRECONDITION if
  // it is below a held version's (numbers only grow). INVALID_ARGUMENT if
  // record.version <= record.parent or task is empty.
  virtual absl::Status CommitVersion(const ModelVersionRecord& record) = 0;

  // The task's current version (never a held one); std::nullopt if the
  // task has none yet. GetVersion, ListVersions and LastRoundId include
  // held versions.
  virtual absl::StatusOr<std::optional<ModelVersionRecord>> GetCurrent(
      const std::string& task) = 0;

  // NOT_FOUND if the version does not exist.
  virtual absl::StatusOr<ModelVersionRecord> GetVersion(const std::string& task,
                                                        int64_t version) = 0;

  // Every version of the task, oldest first, with `weights` left empty.
  virtual absl::StatusOr<std::vector<ModelVersionRecord>> ListVersions(
      const std::string& task) = 0;

  // Highest round id recorded for the task (0 if none), so that a restarted
  // coordinator never reuses a round id.
  virtual absl::StatusOr<int64_t> LastRoundId(const std::string& task) = 0;

  // Records a check-in: creates the row if needed, sets last_seen and adds to
  // the counters. Atomic per call.
  virtual absl::Status RecordDevice(const std::string& device_id,
                                    int64_t seen_unix_ms, int64_t check_ins,
                                    int64_t reports_accepted,
                                    int64_t reports_rejected) = 0;

  // NOT_FOUND if the device has never checked in.
  virtual absl::StatusOr<DeviceRecord> GetDevice(
      const std::string& device_id) = 0;

  // Devices in device id order (byte order), strictly after `after` ("" for
  // the first), at most `limit` of them: pass the last id of one page as
  // `after` to get the next. INVALID_ARGUMENT for limit < 1 or an `after`
  // that is neither empty nor a valid device id (device_page.h).
  virtual absl::StatusOr<std::vector<DeviceRecord>> ListDevices(
      const std::string& after, int limit) = 0;

  // Appends `record` to the task's release log and makes it the task's
  // current release, atomically. Checked in this order:
  //   INVALID_ARGUMENT     bad or empty task name, release < 1, a kind that is
  //                        not one of the enumerators, empty signed_manifest,
  //                        a NUL byte in reason or actor, or a field over the
  //                        limits in store_util.h;
  //   FAILED_PRECONDITION  unless record.release is the current release
  //                        number + 1 (1 when the task has none): two writers
  //                        cannot fork the log, and a number is never reused
  //                        or skipped;
  //   NOT_FOUND            record.version is not a committed version of the
  //                        task;
  //   FAILED_PRECONDITION  record.version is held (the gate's verdict is
  //                        final: a held version's weights reach devices
  //                        only as a new version).
  // With these codes nothing changes. The current version (GetCurrent) is not
  // affected: a release may publish any committed version, e.g. an older one
  // for a rollback.
  virtual absl::Status AppendRelease(const ReleaseRecord& record) = 0;

  // The task's current release, with signed_manifest; std::nullopt if the
  // task has no release yet.
  virtual absl::StatusOr<std::optional<ReleaseRecord>> GetCurrentRelease(
      const std::string& task) = 0;

  // Every release of the task, oldest first, with signed_manifest; empty if
  // the task has none.
  virtual absl::StatusOr<std::vector<ReleaseRecord>> ListReleases(
      const std::string& task) = 0;

  // NOT_FOUND if the task has no release numbered `release`.
  virtual absl::StatusOr<ReleaseRecord> GetRelease(const std::string& task,
                                                   int64_t release) = 0;

  // Stores a new token as given (a new token has used_unix_ms 0).
  //   INVALID_ARGUMENT  a token_sha256 that is not 64 lower-case hex chars,
  //                     a bad device id, a created_by with a NUL byte or over
  //                     kMaxReleaseTextBytes, expires <= created, or
  //                     used_unix_ms < 0;
  //   ALREADY_EXISTS    a token with this hash is already stored (the stored
  //                     one is left as it was).
  // Messages name a token by the first 8 hex chars of its hash, never all.
  virtual absl::Status AddEnrollmentToken(
      const EnrollmentTokenRecord& record) = 0;

  // Uses the token with `token_sha256` for `device_id` at `now_unix_ms`,
  // atomically and at most once across every process sharing the store.
  // Checked in this order:
  //   INVALID_ARGUMENT     a malformed hash (as AddEnrollmentToken), a bad
  //                        device id, or now_unix_ms <= 0 (which could not
  //                        be told apart from "unused");
  //   NOT_FOUND            no token has this hash;
  //   FAILED_PRECONDITION  "already used": used_unix_ms != 0;
  //   FAILED_PRECONDITION  "expired": now_unix_ms >= expires_unix_ms;
  //   PERMISSION_DENIED    `device_id` is not the token's (the token stays
  //                        unused).
  // On success the stored record gets used_unix_ms = now_unix_ms and is
  // returned with it. With any error nothing changes. Messages name the token
  // by the first 8 hex chars of its hash, never all of it, and say "already
  // used" or "expired" so that callers can tell those apart.
  virtual absl::StatusOr<EnrollmentTokenRecord> UseEnrollmentToken(
      const std::string& token_sha256, const std::string& device_id,
      int64_t now_unix_ms) = 0;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_STORE_H_
