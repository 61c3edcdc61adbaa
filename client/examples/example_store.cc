#include "client/examples/example_store.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/examples/population_table.h"
#include "client/examples/sqlite_db.h"
#include "client/examples/store_retention.h"
#include "client/examples/store_schema.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

constexpr int64_t kBytesPerValue = 4;  // float32

// Newest first. Both the filter and the order come from the
// examples_by_population index (population, added_unix_ms, then the rowid),
// so no sort runs over the feature blobs.
constexpr char kSelectExamples[] =
    "SELECT label, features FROM examples "
    "WHERE population = ?1 AND added_unix_ms >= ?2 "
    "ORDER BY added_unix_ms DESC, id DESC LIMIT ?3";
constexpr char kCountExamples[] =
    "SELECT COUNT(*) FROM examples "
    "WHERE population = ?1 AND added_unix_ms >= ?2";
// MIN and MAX over an index are one lookup each.
constexpr char kPopulationStats[] =
    "SELECT num_examples, num_bytes, "
    "(SELECT MIN(added_unix_ms) FROM examples WHERE population = ?1), "
    "(SELECT MAX(added_unix_ms) FROM examples WHERE population = ?1), "
    "num_added FROM populations WHERE name = ?1";
constexpr char kTotalStats[] =
    "SELECT COALESCE(SUM(num_examples), 0), COALESCE(SUM(num_bytes), 0), "
    "(SELECT MIN(added_unix_ms) FROM examples), "
    "(SELECT MAX(added_unix_ms) FROM examples), "
    "COALESCE(SUM(num_added), 0) FROM populations";

std::string Describe(const PopulationSchema& schema) {
  return absl::StrCat("shape ", ShapeString(schema.shape), " with ",
                      schema.num_classes, " classes");
}

// One row of kPopulationStats or kTotalStats.
absl::StatusOr<ExampleStats> ReadStats(SqliteDb* db, SqliteStatement* query) {
  COHORT_ASSIGN_OR_RETURN(const bool row, query->Step());
  if (!row) return db->Fail(absl::StatusCode::kInternal, "no statistics row");
  ExampleStats stats;
  stats.count = query->ColumnInt64(0);
  stats.bytes = query->ColumnInt64(1);
  stats.added = query->ColumnInt64(4);
  if (stats.count > 0) {  // otherwise MIN and MAX are NULL
    stats.oldest = absl::FromUnixMillis(query->ColumnInt64(2));
    stats.newest = absl::FromUnixMillis(query->ColumnInt64(3));
  }
  return stats;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExampleStore>> ExampleStore::Open(
    const std::string& path, base::Clock* clock) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db,
                          SqliteDb::Open(path, kBusyTimeout));
  COHORT_RETURN_IF_ERROR(PrepareStore(db.get()));
  return std::unique_ptr<ExampleStore>(
      new ExampleStore(path, std::move(db), clock));
}

ExampleStore::ExampleStore(std::string path, std::unique_ptr<SqliteDb> db,
                           base::Clock* clock)
    : path_(std::move(path)), clock_(clock), db_(std::move(db)) {}

ExampleStore::~ExampleStore() = default;

absl::Status ExampleStore::DefinePopulation(const PopulationSchema& schema) {
  if (absl::Status valid = ValidateSchema(schema); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("example store ", path_, ": ", valid.message()));
  }
  absl::MutexLock lock(&mu_);
  COHORT_ASSIGN_OR_RETURN(
      SqliteTransaction transaction,
      SqliteTransaction::Begin(db_.get(), SqliteTransaction::Kind::kWrite));
  const absl::StatusOr<PopulationSchema> existing =
      ReadPopulation(db_.get(), schema.name);
  const bool defined = existing.ok();
  if (!defined && existing.status().code() != absl::StatusCode::kNotFound) {
    return existing.status();
  }
  if (defined) {
    if (*existing == schema) return absl::OkStatus();
    COHORT_ASSIGN_OR_RETURN(const int64_t held,
                            PopulationSize(db_.get(), schema.name));
    if (held > 0) {
      return db_->Fail(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("population '", schema.name, "' holds ",
                                    held, " examples of ", Describe(*existing),
                                    "; refusing ", Describe(schema),
                                    " (the stored examples would not fit)"));
    }
  }
  COHORT_RETURN_IF_ERROR(WritePopulation(db_.get(), schema, defined));
  COHORT_RETURN_IF_ERROR(transaction.Commit());
  LOG(INFO) << "example store " << path_ << ": population '" << schema.name
            << "' is " << Describe(schema);
  return absl::OkStatus();
}

absl::StatusOr<PopulationSchema> ExampleStore::GetPopulation(
    const std::string& population) {
  absl::MutexLock lock(&mu_);
  return SchemaLocked(population);
}

absl::Status ExampleStore::Add(const std::string& population,
                               absl::Span<const float> features,
                               int64_t label) {
  const Example example{std::vector<float>(features.begin(), features.end()),
                        label};
  return AddExamples(population, absl::MakeConstSpan(&example, 1),
                     /*batch=*/false);
}

