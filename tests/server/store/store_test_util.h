#ifndef COHORT_TESTS_SERVER_STORE_STORE_TEST_UTIL_H_
#define COHORT_TESTS_SERVER_STORE_STORE_TEST_UTIL_H_

// Hermetic backing state for Store tests: a fresh directory per test for
// DirectoryStore, a fresh PostgreSQL schema per test for PostgresStore.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/store/store.h"

namespace cohort::server::store_testing {

// Environment variable holding the base DSN of a test database, e.g. the
// output of `scripts/test-postgres start /tmp/cohort-pg`.
inline constexpr char kPgDsnEnv[] = "COHORT_TEST_PG_DSN";

// The base DSN from kPgDsnEnv; nullopt if unset or empty.
std::optional<std::string> TestPgDsn();

// The message PostgreSQL tests print when they skip.
std::string PgSkipMessage();

// A name no other test (in this or another process) uses: lowercase
// [a-z0-9_], starting with `prefix`.
std::string UniqueName(absl::string_view prefix);

// Creates a new empty directory under ::testing::TempDir().
std::string MakeTempDir(absl::string_view prefix);

// Appends `key`=`value` to a libpq DSN in key=value or URI form.
std::string AppendDsnOption(const std::string& dsn, absl::string_view key,
                            absl::string_view value);

// The value of `key` in a libpq DSN (key=value or URI form); "" if absent
// or if the DSN does not parse.
std::string DsnValue(const std::string& dsn, absl::string_view key);

// A PostgreSQL schema that exists for one test. dsn() points new
// connections' search_path at it; the destructor drops it with its tables.
class ScratchSchema {
 public:
  static absl::StatusOr<std::unique_ptr<ScratchSchema>> Create(
      const std::string& base_dsn);
  ~ScratchSchema();

  const std::string& name() const { return name_; }
  const std::string& dsn() const { return dsn_; }

  // Runs `sql` in this schema on a separate connection. If `first_value` is
  // non-null it receives the first column of the first row ("" if none).
  absl::Status Exec(const std::string& sql,
                    std::string* first_value = nullptr) const;

 private:
  ScratchSchema(std::string base_dsn, std::string name);

  std::string base_dsn_;
  std::string name_;
  std::string dsn_;
};

// A record for `task` with deterministic fields derived from `version`:
// round_id = 10 * version, two metrics, weights "weights-<version>" unless
// `weights` is given.
ModelVersionRecord MakeTestRecord(absl::string_view task, int64_t version,
                                  int64_t parent, std::string weights = "");

// True if `a` and `b` have the same bits, or are both NaN.
bool SameDouble(double a, double b);

// Field-by-field gtest expectations; metrics compared bit for bit. With
// `with_weights` false, `got` must have empty weights.
void ExpectSameRecord(const ModelVersionRecord& got,
                      const ModelVersionRecord& want, bool with_weights);

// A release of `task` with deterministic fields derived from `release`:
// kind kPromote, reason and actor naming the release, and a binary
// signed_manifest (it holds "\x00" and "\xff" bytes) unique to the release.
ReleaseRecord MakeTestRelease(absl::string_view task, int64_t release,
                              int64_t version);

// Field-by-field gtest expectations, signed_manifest compared byte for byte.
void ExpectSameRelease(const ReleaseRecord& got, const ReleaseRecord& want);

// One backing state that Store instances can be opened on, again and again.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // A new Store instance over the same state.
  virtual absl::StatusOr<std::unique_ptr<Store>> Open() = 0;
};

// A DirectoryStore backend on a fresh directory.
std::unique_ptr<StoreBackend> MakeDirectoryBackend();

// A PostgresStore backend on a fresh schema of `base_dsn`'s database.
absl::StatusOr<std::unique_ptr<StoreBackend>> MakePostgresBackend(
    const std::string& base_dsn);

}  // namespace cohort::server::store_testing

#endif  // COHORT_TESTS_SERVER_STORE_STORE_TEST_UTIL_H_
