#ifndef COHORT_CLIENT_EXAMPLES_STORE_RETENTION_H_
#define COHORT_CLIENT_EXAMPLES_STORE_RETENTION_H_

// Internal to client/examples: the SQL that applies a RetentionPolicy.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/examples/retention_policy.h"
#include "client/examples/sqlite_db.h"

namespace cohort::client {

// Deletes what `policy` does not allow at `now`, in three steps: examples
// added before AgeCutoff(policy, now); then the oldest until at most
// max_count remain; then the oldest until at most max_bytes of features
// remain. Oldest means smallest (added_unix_ms, id), across populations.
// Runs inside the caller's write transaction, so the limits hold at every
// commit. Returns how many examples it deleted; codes of SqliteDb.
absl::StatusOr<int64_t> TrimToPolicy(SqliteDb* db,
                                     const RetentionPolicy& policy,
                                     absl::Time now);

// Gives free pages back to the file system (PRAGMA incremental_vacuum) once
// they are at least a quarter of the file and at least 1 MiB. Below that
// they are left to be reused: in steady state each Add deletes about what it
// inserts, and moving pages on every Add would double its writes. Runs
// outside a transaction; in WAL mode the file shrinks at the next
// checkpoint. Codes of SqliteDb.
absl::Status ReclaimFreePages(SqliteDb* db);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_EXAMPLES_STORE_RETENTION_H_
