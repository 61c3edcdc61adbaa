#include "common/crypto/x509.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace cohort::crypto {
namespace {

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
constexpr absl::StatusCode kUnauthenticated =
    absl::StatusCode::kUnauthenticated;
constexpr absl::StatusCode kFailedPrecondition =
    absl::StatusCode::kFailedPrecondition;

constexpr absl::Duration kDay = absl::Hours(24);
constexpr char kCsrLabel[] = "CERTIFICATE REQUEST";
constexpr char kCaName[] = "Cohort Test Fleet CA";

// 2026-01-01T00:00:00Z.
constexpr absl::Time kNotBefore = absl::FromUnixSeconds(1767225600);
// 9999-12-31T23:59:59Z, the last second X.509 can encode.
constexpr absl::Time kLatestX509Time = absl::FromUnixSeconds(253402300799);

// Made with `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:...`:
// each verifies under `openssl req -verify`, so only our policy rejects it.
constexpr char kP384Csr[] = R"(-----BEGIN CERTIFICATE REQUEST-----
MIIBCDCBjwIBADAQMQ4wDAYDVQQDDAVkZXYtMTB2MBAGByqGSM49AgEGBSuBBAAi
A2IABOHI5NO8QZNhybQ/b64P3FAcG6xNkmMitNwTaw6HF9P+D9odaRwE5tXel7pb
Ksgg108QJy5fbvqxARrlrWQBEjBwB4WnsuqhWJnk6n1yzrV7ncp2mzJKTFlFJ/KA
/YM4sKAAMAoGCCqGSM49BAMCA2gAMGUCMQC5eqMQOa6pyZx8iiDF1mkJdCT+FioH
rian9Og4LLUFgvB1s+GnZ+4SqNIun5+4fSsCMA2nj/jLrpl7cmiV6pvX/5PO1xBU
Ri8Nxqe/4rAygIG7JEkpI+qRE026QWwTSnKBkQ==
-----END CERTIFICATE REQUEST-----
)";
// secp256k1: the same size as P-256, a different curve.
constexpr char kSecp256k1Csr[] = R"(-----BEGIN CERTIFICATE REQUEST-----
MIHGMG8CAQAwEDEOMAwGA1UEAwwFZGV2LTEwVjAQBgcqhkjOPQIBBgUrgQQACgNC
AASes1VBh8NV3FXguojAWyDQgWsbN44irhQ6OkB5YnBtxNdpohzYwDzKIn0HZ994
yF0g7jNxGC12PMNxcSmIPg9IoAAwCgYIKoZIzj0EAwIDRwAwRAIgRpZP2dWcy6HH
/PXZ1OgmeKwMxyh9Iko72XfZzHwXHH8CIDCK7H3K5+shKRAYJKzGGIHMfmWJatnl
3+Wo7X6Q8LdU
-----END CERTIFICATE REQUEST-----
)";
// P-256, subject CN=dev-1, CN=dev-2.
constexpr char kTwoCommonNamesCsr[] = R"(-----BEGIN CERTIFICATE REQUEST-----
MIHaMIGCAgEAMCAxDjAMBgNVBAMMBWRldi0xMQ4wDAYDVQQDDAVkZXYtMjBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABFMen+mGzpWYJAbKy8al+jyS6D3HvOlljuCi
4aYozxZ8KOGaPmFMbFxjyyRgiJyg/aqYRYXz8Nx9trpBZn1192mgADAKBggqhkjO
PQQDAgNHADBEAiBZgLkTS8dXFEz3tMDEtkcKRFAa3CuRhnIUnoV85ISYNQIgWT9f
CguV9fU7thfQZ52plBfsY0cZigX2fClC5/vQyTc=
-----END CERTIFICATE REQUEST-----
)";
// P-256, subject O=Cohort (no common name).
constexpr char kNoCommonNameCsr[] = R"(-----BEGIN CERTIFICATE REQUEST-----
MIHLMHMCAQAwETEPMA0GA1UECgwGQ29ob3J0MFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEqGvnderSMHVe3+tec+SYj/VYtNwi+mGvSMHXGscD3odn4ieqjnbWs/sV
epmiJT7x/K9VyWki+sp+0xYdwqJnFqAAMAoGCCqGSM49BAMCA0gAMEUCIGEKy38b
BQKIqwNpOhKojXs0nrKJuU8HDLTWTQ+Uz7yYAiEA80/eOu/KWzsA0GT3FHf4IN8D
I+3bLu5OAJc/GnhvciY=
-----END CERTIFICATE REQUEST-----
)";
// P-256, subject CN=dev-7, O=Evil Corp: valid, but only the CN may reach
// the certificate.
constexpr char kExtraSubjectFieldsCsr[] = R"(-----BEGIN CERTIFICATE REQUEST-----
MIHeMIGGAgEAMCQxDjAMBgNVBAMMBWRldi03MRIwEAYDVQQKDAlFdmlsIENvcnAw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARw3fXmJkHDtLQ3cQn+PYFxoXXwiH/P
vnfkNh/mYt0MUNj+GoeXpIakMGDz3s9d3owLP0UTHyNgJkfzFiX9vieqoAAwCgYI
KoZIzj0EAwIDRwAwRAIgJedvQ/KO0BKX6FjTQn7qndC6kC9ZOslEUvRNwU6g+FoC
IBXNs3dLi2V0mHSUNwGIZJuGiPFDJOyy6tfMTiSzC64b
-----END CERTIFICATE REQUEST-----
)";
// A P-256 key encrypted with passphrase "pw" (openssl genpkey -aes-256-cbc).
constexpr char kEncryptedKey[] = R"(-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiAqoCvofYFAAICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEOinJq0JZrqsMmWIyWjvUwUEgZCf
B2eaj3u0zJROiRbqgxfZ4kJLVTHMGSHTn59OiuMvIKKDNY3jFlOkkFXhMIBUo0uV
jYJk/kASh0nr5vp+oMOKLIDXz3KBU6vNQFvVqJYMsppLWK07NmKqfzgrXyxSCdYG
TTXIH9bTy+fPeK9Ahxc3EYGp6kV2oQcuRnNNcpU6cfjfrJerD3O6VIJjuZwVdbE=
-----END ENCRYPTED PRIVATE KEY-----
)";

