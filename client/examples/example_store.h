#ifndef COHORT_CLIENT_EXAMPLES_EXAMPLE_STORE_H_
#define COHORT_CLIENT_EXAMPLES_EXAMPLE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/examples/feature_codec.h"
#include "client/examples/population_schema.h"
#include "client/examples/retention_policy.h"
#include "common/base/clock.h"
#include "common/data/dataset.h"

namespace cohort::client {

class SqliteDb;

// What a population (or the whole store) holds on disk.
struct ExampleStats {
  // Examples stored, including any past max_age that retention has not
  // deleted yet (Count and Load leave those out).
  int64_t count = 0;
  // Their feature bytes, 4 per value: what max_bytes limits.
  int64_t bytes = 0;
  // Examples ever added (retention never lowers it): what the agent's
  // eligibility.min_new_examples rule counts.
  int64_t added = 0;
  // When the oldest and newest were added. With no examples,
  // absl::InfiniteFuture() and absl::InfinitePast().
  absl::Time oldest = absl::InfiniteFuture();
  absl::Time newest = absl::InfinitePast();
};

// The device's store of training examples: one SQLite 3 file that
// applications fill (through this class directly, or the agent's local
// socket API on top of it) and the agent trains on. Examples never leave
// the device; only model updates computed from them do.
//
// Each population has a schema (PopulationSchema: shape, classes, float32
// intensities in [0, 1]) and an example that does not match it is refused
// with a message saying what is wrong; nothing is stored for a refused
// call. A RetentionPolicy (maximum age, count, feature bytes; all off by
// default) is enforced inside every Add's transaction, so no committed state
// ever exceeds it; ApplyRetention enforces it between Adds (age keeps
// advancing while nothing is added).
//
// Durability: WAL journal with synchronous = FULL, so an Add that returned
// OK survives a crash or power loss, and a crash mid-Add leaves the store as
// it was before. A damaged file is reported as DATA_LOSS, never a crash: the
// caller (the agent) moves the file aside and opens a new, empty store.
//
// Thread-safe: one absl::Mutex serialises every use of the one SQLite
// connection, which is opened with SQLITE_OPEN_NOMUTEX (no second lock
// inside SQLite). Several processes may open the same file (WAL readers do
// not block the writer); a writer waits up to 5 s for another's lock, then
// fails with UNAVAILABLE.
//
// Every error message starts "example store <path>" and every method may
// also return DATA_LOSS (the file is damaged), UNAVAILABLE (locked or an I/O
// error: retry later) or RESOURCE_EXHAUSTED (disk full), besides the codes
// it lists.
class ExampleStore {
 public:
  // How long a call waits for another connection's write lock.
  static constexpr absl::Duration kBusyTimeout = absl::Seconds(5);

  // Opens the store at `path`, creating the file and its schema if missing.
  // The whole file is checked (PRAGMA quick_check), so opening reads it
  // once. DATA_LOSS naming the path if it is not a SQLite database or is
  // damaged (truncated, overwritten); FAILED_PRECONDITION if it cannot be
  // opened or created (missing folder, permissions), holds a SQLite
  // database that is not an example store, or has a newer schema version.
  // `clock` stamps added examples and measures their age; not owned, must
  // outlive the store.
  static absl::StatusOr<std::unique_ptr<ExampleStore>> Open(
      const std::string& path, base::Clock* clock);

  ExampleStore(const ExampleStore&) = delete;
  ExampleStore& operator=(const ExampleStore&) = delete;
  ~ExampleStore();

  // Defines population `schema.name`. The same schema again is OK. A
  // different schema replaces the old one only while the population holds
  // no examples; otherwise FAILED_PRECONDITION naming both schemas (the
  // stored examples would not fit). INVALID_ARGUMENT for a bad name, shape
  // or num_classes (ValidateSchema).
  absl::Status DefinePopulation(const PopulationSchema& schema);

  // The schema of `population`. NOT_FOUND if it is not defined;
  // INVALID_ARGUMENT for a malformed name.
  absl::StatusOr<PopulationSchema> GetPopulation(const std::string& population);

