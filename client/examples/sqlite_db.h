#ifndef COHORT_CLIENT_EXAMPLES_SQLITE_DB_H_
#define COHORT_CLIENT_EXAMPLES_SQLITE_DB_H_

// Internal to client/examples: the one place that calls SQLite's C API, as
// common/ml is for LibTorch. Nothing outside client/examples includes it.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cohort::client {

class SqliteDb;

// One prepared statement. A binding error is kept and returned by the next
// Step() or Run(), so callers bind a whole row and check once. Movable, not
// copyable; must not outlive the SqliteDb that prepared it.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&&) = default;
  SqliteStatement& operator=(SqliteStatement&&) = default;
  ~SqliteStatement() = default;

  // Parameters are numbered from 1, as ?1 in SQL. Values are copied.
  SqliteStatement& BindInt64(int index, int64_t value);
  SqliteStatement& BindText(int index, absl::string_view text);
  SqliteStatement& BindBlob(int index, absl::string_view bytes);

  // true when a row is ready, false when the statement has finished. The
  // kept binding error, or the result code mapped as SqliteDb::Error does.
  absl::StatusOr<bool> Step();
  // Steps until the statement finishes, ignoring rows. Same codes as Step().
  absl::Status Run();
  // Rewinds for new bindings and another Step(); clears the binding error.
  void Reset();

  // Columns of the current row, numbered from 0. A NULL reads as 0 or "".
  // ColumnBlob's view is valid until the next Step() or Reset().
  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;
  absl::string_view ColumnBlob(int column) const;

 private:
  friend class SqliteDb;
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const;
  };
  SqliteStatement(const SqliteDb* db, sqlite3_stmt* stmt)
      : db_(db), stmt_(stmt) {}
  void KeepBindError(int rc, int index);

  const SqliteDb* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  absl::Status bind_status_;
};

// One SQLite connection to one file, with extended result codes and a busy
// timeout.
//
// Result codes become Status codes by what the caller should do:
//   SQLITE_CORRUPT, SQLITE_NOTADB               DATA_LOSS: move the file aside
//   SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR    UNAVAILABLE: retry later
//   SQLITE_FULL, SQLITE_NOMEM, SQLITE_TOOBIG    RESOURCE_EXHAUSTED
//   SQLITE_CANTOPEN, SQLITE_READONLY,
//   SQLITE_PERM, SQLITE_AUTH                    FAILED_PRECONDITION: a setup
//                                               mistake, do not retry
//   anything else                               INTERNAL
// Every message starts "example store <path>".
//
// Not thread-safe. The connection is opened with SQLITE_OPEN_NOMUTEX
// (SQLite's multi-thread mode: no lock inside SQLite), because the owner,
// ExampleStore, already serialises every use behind its own mutex; that
// mutex also keeps sqlite3_errmsg() paired with the call that failed.
class SqliteDb {
 public:
  // Opens `path` read-write, creating an empty file if there is none.
  // SQLite reads nothing yet, so a file that is not a database is reported by
  // the first statement, not here. FAILED_PRECONDITION if the file cannot be
  // opened (missing folder, no permission), RESOURCE_EXHAUSTED without memory.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(
      const std::string& path, absl::Duration busy_timeout);

  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb() = default;

  // One statement; codes as above (DATA_LOSS for a file that is not a
  // database or whose schema page is damaged).
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql);
  // Runs `sql`, one or more statements without parameters; rows are
  // discarded. Codes as above.
  absl::Status Exec(const char* sql);
  // The first column of the first row of `sql`. INTERNAL if there is no row.
  absl::StatusOr<int64_t> QueryInt64(absl::string_view sql);
  absl::StatusOr<std::string> QueryText(absl::string_view sql);

  // Rows changed by the last finished INSERT, UPDATE or DELETE, not counting
  // rows its triggers changed.
  int64_t changes() const;
  // False between BEGIN and COMMIT or ROLLBACK. SQLite ends a transaction by
  // itself after some errors (SQLITE_FULL, SQLITE_IOERR, ...).
  bool in_transaction() const;
  const std::string& path() const { return path_; }

  // The Status for result code `rc` of the call described by `what`, with
  // the connection's error message.
  absl::Status Error(int rc, absl::string_view what) const;
  // A Status of our own about this file: "example store <path>: <message>";
  // DATA_LOSS messages also say how to recover.
  absl::Status Fail(absl::StatusCode code, absl::string_view message) const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  SqliteDb(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  // `sql` stepped to its first row; INTERNAL if there is none.
  absl::StatusOr<SqliteStatement> FirstRow(absl::string_view sql);

  const std::string path_;
  std::unique_ptr<sqlite3, Closer> db_;
};

// A transaction on a SqliteDb: BEGIN IMMEDIATE for writes (the write lock is
// taken up front, so two writers wait on the busy timeout instead of failing
// part-way) or BEGIN for reads (one snapshot across several statements).
// Rolls back when destroyed uncommitted. Movable, not copyable; must not
// outlive its SqliteDb.
class SqliteTransaction {
 public:
  enum class Kind { kRead, kWrite };

  // Codes of SqliteDb::Exec (UNAVAILABLE when another writer holds the
  // lock past the busy timeout).
  static absl::StatusOr<SqliteTransaction> Begin(SqliteDb* db, Kind kind);

  SqliteTransaction(SqliteTransaction&& other) noexcept;
  SqliteTransaction& operator=(SqliteTransaction&&) = delete;
  ~SqliteTransaction();

  // COMMIT. On failure SQLite may keep the transaction open; the destructor
  // then rolls it back. Codes of SqliteDb::Exec.
  absl::Status Commit();

 private:
  explicit SqliteTransaction(SqliteDb* db) : db_(db) {}
  SqliteDb* db_;  // null once committed or moved from
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_EXAMPLES_SQLITE_DB_H_