// A CA valid from a day before kNotBefore for ten years.
PemCertificateAndKey MakeCa(const std::string& common_name,
                            TestCaKeyType key_type = TestCaKeyType::kEcP256) {
  return MakeSelfSignedCaForTesting(common_name, kNotBefore - kDay, 3650 * kDay,
                                    key_type)
      .value();
}

struct Device {
  std::string key_pem;
  std::string csr_pem;
};

Device MakeDevice(const std::string& device_id) {
  std::string key_pem = GenerateDeviceKeyPem().value();
  std::string csr_pem = MakeCsrPem(key_pem, device_id).value();
  return {key_pem, csr_pem};
}

IssueOptions Options(const std::string& device_id) {
  IssueOptions options;
  options.device_id = device_id;
  options.not_before = kNotBefore;
  options.validity = 30 * kDay;
  return options;
}

std::string Issue(const Device& device, const PemCertificateAndKey& ca,
                  const std::string& device_id) {
  return IssueDeviceCertificatePem(device.csr_pem, ca.cert_pem, ca.key_pem,
                                   Options(device_id))
      .value();
}

// The DER inside the first PEM block.
std::string PemToDer(const std::string& pem) {
  const size_t body = pem.find('\n');
  const size_t end = pem.find("-----END");
  if (body == std::string::npos || end == std::string::npos || end < body) {
    ADD_FAILURE() << "not PEM: " << pem;
    return "";
  }
  std::string base64;
  for (size_t i = body + 1; i < end; ++i) {
    if (pem[i] != '\n' && pem[i] != '\r') base64.push_back(pem[i]);
  }
  std::string der;
  EXPECT_TRUE(absl::Base64Unescape(base64, &der));
  return der;
}

