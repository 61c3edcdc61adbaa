#ifndef COHORT_SERVER_ENROLLMENT_FLEET_CA_H_
#define COHORT_SERVER_ENROLLMENT_FLEET_CA_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/coordinator.pb.h"

namespace cohort::server {

// The fleet CA: the certificate devices are issued under (the server's
// tls.ca_cert_path, so the device port trusts them) and its key, which
// only the coordinator holds. Issues device certificates for enrollment
// and renewal (common/crypto/x509.h). Immutable after Load; thread-safe.
class FleetCa {
 public:
  // How far before `now` a certificate's validity starts, so a device
  // whose clock runs a little behind accepts it at once.
  static constexpr absl::Duration kClockSkew = absl::Minutes(5);

  // Reads the CA certificate and its key (PEM). FAILED_PRECONDITION naming
  // the field ("enrollment.ca_key_path: ...", "tls.ca_cert_path: ...") when
  // a file cannot be read, is not PEM of the right kind, the key does not
  // match the certificate, or the certificate is not a CA.
  // `reserved`: names no device may have (the admin port's
  // allowed_subjects), because the CA also signs operators' certificates.
  static absl::StatusOr<std::unique_ptr<FleetCa>> Load(
      const std::string& ca_cert_path, const std::string& ca_key_path,
      absl::Duration validity, std::vector<std::string> reserved = {});

  // OK if a device may be called `device_id`: crypto::ValidateDeviceId's
  // rule (INVALID_ARGUMENT), and not a reserved name (PERMISSION_DENIED).
  // The one check for enrollment tokens and certificates.
  absl::Status CheckDeviceName(const std::string& device_id) const;

  // A certificate for `device_id` on the public key of `csr_pem`, valid
  // from now - kClockSkew for the configured validity. INVALID_ARGUMENT for
  // a malformed CSR or device id; PERMISSION_DENIED when the CSR names
  // another device or `device_id` is reserved (an operator's name: a device
  // certificate for it would open the admin port); INTERNAL if OpenSSL
  // fails.
  absl::StatusOr<cohort::v1::DeviceCertificate> Issue(
      const std::string& csr_pem, const std::string& device_id,
      absl::Time now) const;

  absl::Duration validity() const { return validity_; }

 private:
  FleetCa(std::string cert_pem, std::string key_pem, absl::Duration validity,
          std::vector<std::string> reserved)
      : cert_pem_(std::move(cert_pem)),
        key_pem_(std::move(key_pem)),
        validity_(validity),
        reserved_(reserved.begin(), reserved.end()) {}

  const std::string cert_pem_;
  const std::string key_pem_;
  const absl::Duration validity_;
  const std::set<std::string> reserved_;
};

// FAILED_PRECONDITION: what renewal and token creation answer on a
// coordinator without enrollment.listen_address.
absl::Status NotEnrollingError();

// Enrollment tokens: 32 random bytes as 64 lower-case hex characters. Only
// their SHA-256 is stored.
inline constexpr size_t kEnrollmentTokenHexLength = 64;

// A new token. INTERNAL if the random generator fails.
absl::StatusOr<std::string> NewEnrollmentToken();

// The stored form of `token`: lower-case hex SHA-256. INVALID_ARGUMENT
// unless `token` is 64 hex characters (any case; whitespace around it, as
// in a token file, is trimmed).
absl::StatusOr<std::string> EnrollmentTokenHash(absl::string_view token);

}  // namespace cohort::server

#endif  // COHORT_SERVER_ENROLLMENT_FLEET_CA_H_
