#include "client/agent/device_identity.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/agent/state_file.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/crypto/x509.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

constexpr char kCertificateBegin[] = "-----BEGIN CERTIFICATE-----";

// The checks of what an identity is, stored or received: a key of the
// certificate, which names this device and comes from our CA (validity
// times aside: whether it is valid now is TimeProblem's question).
absl::StatusOr<DeviceIdentity> Checked(std::string key_pem,
                                       std::string certificate_pem,
                                       const std::string& ca_pem,
                                       const std::string& device_id) {
  COHORT_RETURN_IF_ERROR(crypto::KeyMatchesCertificate(key_pem, certificate_pem));
  COHORT_ASSIGN_OR_RETURN(const crypto::CertificateInfo info,
                          crypto::ReadCertificatePem(certificate_pem));
  if (info.common_name != device_id) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the certificate names '", info.common_name, "', not ", device_id));
  }
  COHORT_RETURN_IF_ERROR(crypto::VerifyIssuedBy(certificate_pem, ca_pem,
                                                absl::InfiniteFuture()));
  return DeviceIdentity{std::move(key_pem), std::move(certificate_pem),
                        info.not_before, info.not_after};
}

// OK while `id` is valid at `now`; the reason otherwise.
absl::Status TimeProblem(const DeviceIdentity& id, absl::Time now) {
  if (now < id.not_before) {
    return absl::UnavailableError(absl::StrCat(
        "the device certificate is valid only from ", absl::FormatTime(id.not_before),
        "; the device clock says ", absl::FormatTime(now),
        " (is the clock set?)"));
  }
  if (now >= id.not_after) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the device certificate expired at ", absl::FormatTime(id.not_after)));
  }
  return absl::OkStatus();
}

absl::Status Write(const std::string& state_dir, const DeviceIdentity& id) {
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      IdentityPath(state_dir), id.key_pem + id.certificate_pem, 0600));
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(DeviceKeyPath(state_dir),
                                                   id.key_pem, 0600));
  return base::WriteFileAtomically(DeviceCertificatePath(state_dir),
                                   id.certificate_pem, 0644);
}

}  // namespace

std::string IdentityPath(const std::string& state_dir) {
  return state_dir + "/identity.pem";
}
std::string DeviceKeyPath(const std::string& state_dir) {
  return state_dir + "/device.key";
}
std::string DeviceCertificatePath(const std::string& state_dir) {
  return state_dir + "/device.crt";
}

absl::StatusOr<std::optional<DeviceIdentity>> LoadIdentity(
    const std::string& state_dir, const std::string& ca_pem,
    const std::string& device_id, absl::Time now) {
  const std::string path = IdentityPath(state_dir);
  absl::StatusOr<std::string> text =
      base::ReadFile(path, crypto::kMaxPemInputSize);
  if (absl::IsNotFound(text.status())) return std::nullopt;
  // A file that cannot be read now (permissions, I/O) is left alone.
  if (!text.ok()) return text.status();
  const size_t split = text->find(kCertificateBegin);
  absl::StatusOr<DeviceIdentity> identity =
      split == std::string::npos
          ? absl::DataLossError("no certificate in the file")
          : Checked(text->substr(0, split), text->substr(split), ca_pem,
                    device_id);
  // Expired is as unusable as damaged; a clock behind is the clock's fault,
  // and the file is kept for when it is right.
  if (identity.ok()) {
    const absl::Status time = TimeProblem(*identity, now);
    if (absl::IsUnavailable(time)) return time;
    if (!time.ok()) identity = time;
  }
  if (!identity.ok()) {
    QuarantineStateFile(path, "device identity", identity.status().message());
    return std::nullopt;
  }
  COHORT_RETURN_IF_ERROR(Write(state_dir, *identity));
  return *std::move(identity);
}

absl::StatusOr<DeviceIdentity> InstallIdentity(
    const std::string& state_dir, const std::string& key_pem,
    const cohort::v1::DeviceCertificate& answer, const std::string& ca_pem,
    const std::string& device_id, absl::Time now) {
  absl::StatusOr<DeviceIdentity> identity =
      Checked(key_pem, answer.certificate_pem(), ca_pem, device_id);
  if (!identity.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the coordinator's certificate is not usable: ",
        identity.status().message()));
  }
  // Kept even when the device clock disagrees: the token is spent, and the
  // certificate becomes usable once the clock is right.
  COHORT_RETURN_IF_ERROR(Write(state_dir, *identity));
  if (absl::Status time = TimeProblem(*identity, now); !time.ok()) {
    LOG(WARNING) << "kept the new certificate, but: " << time;
  }
  return identity;
}

bool RenewalDue(const DeviceIdentity& identity, absl::Duration renew_before,
                absl::Time now) {
  const absl::Duration margin =
      renew_before > absl::ZeroDuration()
          ? renew_before
          : (identity.not_after - identity.not_before) / 3;
  return now >= identity.not_after - margin;
}

absl::StatusOr<DeviceIdentity> ObtainIdentity(
    const std::string& state_dir, const std::string& ca_pem,
    const std::string& device_id, const CertificateRequest& request,
    absl::Time now) {
  COHORT_ASSIGN_OR_RETURN(const std::string key, crypto::GenerateDeviceKeyPem());
  COHORT_ASSIGN_OR_RETURN(const std::string csr,
                          crypto::MakeCsrPem(key, device_id));
  COHORT_ASSIGN_OR_RETURN(const cohort::v1::DeviceCertificate answer,
                          request(csr));
  return InstallIdentity(state_dir, key, answer, ca_pem, device_id, now);
}

IdentityKeeper::IdentityKeeper(DeviceIdentity identity, std::string state_dir,
                               std::string ca_pem, std::string device_id,
                               absl::Duration renew_before)
    : identity_(std::move(identity)),
      state_dir_(std::move(state_dir)),
      ca_pem_(std::move(ca_pem)),
      device_id_(std::move(device_id)),
      renew_before_(renew_before) {}

absl::Status IdentityKeeper::MaybeRenew(CoordinatorTransport& transport,
                                        absl::Time now) {
  if (reload_pending_) return Reload(transport);
  if (!RenewalDue(identity_, renew_before_, now) ||
      now < last_renewal_ + kMinRenewalInterval) {
    return absl::OkStatus();
  }
  COHORT_ASSIGN_OR_RETURN(
      DeviceIdentity renewed,
      ObtainIdentity(state_dir_, ca_pem_, device_id_,
                     [&transport](const std::string& csr) {
                       return transport.RenewCertificate(csr);
                     },
                     now));
  LOG(INFO) << "renewed the device certificate: valid until "
            << renewed.not_after << " (was " << identity_.not_after << ")";
  identity_ = std::move(renewed);
  last_renewal_ = now;
  reload_pending_ = true;
  return Reload(transport);
}

absl::Status IdentityKeeper::Reload(CoordinatorTransport& transport) {
  COHORT_RETURN_IF_ERROR(transport.ReloadIdentity());
  reload_pending_ = false;
  return absl::OkStatus();
}

}  // namespace cohort::client