std::string DerToPem(const std::string& der, const std::string& label) {
  const std::string base64 = absl::Base64Escape(der);
  std::string pem = absl::StrCat("-----BEGIN ", label, "-----\n");
  for (size_t i = 0; i < base64.size(); i += 64) {
    absl::StrAppend(&pem, base64.substr(i, 64), "\n");
  }
  absl::StrAppend(&pem, "-----END ", label, "-----\n");
  return pem;
}

TEST(X509Test, GeneratedKeyAndCsrRoundTrip) {
  absl::StatusOr<std::string> key = GenerateDeviceKeyPem();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(absl::StartsWith(*key, "-----BEGIN PRIVATE KEY-----\n"));
  absl::StatusOr<std::string> other = GenerateDeviceKeyPem();
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(*key, *other);
  const std::vector<std::string> ids = {"dev-1", "A.b_c-9", "0",
                                        std::string(kMaxDeviceIdLength, 'z')};
  for (const std::string& id : ids) {
    absl::StatusOr<std::string> csr = MakeCsrPem(*key, id);
    ASSERT_TRUE(csr.ok()) << id << ": " << csr.status();
    EXPECT_TRUE(
        absl::StartsWith(*csr, "-----BEGIN CERTIFICATE REQUEST-----\n"));
    absl::StatusOr<CsrInfo> info = VerifyCsrPem(*csr);
    ASSERT_TRUE(info.ok()) << id << ": " << info.status();
    EXPECT_EQ(info->common_name, id);
  }
}

TEST(X509Test, MakeCsrPemRefusesBadDeviceIds) {
  const std::string key = GenerateDeviceKeyPem().value();
  const std::vector<std::string> bad = {
      "",
      std::string(kMaxDeviceIdLength + 1, 'a'),
      "dev 1",
      "dev/1",
      "../etc",
      "dev:1",
      "dev\n1",
      "d\xC3\xA9v",  // é in UTF-8
      std::string("dev\0x", 5),
      "CN=dev,O=x",
  };
  for (const std::string& id : bad) {
    absl::StatusOr<std::string> csr = MakeCsrPem(key, id);
    EXPECT_EQ(csr.status().code(), kInvalid) << absl::CHexEscape(id);
  }
}

TEST(X509Test, MakeCsrPemRefusesUnusableKeys) {
  EXPECT_EQ(MakeCsrPem("", "dev-1").status().code(), kInvalid);
  EXPECT_EQ(MakeCsrPem("not a key", "dev-1").status().code(), kInvalid);
  // Refused without prompting for a passphrase (a prompt would hang here).
  EXPECT_EQ(MakeCsrPem(kEncryptedKey, "dev-1").status().code(), kInvalid);
  const PemCertificateAndKey rsa = MakeCa("rsa", TestCaKeyType::kRsa2048);
  const absl::Status rsa_status = MakeCsrPem(rsa.key_pem, "dev-1").status();
  EXPECT_EQ(rsa_status.code(), kInvalid);
  EXPECT_TRUE(absl::StrContains(rsa_status.message(), "P-256 or Ed25519"))
      << rsa_status;
  // A certificate is not a private key.
  EXPECT_EQ(MakeCsrPem(rsa.cert_pem, "dev-1").status().code(), kInvalid);
}

TEST(X509Test, Ed25519DeviceKeyEnrolls) {
  const std::string ed_key = MakeCa("unused", TestCaKeyType::kEd25519).key_pem;
  absl::StatusOr<std::string> csr = MakeCsrPem(ed_key, "dev-ed");
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_EQ(VerifyCsrPem(*csr).value().common_name, "dev-ed");
  const PemCertificateAndKey ca = MakeCa(kCaName);
  absl::StatusOr<std::string> cert = IssueDeviceCertificatePem(
      *csr, ca.cert_pem, ca.key_pem, Options("dev-ed"));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_TRUE(VerifyIssuedBy(*cert, ca.cert_pem, kNotBefore + kDay).ok());
  EXPECT_TRUE(KeyMatchesCertificate(ed_key, *cert).ok());
}

