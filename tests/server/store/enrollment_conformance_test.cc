// The enrollment-token part of the Store contract (server/store/store.h,
// AddEnrollmentToken and UseEnrollmentToken), run against every backend. Part
// of the store_conformance_test binary: the fixture is in store_conformance.h
// and the suite is instantiated in store_conformance_test.cc.

#include <cctype>
#include <cstdint>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "server/store/store_util.h"
#include "tests/server/store/store_conformance.h"

namespace cohort::server {
namespace {

using ::absl::StatusCode;
using store_testing::StoreConformanceTest;

// SHA-256 of "token-a" and "token-b".
constexpr char kHash[] =
    "a70bf50e531ce1a817561f2f5d5b6645d4e806becf58ccc5e8cf6b8045a090a8";
constexpr char kOtherHash[] =
    "49e2bb7eab54cf09b409ffafd3fa8a8a955a60eb972faacaefbed3dbd3207132";
constexpr char kDevice[] = "phone-1";
constexpr char kOtherDevice[] = "phone-2";
constexpr int64_t kCreated = 1'700'000'000'000;
constexpr int64_t kExpires = kCreated + 24 * 3600 * 1000;

// A token for `device_id`, made at kCreated, expiring at kExpires, unused.
EnrollmentTokenRecord MakeToken(const std::string& token_sha256 = kHash,
                                const std::string& device_id = kDevice) {
  EnrollmentTokenRecord t;
  t.token_sha256 = token_sha256;
  t.device_id = device_id;
  t.created_unix_ms = kCreated;
  t.expires_unix_ms = kExpires;
  t.created_by = "operator:alice";
  return t;
}

// kHash with its last 8 hex chars replaced by `n`: distinct tokens whose
// messages share a prefix.
std::string NumberedHash(uint32_t n) {
  return absl::StrCat(std::string(kHash).substr(0, 56),
                      absl::StrFormat("%08x", n));
}

void ExpectSameToken(const EnrollmentTokenRecord& got,
                     const EnrollmentTokenRecord& want) {
  EXPECT_EQ(got.token_sha256, want.token_sha256);
  EXPECT_EQ(got.device_id, want.device_id);
  EXPECT_EQ(got.created_unix_ms, want.created_unix_ms);
  EXPECT_EQ(got.expires_unix_ms, want.expires_unix_ms);
  EXPECT_EQ(got.created_by, want.created_by);
  EXPECT_EQ(got.used_unix_ms, want.used_unix_ms);
}

void AddToken(Store& store, const EnrollmentTokenRecord& token) {
  absl::Status s = store.AddEnrollmentToken(token);
  ASSERT_TRUE(s.ok()) << s;
}

// Expects `status` to have `code`, to contain `text` and to name the token
// by the first 8 hex chars of `token_sha256`, never by all of it.
void ExpectTokenError(const absl::Status& status, StatusCode code,
                      const std::string& token_sha256,
                      const std::string& text = "") {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), text)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), token_sha256.substr(0, 8)))
      << status;
  EXPECT_FALSE(absl::StrContains(status.message(), token_sha256)) << status;
}

TEST_P(StoreConformanceTest, EnrollmentTokenIsUsedOnce) {
  const EnrollmentTokenRecord token = MakeToken();
  ASSERT_NO_FATAL_FAILURE(AddToken(*store_, token));
  auto used = store_->UseEnrollmentToken(kHash, kDevice, kCreated + 5);
  ASSERT_TRUE(used.ok()) << used.status();
  EnrollmentTokenRecord want = token;
  want.used_unix_ms = kCreated + 5;
  ExpectSameToken(*used, want);

  const absl::Status again =
      store_->UseEnrollmentToken(kHash, kDevice, kCreated + 6).status();
  ExpectTokenError(again, StatusCode::kFailedPrecondition, kHash,
                   "already used");
  EXPECT_FALSE(absl::StrContains(again.message(), "expired")) << again;
}

TEST_P(StoreConformanceTest, EnrollmentTokenExpiresAtExpiresUnixMs) {
  ASSERT_NO_FATAL_FAILURE(AddToken(*store_, MakeToken()));
  for (int64_t now : {kExpires, kExpires + 1, kExpires + 3600 * 1000}) {
    const absl::Status expired =
        store_->UseEnrollmentToken(kHash, kDevice, now).status();
    ExpectTokenError(expired, StatusCode::kFailedPrecondition, kHash,
                     "expired");
    EXPECT_FALSE(absl::StrContains(expired.message(), "already used"))
        << expired;
  }
  // The failed uses changed nothing: a moment before expiry it still works.
  auto used = store_->UseEnrollmentToken(kHash, kDevice, kExpires - 1);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(used->used_unix_ms, kExpires - 1);
}

