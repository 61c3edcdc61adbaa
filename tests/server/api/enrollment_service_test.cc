// The enrollment service on a real store and a test fleet CA, with a fake
// clock so that a token can expire.

#include "server/api/enrollment_service.h"

#include <memory>
#include <string>

#include "common/base/files.h"
#include "common/crypto/x509.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_tree.h"

namespace cohort::server {
namespace {

using ::testing::HasSubstr;

class EnrollmentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("enrollment_service");
    auto ca = crypto::MakeSelfSignedCaForTesting(
        "Fleet CA", clock_.Now() - absl::Hours(1), absl::Hours(24 * 365));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_pem_ = ca->cert_pem;
    ASSERT_TRUE(base::WriteFileAtomically(dir_ + "/ca.crt", ca->cert_pem).ok());
    ASSERT_TRUE(
        base::WriteFileAtomically(dir_ + "/ca.key", ca->key_pem, 0600).ok());
    auto fleet = FleetCa::Load(dir_ + "/ca.crt", dir_ + "/ca.key",
                               absl::Hours(24 * 30));
    ASSERT_TRUE(fleet.ok()) << fleet.status();
    fleet_ = *std::move(fleet);
    auto store = DirectoryStore::Open(dir_ + "/store");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    service_ = std::make_unique<EnrollmentService>(fleet_.get(), store_.get(),
                                                   &clock_);
  }

  // A token for `device` made now, valid for `ttl`; returns the token.
  std::string Token(const std::string& device, absl::Duration ttl) {
    absl::StatusOr<std::string> token = NewEnrollmentToken();
    EXPECT_TRUE(token.ok()) << token.status();
    EnrollmentTokenRecord record;
    record.token_sha256 = EnrollmentTokenHash(*token).value_or("");
    record.device_id = device;
    record.created_unix_ms = absl::ToUnixMillis(clock_.Now());
    record.expires_unix_ms = absl::ToUnixMillis(clock_.Now() + ttl);
    record.created_by = "operator:test";
    EXPECT_TRUE(store_->AddEnrollmentToken(record).ok());
    return *token;
  }

  grpc::Status Enroll(const std::string& token, const std::string& csr_pem,
                      cohort::v1::DeviceCertificate* answer) {
    cohort::v1::EnrollRequest request;
    request.set_token(token);
    request.set_csr_pem(csr_pem);
    grpc::ServerContext context;
    return service_->Enroll(&context, &request, answer);
  }

  static std::string Csr(const std::string& device) {
    auto key = crypto::GenerateDeviceKeyPem();
    EXPECT_TRUE(key.ok()) << key.status();
    return crypto::MakeCsrPem(*key, device).value_or("");
  }

  std::string dir_;
  testing::FakeClock clock_;
  std::string ca_pem_;
  std::unique_ptr<FleetCa> fleet_;
  std::unique_ptr<DirectoryStore> store_;
  std::unique_ptr<EnrollmentService> service_;
};

TEST_F(EnrollmentServiceTest, ATokenBuysOneCertificateForItsDevice) {
  const std::string token = Token("sensor-1", absl::Hours(1));
  cohort::v1::DeviceCertificate answer;
  grpc::Status enrolled = Enroll(token, Csr("sensor-1"), &answer);
  ASSERT_TRUE(enrolled.ok()) << enrolled.error_message();
  EXPECT_EQ(answer.device_id(), "sensor-1");
  EXPECT_EQ(answer.ca_certificate_pem(), ca_pem_);
  EXPECT_TRUE(crypto::VerifyIssuedBy(answer.certificate_pem(), ca_pem_,
                                     clock_.Now())
                  .ok());
  absl::StatusOr<crypto::CertificateInfo> info =
      crypto::ReadCertificatePem(answer.certificate_pem());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "sensor-1");
  EXPECT_EQ(info->not_after - info->not_before, absl::Hours(24 * 30));
  EXPECT_EQ(absl::ToUnixMillis(info->not_after), answer.not_after_unix_ms());

  grpc::Status again = Enroll(token, Csr("sensor-1"), &answer);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(again.error_message(), HasSubstr("already used"));
}

TEST_F(EnrollmentServiceTest, AnExpiredTokenIsRefused) {
  const std::string token = Token("sensor-2", absl::Hours(1));
  clock_.Advance(absl::Hours(1));
  cohort::v1::DeviceCertificate answer;
  grpc::Status expired = Enroll(token, Csr("sensor-2"), &answer);
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(expired.error_message(), HasSubstr("expired"));
}

TEST_F(EnrollmentServiceTest, ABadCsrOrAnotherDeviceSpendsNoToken) {
  const std::string token = Token("sensor-3", absl::Hours(1));
  cohort::v1::DeviceCertificate answer;
  EXPECT_EQ(Enroll(token, "-----BEGIN CERTIFICATE REQUEST-----\ngarbage\n",
                   &answer)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Enroll(token, Csr("sensor-4"), &answer).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Enroll(token, std::string(20000, 'x'), &answer).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Still good for its own device.
  EXPECT_TRUE(Enroll(token, Csr("sensor-3"), &answer).ok());
}

TEST_F(EnrollmentServiceTest, UnknownAndMalformedTokensAreUnauthenticated) {
  cohort::v1::DeviceCertificate answer;
  grpc::Status unknown = Enroll(std::string(64, 'b'), Csr("x"), &answer);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(unknown.error_message(), HasSubstr("unknown"));
  EXPECT_EQ(Enroll("", Csr("x"), &answer).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Enroll(std::string(64, 'z'), Csr("x"), &answer).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(FleetCaTest, AKeyThatIsNotTheCasIsRefusedAtStart) {
  const std::string dir = testing::FreshTestDir("fleet_ca");
  auto ca = crypto::MakeSelfSignedCaForTesting("CA", absl::Now(),
                                               absl::Hours(24));
  auto other = crypto::MakeSelfSignedCaForTesting("Other", absl::Now(),
                                                  absl::Hours(24));
  ASSERT_TRUE(ca.ok() && other.ok());
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/ca.crt", ca->cert_pem).ok());
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/other.key", other->key_pem).ok());
  absl::Status refused =
      FleetCa::Load(dir + "/ca.crt", dir + "/other.key", absl::Hours(24))
          .status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("enrollment.ca_key_path"));
  EXPECT_EQ(FleetCa::Load(dir + "/ca.crt", dir + "/missing.key",
                          absl::Hours(24))
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace cohort::server