TEST(X509Test, VerifyCsrPemRejectsRenamedSubject) {
  const Device device = MakeDevice("dev-1");
  std::string der = PemToDer(device.csr_pem);
  // Control: re-encoding the untouched DER still verifies.
  ASSERT_TRUE(VerifyCsrPem(DerToPem(der, kCsrLabel)).ok());
  const size_t at = der.find("dev-1");
  ASSERT_NE(at, std::string::npos);
  der[at + 4] = '2';
  const absl::Status status = VerifyCsrPem(DerToPem(der, kCsrLabel)).status();
  EXPECT_EQ(status.code(), kInvalid);
  EXPECT_TRUE(absl::StrContains(status.message(), "signature")) << status;
}

// Whatever single bit of the DER changes -- the signed request, the
// algorithm or the signature -- the CSR is refused, and nothing crashes.
TEST(X509Test, VerifyCsrPemRejectsEverySingleBitFlip) {
  const Device device = MakeDevice("dev-1");
  const std::string der = PemToDer(device.csr_pem);
  ASSERT_GT(der.size(), 100u);
  for (size_t i = 0; i < der.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = der;
      tampered[i] = static_cast<char>(tampered[i] ^ (1 << bit));
      EXPECT_EQ(VerifyCsrPem(DerToPem(tampered, kCsrLabel)).status().code(),
                kInvalid)
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST(X509Test, VerifyCsrPemRejectsGarbageAndTruncation) {
  const Device device = MakeDevice("dev-1");
  const std::vector<std::string> garbage = {
      "",
      "garbage",
      std::string(100, '\0'),
      "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n"
      "-----END CERTIFICATE REQUEST-----\n",
      "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
      "-----END CERTIFICATE REQUEST-----\n",
      device.key_pem,
      MakeCa(kCaName).cert_pem,
  };
  for (const std::string& input : garbage) {
    EXPECT_EQ(VerifyCsrPem(input).status().code(), kInvalid)
        << absl::CHexEscape(input);
  }
  // Every cut before the END line is complete.
  const size_t end = device.csr_pem.find("-----END");
  ASSERT_NE(end, std::string::npos);
  for (size_t n = 0; n < end + 8; ++n) {
    EXPECT_EQ(VerifyCsrPem(device.csr_pem.substr(0, n)).status().code(),
              kInvalid)
        << n;
  }
}

TEST(X509Test, VerifyCsrPemEnforcesSizeLimit) {
  const Device device = MakeDevice("dev-1");
  ASSERT_LT(device.csr_pem.size(), kMaxCsrPemSize);
  // Trailing blank lines do not change the CSR, so only the size decides.
  const std::string at_limit =
      device.csr_pem +
      std::string(kMaxCsrPemSize - device.csr_pem.size(), '\n');
  EXPECT_TRUE(VerifyCsrPem(at_limit).ok());
  const absl::Status oversized = VerifyCsrPem(at_limit + "\n").status();
  EXPECT_EQ(oversized.code(), kInvalid);
  EXPECT_TRUE(absl::StrContains(oversized.message(), "too large")) << oversized;
}

TEST(X509Test, VerifyCsrPemRejectsOtherCurvesAndAmbiguousSubjects) {
  for (const char* csr :
       {kP384Csr, kSecp256k1Csr, kTwoCommonNamesCsr, kNoCommonNameCsr}) {
    EXPECT_EQ(VerifyCsrPem(csr).status().code(), kInvalid) << csr;
  }
  // Control: a P-256 CSR from the same tool is accepted.
  absl::StatusOr<CsrInfo> info = VerifyCsrPem(kExtraSubjectFieldsCsr);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "dev-7");
}

TEST(X509Test, IssuedCertificateVerifiesOnlyWithinValidity) {
  const PemCertificateAndKey ca = MakeCa(kCaName);
  const std::string cert = Issue(MakeDevice("dev-1"), ca, "dev-1");
  const absl::Time not_after = kNotBefore + 30 * kDay;
  for (absl::Time at :
       {kNotBefore, kNotBefore + 15 * kDay, not_after - absl::Seconds(1)}) {
    const absl::Status status = VerifyIssuedBy(cert, ca.cert_pem, at);
    EXPECT_TRUE(status.ok()) << at << ": " << status;
  }
  const absl::Status expired =
      VerifyIssuedBy(cert, ca.cert_pem, not_after + absl::Seconds(1));
  EXPECT_EQ(expired.code(), kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(expired.message(), "expired")) << expired;
  const absl::Status early =
      VerifyIssuedBy(cert, ca.cert_pem, kNotBefore - absl::Seconds(1));
  EXPECT_EQ(early.code(), kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(early.message(), "not yet valid")) << early;
  // InfiniteFuture: the chain without the times.
  EXPECT_TRUE(VerifyIssuedBy(cert, ca.cert_pem, absl::InfiniteFuture()).ok());
  EXPECT_EQ(VerifyIssuedBy(cert, MakeCa("Other CA").cert_pem,
                           absl::InfiniteFuture())
                .code(),
            kUnauthenticated);
}

TEST(X509Test, VerifyIssuedByRejectsOtherCas) {
  const PemCertificateAndKey ca = MakeCa(kCaName);
  const std::string cert = Issue(MakeDevice("dev-1"), ca, "dev-1");
  const absl::Time at = kNotBefore + kDay;
  ASSERT_TRUE(VerifyIssuedBy(cert, ca.cert_pem, at).ok());
  // Same name, different key: the name alone must not be trusted.
  const PemCertificateAndKey impostor = MakeCa(kCaName);
  EXPECT_EQ(VerifyIssuedBy(cert, impostor.cert_pem, at).code(),
            kUnauthenticated);
  EXPECT_EQ(VerifyIssuedBy(cert, MakeCa("Other CA").cert_pem, at).code(),
            kUnauthenticated);
  // A device certificate is no trust anchor, for another device or itself.
  const std::string sibling = Issue(MakeDevice("dev-2"), ca, "dev-2");
  EXPECT_EQ(VerifyIssuedBy(sibling, cert, at).code(), kUnauthenticated);
  EXPECT_EQ(VerifyIssuedBy(cert, cert, at).code(), kUnauthenticated);
  EXPECT_EQ(VerifyIssuedBy("garbage", ca.cert_pem, at).code(), kInvalid);
  EXPECT_EQ(VerifyIssuedBy(cert, "garbage", at).code(), kInvalid);
}

TEST(X509Test, IssueRefusesCommonNameOtherThanDeviceId) {
  const PemCertificateAndKey ca = MakeCa(kCaName);
  const Device device = MakeDevice("dev-1");
  for (const std::string& granted : {"dev-2", "dev-10", "DEV-1", "dev-"}) {
    EXPECT_EQ(IssueDeviceCertificatePem(device.csr_pem, ca.cert_pem, ca.key_pem,
                                        Options(granted))
                  .status()
                  .code(),
              absl::StatusCode::kPermissionDenied)
        << granted;
  }
}

TEST(X509Test, IssueRefusesMismatchedOrNonCaIssuer) {
  const PemCertificateAndKey ca = MakeCa(kCaName);
  const PemCertificateAndKey other = MakeCa("Other CA");
  const Device device = MakeDevice("dev-1");
  const absl::Status mismatched =
      IssueDeviceCertificatePem(device.csr_pem, ca.cert_pem, other.key_pem,
                                Options("dev-1"))
          .status();
  EXPECT_EQ(mismatched.code(), kFailedPrecondition) << mismatched;
  // A matching certificate and key that are not a CA's.
  const std::string device_cert = Issue(device, ca, "dev-1");
  const Device second = MakeDevice("dev-2");
  const absl::Status not_ca =
      IssueDeviceCertificatePem(second.csr_pem, device_cert, device.key_pem,
                                Options("dev-2"))
          .status();
  EXPECT_EQ(not_ca.code(), kFailedPrecondition) << not_ca;
}

TEST(X509Test, IssueRefusesBadOptionsAndInputs) {
  const PemCertificateAndKey ca = MakeCa(kCaName);
  const Device device = MakeDevice("dev-1");
  std::vector<IssueOptions> bad;
  bad.push_back(Options("dev/1"));
  bad.push_back(Options(""));
  for (absl::Duration validity :
       {absl::ZeroDuration(), -kDay, absl::InfiniteDuration()}) {
    bad.push_back(Options("dev-1"));
    bad.back().validity = validity;
  }
  for (absl::Time not_before :
       {absl::InfinitePast(), absl::InfiniteFuture(), absl::FromUnixSeconds(-1),
        kLatestX509Time - kDay + absl::Seconds(1)}) {
    bad.push_back(Options("dev-1"));
    bad.back().not_before = not_before;
    bad.back().validity = kDay;
  }
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(IssueDeviceCertificatePem(device.csr_pem, ca.cert_pem, ca.key_pem,
                                        bad[i])
                  .status()
                  .code(),
              kInvalid)
        << i;
  }
  const IssueOptions good = Options("dev-1");
  EXPECT_EQ(IssueDeviceCertificatePem("garbage", ca.cert_pem, ca.key_pem, good)
                .status()
                .code(),
            kInvalid);
  EXPECT_EQ(
      IssueDeviceCertificatePem(device.csr_pem, "garbage", ca.key_pem, good)
          .status()
          .code(),
      kInvalid);
  EXPECT_EQ(
      IssueDeviceCertificatePem(device.csr_pem, ca.cert_pem, "garbage", good)
          .status()
          .code(),
      kInvalid);
  // Control: the same inputs with good options issue.
  EXPECT_TRUE(
      IssueDeviceCertificatePem(device.csr_pem, ca.cert_pem, ca.key_pem, good)
          .ok());
}