absl::Status ExampleStore::AddBatch(const std::string& population,
                                    absl::Span<const Example> examples) {
  return AddExamples(population, examples, /*batch=*/true);
}

absl::Status ExampleStore::AddExamples(const std::string& population,
                                       absl::Span<const Example> examples,
                                       bool batch) {
  absl::MutexLock lock(&mu_);
  int64_t trimmed = 0;
  {
    COHORT_ASSIGN_OR_RETURN(
        SqliteTransaction transaction,
        SqliteTransaction::Begin(db_.get(), SqliteTransaction::Kind::kWrite));
    COHORT_ASSIGN_OR_RETURN(const PopulationSchema schema,
                            SchemaLocked(population));
    COHORT_RETURN_IF_ERROR(ValidateExamplesLocked(schema, examples, batch));
    // One reading of the clock: the new examples' stamp and the age
    // cutoff agree, so a new example is never too old on arrival.
    const absl::Time now = clock_->Now();
    COHORT_RETURN_IF_ERROR(InsertLocked(schema, examples, now));
    COHORT_ASSIGN_OR_RETURN(trimmed, TrimToPolicy(db_.get(), retention_, now));
    COHORT_RETURN_IF_ERROR(transaction.Commit());
  }
  if (trimmed > 0) {
    VLOG(1) << "example store " << path_ << ": retention deleted " << trimmed
            << " examples";
    ReclaimLocked();
  }
  return absl::OkStatus();
}

absl::StatusOr<PopulationSchema> ExampleStore::SchemaLocked(
    const std::string& population) {
  return ReadPopulation(db_.get(), population);
}

absl::Status ExampleStore::ValidateExamplesLocked(
    const PopulationSchema& schema, absl::Span<const Example> examples,
    bool batch) const {
  // Every example of a population has the same size, so one check covers
  // the batch.
  const int64_t bytes = NumValues(schema.shape) * kBytesPerValue;
  if (retention_.max_bytes > 0 && bytes > retention_.max_bytes) {
    return db_->Fail(
        absl::StatusCode::kResourceExhausted,
        absl::StrCat("an example of population '", schema.name, "' holds ",
                     bytes, " feature bytes, more than retention max_bytes ",
                     retention_.max_bytes));
  }
  for (size_t i = 0; i < examples.size(); ++i) {
    const absl::Status fits =
        ValidateExample(schema, examples[i].features, examples[i].label);
    if (fits.ok()) continue;
    return db_->Fail(absl::StatusCode::kInvalidArgument,
                     batch ? absl::StrCat("example ", i, " of ",
                                          examples.size(), ": ", fits.message())
                           : std::string(fits.message()));
  }
  return absl::OkStatus();
}

absl::Status ExampleStore::InsertLocked(const PopulationSchema& schema,
                                        absl::Span<const Example> examples,
                                        absl::Time now) {
  COHORT_ASSIGN_OR_RETURN(
      SqliteStatement insert,
      db_->Prepare("INSERT INTO examples(population, added_unix_ms, label, "
                   "features) VALUES (?1, ?2, ?3, ?4)"));
  const int64_t now_ms = absl::ToUnixMillis(now);
  for (const Example& example : examples) {
    insert.Reset();
    COHORT_RETURN_IF_ERROR(insert.BindText(1, schema.name)
                               .BindInt64(2, now_ms)
                               .BindInt64(3, example.label)
                               .BindBlob(4, EncodeFeatures(example.features))
                               .Run());
  }
  return absl::OkStatus();
}

absl::Status ExampleStore::SetRetention(const RetentionPolicy& policy) {
  if (absl::Status valid = ValidateRetention(policy); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("example store ", path_, ": ", valid.message()));
  }
  absl::MutexLock lock(&mu_);
  retention_ = policy;
  return absl::OkStatus();
}

RetentionPolicy ExampleStore::retention() const {
  absl::MutexLock lock(&mu_);
  return retention_;
}

absl::StatusOr<int64_t> ExampleStore::ApplyRetention() {
  absl::MutexLock lock(&mu_);
  int64_t deleted = 0;
  {
    COHORT_ASSIGN_OR_RETURN(
        SqliteTransaction transaction,
        SqliteTransaction::Begin(db_.get(), SqliteTransaction::Kind::kWrite));
    COHORT_ASSIGN_OR_RETURN(deleted,
                            TrimToPolicy(db_.get(), retention_, clock_->Now()));
    COHORT_RETURN_IF_ERROR(transaction.Commit());
  }
  if (deleted > 0) {
    LOG(INFO) << "example store " << path_ << ": retention deleted " << deleted
              << " examples";
    ReclaimLocked();
  }
  return deleted;
}

