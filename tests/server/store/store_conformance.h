#ifndef COHORT_TESTS_SERVER_STORE_STORE_CONFORMANCE_H_
#define COHORT_TESTS_SERVER_STORE_STORE_CONFORMANCE_H_

// The fixture of the Store conformance suite, whose cases are split across
// store_conformance_test.cc (versions, devices; it also instantiates the
// suite), release_conformance_test.cc (the release log),
// device_conformance_test.cc, held_conformance_test.cc and
// enrollment_conformance_test.cc (enrollment tokens), linked into one
// binary. The parameter names the backend, "directory" or "postgres"; every
// test gets fresh backing state. PostgreSQL cases need COHORT_TEST_PG_DSN and
// are skipped without it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "tests/server/store/store_test_util.h"
#include "tests/testing/pg_env.h"

namespace cohort::server::store_testing {

// The task most cases use.
inline constexpr char kTask[] = "mnist-mlp";

inline ModelVersionRecord MakeRecord(int64_t version, int64_t parent,
                                     std::string weights = "") {
  return MakeTestRecord(kTask, version, parent, std::move(weights));
}

inline ReleaseRecord MakeRelease(int64_t release, int64_t version) {
  return MakeTestRelease(kTask, release, version);
}

class StoreConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      std::optional<std::string> dsn = TestPgDsn();
      if (!dsn) COHORT_SKIP_OR_FAIL_WITHOUT_PG(PgSkipMessage());
      auto backend = MakePostgresBackend(*dsn);
      ASSERT_TRUE(backend.ok()) << backend.status();
      backend_ = std::move(*backend);
    } else {
      backend_ = MakeDirectoryBackend();
    }
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }

  // A new instance over the same backing state; null (and a failure) on error.
  std::unique_ptr<Store> OpenStore() {
    auto store = backend_->Open();
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  void Commit(const ModelVersionRecord& r) {
    absl::Status s = store_->CommitVersion(r);
    ASSERT_TRUE(s.ok()) << s;
  }

  void ExpectCurrentVersion(int64_t version) {
    auto current = store_->GetCurrent(kTask);
    ASSERT_TRUE(current.ok()) << current.status();
    ASSERT_TRUE(current->has_value());
    EXPECT_EQ((*current)->version, version);
  }

  void Append(const ReleaseRecord& r) {
    absl::Status s = store_->AppendRelease(r);
    ASSERT_TRUE(s.ok()) << s;
  }

  std::unique_ptr<StoreBackend> backend_;  // Outlives every store.
  std::unique_ptr<Store> store_;
};

}  // namespace cohort::server::store_testing

#endif  // COHORT_TESTS_SERVER_STORE_STORE_CONFORMANCE_H_