TEST(X509Test, ReadCertificatePemReturnsNamesAndTimesToTheSecond) {
  const PemCertificateAndKey ca = MakeCa(kCaName);
  const Device device = MakeDevice("dev-1");
  struct Case {
    absl::Time not_before;
    absl::Duration validity;
    absl::Time want_not_before;
    absl::Time want_not_after;
  };
  const Case cases[] = {
      // The sub-second part is dropped.
      {kNotBefore + absl::Milliseconds(700), 30 * kDay, kNotBefore,
       kNotBefore + 30 * kDay},
      // From UTCTime (before 2050) to GeneralizedTime.
      {absl::FromUnixSeconds(2524607999), absl::Seconds(2),
       absl::FromUnixSeconds(2524607999), absl::FromUnixSeconds(2524608001)},
      // Up to the last second X.509 can encode.
      {kLatestX509Time - kDay, kDay, kLatestX509Time - kDay, kLatestX509Time},
  };
  for (const Case& c : cases) {
    IssueOptions options = Options("dev-1");
    options.not_before = c.not_before;
    options.validity = c.validity;
    absl::StatusOr<std::string> cert = IssueDeviceCertificatePem(
        device.csr_pem, ca.cert_pem, ca.key_pem, options);
    ASSERT_TRUE(cert.ok()) << c.not_before << ": " << cert.status();
    absl::StatusOr<CertificateInfo> info = ReadCertificatePem(*cert);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->common_name, "dev-1");
    EXPECT_EQ(info->issuer_common_name, kCaName);
    EXPECT_EQ(info->not_before, c.want_not_before);
    EXPECT_EQ(info->not_after, c.want_not_after);
  }
  absl::StatusOr<CertificateInfo> ca_info = ReadCertificatePem(ca.cert_pem);
  ASSERT_TRUE(ca_info.ok()) << ca_info.status();
  EXPECT_EQ(ca_info->common_name, kCaName);
  EXPECT_EQ(ca_info->issuer_common_name, kCaName);
  EXPECT_EQ(ca_info->not_before, kNotBefore - kDay);
  EXPECT_EQ(ca_info->not_after, kNotBefore - kDay + 3650 * kDay);
}

