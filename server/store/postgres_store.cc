#include "server/store/postgres_store.h"

#include <algorithm>
#include <map>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"
#include "server/store/postgres_leases.h"
#include "server/store/postgres_schema.h"
#include "server/store/postgres_util.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

constexpr char kVersionColumns[] =
    "version, parent, round_id, architecture, created_at_ms, held, "
    "lease_epoch";

// Fills the kVersionColumns fields of a record from the first seven columns.
ModelVersionRecord RecordFromRow(const std::string& task,
                                 const pqxx::row& row) {
  ModelVersionRecord r;
  r.task = task;
  r.version = row[0].as<int64_t>();
  r.parent = row[1].as<int64_t>();
  r.round_id = row[2].as<int64_t>();
  r.architecture = row[3].as<std::string>();
  r.created_at_unix_ms = row[4].as<int64_t>();
  r.held = row[5].as<bool>();
  r.lease_epoch = row[6].as<int64_t>();
  return r;
}

// Reads (version, name, value) rows into the records with those versions.
absl::Status AddMetrics(const pqxx::result& rows,
                        std::vector<ModelVersionRecord>& records) {
  std::map<int64_t, ModelVersionRecord*> by_version;
  for (ModelVersionRecord& r : records) by_version[r.version] = &r;
  for (const pqxx::row& row : rows) {
    auto it = by_version.find(row[0].as<int64_t>());
    double value = 0;
    if (!ParseDouble(row[2].c_str(), &value)) {
      return absl::DataLossError(absl::StrCat("metric \"", row[1].c_str(),
                                              "\" has unparsable value \"",
                                              row[2].c_str(), "\""));
    }
    if (it != by_version.end()) it->second->metrics[row[1].c_str()] = value;
  }
  return absl::OkStatus();
}

// Loads one version with weights and metrics; NOT_FOUND if absent.
absl::StatusOr<ModelVersionRecord> LoadVersion(pqxx::transaction_base& txn,
                                               const std::string& task,
                                               int64_t version) {
  pqxx::result rows =
      txn.exec_params(absl::StrCat("SELECT ", kVersionColumns,
                                   ", weights, optimizer_state "
                                   "FROM model_versions "
                                   "WHERE task = $1 AND version = $2"),
                      task, version);
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat("task ", task, " has no version ", version));
  }
  std::vector<ModelVersionRecord> records;
  records.push_back(RecordFromRow(task, rows[0]));
  records[0].weights = pqxx::binarystring(rows[0][7]).str();
  records[0].optimizer_state = pqxx::binarystring(rows[0][8]).str();
  COHORT_RETURN_IF_ERROR(AddMetrics(
      txn.exec_params("SELECT version, name, value FROM model_version_metrics "
                      "WHERE task = $1 AND version = $2",
                      task, version),
      records));
  return std::move(records[0]);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Connect(
    const std::string& dsn, absl::Duration statement_timeout,
    absl::Duration call_timeout, absl::Duration idle_in_transaction_timeout) {
  {
    // Migrations run without the statement timeout or the call timeout:
    // waiting for another coordinator's migration lock, or rewriting a
    // large table, may take longer and must not fail start-up.
    COHORT_ASSIGN_OR_RETURN(
        std::unique_ptr<PostgresConnection> migrating,
        PostgresConnection::Connect(dsn, absl::ZeroDuration(),
                                    absl::ZeroDuration(), call_timeout));
    absl::Status migrated = migrating->Run(
        "migrate", [](pqxx::connection_base& conn) -> absl::Status {
          return ApplyMigrations(conn);
        });
    if (!migrated.ok()) {
      return absl::Status(
          migrated.code(),
          absl::StrCat("PostgreSQL (", migrating->redacted_dsn(),
                       "): ", migrated.message()));
    }
  }
  COHORT_ASSIGN_OR_RETURN(
      std::unique_ptr<PostgresConnection> connection,
      PostgresConnection::Connect(dsn, statement_timeout, call_timeout,
                                  call_timeout, idle_in_transaction_timeout));
  return std::unique_ptr<PostgresStore>(
      new PostgresStore(std::move(connection)));
}

PostgresStore::~PostgresStore() = default;

absl::Status PostgresStore::Run(
    absl::string_view what,
    absl::FunctionRef<absl::Status(pqxx::connection_base&)> body) {
  return connection_->Run(what, body);
}