TEST_P(StoreConformanceTest, UnknownEnrollmentTokenIsNotFound) {
  ExpectTokenError(
      store_->UseEnrollmentToken(kHash, kDevice, kCreated + 1).status(),
      StatusCode::kNotFound, kHash);
  ASSERT_NO_FATAL_FAILURE(AddToken(*store_, MakeToken(kOtherHash)));
  ExpectTokenError(
      store_->UseEnrollmentToken(kHash, kDevice, kCreated + 1).status(),
      StatusCode::kNotFound, kHash);
  EXPECT_TRUE(
      store_->UseEnrollmentToken(kOtherHash, kDevice, kCreated + 1).ok());
}

TEST_P(StoreConformanceTest, EnrollmentTokenOfAnotherDeviceIsDenied) {
  ASSERT_NO_FATAL_FAILURE(AddToken(*store_, MakeToken()));
  ExpectTokenError(
      store_->UseEnrollmentToken(kHash, kOtherDevice, kCreated + 1).status(),
      StatusCode::kPermissionDenied, kHash);
  // The token stays unused for its own device.
  auto used = store_->UseEnrollmentToken(kHash, kDevice, kCreated + 2);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(used->device_id, kDevice);
  EXPECT_EQ(used->used_unix_ms, kCreated + 2);
}

TEST_P(StoreConformanceTest, EnrollmentTokenChecksGoInDocumentedOrder) {
  ASSERT_NO_FATAL_FAILURE(AddToken(*store_, MakeToken()));
  // Expired and for another device: expired comes first.
  ExpectTokenError(
      store_->UseEnrollmentToken(kHash, kOtherDevice, kExpires).status(),
      StatusCode::kFailedPrecondition, kHash, "expired");
  ASSERT_TRUE(store_->UseEnrollmentToken(kHash, kDevice, kCreated + 1).ok());
  // Used, expired and for another device: already used comes first.
  ExpectTokenError(
      store_->UseEnrollmentToken(kHash, kOtherDevice, kExpires).status(),
      StatusCode::kFailedPrecondition, kHash, "already used");
}

TEST_P(StoreConformanceTest, DuplicateEnrollmentTokenIsAlreadyExists) {
  ASSERT_NO_FATAL_FAILURE(AddToken(*store_, MakeToken()));
  EnrollmentTokenRecord other = MakeToken(kHash, kOtherDevice);
  other.expires_unix_ms = kExpires + 1000;
  ExpectTokenError(store_->AddEnrollmentToken(other),
                   StatusCode::kAlreadyExists, kHash);
  // The first token is kept as it was.
  EXPECT_EQ(store_->UseEnrollmentToken(kHash, kOtherDevice, kCreated + 1)
                .status()
                .code(),
            StatusCode::kPermissionDenied);
  auto used = store_->UseEnrollmentToken(kHash, kDevice, kCreated + 1);
  ASSERT_TRUE(used.ok()) << used.status();
  ExpectSameToken(*used, [] {
    EnrollmentTokenRecord t = MakeToken();
    t.used_unix_ms = kCreated + 1;
    return t;
  }());
  // A used token still holds its hash.
  EXPECT_EQ(store_->AddEnrollmentToken(MakeToken()).code(),
            StatusCode::kAlreadyExists);
}

