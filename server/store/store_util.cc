#include "server/store/store_util.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace cohort::server {
namespace {

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '-';
}

absl::Status CheckReleaseText(absl::string_view where, absl::string_view name,
                              const std::string& text) {
  if (text.size() > kMaxReleaseTextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", name, " is ", text.size(),
                     " bytes, over the limit of ", kMaxReleaseTextBytes));
  }
  if (text.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", name, " contains a NUL byte"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateStoreName(absl::string_view name, absl::string_view what) {
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  }
  if (name.size() > kMaxStoreNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is ", name.size(),
                                                   " bytes, over the limit of ",
                                                   kMaxStoreNameLength));
  }
  bool ok = absl::ascii_isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) ok = ok && IsNameChar(c);
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", absl::CHexEscape(name),
        "\" must be [A-Za-z0-9._-] and start with a letter or digit"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCommit(const ModelVersionRecord& record) {
  absl::Status s = ValidateStoreName(record.task, "task name");
  if (!s.ok()) return s;
  if (record.parent < 0 || record.version <= record.parent) {
    return absl::InvalidArgumentError(
        absl::StrCat("task ", record.task, ": version ", record.version,
                     " must be greater than parent ", record.parent,
                     " and the parent must be >= 0"));
  }
  if (record.lease_epoch < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "task ", record.task, ": lease epoch ", record.lease_epoch, " < 0"));
  }
  if (record.architecture.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("architecture contains a NUL byte");
  }
  for (const auto& [name, value] : record.metrics) {
    if (name.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric name \"", absl::CHexEscape(name), "\" contains a NUL byte"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckReleasable(const ReleaseRecord& record,
                             std::optional<bool> held) {
  if (!held.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("task ", record.task, " has no version ", record.version));
  }
  if (*held) {
    return absl::FailedPreconditionError(
        absl::StrCat("task ", record.task, ": version ", record.version,
                     " is held by the gate and cannot be released"));
  }
  return absl::OkStatus();
}

absl::Status CheckCommitOrder(const ModelVersionRecord& record, int64_t current,
                              int64_t highest, bool taken) {
  if (record.parent != current) {
    return absl::FailedPreconditionError(
        absl::StrCat("task ", record.task, ": commit of version ",
                     record.version, " names parent ", record.parent,
                     " but the current version is ", current));
  }
  if (taken) {
    return absl::AlreadyExistsError(absl::StrCat(
        "task ", record.task, " already has a version ", record.version));
  }
  if (record.version <= highest) {
    return absl::FailedPreconditionError(absl::StrCat(
        "task ", record.task, ": version ", record.version,
        " is below held version ", highest, "; version numbers only grow"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRelease(const ReleaseRecord& record) {
  absl::Status s = ValidateStoreName(record.task, "task name");
  if (!s.ok()) return s;
  const std::string where =
      absl::StrCat("task ", record.task, " release ", record.release);
  if (record.release < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": release numbers start at 1"));
  }
  if (record.lease_epoch < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": lease epoch ", record.lease_epoch, " < 0"));
  }
  if (ReleaseKindName(record.kind) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": unknown kind ", static_cast<int>(record.kind)));
  }
  if (record.signed_manifest.empty() ||
      record.signed_manifest.size() > kMaxSignedManifestBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": signed manifest is ", record.signed_manifest.size(),
        " bytes, must be 1..", kMaxSignedManifestBytes));
  }
  COHORT_RETURN_IF_ERROR(CheckReleaseText(where, "reason", record.reason));
  return CheckReleaseText(where, "actor", record.actor);
}

const char* ReleaseKindName(ReleaseRecord::Kind kind) {
  switch (kind) {
    case ReleaseRecord::Kind::kPromote:
      return "promote";
    case ReleaseRecord::Kind::kRollback:
      return "rollback";
    case ReleaseRecord::Kind::kPin:
      return "pin";
  }
  return nullptr;
}

bool ParseReleaseKind(absl::string_view name, ReleaseRecord::Kind* kind) {
  for (ReleaseRecord::Kind k :
       {ReleaseRecord::Kind::kPromote, ReleaseRecord::Kind::kRollback,
        ReleaseRecord::Kind::kPin}) {
    if (name == ReleaseKindName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

absl::Status ValidateDeviceUpdate(absl::string_view device_id,
                                  int64_t check_ins, int64_t reports_accepted,
                                  int64_t reports_rejected) {
  absl::Status s = ValidateStoreName(device_id, "device id");
  if (!s.ok()) return s;
  if (check_ins < 0 || reports_accepted < 0 || reports_rejected < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device ", device_id,
        ": counter increments must be >= 0, got check_ins=", check_ins,
        " reports_accepted=", reports_accepted,
        " reports_rejected=", reports_rejected));
  }
  return absl::OkStatus();
}

absl::Status ValidateTokenHash(absl::string_view token_sha256) {
  bool ok = token_sha256.size() == kTokenSha256HexLength;
  for (char c : token_sha256) {
    ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("enrollment token hash of ", token_sha256.size(),
                     " bytes: must be ", kTokenSha256HexLength,
                     " lower-case hex characters (the SHA-256 of the token)"));
  }
  return absl::OkStatus();
}