absl::Status PostgresStore::CommitVersion(const ModelVersionRecord& record) {
  COHORT_RETURN_IF_ERROR(ValidateCommit(record));
  const std::string& task = record.task;
  return Run("CommitVersion", [&](pqxx::connection_base& conn) -> absl::Status {
    pqxx::work txn(conn, "commit_version");
    // The advisory lock also covers a task's first commit, when there is no
    // current_version row for FOR UPDATE to lock.
    txn.exec_params(
        "SELECT pg_advisory_xact_lock(hashtextextended("
        "'cohort.task/' || COALESCE(current_schema(), '') || '/' || $1, 0))",
        task);
    absl::Status fence = CheckLeaseFence(txn, task, record.lease_epoch);
    if (!fence.ok()) {
      txn.abort();
      return fence;
    }
    pqxx::result current_row = txn.exec_params(
        "SELECT version FROM current_version WHERE task = $1 FOR UPDATE", task);
    int64_t current = current_row.empty() ? 0 : current_row[0][0].as<int64_t>();
    pqxx::row numbers = txn.exec_params1(
        "SELECT COALESCE(MAX(version), 0), "
        "COALESCE(BOOL_OR(version = $2), false) "
        "FROM model_versions WHERE task = $1",
        task, record.version);
    absl::Status order = CheckCommitOrder(
        record, current, numbers[0].as<int64_t>(), numbers[1].as<bool>());
    if (!order.ok()) {
      txn.abort();
      return order;
    }
    txn.exec_params(
        "INSERT INTO model_versions (task, version, parent, round_id, "
        "architecture, created_at_ms, weights, held, optimizer_state, "
        "lease_epoch) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        task, record.version, record.parent, record.round_id,
        record.architecture, record.created_at_unix_ms,
        pqxx::binarystring(record.weights), record.held,
        pqxx::binarystring(record.optimizer_state), record.lease_epoch);
    for (const auto& [name, value] : record.metrics) {
      txn.exec_params(
          "INSERT INTO model_version_metrics (task, version, name, value) "
          "VALUES ($1, $2, $3, $4::float8)",
          task, record.version, name, FormatDouble(value));
    }
    if (!record.held) {
      txn.exec_params(
          "INSERT INTO current_version (task, version) VALUES ($1, $2) "
          "ON CONFLICT (task) DO UPDATE SET version = EXCLUDED.version",
          task, record.version);
    }
    txn.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<ModelVersionRecord>> PostgresStore::GetCurrent(
    const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  std::optional<ModelVersionRecord> out;
  COHORT_RETURN_IF_ERROR(
      Run("GetCurrent", [&](pqxx::connection_base& conn) -> absl::Status {
        out.reset();
        pqxx::read_transaction txn(conn, "get_current");
        pqxx::result rows = txn.exec_params(
            "SELECT version FROM current_version WHERE task = $1", task);
        if (rows.empty()) return absl::OkStatus();
        absl::StatusOr<ModelVersionRecord> record =
            LoadVersion(txn, task, rows[0][0].as<int64_t>());
        if (!record.ok()) return record.status();
        txn.commit();
        out = std::move(*record);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<ModelVersionRecord> PostgresStore::GetVersion(
    const std::string& task, int64_t version) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  ModelVersionRecord out;
  COHORT_RETURN_IF_ERROR(
      Run("GetVersion", [&](pqxx::connection_base& conn) -> absl::Status {
        pqxx::read_transaction txn(conn, "get_version");
        absl::StatusOr<ModelVersionRecord> record =
            LoadVersion(txn, task, version);
        if (!record.ok()) return record.status();
        txn.commit();
        out = std::move(*record);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::vector<ModelVersionRecord>> PostgresStore::ListVersions(
    const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  std::vector<ModelVersionRecord> out;
  COHORT_RETURN_IF_ERROR(
      Run("ListVersions", [&](pqxx::connection_base& conn) -> absl::Status {
        out.clear();
        pqxx::read_transaction txn(conn, "list_versions");
        pqxx::result rows =
            txn.exec_params(absl::StrCat("SELECT ", kVersionColumns,
                                         " FROM model_versions "
                                         "WHERE task = $1 ORDER BY version"),
                            task);
        for (const pqxx::row& row : rows)
          out.push_back(RecordFromRow(task, row));
        COHORT_RETURN_IF_ERROR(AddMetrics(
            txn.exec_params("SELECT version, name, value "
                            "FROM model_version_metrics WHERE task = $1",
                            task),
            out));
        txn.commit();
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<int64_t> PostgresStore::LastRoundId(const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  int64_t out = 0;
  COHORT_RETURN_IF_ERROR(
      Run("LastRoundId", [&](pqxx::connection_base& conn) -> absl::Status {
        pqxx::read_transaction txn(conn, "last_round_id");
        out = txn.exec_params1(
                     "SELECT COALESCE(MAX(round_id), 0) "
                     "FROM model_versions WHERE task = $1",
                     task)[0]
                  .as<int64_t>();
        txn.commit();
        return absl::OkStatus();
      }));
  return std::max<int64_t>(out, 0);
}

}  // namespace cohort::server
