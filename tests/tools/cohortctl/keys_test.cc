// cohortctl keys: roots and release keys written by the tool verify as a
// device verifies them (common/model/trust.h), and secrets stay private.

#include "tools/cohortctl/keys.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "absl/time/time.h"
#include "cohort/v1/model.pb.h"
#include "common/base/files.h"
#include "common/crypto/secure_random.h"
#include "common/model/signing.h"
#include "common/model/trust.h"
#include "gtest/gtest.h"

namespace cohort::tools {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

cohort::v1::SignedRoot ReadRoot(const std::string& path) {
  cohort::v1::SignedRoot root;
  auto bytes = base::ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(root.ParseFromString(bytes.value_or("")));
  return root;
}

cohort::v1::SignedReleaseKey ReadCert(const std::string& dir) {
  cohort::v1::SignedReleaseKey cert;
  auto bytes = base::ReadFile(dir + "/release-key.cert.pb");
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(cert.ParseFromString(bytes.value_or("")));
  return cert;
}

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/keys_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    root_dir_ = dir_ + "/root";
    out_dir_ = dir_ + "/release";
  }
  std::string dir_, root_dir_, out_dir_;
  crypto::OpenSslRandom random_;
};

TEST_F(KeysTest, GeneratedRootAndCertifiedKeyVerifyAsOnADevice) {
  auto root = GenerateRoot(root_dir_, RootSpec{}, random_, kNow);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->root_version, 1);
  EXPECT_EQ(root->key_ids.size(), 3u);
  auto trusted = model::TrustedRoot::FromPinned(ReadRoot(root_dir_ + "/root-1.pb"));
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  EXPECT_EQ(trusted->metadata().threshold(), 2);

  auto cert = CertifyReleaseKey(root_dir_, out_dir_, absl::Hours(24), random_, kNow);
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto key = trusted->VerifyReleaseKey(ReadCert(out_dir_), kNow);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(model::KeyId(*key), cert->key_ids[0]);
  // Expires after the requested day.
  EXPECT_FALSE(trusted->VerifyReleaseKey(ReadCert(out_dir_), kNow + absl::Hours(25)).ok());
}

TEST_F(KeysTest, SecretsAreWrittenOwnerOnly) {
  ASSERT_TRUE(GenerateRoot(root_dir_, RootSpec{}, random_, kNow).ok());
  ASSERT_TRUE(CertifyReleaseKey(root_dir_, out_dir_, absl::Hours(24), random_, kNow).ok());
  for (const std::string& path :
       {root_dir_ + "/root-1-key-1.seed", root_dir_ + "/root-1-key-3.seed",
        out_dir_ + "/release-key.seed"}) {
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
  }
}

TEST_F(KeysTest, RotationIsFollowedByDevicesAndRevokes) {
  ASSERT_TRUE(GenerateRoot(root_dir_, RootSpec{}, random_, kNow).ok());
  auto old_cert = CertifyReleaseKey(root_dir_, out_dir_, absl::Hours(24), random_, kNow);
  ASSERT_TRUE(old_cert.ok());
  auto device = model::TrustedRoot::FromPinned(ReadRoot(root_dir_ + "/root-1.pb"));
  ASSERT_TRUE(device.ok());

  RootSpec spec;
  spec.keys = 2;
  spec.threshold = 2;
  spec.revoke = {old_cert->key_ids[0]};
  auto rotated = RotateRoot(root_dir_, spec, random_, kNow);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->root_version, 2);
  ASSERT_TRUE(device->Rotate(ReadRoot(root_dir_ + "/root-2.pb")).ok());
  EXPECT_EQ(device->version(), 2);

  auto fresh = CertifyReleaseKey(root_dir_, out_dir_ + "2", absl::Hours(24), random_, kNow);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->root_version, 2);
  EXPECT_TRUE(device->VerifyReleaseKey(ReadCert(out_dir_ + "2"), kNow).ok());
  EXPECT_EQ(device->VerifyReleaseKey(ReadCert(out_dir_), kNow).status().code(),
            absl::StatusCode::kUnauthenticated);  // revoked and from root 1
}

TEST_F(KeysTest, RefusesToOverwriteOrSignWithoutTheThreshold) {
  ASSERT_TRUE(GenerateRoot(root_dir_, RootSpec{}, random_, kNow).ok());
  EXPECT_EQ(GenerateRoot(root_dir_, RootSpec{}, random_, kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Two of three key holders took their files away: one is below 2 of 3.
  std::filesystem::remove(root_dir_ + "/root-1-key-1.seed");
  std::filesystem::remove(root_dir_ + "/root-1-key-2.seed");
  EXPECT_EQ(CertifyReleaseKey(root_dir_, out_dir_, absl::Hours(24), random_, kNow)
                .status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RotateRoot(root_dir_, RootSpec{}, random_, kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(root_dir_ + "/root-2.pb"));
  EXPECT_EQ(CertifyReleaseKey(dir_ + "/empty", out_dir_, absl::Hours(24), random_, kNow)
                .status().code(),
            absl::StatusCode::kNotFound);
  RootSpec bad;
  bad.threshold = 4;
  EXPECT_EQ(GenerateRoot(dir_ + "/other", bad, random_, kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::tools