TEST_P(StoreConformanceTest, MalformedEnrollmentTokenArgumentsAreInvalid) {
  ASSERT_NO_FATAL_FAILURE(AddToken(*store_, MakeToken()));
  std::string upper = kHash;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  const std::string hash(kHash);
  const std::string bad_hashes[] = {
      "",
      hash.substr(0, 63),
      hash + "0",
      upper,
      hash.substr(0, 63) + "g",
      hash.substr(0, 63) + std::string(1, '\0'),
      "token-a",
  };
  for (const std::string& bad : bad_hashes) {
    SCOPED_TRACE(absl::StrCat("hash of ", bad.size(), " bytes"));
    const absl::Status add =
        store_->AddEnrollmentToken(MakeToken(bad, kDevice));
    EXPECT_EQ(add.code(), StatusCode::kInvalidArgument) << add;
    const absl::Status use =
        store_->UseEnrollmentToken(bad, kDevice, kCreated + 1).status();
    EXPECT_EQ(use.code(), StatusCode::kInvalidArgument) << use;
    if (bad.size() >= 32) {
      EXPECT_FALSE(absl::StrContains(use.message(), bad)) << use;
    }
  }
  const std::string bad_devices[] = {"",
                                     "../x",
                                     "a b",
                                     "-flag",
                                     std::string("a\0b", 3),
                                     std::string(129, 'a')};
  for (const std::string& bad : bad_devices) {
    SCOPED_TRACE(absl::StrCat("device id \"", bad, "\""));
    EXPECT_EQ(store_->AddEnrollmentToken(MakeToken(kOtherHash, bad)).code(),
              StatusCode::kInvalidArgument);
    // Checked before the lookup: the hash is known, the device id is not valid.
    EXPECT_EQ(
        store_->UseEnrollmentToken(kHash, bad, kCreated + 1).status().code(),
        StatusCode::kInvalidArgument);
  }
  std::vector<EnrollmentTokenRecord> bad_records(4, MakeToken(kOtherHash));
  bad_records[0].created_by = std::string("operator:\0alice", 15);
  bad_records[1].created_by = std::string(kMaxReleaseTextBytes + 1, 'a');
  bad_records[2].expires_unix_ms = bad_records[2].created_unix_ms;
  bad_records[3].expires_unix_ms = bad_records[3].created_unix_ms - 1;
  for (size_t i = 0; i < bad_records.size(); ++i) {
    EXPECT_EQ(store_->AddEnrollmentToken(bad_records[i]).code(),
              StatusCode::kInvalidArgument)
        << "bad record " << i;
  }
  // A use time of 0 would be stored as "unused".
  EXPECT_EQ(store_->UseEnrollmentToken(kHash, kDevice, 0).status().code(),
            StatusCode::kInvalidArgument);
  // None of the rejected calls stored or used anything.
  EXPECT_EQ(store_->UseEnrollmentToken(kOtherHash, kDevice, kCreated + 1)
                .status()
                .code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(store_->UseEnrollmentToken(kHash, kDevice, kCreated + 1).ok());
}

TEST_P(StoreConformanceTest, EnrollmentTokensSurviveReopen) {
  EnrollmentTokenRecord unused = MakeToken(kHash);
  unused.created_by = "operator:al\xc3\xa5 \"ops\" \\ team\nline two";
  const EnrollmentTokenRecord to_use = MakeToken(kOtherHash, kOtherDevice);
  ASSERT_NO_FATAL_FAILURE(AddToken(*store_, unused));
  ASSERT_NO_FATAL_FAILURE(AddToken(*store_, to_use));
  ASSERT_TRUE(
      store_->UseEnrollmentToken(kOtherHash, kOtherDevice, kCreated + 7).ok());
  store_.reset();

  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  ExpectTokenError(
      store_->UseEnrollmentToken(kOtherHash, kOtherDevice, kCreated + 8)
          .status(),
      StatusCode::kFailedPrecondition, kOtherHash, "already used");
  auto used = store_->UseEnrollmentToken(kHash, kDevice, kCreated + 9);
  ASSERT_TRUE(used.ok()) << used.status();
  EnrollmentTokenRecord want = unused;
  want.used_unix_ms = kCreated + 9;
  ExpectSameToken(*used, want);
}

// Each round, every thread uses one new token and exactly one may win.
// Even-numbered threads share store_, the others have their own instance (own
// connection or own lock descriptor), so both levels of locking are raced.
TEST_P(StoreConformanceTest, ConcurrentUsesOfATokenHaveOneWinner) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 3;
  std::vector<std::unique_ptr<Store>> instances;
  for (int t = 0; t < kThreads; ++t) {
    instances.push_back(t % 2 == 0 ? nullptr : OpenStore());
    if (t % 2 == 1) {
      ASSERT_NE(instances.back(), nullptr);
    }
  }
  for (int round = 0; round < kRounds; ++round) {
    const std::string hash = NumberedHash(round);
    ASSERT_NO_FATAL_FAILURE(AddToken(*store_, MakeToken(hash)));
    std::vector<absl::StatusOr<EnrollmentTokenRecord>> results(
        kThreads, absl::UnknownError("not run"));
    std::latch start(kThreads);
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([&, t] {
        Store* store = instances[t] ? instances[t].get() : store_.get();
        start.arrive_and_wait();
        results[t] = store->UseEnrollmentToken(hash, kDevice, kCreated + t + 1);
      });
    }
    for (auto& w : workers) w.join();
    int wins = 0;
    for (int t = 0; t < kThreads; ++t) {
      if (results[t].ok()) {
        ++wins;
        EXPECT_EQ(results[t]->used_unix_ms, kCreated + t + 1);
      } else {
        ExpectTokenError(results[t].status(), StatusCode::kFailedPrecondition,
                         hash, "already used");
      }
    }
    EXPECT_EQ(wins, 1) << "round " << round;
    // Later uses, from any instance, lose too.
    ExpectTokenError(instances[1]
                         ->UseEnrollmentToken(hash, kDevice, kCreated + 100)
                         .status(),
                     StatusCode::kFailedPrecondition, hash, "already used");
  }
}

}  // namespace
}  // namespace cohort::server