TEST(X509Test, ReadCertificatePemRejectsGarbage) {
  const Device device = MakeDevice("dev-1");
  for (const std::string& input : {std::string(), std::string("garbage"),
                                   device.csr_pem, device.key_pem}) {
    EXPECT_EQ(ReadCertificatePem(input).status().code(), kInvalid) << input;
  }
}

TEST(X509Test, IssuedCertificateDropsOtherSubjectFields) {
  const PemCertificateAndKey ca = MakeCa(kCaName);
  absl::StatusOr<std::string> cert = IssueDeviceCertificatePem(
      kExtraSubjectFieldsCsr, ca.cert_pem, ca.key_pem, Options("dev-7"));
  ASSERT_TRUE(cert.ok()) << cert.status();
  ASSERT_NE(PemToDer(kExtraSubjectFieldsCsr).find("Evil Corp"),
            std::string::npos);
  EXPECT_EQ(PemToDer(*cert).find("Evil Corp"), std::string::npos);
  EXPECT_EQ(ReadCertificatePem(*cert).value().common_name, "dev-7");
  EXPECT_TRUE(VerifyIssuedBy(*cert, ca.cert_pem, kNotBefore + kDay).ok());
}

TEST(X509Test, IssuesUnderEcEd25519AndRsaCas) {
  const Device device = MakeDevice("dev-1");
  for (TestCaKeyType key_type :
       {TestCaKeyType::kEcP256, TestCaKeyType::kEd25519,
        TestCaKeyType::kRsa2048}) {
    const PemCertificateAndKey ca = MakeCa(kCaName, key_type);
    absl::StatusOr<std::string> cert = IssueDeviceCertificatePem(
        device.csr_pem, ca.cert_pem, ca.key_pem, Options("dev-1"));
    ASSERT_TRUE(cert.ok()) << static_cast<int>(key_type) << ": "
                           << cert.status();
    const absl::Status verified =
        VerifyIssuedBy(*cert, ca.cert_pem, kNotBefore + kDay);
    EXPECT_TRUE(verified.ok())
        << static_cast<int>(key_type) << ": " << verified;
    EXPECT_TRUE(KeyMatchesCertificate(device.key_pem, *cert).ok());
  }
}

