// Damaged and foreign files: a clear status, never a crash, and a fresh
// store once the damaged file is moved aside.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/examples/example_store.h"
#include "common/base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/examples/store_fixture.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;

// Runs `sql` on the file at `path` through SQLite itself, as another
// program on the device could.
bool RunSql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  const bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
                  sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

absl::Status OpenStatus(const std::string& path, base::Clock* clock) {
  return ExampleStore::Open(path, clock).status();
}

class CorruptStoreTest : public ExampleStoreTest {
 protected:
  // A closed store at path_ holding 50 28x28 examples (about 50 pages), its
  // WAL checkpointed into the file and gone.
  void WriteFullStore() {
    {
      auto store = OpenStore();
      ASSERT_NE(store, nullptr);
      ASSERT_TRUE(store->DefinePopulation(Schema("fmnist", {1, 28, 28})).ok());
      std::vector<Example> batch;
      for (int i = 0; i < 50; ++i) batch.push_back({Pixels(784, i), i % 10});
      ASSERT_TRUE(store->AddBatch("fmnist", batch).ok());
    }
    RemoveSideFiles(path_);
  }
  static void RemoveSideFiles(const std::string& path) {
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
  }
};

TEST_F(CorruptStoreTest, OpenGarbageFileIsDataLossNamingThePathAndLeavesIt) {
  std::string garbage;
  while (garbage.size() < 8192) garbage += "this is not a database. ";
  ASSERT_TRUE(base::WriteFileAtomically(path_, garbage).ok());
  const absl::Status opened = OpenStatus(path_, &clock_);
  EXPECT_EQ(opened.code(), absl::StatusCode::kDataLoss) << opened;
  EXPECT_THAT(opened.message(), HasSubstr(path_));
  absl::StatusOr<std::string> after = base::ReadFile(path_);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, garbage);
}

TEST_F(CorruptStoreTest, OpenTruncatedStoreIsDataLossThenAFreshStoreOpens) {
  ASSERT_NO_FATAL_FAILURE(WriteFullStore());
  const auto size = std::filesystem::file_size(path_);
  ASSERT_GT(size, 50u * 3136);
  std::filesystem::resize_file(path_, size / 2);
  const absl::Status opened = OpenStatus(path_, &clock_);
  EXPECT_EQ(opened.code(), absl::StatusCode::kDataLoss) << opened;
  EXPECT_THAT(opened.message(), HasSubstr(path_));

  // What the agent does with DATA_LOSS: move the file and its side files
  // aside and start again, empty.
  std::filesystem::rename(path_, path_ + ".corrupt");
  RemoveSideFiles(path_);
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Count("fmnist").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(store->DefinePopulation(Schema("fmnist", {1, 28, 28})).ok());
  EXPECT_TRUE(store->Add("fmnist", Pixels(784, 0), 1).ok());
}

TEST_F(CorruptStoreTest, OpenStoreWithOverwrittenPagesIsDataLoss) {
  ASSERT_NO_FATAL_FAILURE(WriteFullStore());
  const auto size = std::filesystem::file_size(path_);
  {
    std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file.is_open());
    file.seekp(static_cast<std::streamoff>(size / 2 / 4096 * 4096));
    const std::string junk(4 * 4096, '\x5a');
    file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    ASSERT_TRUE(file.good());
  }
  const absl::Status opened = OpenStatus(path_, &clock_);
  EXPECT_EQ(opened.code(), absl::StatusCode::kDataLoss) << opened;
  EXPECT_THAT(opened.message(), HasSubstr(path_));
}

TEST_F(CorruptStoreTest, OpenEmptyFileMakesANewStore) {
  ASSERT_TRUE(base::WriteFileAtomically(path_, "").ok());
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->DefinePopulation(Schema("vec", {4})).ok());
}

TEST_F(CorruptStoreTest, OpenInMissingFolderIsFailedPrecondition) {
  const std::string path = dir_ + "/missing/examples.db";
  const absl::Status opened = OpenStatus(path, &clock_);
  EXPECT_EQ(opened.code(), absl::StatusCode::kFailedPrecondition) << opened;
  EXPECT_THAT(opened.message(), HasSubstr(path));
}

