#include "client/examples/store_retention.h"

#include "common/base/status_macros.h"

namespace cohort::client {
namespace {

constexpr int64_t kMinReclaimBytes = int64_t{1} << 20;

absl::StatusOr<int64_t> DeleteAddedBefore(SqliteDb* db, absl::Time cutoff) {
  COHORT_ASSIGN_OR_RETURN(
      SqliteStatement del,
      db->Prepare("DELETE FROM examples WHERE added_unix_ms < ?1"));
  COHORT_RETURN_IF_ERROR(del.BindInt64(1, absl::ToUnixMillis(cutoff)).Run());
  return db->changes();
}

// The `count` oldest examples. The order matches TrimBytes's scan, and both
// walk the examples_by_time index (the rowid is its last column).
absl::StatusOr<int64_t> DeleteOldest(SqliteDb* db, int64_t count) {
  if (count <= 0) return 0;
  COHORT_ASSIGN_OR_RETURN(
      SqliteStatement del,
      db->Prepare("DELETE FROM examples WHERE id IN (SELECT id FROM examples "
                  "ORDER BY added_unix_ms, id LIMIT ?1)"));
  COHORT_RETURN_IF_ERROR(del.BindInt64(1, count).Run());
  return db->changes();
}

absl::StatusOr<int64_t> TrimCount(SqliteDb* db, int64_t max_count) {
  COHORT_ASSIGN_OR_RETURN(
      const int64_t count,
      db->QueryInt64("SELECT COALESCE(SUM(num_examples), 0) FROM populations"));
  return DeleteOldest(db, count - max_count);
}

absl::StatusOr<int64_t> TrimBytes(SqliteDb* db, int64_t max_bytes) {
  COHORT_ASSIGN_OR_RETURN(
      const int64_t bytes,
      db->QueryInt64("SELECT COALESCE(SUM(num_bytes), 0) FROM populations"));
  int64_t excess = bytes - max_bytes;
  if (excess <= 0) return 0;
  // Examples differ in size across populations: count how many of the
  // oldest cover the excess, then delete that many.
  int64_t victims = 0;
  {
    COHORT_ASSIGN_OR_RETURN(SqliteStatement oldest,
                            db->Prepare("SELECT length(features) FROM examples "
                                        "ORDER BY added_unix_ms, id"));
    while (excess > 0) {
      COHORT_ASSIGN_OR_RETURN(const bool row, oldest.Step());
      if (!row) break;
      excess -= oldest.ColumnInt64(0);
      ++victims;
    }
  }  // the scan ends before the DELETE starts
  return DeleteOldest(db, victims);
}

}  // namespace

absl::StatusOr<int64_t> TrimToPolicy(SqliteDb* db,
                                     const RetentionPolicy& policy,
                                     absl::Time now) {
  int64_t deleted = 0;
  if (LimitsAge(policy)) {
    COHORT_ASSIGN_OR_RETURN(const int64_t old,
                            DeleteAddedBefore(db, AgeCutoff(policy, now)));
    deleted += old;
  }
  if (policy.max_count > 0) {
    COHORT_ASSIGN_OR_RETURN(const int64_t extra,
                            TrimCount(db, policy.max_count));
    deleted += extra;
  }
  if (policy.max_bytes > 0) {
    COHORT_ASSIGN_OR_RETURN(const int64_t extra,
                            TrimBytes(db, policy.max_bytes));
    deleted += extra;
  }
  return deleted;
}

absl::Status ReclaimFreePages(SqliteDb* db) {
  COHORT_ASSIGN_OR_RETURN(const int64_t free_pages,
                          db->QueryInt64("PRAGMA freelist_count"));
  COHORT_ASSIGN_OR_RETURN(const int64_t pages,
                          db->QueryInt64("PRAGMA page_count"));
  COHORT_ASSIGN_OR_RETURN(const int64_t page_size,
                          db->QueryInt64("PRAGMA page_size"));
  if (free_pages * page_size < kMinReclaimBytes || free_pages * 4 < pages) {
    return absl::OkStatus();
  }
  return db->Exec("PRAGMA incremental_vacuum");
}

}  // namespace cohort::client