TEST(X509Test, KeyMatchesCertificateTellsPairsApart) {
  const PemCertificateAndKey ca = MakeCa(kCaName);
  const Device device = MakeDevice("dev-1");
  const std::string cert = Issue(device, ca, "dev-1");
  EXPECT_TRUE(KeyMatchesCertificate(device.key_pem, cert).ok());
  EXPECT_TRUE(KeyMatchesCertificate(ca.key_pem, ca.cert_pem).ok());
  const std::string stranger = GenerateDeviceKeyPem().value();
  EXPECT_EQ(KeyMatchesCertificate(stranger, cert).code(), kFailedPrecondition);
  EXPECT_EQ(KeyMatchesCertificate(ca.key_pem, cert).code(),
            kFailedPrecondition);
  EXPECT_EQ(KeyMatchesCertificate(device.key_pem, ca.cert_pem).code(),
            kFailedPrecondition);
  EXPECT_EQ(KeyMatchesCertificate("garbage", cert).code(), kInvalid);
  EXPECT_EQ(KeyMatchesCertificate(kEncryptedKey, cert).code(), kInvalid);
  EXPECT_EQ(KeyMatchesCertificate(device.key_pem, "garbage").code(), kInvalid);
}

}  // namespace
}  // namespace cohort::crypto