std::string DescribeToken(absl::string_view token_sha256) {
  return absl::StrCat("enrollment token ", token_sha256.substr(0, 8));
}

absl::Status ValidateEnrollmentToken(const EnrollmentTokenRecord& record) {
  COHORT_RETURN_IF_ERROR(ValidateTokenHash(record.token_sha256));
  COHORT_RETURN_IF_ERROR(ValidateStoreName(record.device_id, "device id"));
  const std::string where = DescribeToken(record.token_sha256);
  COHORT_RETURN_IF_ERROR(
      CheckReleaseText(where, "created_by", record.created_by));
  if (record.expires_unix_ms <= record.created_unix_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expires at ", record.expires_unix_ms,
                     ", not after its creation at ", record.created_unix_ms));
  }
  if (record.used_unix_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": used_unix_ms ", record.used_unix_ms, " is negative"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTokenUse(absl::string_view token_sha256,
                              absl::string_view device_id,
                              int64_t now_unix_ms) {
  COHORT_RETURN_IF_ERROR(ValidateTokenHash(token_sha256));
  COHORT_RETURN_IF_ERROR(ValidateStoreName(device_id, "device id"));
  if (now_unix_ms <= 0) {
    // Stored as used_unix_ms, 0 would leave the token unused.
    return absl::InvalidArgumentError(absl::StrCat(DescribeToken(token_sha256),
                                                   ": use time ", now_unix_ms,
                                                   " must be > 0"));
  }
  return absl::OkStatus();
}

absl::Status UnknownTokenError(absl::string_view token_sha256) {
  return absl::NotFoundError(
      absl::StrCat("unknown ", DescribeToken(token_sha256)));
}

absl::Status CheckTokenUsable(const EnrollmentTokenRecord& token,
                              absl::string_view device_id,
                              int64_t now_unix_ms) {
  const std::string what = DescribeToken(token.token_sha256);
  if (token.used_unix_ms != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " was already used (at ", token.used_unix_ms, " ms)"));
  }
  if (now_unix_ms >= token.expires_unix_ms) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " expired (at ", token.expires_unix_ms, " ms)"));
  }
  if (device_id != token.device_id) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, " was not issued for device ", device_id));
  }
  return absl::OkStatus();
}

std::string FormatDouble(double value) {
  // std::to_chars without a precision writes the shortest text that reads
  // back to the same double, which is what makes metrics round-trip exactly.
  if (std::isnan(value)) return "nan";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return "nan";  // Cannot happen with 64 bytes.
  return std::string(buf, end);
}

bool ParseDouble(absl::string_view text, double* value) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (text == "inf" || text == "Infinity") {
    *value = kInf;
    return true;
  }
  if (text == "-inf" || text == "-Infinity") {
    *value = -kInf;
    return true;
  }
  if (text == "nan" || text == "NaN") {
    *value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text.empty()) return false;
  // from_chars would also accept spellings such as "INF" or "nan(123)"; only
  // the plain decimal forms are allowed past this point.
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-' &&
        c != '+' && c != '.' && c != 'e' && c != 'E') {
      return false;
    }
  }
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end;
}

bool ParseInt64(absl::string_view text, int64_t* value) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end;
}

bool IsStoreAway(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

absl::Status ValidateLeaseHolder(absl::string_view holder) {
  if (holder.empty() || holder.size() > kMaxLeaseHolderBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease holder is ", holder.size(), " bytes, must be 1..",
                     kMaxLeaseHolderBytes));
  }
  if (holder.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("lease holder contains a NUL byte");
  }
  return absl::OkStatus();
}

absl::Status CheckLeaseEpoch(const std::string& task,
                             const std::optional<LeaseInfo>& stored,
                             int64_t epoch) {
  if (!stored.has_value()) {
    if (epoch == 0) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "task ", task, " has no lease, so a write under lease epoch ", epoch,
        " is refused (a store without leases serves one coordinator)"));
  }
  if (epoch == 0) {
    if (!stored->live) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "task ", task, " is led through leases (epoch ", stored->epoch,
        ", held by ", stored->holder,
        "): a coordinator without `coordination` must not write it"));
  }
  if (stored->live && stored->epoch == epoch) return absl::OkStatus();
  return LeaseLostError(task, epoch, stored);
}

absl::Status LeaseLostError(const std::string& task, int64_t epoch,
                            const std::optional<LeaseInfo>& stored) {
  std::string now = "no lease is stored";
  if (stored.has_value()) {
    now = absl::StrCat("the lease is epoch ", stored->epoch, " of ",
                       stored->holder, stored->live ? "" : ", expired");
  }
  return absl::AbortedError(absl::StrCat("task ", task, ": lease epoch ", epoch,
                                         " is no longer live (", now, ")"));
}

}  // namespace cohort::server
