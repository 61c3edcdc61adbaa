#ifndef COHORT_CLIENT_AGENT_DEVICE_IDENTITY_H_
#define COHORT_CLIENT_AGENT_DEVICE_IDENTITY_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/transport/transport.h"
#include "cohort/v1/coordinator.pb.h"

namespace cohort::client {

// An enrolled device's key and certificate (coordinator.proto, service
// Enrollment). The state directory keeps them in one file,
// <state_dir>/identity.pem (the key's PEM, then the certificate's; mode
// 0600, written atomically, so a crash never pairs a key with another key's
// certificate), and derives device.key and device.crt from it for TLS.
struct DeviceIdentity {
  std::string key_pem;
  std::string certificate_pem;
  absl::Time not_before;
  absl::Time not_after;
};

std::string IdentityPath(const std::string& state_dir);
// What tls.key_path and tls.cert_path point at when the agent enrolls.
std::string DeviceKeyPath(const std::string& state_dir);
std::string DeviceCertificatePath(const std::string& state_dir);

// The identity in `state_dir`, checked: the key matches the certificate,
// which names `device_id`, was issued by the CA in `ca_pem` and has not
// expired at `now`. nullopt when there is none, or when the file fails a
// check: it is then moved aside (quarantined, named in the log) and the
// device enrolls again. Rewrites device.key and device.crt from it.
// UNAVAILABLE, keeping the file, when `now` is before the certificate's
// validity (a device clock that is not set yet); the errors of reading the
// file (permissions, I/O), keeping it; INTERNAL when the derived files
// cannot be written.
absl::StatusOr<std::optional<DeviceIdentity>> LoadIdentity(
    const std::string& state_dir, const std::string& ca_pem,
    const std::string& device_id, absl::Time now);

// `key_pem` with the certificate the coordinator answered, checked as
// LoadIdentity checks a stored one (validity aside: a device clock that
// disagrees is logged, and the certificate kept, since the token is
// spent); then written to `state_dir`. UNAUTHENTICATED when the answer
// fails a check (not from our CA, another device, another key); INTERNAL
// when it cannot be written.
absl::StatusOr<DeviceIdentity> InstallIdentity(
    const std::string& state_dir, const std::string& key_pem,
    const cohort::v1::DeviceCertificate& answer, const std::string& ca_pem,
    const std::string& device_id, absl::Time now);

// Whether to renew now: less than `renew_before` of validity left, or,
// with `renew_before` zero, less than a third of the certificate's
// lifetime.
bool RenewalDue(const DeviceIdentity& identity, absl::Duration renew_before,
                absl::Time now);

// Asks the coordinator for a certificate: Enroll with a token, or
// RenewCertificate with the current one. Gets the CSR.
using CertificateRequest =
    std::function<absl::StatusOr<cohort::v1::DeviceCertificate>(
        const std::string& csr_pem)>;

// A new EC P-256 key pair made here (the key never leaves the device), a
// CSR for `device_id`, `request`'s answer checked and installed. The
// request's errors; InstallIdentity's.
absl::StatusOr<DeviceIdentity> ObtainIdentity(
    const std::string& state_dir, const std::string& ca_pem,
    const std::string& device_id, const CertificateRequest& request,
    absl::Time now);

// Keeps an enrolled device's certificate fresh. The agent asks it before
// every check-in; when renewal is due it makes a new key pair, calls
// RenewCertificate through the agent's transport (authenticated by the
// current certificate), installs the answer and has the transport read the
// new files. A failure keeps the current certificate and is tried again at
// the next check-in; once the certificate has expired the coordinator
// refuses the device, which then needs a new token. At most one renewal
// per kMinRenewalInterval, however the margin is set. Not thread-safe: the
// agent loop uses it.
class IdentityKeeper {
 public:
  static constexpr absl::Duration kMinRenewalInterval = absl::Hours(1);

  IdentityKeeper(DeviceIdentity identity, std::string state_dir,
                 std::string ca_pem, std::string device_id,
                 absl::Duration renew_before);

  // OK when renewal is not due or succeeded; the error otherwise. A
  // renewed certificate whose reload failed is reloaded at the next call.
  absl::Status MaybeRenew(CoordinatorTransport& transport, absl::Time now);

  const DeviceIdentity& identity() const { return identity_; }

 private:
  DeviceIdentity identity_;
  const std::string state_dir_;
  const std::string ca_pem_;
  const std::string device_id_;
  const absl::Duration renew_before_;
  absl::Time last_renewal_ = absl::InfinitePast();
  bool reload_pending_ = false;

  absl::Status Reload(CoordinatorTransport& transport);
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_DEVICE_IDENTITY_H_
