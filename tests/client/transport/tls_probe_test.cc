#include "client/transport/tls_probe.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;

class DeviceCertificateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One folder per process: ctest runs each test in its own process.
    pki_ = absl::StrCat(::testing::TempDir(), "/tls_probe_pki_", ::getpid());
    std::filesystem::remove_all(pki_);
    ASSERT_EQ(std::system(absl::StrCat(COHORT_SOURCE_DIR,
                                       "/deploy/pki/make-dev-pki.sh ", pki_,
                                       " 2 > /dev/null")
                              .c_str()),
              0);
  }
  static cohort::v1::TlsConfig Device(int i) {
    cohort::v1::TlsConfig tls;
    tls.set_ca_cert_path(pki_ + "/ca.crt");
    tls.set_cert_path(absl::StrCat(pki_, "/device-", i, ".crt"));
    tls.set_key_path(absl::StrCat(pki_, "/device-", i, ".key"));
    return tls;
  }
  // notBefore of the device certificate.
  static absl::Time NotBefore(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "r");
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    std::tm tm = {};
    ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm);
    X509_free(cert);
    return absl::FromTM(tm, absl::UTCTimeZone());
  }
  static std::string pki_;
};
std::string DeviceCertificateTest::pki_;

TEST_F(DeviceCertificateTest, ValidCertificateAndKeyPass) {
  EXPECT_TRUE(CheckDeviceCertificate(Device(0), absl::Now()).ok());
}

TEST_F(DeviceCertificateTest, ClockBehindTheCertificateIsNamedAsTheCause) {
  const auto tls = Device(0);
  const absl::Time now = NotBefore(tls.cert_path()) - absl::Minutes(10);
  absl::Status s = CheckDeviceCertificate(tls, now);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("10m behind"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("device clock"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(tls.cert_path()));
}

TEST_F(DeviceCertificateTest, KeyOfAnotherDeviceIsRefused) {
  auto tls = Device(0);
  tls.set_key_path(pki_ + "/device-1.key");
  absl::Status s = CheckDeviceCertificate(tls, absl::Now());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("does not hold the key"));
}

TEST_F(DeviceCertificateTest, NoCertificateConfiguredIsFine) {
  cohort::v1::TlsConfig tls;
  tls.set_ca_cert_path(pki_ + "/ca.crt");
  EXPECT_TRUE(CheckDeviceCertificate(tls, absl::Now()).ok());
}

TEST(ProbeTlsTest, NothingListeningIsUnavailableNotALocalMistake) {
  cohort::v1::TlsConfig tls;
  tls.set_ca_cert_path("/etc/ssl/certs/ca-certificates.crt");
  absl::Status s = ProbeTls("127.0.0.1:1", tls, "localhost", absl::Seconds(2));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

}  // namespace
}  // namespace cohort::client
