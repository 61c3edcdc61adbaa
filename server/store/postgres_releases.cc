// PostgresStore's release log: the releases and current_release tables of
// schema migration 2 (postgres_schema.cc).

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "server/store/postgres_leases.h"
#include "server/store/postgres_store.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

constexpr char kReleaseColumns[] =
    "release, version, kind, reason, actor, created_at_ms, signed_manifest, "
    "lease_epoch";

// A record from the kReleaseColumns of `row`; DATA_LOSS for an unknown kind.
absl::StatusOr<ReleaseRecord> ReleaseFromRow(const std::string& task,
                                             const pqxx::row& row) {
  ReleaseRecord r;
  r.task = task;
  r.release = row[0].as<int64_t>();
  r.version = row[1].as<int64_t>();
  if (!ParseReleaseKind(row[2].c_str(), &r.kind)) {
    return absl::DataLossError(absl::StrCat(
        "task ", task, " release ", r.release, " has unknown kind \"",
        absl::CHexEscape(row[2].c_str()), "\""));
  }
  r.reason = row[3].as<std::string>();
  r.actor = row[4].as<std::string>();
  r.created_at_unix_ms = row[5].as<int64_t>();
  r.signed_manifest = pqxx::binarystring(row[6]).str();
  r.lease_epoch = row[7].as<int64_t>();
  return r;
}

// Appends the records of `rows` (kReleaseColumns) to `out`.
absl::Status ReleasesFromRows(const std::string& task, const pqxx::result& rows,
                              std::vector<ReleaseRecord>& out) {
  for (const pqxx::row& row : rows) {
    COHORT_ASSIGN_OR_RETURN(ReleaseRecord record, ReleaseFromRow(task, row));
    out.push_back(std::move(record));
  }
  return absl::OkStatus();
}

// The task's current release number under a lock that serializes appends to
// the task; 0 if it has none. The advisory lock also covers the first
// append, when there is no current_release row for FOR UPDATE to lock.
int64_t LockCurrentRelease(pqxx::transaction_base& txn,
                           const std::string& task) {
  txn.exec_params(
      "SELECT pg_advisory_xact_lock(hashtextextended("
      "'cohort.release/' || COALESCE(current_schema(), '') || '/' || $1, 0))",
      task);
  pqxx::result rows = txn.exec_params(
      "SELECT release FROM current_release WHERE task = $1 FOR UPDATE", task);
  return rows.empty() ? 0 : rows[0][0].as<int64_t>();
}

}  // namespace

absl::Status PostgresStore::AppendRelease(const ReleaseRecord& record) {
  COHORT_RETURN_IF_ERROR(ValidateRelease(record));
  const std::string& task = record.task;
  return Run("AppendRelease", [&](pqxx::connection_base& conn) -> absl::Status {
    pqxx::work txn(conn, "append_release");
    int64_t current = LockCurrentRelease(txn, task);
    absl::Status fence = CheckLeaseFence(txn, task, record.lease_epoch);
    if (!fence.ok()) {
      txn.abort();
      return fence;
    }
    // release >= 1 here, so release - 1 cannot overflow (current + 1 could).
    if (record.release - 1 != current) {
      txn.abort();
      return absl::FailedPreconditionError(
          absl::StrCat("task ", task, ": release ", record.release,
                       " must be the current release + 1; the current "
                       "release is ",
                       current));
    }
    pqxx::result version = txn.exec_params(
        "SELECT held FROM model_versions WHERE task = $1 AND version = $2",
        task, record.version);
    absl::Status releasable = CheckReleasable(
        record, version.empty()
                    ? std::nullopt
                    : std::optional<bool>(version[0][0].as<bool>()));
    if (!releasable.ok()) {
      txn.abort();
      return releasable;
    }
    txn.exec_params(
        "INSERT INTO releases (task, release, version, kind, reason, actor, "
        "created_at_ms, signed_manifest, lease_epoch) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        task, record.release, record.version,
        std::string(ReleaseKindName(record.kind)), record.reason, record.actor,
        record.created_at_unix_ms, pqxx::binarystring(record.signed_manifest),
        record.lease_epoch);
    txn.exec_params(
        "INSERT INTO current_release (task, release) VALUES ($1, $2) "
        "ON CONFLICT (task) DO UPDATE SET release = EXCLUDED.release",
        task, record.release);
    txn.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<ReleaseRecord>> PostgresStore::GetCurrentRelease(
    const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  std::vector<ReleaseRecord> out;
  COHORT_RETURN_IF_ERROR(Run(
      "GetCurrentRelease", [&](pqxx::connection_base& conn) -> absl::Status {
        out.clear();
        pqxx::read_transaction txn(conn, "get_current_release");
        pqxx::result rows = txn.exec_params(
            absl::StrCat("SELECT ", kReleaseColumns,
                         " FROM releases WHERE task = $1 AND release = "
                         "(SELECT c.release FROM current_release c "
                         "WHERE c.task = $1)"),
            task);
        txn.commit();
        return ReleasesFromRows(task, rows, out);
      }));
  if (out.empty()) return std::optional<ReleaseRecord>();
  return std::optional<ReleaseRecord>(std::move(out[0]));
}

absl::StatusOr<std::vector<ReleaseRecord>> PostgresStore::ListReleases(
    const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  std::vector<ReleaseRecord> out;
  COHORT_RETURN_IF_ERROR(
      Run("ListReleases", [&](pqxx::connection_base& conn) -> absl::Status {
        out.clear();
        pqxx::read_transaction txn(conn, "list_releases");
        pqxx::result rows = txn.exec_params(
            absl::StrCat("SELECT ", kReleaseColumns,
                         " FROM releases WHERE task = $1 ORDER BY release"),
            task);
        txn.commit();
        return ReleasesFromRows(task, rows, out);
      }));
  return out;
}

absl::StatusOr<ReleaseRecord> PostgresStore::GetRelease(const std::string& task,
                                                        int64_t release) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  std::vector<ReleaseRecord> out;
  COHORT_RETURN_IF_ERROR(
      Run("GetRelease", [&](pqxx::connection_base& conn) -> absl::Status {
        out.clear();
        pqxx::read_transaction txn(conn, "get_release");
        pqxx::result rows = txn.exec_params(
            absl::StrCat("SELECT ", kReleaseColumns,
                         " FROM releases WHERE task = $1 AND release = $2"),
            task, release);
        txn.commit();
        return ReleasesFromRows(task, rows, out);
      }));
  if (out.empty()) {
    return absl::NotFoundError(
        absl::StrCat("task ", task, " has no release ", release));
  }
  return std::move(out[0]);
}

}  // namespace cohort::server