absl::StatusOr<ExampleStore::Snapshot> ExampleStore::SnapshotLocked(
    const std::string& population, int64_t max_examples) {
  // One snapshot for the schema and the rows, whoever else writes.
  COHORT_ASSIGN_OR_RETURN(
      SqliteTransaction transaction,
      SqliteTransaction::Begin(db_.get(), SqliteTransaction::Kind::kRead));
  Snapshot snapshot;
  COHORT_ASSIGN_OR_RETURN(snapshot.schema, SchemaLocked(population));
  COHORT_ASSIGN_OR_RETURN(snapshot.batch,
                          LoadFeaturesLocked(snapshot.schema, max_examples));
  COHORT_RETURN_IF_ERROR(transaction.Commit());
  return snapshot;
}

absl::StatusOr<data::ImageDataset> ExampleStore::Load(
    const std::string& population, int64_t max_examples) {
  absl::MutexLock lock(&mu_);
  COHORT_ASSIGN_OR_RETURN(const Snapshot snapshot,
                          SnapshotLocked(population, max_examples));
  absl::StatusOr<data::ImageDataset> images =
      ToImageDataset(snapshot.batch, snapshot.schema.num_classes);
  if (!images.ok()) {
    return db_->Fail(images.status().code(),
                     absl::StrCat("population '", population,
                                  "': ", images.status().message()));
  }
  return images;
}

absl::StatusOr<FeatureBatch> ExampleStore::LoadFeatures(
    const std::string& population, int64_t max_examples) {
  absl::MutexLock lock(&mu_);
  COHORT_ASSIGN_OR_RETURN(Snapshot snapshot,
                          SnapshotLocked(population, max_examples));
  return std::move(snapshot.batch);
}

absl::StatusOr<FeatureBatch> ExampleStore::LoadFeaturesLocked(
    const PopulationSchema& schema, int64_t max_examples) {
  if (max_examples < 0) {
    return db_->Fail(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("max_examples ", max_examples,
                                  " is negative; use 0 for all"));
  }
  COHORT_ASSIGN_OR_RETURN(SqliteStatement select,
                          db_->Prepare(kSelectExamples));
  const absl::Time cutoff = AgeCutoff(retention_, clock_->Now());
  select.BindText(1, schema.name)
      .BindInt64(2, absl::ToUnixMillis(cutoff))
      .BindInt64(3, max_examples == 0 ? -1 : max_examples);  // -1: no limit
  FeatureBatch batch;
  batch.shape = schema.shape;
  const int64_t values = NumValues(schema.shape);
  int64_t skipped = 0;
  while (true) {
    COHORT_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    const size_t start = batch.features.size();
    const int64_t label = select.ColumnInt64(0);
    // Only a hand-edited file holds rows that fail these; one such row is
    // no reason to stop training on the rest.
    if (!DecodeFeatures(select.ColumnBlob(1), values, &batch.features) ||
        !ValidateExample(
             schema, absl::MakeConstSpan(batch.features).subspan(start), label)
             .ok()) {
      batch.features.resize(start);
      ++skipped;
      continue;
    }
    batch.labels.push_back(label);
  }
  batch.num_examples = static_cast<int64_t>(batch.labels.size());
  if (skipped > 0) {
    LOG(WARNING) << "example store " << path_ << ": skipped " << skipped
                 << " stored examples of population '" << schema.name
                 << "' that do not fit its schema";
  }
  return batch;
}

absl::StatusOr<int64_t> ExampleStore::Count(const std::string& population) {
  absl::MutexLock lock(&mu_);
  COHORT_ASSIGN_OR_RETURN(const PopulationSchema schema,
                          SchemaLocked(population));
  COHORT_ASSIGN_OR_RETURN(SqliteStatement count, db_->Prepare(kCountExamples));
  const absl::Time cutoff = AgeCutoff(retention_, clock_->Now());
  COHORT_ASSIGN_OR_RETURN(const bool row,
                          count.BindText(1, schema.name)
                              .BindInt64(2, absl::ToUnixMillis(cutoff))
                              .Step());
  if (!row) return db_->Fail(absl::StatusCode::kInternal, "no count row");
  return count.ColumnInt64(0);
}

absl::StatusOr<ExampleStats> ExampleStore::Stats(
    const std::string& population) {
  absl::MutexLock lock(&mu_);
  COHORT_ASSIGN_OR_RETURN(const PopulationSchema schema,
                          SchemaLocked(population));
  COHORT_ASSIGN_OR_RETURN(SqliteStatement query,
                          db_->Prepare(kPopulationStats));
  query.BindText(1, schema.name);
  return ReadStats(db_.get(), &query);
}

absl::StatusOr<ExampleStats> ExampleStore::TotalStats() {
  absl::MutexLock lock(&mu_);
  COHORT_ASSIGN_OR_RETURN(SqliteStatement query, db_->Prepare(kTotalStats));
  return ReadStats(db_.get(), &query);
}

void ExampleStore::ReclaimLocked() {
  if (absl::Status reclaimed = ReclaimFreePages(db_.get()); !reclaimed.ok()) {
    LOG(WARNING) << reclaimed;
  }
}

}  // namespace cohort::client