TEST_F(CorruptStoreTest, OpenOtherSqliteDatabaseIsFailedPrecondition) {
  ASSERT_TRUE(RunSql(path_, "CREATE TABLE contacts(name TEXT)"));
  absl::StatusOr<std::string> before = base::ReadFile(path_);
  ASSERT_TRUE(before.ok()) << before.status();
  const absl::Status opened = OpenStatus(path_, &clock_);
  EXPECT_EQ(opened.code(), absl::StatusCode::kFailedPrecondition) << opened;
  EXPECT_THAT(opened.message(), HasSubstr("not an example store"));
  // Not even its journal mode was changed.
  absl::StatusOr<std::string> after = base::ReadFile(path_);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, *before);
}

TEST_F(CorruptStoreTest, OpenNewerSchemaVersionIsFailedPrecondition) {
  ASSERT_NE(OpenStore(), nullptr);
  ASSERT_TRUE(RunSql(path_, "PRAGMA user_version = 3"));
  const absl::Status opened = OpenStatus(path_, &clock_);
  EXPECT_EQ(opened.code(), absl::StatusCode::kFailedPrecondition) << opened;
  EXPECT_THAT(opened.message(), HasSubstr("schema version 3"));
}

// A file written by the first schema (no num_added) is migrated on open:
// its examples are kept and count as added, and later adds count too.
TEST_F(CorruptStoreTest, OpenMigratesVersionOneFile) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->DefinePopulation(Schema("vec", {4}, 3)).ok());
    ASSERT_TRUE(store->Add("vec", Pixels(4, 1), 1).ok());
    ASSERT_TRUE(store->Add("vec", Pixels(4, 2), 2).ok());
  }
  // Back to version 1's form: no num_added column, the old trigger.
  ASSERT_TRUE(RunSql(path_,
                     "DROP TRIGGER examples_counted;"
                     "ALTER TABLE populations DROP COLUMN num_added;"
                     "CREATE TRIGGER examples_counted AFTER INSERT ON examples "
                     "BEGIN UPDATE populations SET num_examples = "
                     "num_examples + 1, num_bytes = num_bytes + "
                     "length(NEW.features) WHERE name = NEW.population; END;"
                     "PRAGMA user_version = 1"));
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<ExampleStats> migrated = store->Stats("vec");
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  EXPECT_EQ(migrated->count, 2);
  EXPECT_EQ(migrated->added, 2);
  ASSERT_TRUE(store->Add("vec", Pixels(4, 0), 0).ok());
  absl::StatusOr<ExampleStats> after = store->Stats("vec");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->count, 3);
  EXPECT_EQ(after->added, 3);
}

TEST_F(CorruptStoreTest, LoadSkipsRowsEditedOutOfTheirSchema) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("vec", {4}, 3)).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store->Add("vec", Pixels(4, i), i).ok());
    clock_.Advance(absl::Seconds(1));
  }
  ASSERT_TRUE(RunSql(path_,
                     "UPDATE examples SET features = x'00' WHERE label = 0;"
                     "UPDATE examples SET label = 99 WHERE label = 1;"));
  absl::StatusOr<FeatureBatch> batch = store->LoadFeatures("vec", 0);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->labels, (std::vector<int64_t>{2}));
  EXPECT_EQ(batch->features, Pixels(4, 2));
}

TEST_F(CorruptStoreTest, AddToADamagedSchemaRowIsDataLoss) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("vec", {4})).ok());
  ASSERT_TRUE(RunSql(path_, "UPDATE populations SET shape = 'four'"));
  const absl::Status added = store->Add("vec", Pixels(4, 0), 0);
  EXPECT_EQ(added.code(), absl::StatusCode::kDataLoss) << added;
  EXPECT_THAT(added.message(), HasSubstr("'four'"));
}

}  // namespace
}  // namespace cohort::client
