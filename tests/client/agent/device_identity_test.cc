// An enrolled device's identity in its state directory: obtained, checked
// on every load, quarantined when unusable, and renewed before expiry.

#include "client/agent/device_identity.h"

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/base/files.h"
#include "common/crypto/x509.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_tree.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;

// Issues from a test CA, as the coordinator would; counts reloads.
class IssuingTransport final : public CoordinatorTransport {
 public:
  IssuingTransport(const crypto::PemCertificateAndKey* ca, absl::Time* now)
      : ca_(ca), now_(now) {}
  std::unique_ptr<ParticipationSession> OpenSession() override {
    return nullptr;
  }
  absl::StatusOr<std::string> FetchModel(const cohort::v1::ModelRef&,
                                         const std::string&) override {
    return absl::UnimplementedError("no models here");
  }
  absl::StatusOr<cohort::v1::DeviceCertificate> RenewCertificate(
      const std::string& csr_pem) override {
    ++renewals;
    if (!fail.ok()) return fail;
    return Issue(*ca_, csr_pem, "dev-1", *now_);
  }
  absl::Status ReloadIdentity() override {
    ++reloads;
    return reload_fail;
  }

  static absl::StatusOr<cohort::v1::DeviceCertificate> Issue(
      const crypto::PemCertificateAndKey& ca, const std::string& csr,
      const std::string& device, absl::Time now) {
    crypto::IssueOptions options;
    options.device_id = device;
    options.not_before = now;
    options.validity = absl::Hours(30);
    absl::StatusOr<std::string> pem =
        crypto::IssueDeviceCertificatePem(csr, ca.cert_pem, ca.key_pem, options);
    if (!pem.ok()) return pem.status();
    cohort::v1::DeviceCertificate answer;
    answer.set_device_id(device);
    answer.set_certificate_pem(*pem);
    return answer;
  }

  int renewals = 0;
  int reloads = 0;
  absl::Status fail;
  absl::Status reload_fail;

 private:
  const crypto::PemCertificateAndKey* const ca_;
  absl::Time* const now_;
};

class DeviceIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("device_identity");
    auto ca = crypto::MakeSelfSignedCaForTesting(
        "Fleet CA", now_ - absl::Hours(1), absl::Hours(24 * 365));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
  }

  absl::StatusOr<DeviceIdentity> Enroll(const std::string& device) {
    return ObtainIdentity(
        dir_, ca_.cert_pem, "dev-1",
        [&](const std::string& csr) {
          return IssuingTransport::Issue(ca_, csr, device, now_);
        },
        now_);
  }

  std::string dir_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
  crypto::PemCertificateAndKey ca_;
};

TEST_F(DeviceIdentityTest, ObtainedIdentityIsKeptAndLoadsBack) {
  EXPECT_FALSE(LoadIdentity(dir_, ca_.cert_pem, "dev-1", now_)->has_value());
  absl::StatusOr<DeviceIdentity> got = Enroll("dev-1");
  ASSERT_TRUE(got.ok()) << got.status();
  struct stat st;
  ASSERT_EQ(stat(IdentityPath(dir_).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(DeviceKeyPath(dir_).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The derived files go; the identity file rebuilds them.
  std::filesystem::remove(DeviceKeyPath(dir_));
  auto loaded = LoadIdentity(dir_, ca_.cert_pem, "dev-1", now_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->certificate_pem, got->certificate_pem);
  EXPECT_EQ(base::ReadFile(DeviceKeyPath(dir_)).value_or(""), got->key_pem);
}

// The answer must fit what was asked: this device's name, this key, our
// CA. Anything else is refused and nothing is written.
TEST_F(DeviceIdentityTest, AnAnswerThatDoesNotFitIsNotInstalled) {
  auto answer_for = [&](const std::string& device,
                        const crypto::PemCertificateAndKey& ca) {
    return [&, device](const std::string&) {
      // Another key pair than the one the device asked with.
      const std::string key = crypto::GenerateDeviceKeyPem().value_or("");
      return IssuingTransport::Issue(
          ca, crypto::MakeCsrPem(key, device).value_or(""), device, now_);
    };
  };
  auto other_ca = crypto::MakeSelfSignedCaForTesting(
      "Other", now_ - absl::Hours(1), absl::Hours(24));
  ASSERT_TRUE(other_ca.ok());
  for (const auto& [request, why] :
       std::vector<std::pair<CertificateRequest, std::string>>{
           {answer_for("dev-1", ca_), "key"},
           {answer_for("dev-2", ca_), "dev-2"},
       }) {
    absl::StatusOr<DeviceIdentity> got =
        ObtainIdentity(dir_, ca_.cert_pem, "dev-1", request, now_);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated) << why;
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("not usable"));
  }
  // From another CA, for this device's own key.
  absl::StatusOr<DeviceIdentity> foreign = ObtainIdentity(
      dir_, ca_.cert_pem, "dev-1",
      [&](const std::string& csr) {
        return IssuingTransport::Issue(*other_ca, csr, "dev-1", now_);
      },
      now_);
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(std::filesystem::exists(IdentityPath(dir_)));
}

TEST_F(DeviceIdentityTest, UnusableIdentitiesAreMovedAside) {
  ASSERT_TRUE(Enroll("dev-1").ok());
  // Expired: quarantined, so the device enrolls again.
  auto later = LoadIdentity(dir_, ca_.cert_pem, "dev-1", now_ + absl::Hours(31));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_FALSE(later->has_value());
  EXPECT_TRUE(std::filesystem::exists(IdentityPath(dir_) + ".corrupt"));
  // Damaged.
  ASSERT_TRUE(base::WriteFileAtomically(IdentityPath(dir_), "garbage").ok());
  auto damaged = LoadIdentity(dir_, ca_.cert_pem, "dev-1", now_);
  ASSERT_TRUE(damaged.ok()) << damaged.status();
  EXPECT_FALSE(damaged->has_value());
  EXPECT_EQ(base::ReadFile(IdentityPath(dir_) + ".corrupt").value_or(""),
            "garbage");
  // Another CA's.
  ASSERT_TRUE(Enroll("dev-1").ok());
  const std::string enrolled = base::ReadFile(IdentityPath(dir_)).value_or("");
  auto other = crypto::MakeSelfSignedCaForTesting("Other", now_ - absl::Hours(1),
                                                  absl::Hours(24));
  ASSERT_TRUE(other.ok());
  auto foreign = LoadIdentity(dir_, other->cert_pem, "dev-1", now_);
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  EXPECT_FALSE(foreign->has_value());
  EXPECT_EQ(base::ReadFile(IdentityPath(dir_) + ".corrupt").value_or(""),
            enrolled);
  EXPECT_FALSE(std::filesystem::exists(IdentityPath(dir_)));
}

// A clock that is not set yet (before the certificate's validity) is not
// the identity's fault: the file stays for when the clock is right.
TEST_F(DeviceIdentityTest, AClockBehindKeepsTheIdentity) {
  ASSERT_TRUE(Enroll("dev-1").ok());
  auto early = LoadIdentity(dir_, ca_.cert_pem, "dev-1", now_ - absl::Hours(2));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(early.status().message()), HasSubstr("clock"));
  EXPECT_TRUE(std::filesystem::exists(IdentityPath(dir_)));
  auto later = LoadIdentity(dir_, ca_.cert_pem, "dev-1", now_);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_TRUE(later->has_value());
}

