#include "client/examples/store_schema.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

// Every statement is IF NOT EXISTS, so running this on a version-1 file only
// restores what is missing. populations.num_examples and num_bytes are kept
// by the two triggers, inside the transaction that changes `examples`, so
// retention reads the store's totals without scanning feature blobs, and
// they stay right whichever process writes.
constexpr char kCreateSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS populations(
  name TEXT PRIMARY KEY NOT NULL,
  shape TEXT NOT NULL,
  num_classes INTEGER NOT NULL,
  dtype TEXT NOT NULL,
  num_examples INTEGER NOT NULL DEFAULT 0,
  num_bytes INTEGER NOT NULL DEFAULT 0,
  num_added INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS examples(
  id INTEGER PRIMARY KEY,
  population TEXT NOT NULL REFERENCES populations(name),
  added_unix_ms INTEGER NOT NULL,
  label INTEGER NOT NULL,
  features BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS examples_by_population
  ON examples(population, added_unix_ms);
CREATE INDEX IF NOT EXISTS examples_by_time ON examples(added_unix_ms);
CREATE TRIGGER IF NOT EXISTS examples_counted AFTER INSERT ON examples BEGIN
  UPDATE populations SET num_examples = num_examples + 1,
                         num_bytes = num_bytes + length(NEW.features),
                         num_added = num_added + 1
  WHERE name = NEW.population;
END;
CREATE TRIGGER IF NOT EXISTS examples_uncounted AFTER DELETE ON examples BEGIN
  UPDATE populations SET num_examples = num_examples - 1,
                         num_bytes = num_bytes - length(OLD.features)
  WHERE name = OLD.population;
END;
PRAGMA user_version = 2;
)sql";
static_assert(kStoreSchemaVersion == 2, "kCreateSchema sets user_version");

// Version 1 to 2: populations.num_added, the examples ever added (retention
// never lowers it), starting from what each population holds; the insert
// trigger is dropped here and made again, counting it, by kCreateSchema.
constexpr char kMigrateFrom1[] = R"sql(
ALTER TABLE populations ADD COLUMN num_added INTEGER NOT NULL DEFAULT 0;
UPDATE populations SET num_added = num_examples;
DROP TRIGGER IF EXISTS examples_counted;
)sql";

// quick_check reads every page; a few of its complaints name the damage.
constexpr size_t kProblemsReported = 3;

absl::Status CheckIntegrity(SqliteDb* db) {
  // A file that is not a database, or whose first page is damaged, already
  // fails here with DATA_LOSS (SQLITE_NOTADB, SQLITE_CORRUPT).
  COHORT_ASSIGN_OR_RETURN(SqliteStatement check,
                          db->Prepare("PRAGMA quick_check"));
  std::vector<std::string> problems;
  while (problems.size() < kProblemsReported) {
    COHORT_ASSIGN_OR_RETURN(const bool row, check.Step());
    if (!row) break;
    std::string line = check.ColumnText(0);
    if (line != "ok") problems.push_back(std::move(line));
  }
  if (problems.empty()) return absl::OkStatus();
  return db->Fail(absl::StatusCode::kDataLoss,
                  absl::StrCat("quick_check: ", absl::StrJoin(problems, "; ")));
}

absl::Status SetPragmas(SqliteDb* db) {
  // Before any table exists, so that deleted examples' pages can be given
  // back with incremental_vacuum; a no-op on an existing file.
  COHORT_RETURN_IF_ERROR(db->Exec("PRAGMA auto_vacuum = INCREMENTAL"));
  COHORT_ASSIGN_OR_RETURN(const std::string mode,
                          db->QueryText("PRAGMA journal_mode = WAL"));
  if (mode != "wal") {
    // Some file systems cannot share WAL's index; a rollback journal with
    // synchronous = FULL is as durable, only slower with readers about.
    LOG(WARNING) << "example store " << db->path() << " keeps journal mode "
                 << mode << ": WAL is not available there";
  }
  // FULL: a commit (one Add) survives power loss once it has returned.
  return db->Exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
}

// OK for an empty file or one of a schema version this build reads (1 is
// migrated); FAILED_PRECONDITION for anything else, which must be left as
// it is.
absl::Status CheckSchemaVersion(SqliteDb* db) {
  COHORT_ASSIGN_OR_RETURN(const int64_t version,
                          db->QueryInt64("PRAGMA user_version"));
  if (version == 1 || version == kStoreSchemaVersion) return absl::OkStatus();
  if (version != 0) {
    return db->Fail(absl::StatusCode::kFailedPrecondition,
                    absl::StrCat("the file has schema version ", version,
                                 "; this build reads ", kStoreSchemaVersion,
                                 " (did a newer cohort-agent write it?)"));
  }
  COHORT_ASSIGN_OR_RETURN(const int64_t objects,
                          db->QueryInt64("SELECT COUNT(*) FROM sqlite_master"));
  if (objects > 0) {
    return db->Fail(absl::StatusCode::kFailedPrecondition,
                    "the file is a SQLite database with other tables, not an "
                    "example store; check the path");
  }
  return absl::OkStatus();
}

absl::Status CreateSchema(SqliteDb* db) {
  // Checked again under the write lock, so two processes opening a new
  // file at once cannot both decide it is empty.
  COHORT_ASSIGN_OR_RETURN(
      SqliteTransaction transaction,
      SqliteTransaction::Begin(db, SqliteTransaction::Kind::kWrite));
  COHORT_RETURN_IF_ERROR(CheckSchemaVersion(db));
  COHORT_ASSIGN_OR_RETURN(const int64_t version,
                          db->QueryInt64("PRAGMA user_version"));
  if (version == 1) COHORT_RETURN_IF_ERROR(db->Exec(kMigrateFrom1));
  COHORT_RETURN_IF_ERROR(db->Exec(kCreateSchema));
  return transaction.Commit();
}

}  // namespace

absl::Status PrepareStore(SqliteDb* db) {
  COHORT_RETURN_IF_ERROR(CheckIntegrity(db));
  // Before any pragma changes the file: a file that is not ours is left
  // exactly as it was found.
  COHORT_RETURN_IF_ERROR(CheckSchemaVersion(db));
  COHORT_RETURN_IF_ERROR(SetPragmas(db));
  return CreateSchema(db);
}

}  // namespace cohort::client