  // Adds one example, stamped with the clock's time, then applies the
  // retention policy in the same transaction, which deletes the oldest
  // examples first (not this one, unless the clock was stepped back past
  // older examples' times). NOT_FOUND if the population is
  // not defined; INVALID_ARGUMENT for a malformed population name or an
  // example that does not fit its schema (ValidateExample's messages);
  // RESOURCE_EXHAUSTED if the example alone is larger than max_bytes.
  absl::Status Add(const std::string& population,
                   absl::Span<const float> features, int64_t label);

  // Adds all of `examples` to `population` in one transaction, all stamped
  // with one time, or none of them: one refused example refuses the batch,
  // with a message starting "example <i> of <n>: ". Codes as Add. A batch
  // larger than max_count or max_bytes keeps only its newest examples
  // (retention runs after the insert, in the same transaction).
  absl::Status AddBatch(const std::string& population,
                        absl::Span<const Example> examples);

  // Sets the retention policy; it takes effect at the next Add or
  // ApplyRetention. INVALID_ARGUMENT (and the policy unchanged) if a limit
  // is negative.
  absl::Status SetRetention(const RetentionPolicy& policy);
  RetentionPolicy retention() const;

  // Deletes what the policy does not allow now, oldest first (age, then
  // count, then feature bytes) and returns how many it deleted. Freed
  // space is given back to the file system once it is a quarter of the
  // file (PRAGMA incremental_vacuum; see store_retention.h).
  absl::StatusOr<int64_t> ApplyRetention();

  // The examples of `population` younger than max_age as the data set the
  // trainer reads: newest first, at most `max_examples` of them (0: all).
  // Pixels are PixelOf(value), exact for values k / 255.
  // NOT_FOUND for an unknown population; INVALID_ARGUMENT for
  // max_examples < 0; FAILED_PRECONDITION if the schema's shape is not a
  // greyscale image ({H, W} or {1, H, W}). A stored row that no longer
  // matches its schema (edited by hand) is skipped with a warning.
  absl::StatusOr<data::ImageDataset> Load(const std::string& population,
                                          int64_t max_examples);

  // As Load, but the exact stored float32 values, for any shape.
  absl::StatusOr<FeatureBatch> LoadFeatures(const std::string& population,
                                            int64_t max_examples);

  // How many examples Load(population, 0) would return. NOT_FOUND for an
  // unknown population.
  absl::StatusOr<int64_t> Count(const std::string& population);

  // What `population` holds on disk. NOT_FOUND for an unknown population.
  absl::StatusOr<ExampleStats> Stats(const std::string& population);
  // What the whole store holds on disk: the figures retention limits.
  absl::StatusOr<ExampleStats> TotalStats();

  const std::string& path() const { return path_; }

 private:
  ExampleStore(std::string path, std::unique_ptr<SqliteDb> db,
               base::Clock* clock);

  // Add and AddBatch; `batch` selects the "example <i> of <n>: " prefix.
  absl::Status AddExamples(const std::string& population,
                           absl::Span<const Example> examples, bool batch)
      ABSL_LOCKS_EXCLUDED(mu_);
  // NOT_FOUND for an undefined population; DATA_LOSS for a stored schema
  // this class would never have written.
  absl::StatusOr<PopulationSchema> SchemaLocked(const std::string& population)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Checks every example before anything is written.
  absl::Status ValidateExamplesLocked(const PopulationSchema& schema,
                                      absl::Span<const Example> examples,
                                      bool batch) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertLocked(const PopulationSchema& schema,
                            absl::Span<const Example> examples, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<FeatureBatch> LoadFeaturesLocked(
      const PopulationSchema& schema, int64_t max_examples)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A population's schema and rows, read in one transaction.
  struct Snapshot {
    PopulationSchema schema;
    FeatureBatch batch;
  };
  absl::StatusOr<Snapshot> SnapshotLocked(const std::string& population,
                                          int64_t max_examples)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Freed pages back to the file system; a failure is logged, not
  // returned: the examples were already committed.
  void ReclaimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  base::Clock* const clock_;
  mutable absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
  RetentionPolicy retention_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_EXAMPLES_EXAMPLE_STORE_H_