TEST_F(DeviceIdentityTest, RenewalIsDueInTheLastThirdOrTheConfiguredMargin) {
  DeviceIdentity id;
  id.not_before = now_;
  id.not_after = now_ + absl::Hours(30);
  EXPECT_FALSE(RenewalDue(id, absl::ZeroDuration(), now_ + absl::Hours(19)));
  EXPECT_TRUE(RenewalDue(id, absl::ZeroDuration(), now_ + absl::Hours(20)));
  EXPECT_FALSE(RenewalDue(id, absl::Hours(2), now_ + absl::Hours(27)));
  EXPECT_TRUE(RenewalDue(id, absl::Hours(2), now_ + absl::Hours(28)));
}

TEST_F(DeviceIdentityTest, KeeperRenewsWhenDueAndKeepsTheOldOneOnFailure) {
  absl::StatusOr<DeviceIdentity> got = Enroll("dev-1");
  ASSERT_TRUE(got.ok()) << got.status();
  IdentityKeeper keeper(*got, dir_, ca_.cert_pem, "dev-1",
                        absl::ZeroDuration());
  IssuingTransport transport(&ca_, &now_);
  EXPECT_TRUE(keeper.MaybeRenew(transport, now_ + absl::Hours(1)).ok());
  EXPECT_EQ(transport.renewals, 0);

  now_ += absl::Hours(25);
  transport.fail = absl::UnavailableError("coordinator away");
  EXPECT_EQ(keeper.MaybeRenew(transport, now_).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(keeper.identity().certificate_pem, got->certificate_pem);
  EXPECT_EQ(transport.reloads, 0);

  // Renewed, but the new channel could not be made: retried next time.
  transport.fail = absl::OkStatus();
  transport.reload_fail = absl::InternalError("no channel");
  EXPECT_FALSE(keeper.MaybeRenew(transport, now_).ok());
  EXPECT_EQ(transport.renewals, 2);
  transport.reload_fail = absl::OkStatus();
  ASSERT_TRUE(keeper.MaybeRenew(transport, now_).ok());
  EXPECT_EQ(transport.renewals, 2);  // reloaded, not renewed again
  EXPECT_EQ(transport.reloads, 2);
  EXPECT_EQ(base::ReadFile(DeviceCertificatePath(dir_)).value_or(""),
            keeper.identity().certificate_pem);
  // A margin as long as the lifetime would renew at every check-in: at
  // most once an hour.
  IdentityKeeper eager(keeper.identity(), dir_, ca_.cert_pem, "dev-1",
                       absl::Hours(30));
  ASSERT_TRUE(eager.MaybeRenew(transport, now_).ok());
  ASSERT_TRUE(eager.MaybeRenew(transport, now_ + absl::Minutes(10)).ok());
  EXPECT_EQ(transport.renewals, 3);
  EXPECT_NE(keeper.identity().certificate_pem, got->certificate_pem);
  EXPECT_NE(keeper.identity().key_pem, got->key_pem);  // a new key pair
  EXPECT_EQ(keeper.identity().not_after, now_ + absl::Hours(30));
}

}  // namespace
}  // namespace cohort::client
