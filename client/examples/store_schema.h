#ifndef COHORT_CLIENT_EXAMPLES_STORE_SCHEMA_H_
#define COHORT_CLIENT_EXAMPLES_STORE_SCHEMA_H_

// Internal to client/examples: the SQL schema of an example store file and
// the checks that run when one is opened. docs/EXAMPLE_STORE.md describes
// the schema.

#include <cstdint>

#include "absl/status/status.h"
#include "client/examples/sqlite_db.h"

namespace cohort::client {

// PRAGMA user_version of the schema this build writes.
inline constexpr int64_t kStoreSchemaVersion = 2;

// Makes a freshly opened connection ready for ExampleStore:
//  1. PRAGMA quick_check over the whole file;
//  2. the schema version, before anything changes the file, so a file that
//     is not an example store is left exactly as it was;
//  3. auto_vacuum = INCREMENTAL (takes effect on a new file only),
//     journal_mode = WAL, synchronous = FULL, foreign_keys = ON;
//  4. in one write transaction, an empty file gets the schema and
//     user_version 2; a file at version 1 is migrated (populations gains
//     num_added, set to what each holds); a file at version 2 gets any
//     missing table, index or trigger back.
// DATA_LOSS naming the path if the file is not a SQLite database or is
// damaged; FAILED_PRECONDITION for a schema version other than this build's
// or a database that holds other tables (not an example store); UNAVAILABLE
// if another process holds the write lock past the busy timeout.
absl::Status PrepareStore(SqliteDb* db);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_EXAMPLES_STORE_SCHEMA_H_
