#include "server/enrollment/fleet_ca.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/crypto/hex.h"
#include "common/crypto/secure_random.h"
#include "common/crypto/sha256.h"
#include "common/crypto/x509.h"

namespace cohort::server {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    absl::string_view field) {
  absl::StatusOr<std::string> pem =
      base::ReadFile(path, crypto::kMaxPemInputSize);
  if (!pem.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, ": ", pem.status().message()));
  }
  return pem;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FleetCa>> FleetCa::Load(
    const std::string& ca_cert_path, const std::string& ca_key_path,
    absl::Duration validity, std::vector<std::string> reserved) {
  COHORT_ASSIGN_OR_RETURN(std::string cert,
                          ReadPem(ca_cert_path, "tls.ca_cert_path"));
  COHORT_ASSIGN_OR_RETURN(std::string key,
                          ReadPem(ca_key_path, "enrollment.ca_key_path"));
  if (absl::Status match = crypto::KeyMatchesCertificate(key, cert);
      !match.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "enrollment.ca_key_path: ", ca_key_path, " is not the key of the CA "
        "certificate ", ca_cert_path, " (", match.message(), ")"));
  }
  // Issuing once proves the pair can sign: a certificate that is not a CA
  // fails here rather than at the first device.
  auto ca = std::unique_ptr<FleetCa>(new FleetCa(
      std::move(cert), std::move(key), validity, std::move(reserved)));
  COHORT_ASSIGN_OR_RETURN(const std::string probe_key,
                          crypto::GenerateDeviceKeyPem());
  COHORT_ASSIGN_OR_RETURN(const std::string probe_csr,
                          crypto::MakeCsrPem(probe_key, "start-up-check"));
  if (absl::StatusOr<cohort::v1::DeviceCertificate> probe =
          ca->Issue(probe_csr, "start-up-check", absl::Now());
      !probe.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tls.ca_cert_path: ", ca_cert_path,
        " cannot issue device certificates: ", probe.status().message()));
  }
  return ca;
}

absl::StatusOr<cohort::v1::DeviceCertificate> FleetCa::Issue(
    const std::string& csr_pem, const std::string& device_id,
    absl::Time now) const {
  COHORT_RETURN_IF_ERROR(CheckDeviceName(device_id));
  crypto::IssueOptions options;
  options.device_id = device_id;
  options.not_before = now - kClockSkew;
  options.validity = validity_;
  COHORT_ASSIGN_OR_RETURN(
      std::string pem,
      crypto::IssueDeviceCertificatePem(csr_pem, cert_pem_, key_pem_, options));
  cohort::v1::DeviceCertificate out;
  out.set_device_id(device_id);
  out.set_certificate_pem(std::move(pem));
  out.set_ca_certificate_pem(cert_pem_);
  out.set_not_after_unix_ms(
      absl::ToUnixMillis(options.not_before + options.validity));
  return out;
}

absl::Status FleetCa::CheckDeviceName(const std::string& device_id) const {
  COHORT_RETURN_IF_ERROR(crypto::ValidateDeviceId(device_id));
  if (reserved_.contains(device_id)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "'", device_id, "' is an operator's name (admin.allowed_subjects); "
        "no device may have it"));
  }
  return absl::OkStatus();
}

absl::Status NotEnrollingError() {
  return absl::FailedPreconditionError(
      "this coordinator does not enroll devices (enrollment.listen_address "
      "is not set)");
}

absl::StatusOr<std::string> NewEnrollmentToken() {
  std::vector<uint8_t> bytes(kEnrollmentTokenHexLength / 2);
  crypto::OpenSslRandom random;
  COHORT_RETURN_IF_ERROR(random.Fill(absl::MakeSpan(bytes)));
  return crypto::BytesToHex(bytes);
}

absl::StatusOr<std::string> EnrollmentTokenHash(absl::string_view token) {
  token = absl::StripAsciiWhitespace(token);
  bool hex = token.size() == kEnrollmentTokenHexLength;
  for (char c : token) hex = hex && absl::ascii_isxdigit(c);
  if (!hex) {
    return absl::InvalidArgumentError(
        "an enrollment token is 64 hex characters");
  }
  return crypto::Sha256Hex(absl::AsciiStrToLower(token));
}

}  // namespace cohort::server
