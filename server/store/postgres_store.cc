#include "server/store/postgres_store.h"

#include <algorithm>
#include <map>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"
#include "server/store/postgres_schema.h"
#include "server/store/postgres_util.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

constexpr char kVersionColumns[] =
    "version, parent, round_id, architecture, created_at_ms, held";

// Fills the kVersionColumns fields of a record from the first six columns.
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
  records[0].weights = pqxx::binarystring(rows[0][6]).str();
  records[0].optimizer_state = pqxx::binarystring(rows[0][7]).str();
  COHORT_RETURN_IF_ERROR(AddMetrics(
      txn.exec_params("SELECT version, name, value FROM model_version_metrics "
                      "WHERE task = $1 AND version = $2",
                      task, version),
      records));
  return std::move(records[0]);
}

}  // namespace

class PostgresStore::Session {
 public:
  explicit Session(const std::string& dsn) : conn_(dsn) {}
  pqxx::connection& conn() { return conn_; }

 private:
  pqxx::connection conn_;
};

PostgresStore::PostgresStore(std::string dsn, std::string redacted_dsn,
                             absl::Duration statement_timeout,
                             absl::Duration call_timeout,
                             std::unique_ptr<Session> session)
    : dsn_(std::move(dsn)),
      redacted_dsn_(std::move(redacted_dsn)),
      statement_timeout_(statement_timeout),
      session_(std::move(session)),
      watchdog_(call_timeout) {}

PostgresStore::~PostgresStore() = default;

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Connect(
    const std::string& dsn, absl::Duration statement_timeout,
    absl::Duration call_timeout) {
  COHORT_ASSIGN_OR_RETURN(std::string redacted, RedactDsn(dsn));
  COHORT_ASSIGN_OR_RETURN(std::string bounded,
                          WithConnectTimeout(dsn, call_timeout));
  {
    // Migrations run without the statement timeout or the call timeout:
    // waiting for another coordinator's migration lock, or rewriting a
    // large table, may take longer and must not fail start-up.
    COHORT_ASSIGN_OR_RETURN(
        std::unique_ptr<Session> migrating,
        OpenSession(bounded, redacted, absl::ZeroDuration(), nullptr));
    absl::Status migrated = ApplyMigrations(migrating->conn());
    if (!migrated.ok()) {
      return absl::Status(
          migrated.code(),
          absl::StrCat("PostgreSQL (", redacted, "): ", migrated.message()));
    }
  }
  auto store = std::unique_ptr<PostgresStore>(
      new PostgresStore(std::move(bounded), std::move(redacted),
                        statement_timeout, call_timeout, nullptr));
  absl::MutexLock lock(&store->mu_);
  COHORT_ASSIGN_OR_RETURN(
      store->session_,
      OpenSession(store->dsn_, store->redacted_dsn_, statement_timeout,
                  &store->watchdog_));
  return store;
}

absl::StatusOr<std::unique_ptr<PostgresStore::Session>>
PostgresStore::OpenSession(const std::string& dsn,
                           const std::string& redacted_dsn,
                           absl::Duration statement_timeout,
                           CallWatchdog* watchdog) {
  std::unique_ptr<Session> session;
  bool stalled = false;
  try {
    session = std::make_unique<Session>(dsn);
    if (watchdog != nullptr) watchdog->Arm(session->conn().sock());
    pqxx::nontransaction txn(session->conn());
    // NOTICEs ("relation already exists, skipping") would go to stderr.
    txn.exec("SET client_min_messages TO warning");
    // Any value > 0 makes float8 output shortest-exact, so metrics read
    // back bit for bit whatever the server's default.
    txn.exec("SET extra_float_digits TO 3");
    if (statement_timeout > absl::ZeroDuration()) {
      txn.exec(absl::StrCat(
          "SET statement_timeout TO ",
          std::max<int64_t>(1, absl::ToInt64Milliseconds(statement_timeout))));
    }
    txn.commit();
  } catch (...) {
    stalled = watchdog != nullptr && watchdog->Disarm();
    PgError error = PgErrorFromCurrentException("connect");
    if (!stalled && !error.connection_lost) return error.status;
    if (!stalled) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to PostgreSQL (", redacted_dsn,
                       "): ", error.message));
    }
  }
  // Answered in time, unless the socket was shut down even so.
  if (!stalled && (watchdog == nullptr || !watchdog->Disarm())) return session;
  return absl::UnavailableError(absl::StrCat(
      "cannot connect to PostgreSQL (", redacted_dsn,
      "): no answer within ", absl::FormatDuration(watchdog->limit()),
      "; the connection was closed"));
}

absl::Status PostgresStore::Stalled(absl::string_view what,
                                    bool outcome_unknown) const {
  return absl::UnavailableError(absl::StrCat(
      what, ": no answer from PostgreSQL (", redacted_dsn_, ") within ",
      absl::FormatDuration(watchdog_.limit()),
      "; the connection was closed",
      outcome_unknown ? " during COMMIT, outcome unknown" : ""));
}

absl::Status PostgresStore::Run(
    absl::string_view what,
    absl::FunctionRef<absl::Status(pqxx::connection_base&)> body) {
  absl::MutexLock lock(&mu_);
  for (int attempt = 1;; ++attempt) {
    if (session_ == nullptr) {
      COHORT_ASSIGN_OR_RETURN(
          session_,
          OpenSession(dsn_, redacted_dsn_, statement_timeout_, &watchdog_));
    }
    watchdog_.Arm(session_->conn().sock());
    try {
      absl::Status status = body(session_->conn());
      // Answered in time, but if the socket was shut down just after, the
      // connection is unusable.
      if (watchdog_.Disarm()) session_.reset();
      return status;
    } catch (...) {
      const bool stalled = watchdog_.Disarm();
      PgError error = PgErrorFromCurrentException(what);
      if (!stalled && !error.connection_lost) return error.status;
      session_.reset();
      if (stalled) return Stalled(what, error.outcome_unknown);
      if (attempt >= 2 || error.outcome_unknown) return error.status;
      LOG(WARNING) << "lost connection to PostgreSQL (" << redacted_dsn_
                   << "), reconnecting: " << error.message;
    }
  }
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
    pqxx::result current_row = txn.exec_params(
        "SELECT version FROM current_version WHERE task = $1 FOR UPDATE", task);
    int64_t current = current_row.empty() ? 0 : current_row[0][0].as<int64_t>();
    pqxx::row numbers = txn.exec_params1(
        "SELECT COALESCE(MAX(version), 0), "
        "COALESCE(BOOL_OR(version = $2), false) "
        "FROM model_versions WHERE task = $1",
        task, record.version);
    absl::Status order =
        CheckCommitOrder(record, current, numbers[0].as<int64_t>(),
                         numbers[1].as<bool>());
    if (!order.ok()) {
      txn.abort();
      return order;
    }
    txn.exec_params(
        "INSERT INTO model_versions (task, version, parent, round_id, "
        "architecture, created_at_ms, weights, held, optimizer_state) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        task, record.version, record.parent, record.round_id,
        record.architecture, record.created_at_unix_ms,
        pqxx::binarystring(record.weights), record.held,
        pqxx::binarystring(record.optimizer_state));
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
