#include "client/examples/sqlite_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {  // the primary code of an extended one
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
      return absl::StatusCode::kUnavailable;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

// Enough of a statement to recognise it in a message.
absl::string_view Head(absl::string_view sql) {
  sql = sql.substr(0, std::min<size_t>(sql.find('\n'), 60));
  return sql;
}

}  // namespace

void SqliteStatement::Finalizer::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

void SqliteStatement::KeepBindError(int rc, int index) {
  if (rc == SQLITE_OK || !bind_status_.ok()) return;
  bind_status_ = db_->Error(rc, absl::StrCat("binding parameter ", index));
}

SqliteStatement& SqliteStatement::BindInt64(int index, int64_t value) {
  KeepBindError(sqlite3_bind_int64(stmt_.get(), index, value), index);
  return *this;
}

SqliteStatement& SqliteStatement::BindText(int index, absl::string_view text) {
  // A null pointer would bind NULL rather than an empty string.
  const char* data = text.data() != nullptr ? text.data() : "";
  KeepBindError(sqlite3_bind_text64(stmt_.get(), index, data, text.size(),
                                    SQLITE_TRANSIENT, SQLITE_UTF8),
                index);
  return *this;
}

SqliteStatement& SqliteStatement::BindBlob(int index, absl::string_view bytes) {
  const int rc = bytes.empty()
                     ? sqlite3_bind_zeroblob(stmt_.get(), index, 0)
                     : sqlite3_bind_blob64(stmt_.get(), index, bytes.data(),
                                           bytes.size(), SQLITE_TRANSIENT);
  KeepBindError(rc, index);
  return *this;
}

absl::StatusOr<bool> SqliteStatement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(stmt_.get());
  return db_->Error(rc,
                    absl::StrCat("running ", Head(sql != nullptr ? sql : "")));
}

absl::Status SqliteStatement::Run() {
  while (true) {
    COHORT_ASSIGN_OR_RETURN(const bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

void SqliteStatement::Reset() {
  // sqlite3_reset repeats the last step's error, which Step() already
  // reported.
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  bind_status_ = absl::OkStatus();
}

int64_t SqliteStatement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_.get(), column);
}

std::string SqliteStatement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
  const int size = sqlite3_column_bytes(stmt_.get(), column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(size));
}

absl::string_view SqliteStatement::ColumnBlob(int column) const {
  // The pointer first, then the size, as SQLite's documentation asks.
  const void* blob = sqlite3_column_blob(stmt_.get(), column);
  const int size = sqlite3_column_bytes(stmt_.get(), column);
  if (blob == nullptr) return absl::string_view();
  return absl::string_view(static_cast<const char*>(blob),
                           static_cast<size_t>(size));
}

void SqliteDb::Closer::operator()(sqlite3* db) const {
  // _v2: a statement still alive would make sqlite3_close fail and leak the
  // connection; _v2 closes it when the last statement goes.
  const int rc = sqlite3_close_v2(db);
  if (rc != SQLITE_OK) {
    LOG(WARNING) << "closing an example store: " << sqlite3_errstr(rc);
  }
}

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(
    const std::string& path, absl::Duration busy_timeout) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  // Owns `raw` from here on: SQLite hands back a handle to close even when
  // the open fails.
  std::unique_ptr<SqliteDb> db(new SqliteDb(path, raw));
  if (raw == nullptr) {
    return db->Fail(absl::StatusCode::kResourceExhausted,
                    "no memory for a connection");
  }
  if (rc != SQLITE_OK) return db->Error(rc, "opening");
  sqlite3_extended_result_codes(raw, 1);
  const int64_t ms = absl::ToInt64Milliseconds(busy_timeout);
  sqlite3_busy_timeout(raw, static_cast<int>(std::clamp<int64_t>(
                                ms, 0, std::numeric_limits<int>::max())));
  return db;
}

absl::StatusOr<SqliteStatement> SqliteDb::Prepare(absl::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(
      db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  SqliteStatement statement(this, raw);  // finalizes `raw` on every path
  if (rc != SQLITE_OK) {
    return Error(rc, absl::StrCat("preparing ", Head(sql)));
  }
  if (raw == nullptr) {
    return Fail(absl::StatusCode::kInternal,
                absl::StrCat("no statement in ", Head(sql)));
  }
  return statement;
}

absl::Status SqliteDb::Exec(const char* sql) {
  const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) return absl::OkStatus();
  return Error(rc, absl::StrCat("running ", Head(sql)));
}

absl::StatusOr<SqliteStatement> SqliteDb::FirstRow(absl::string_view sql) {
  COHORT_ASSIGN_OR_RETURN(SqliteStatement statement, Prepare(sql));
  COHORT_ASSIGN_OR_RETURN(const bool row, statement.Step());
  if (!row) {
    return Fail(absl::StatusCode::kInternal,
                absl::StrCat("no row from ", Head(sql)));
  }
  return statement;
}

absl::StatusOr<int64_t> SqliteDb::QueryInt64(absl::string_view sql) {
  COHORT_ASSIGN_OR_RETURN(SqliteStatement statement, FirstRow(sql));
  return statement.ColumnInt64(0);
}

absl::StatusOr<std::string> SqliteDb::QueryText(absl::string_view sql) {
  COHORT_ASSIGN_OR_RETURN(SqliteStatement statement, FirstRow(sql));
  return statement.ColumnText(0);
}

int64_t SqliteDb::changes() const { return sqlite3_changes(db_.get()); }

bool SqliteDb::in_transaction() const {
  return sqlite3_get_autocommit(db_.get()) == 0;
}

absl::Status SqliteDb::Error(int rc, absl::string_view what) const {
  const char* message =
      db_ != nullptr ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
  return Fail(CodeFor(rc),
              absl::StrCat(what, ": ", message, " (SQLite code ", rc, ")"));
}

absl::Status SqliteDb::Fail(absl::StatusCode code,
                            absl::string_view message) const {
  if (code == absl::StatusCode::kDataLoss) {
    return absl::Status(
        code, absl::StrCat("example store ", path_, " is corrupt: ", message,
                           "; move the file and its -wal and -shm files "
                           "aside to start an empty store"));
  }
  return absl::Status(code,
                      absl::StrCat("example store ", path_, ": ", message));
}

absl::StatusOr<SqliteTransaction> SqliteTransaction::Begin(SqliteDb* db,
                                                           Kind kind) {
  COHORT_RETURN_IF_ERROR(
      db->Exec(kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN"));
  return SqliteTransaction(db);
}

SqliteTransaction::SqliteTransaction(SqliteTransaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)) {}

SqliteTransaction::~SqliteTransaction() {
  if (db_ == nullptr || !db_->in_transaction()) return;
  if (absl::Status rolled_back = db_->Exec("ROLLBACK"); !rolled_back.ok()) {
    LOG(WARNING) << rolled_back;
  }
}

absl::Status SqliteTransaction::Commit() {
  CHECK(db_ != nullptr) << "SqliteTransaction committed twice or moved from";
  COHORT_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  db_ = nullptr;
  return absl::OkStatus();
}

}  // namespace cohort::client
