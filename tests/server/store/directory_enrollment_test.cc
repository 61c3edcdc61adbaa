// DirectoryStore's enrollment-token files beyond the shared contract: the
// layout, stores made before tokens existed, and damaged token files. Part of
// the directory_store_test binary.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "gtest/gtest.h"
#include "server/store/directory_store.h"
#include "tests/server/store/store_test_util.h"

namespace cohort::server {
namespace {

namespace fs = std::filesystem;
using ::absl::StatusCode;
using store_testing::MakeTempDir;

// SHA-256 of "token-a" and "token-b".
constexpr char kHash[] =
    "a70bf50e531ce1a817561f2f5d5b6645d4e806becf58ccc5e8cf6b8045a090a8";
constexpr char kOtherHash[] =
    "49e2bb7eab54cf09b409ffafd3fa8a8a955a60eb972faacaefbed3dbd3207132";
constexpr int64_t kCreated = 1'700'000'000'000;

EnrollmentTokenRecord MakeToken(const std::string& token_sha256) {
  EnrollmentTokenRecord t;
  t.token_sha256 = token_sha256;
  t.device_id = "phone-1";
  t.created_unix_ms = kCreated;
  t.expires_unix_ms = kCreated + 1000;
  t.created_by = "operator:alice";
  return t;
}

class DirectoryEnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir("directory_enrollment") + "/root";
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<DirectoryStore> Open() {
    auto store = DirectoryStore::Open(root_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string TokenPath(const std::string& token_sha256) {
    return absl::StrCat(root_, "/enrollment/", token_sha256, ".token");
  }

  // Expects DATA_LOSS naming the token's file with its hash cut to the first
  // 8 hex chars.
  void ExpectDataLoss(const absl::Status& status) {
    EXPECT_EQ(status.code(), StatusCode::kDataLoss) << status;
    EXPECT_TRUE(absl::StrContains(
        status.message(),
        absl::StrCat(root_, "/enrollment/", std::string(kHash).substr(0, 8))))
        << status;
    EXPECT_FALSE(absl::StrContains(status.message(), kHash)) << status;
  }

  std::string root_;
  std::unique_ptr<DirectoryStore> store_;
};

TEST_F(DirectoryEnrollmentTest, TokenFileFollowsTheDocumentedLayout) {
  ASSERT_TRUE(store_->AddEnrollmentToken(MakeToken(kHash)).ok());
  auto text = base::ReadFile(TokenPath(kHash));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(absl::StartsWith(*text, "format=cohort-enrollment-token-1\n"))
      << *text;
  EXPECT_TRUE(absl::StrContains(*text, "\nused_unix_ms=0\n")) << *text;
  ASSERT_TRUE(store_->UseEnrollmentToken(kHash, "phone-1", kCreated + 1).ok());
  text = base::ReadFile(TokenPath(kHash));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(absl::StrContains(
      *text, absl::StrCat("\nused_unix_ms=", kCreated + 1, "\n")))
      << *text;
}

TEST_F(DirectoryEnrollmentTest, StoreMadeBeforeTokensOpensAndWorks) {
  ASSERT_TRUE(store_->RecordDevice("phone-1", 5, 1, 0, 0).ok());
  store_.reset();
  fs::remove_all(root_ + "/enrollment");
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(fs::is_directory(root_ + "/enrollment"));
  ASSERT_TRUE(store_->AddEnrollmentToken(MakeToken(kHash)).ok());
  EXPECT_TRUE(store_->UseEnrollmentToken(kHash, "phone-1", kCreated + 1).ok());
  EXPECT_TRUE(store_->GetDevice("phone-1").ok());
}

TEST_F(DirectoryEnrollmentTest, CorruptTokenFileIsDataLoss) {
  ASSERT_TRUE(store_->AddEnrollmentToken(MakeToken(kHash)).ok());
  ASSERT_TRUE(base::WriteFileAtomically(
                  TokenPath(kHash),
                  "format=cohort-enrollment-token-1\nused_unix_ms=x\n")
                  .ok());
  ExpectDataLoss(
      store_->UseEnrollmentToken(kHash, "phone-1", kCreated + 1).status());
  ExpectDataLoss(store_->AddEnrollmentToken(MakeToken(kHash)));
}

TEST_F(DirectoryEnrollmentTest, TokenFileOfAnotherHashIsDataLoss) {
  ASSERT_TRUE(store_->AddEnrollmentToken(MakeToken(kOtherHash)).ok());
  auto other = base::ReadFile(TokenPath(kOtherHash));
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(base::WriteFileAtomically(TokenPath(kHash), *other).ok());
  ExpectDataLoss(
      store_->UseEnrollmentToken(kHash, "phone-1", kCreated + 1).status());
  // The token the file really holds is untouched.
  EXPECT_TRUE(
      store_->UseEnrollmentToken(kOtherHash, "phone-1", kCreated + 1).ok());
}

}  // namespace
}  // namespace cohort::server
