#ifndef COHORT_SERVER_STORE_POSTGRES_STORE_H_
#define COHORT_SERVER_STORE_POSTGRES_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/store/postgres_connection.h"
#include "server/store/store.h"

namespace pqxx {
class connection_base;
}  // namespace pqxx

namespace cohort::server {

// The production Store: PostgreSQL through libpqxx. Schema and migrations are
// described in postgres_schema.h; tables live in the first schema of the
// connection's search_path (set it with the DSN's `options`, e.g.
// "options='-c search_path=cohort'").
//
// Every call is one transaction. CommitVersion takes a transaction-scoped
// advisory lock on the task, checks the writer's lease epoch against
// task_leases (CheckLeaseFence, postgres_leases.h), locks the task's
// current_version row, checks the parent, inserts the version and its
// metrics and moves current_version, so several coordinators may share a
// database. AppendRelease does the same for the release log: an advisory
// lock on the task's releases and its current_release row FOR UPDATE, the
// lease fence, the release-number and version checks, then the releases row
// and the current_release update, all in one transaction.
// UseEnrollmentToken reads the token's row FOR UPDATE, checks it and sets
// used_ms in one transaction, so concurrent uses of one token queue on the
// row lock and only the first finds it unused.
//
// Thread-safe: one PostgresConnection, used by one call at a time; it
// reconnects and retries a call once when the connection broke, never when
// it broke during COMMIT.
//
// Task names and device ids are checked with ValidateStoreName
// (store_util.h), as in every backend. ListDevices orders by byte order
// (COLLATE "C"), which the devices primary key serves only in a "C"
// database: elsewhere each page scans the devices table.
//
// Status codes, in addition to those documented on Store:
//   UNAVAILABLE       the server cannot be reached, or the connection broke
//                     and reconnecting failed or the commit outcome is
//                     unknown (check GetCurrent before retrying a commit);
//   INVALID_ARGUMENT  bad names, counters, release records or enrollment
//                     tokens; text the server rejects (e.g. an
//                     architecture, reason, actor or created_by that is not
//                     UTF-8);
//   DEADLINE_EXCEEDED a statement ran past the statement timeout (Connect)
//                     and was cancelled; the transaction was rolled back;
//   DATA_LOSS         a stored value does not parse;
//   INTERNAL          other database errors.
// CommitVersion checks the parent first under the lock, so ALREADY_EXISTS
// (a unique violation) only appears if the tables were edited by hand.
class PostgresStore final : public Store {
 public:
  // Connects to `dsn` (libpq key=value or URI form) and applies any missing
  // schema migrations. UNAVAILABLE "cannot connect to PostgreSQL (<dsn
  // without password>): <libpq message>" if the server cannot be reached;
  // INVALID_ARGUMENT if `dsn` does not parse; FAILED_PRECONDITION if the
  // database was migrated by a newer binary; INTERNAL if a migration fails.
  // Each connection sets `statement_timeout` (zero: the server's own, by
  // default none): a statement cancelled for running longer fails with
  // DEADLINE_EXCEEDED and leaves the connection usable. Migrations run on a
  // connection of their own without it.
  //
  // `call_timeout` (zero: none) bounds each store call on the client's side:
  // a call that gets no answer for that long (a network that stalls without
  // closing) has its connection closed and fails with UNAVAILABLE "no
  // answer from PostgreSQL within <call_timeout>", and is not retried; the
  // next call reconnects. It also bounds connecting (libpq's
  // connect_timeout, unless `dsn` sets one) but not the migrations once
  // connected. Keep it above `statement_timeout`, so that PostgreSQL
  // cancels a slow statement first.
  //
  // `idle_in_transaction_timeout` (zero: the statement timeout) bounds how
  // long a session stopped in the middle of a transaction keeps its locks
  // (a coordinator that shares its task sets it below its lease, so a
  // frozen leader cannot hold a take-over up).
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Connect(
      const std::string& dsn,
      absl::Duration statement_timeout = absl::ZeroDuration(),
      absl::Duration call_timeout = absl::ZeroDuration(),
      absl::Duration idle_in_transaction_timeout = absl::ZeroDuration());

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;
  ~PostgresStore() override;

  absl::Status CommitVersion(const ModelVersionRecord& record) override;
  absl::StatusOr<std::optional<ModelVersionRecord>> GetCurrent(
      const std::string& task) override;
  absl::StatusOr<ModelVersionRecord> GetVersion(const std::string& task,
                                                int64_t version) override;
  absl::StatusOr<std::vector<ModelVersionRecord>> ListVersions(
      const std::string& task) override;
  absl::StatusOr<int64_t> LastRoundId(const std::string& task) override;
  absl::Status RecordDevice(const std::string& device_id, int64_t seen_unix_ms,
                            int64_t check_ins, int64_t reports_accepted,
                            int64_t reports_rejected) override;
  absl::StatusOr<DeviceRecord> GetDevice(const std::string& device_id) override;
  // Device rows (above too); defined in postgres_devices.cc.
  absl::StatusOr<std::vector<DeviceRecord>> ListDevices(
      const std::string& after, int limit) override;
  // Release log; defined in postgres_releases.cc.
  absl::Status AppendRelease(const ReleaseRecord& record) override;
  absl::StatusOr<std::optional<ReleaseRecord>> GetCurrentRelease(
      const std::string& task) override;
  absl::StatusOr<std::vector<ReleaseRecord>> ListReleases(
      const std::string& task) override;
  absl::StatusOr<ReleaseRecord> GetRelease(const std::string& task,
                                           int64_t release) override;
  // Enrollment tokens; defined in postgres_enrollment.cc.
  absl::Status AddEnrollmentToken(const EnrollmentTokenRecord& record) override;
  absl::StatusOr<EnrollmentTokenRecord> UseEnrollmentToken(
      const std::string& token_sha256, const std::string& device_id,
      int64_t now_unix_ms) override;

 private:
  explicit PostgresStore(std::unique_ptr<PostgresConnection> connection)
      : connection_(std::move(connection)) {}

  // Runs `body` (one transaction) on the connection (PostgresConnection::Run:
  // `body` may run twice, so it must reset its outputs).
  absl::Status Run(
      absl::string_view what,
      absl::FunctionRef<absl::Status(pqxx::connection_base&)> body);

  std::unique_ptr<PostgresConnection> connection_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_POSTGRES_STORE_H_
