// DirectoryStore's enrollment tokens: enrollment/<sha256>.token files
// (layout in directory_store.h, format in directory_format.h).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "server/store/directory_format.h"
#include "server/store/directory_io.h"
#include "server/store/directory_store.h"
#include "server/store/store_util.h"

namespace cohort::server {

using directory_internal::kMaxTokenFileBytes;
using directory_internal::ReadOptional;
using directory_internal::ScopedFlock;

// Every token ValidateEnrollmentToken admits must read back under the file
// limit: CEscape writes at most four bytes per input byte, plus the keys.
static_assert(4 * (kMaxReleaseTextBytes + kMaxStoreNameLength +
                   kTokenSha256HexLength) +
                  4096 <
              static_cast<size_t>(kMaxTokenFileBytes));

namespace {

// `status` with the full hash, which paths hold, cut to its first 8 hex
// chars: no message names a token by its whole hash (store.h).
absl::Status ShortenHash(const absl::Status& status,
                         const std::string& token_sha256) {
  if (status.ok()) return status;
  const std::string prefix = absl::StrCat(token_sha256.substr(0, 8), "...");
  return absl::Status(
      status.code(),
      absl::StrReplaceAll(status.message(), {{token_sha256, prefix}}));
}

}  // namespace

std::string DirectoryStore::TokenPath(const std::string& token_sha256) const {
  return absl::StrCat(root_, "/enrollment/", token_sha256, ".token");
}

absl::StatusOr<std::optional<EnrollmentTokenRecord>> DirectoryStore::ReadToken(
    const std::string& token_sha256) const {
  std::string path = TokenPath(token_sha256);
  COHORT_ASSIGN_OR_RETURN(std::optional<std::string> text,
                          ReadOptional(path, kMaxTokenFileBytes));
  if (!text.has_value()) return std::optional<EnrollmentTokenRecord>();
  COHORT_ASSIGN_OR_RETURN(EnrollmentTokenRecord token,
                          DecodeEnrollmentToken(*text, path));
  if (token.token_sha256 != token_sha256) {
    return absl::DataLossError(absl::StrCat("corrupt store file ", path,
                                            ": holds ",
                                            DescribeToken(token.token_sha256)));
  }
  return std::optional<EnrollmentTokenRecord>(std::move(token));
}

absl::Status DirectoryStore::AddEnrollmentToken(
    const EnrollmentTokenRecord& record) {
  COHORT_RETURN_IF_ERROR(ValidateEnrollmentToken(record));
  absl::MutexLock lock(&write_mu_);
  ScopedFlock flock(lock_fd_);
  COHORT_RETURN_IF_ERROR(flock.status());
  return ShortenHash(AddTokenLocked(record), record.token_sha256);
}

absl::Status DirectoryStore::AddTokenLocked(
    const EnrollmentTokenRecord& record) {
  // Read, not just tested for existence: a damaged file is DATA_LOSS rather
  // than a token that blocks its hash for ever.
  COHORT_ASSIGN_OR_RETURN(std::optional<EnrollmentTokenRecord> existing,
                          ReadToken(record.token_sha256));
  if (existing.has_value()) {
    return absl::AlreadyExistsError(
        absl::StrCat(DescribeToken(record.token_sha256), " already exists"));
  }
  return base::WriteFileAtomically(TokenPath(record.token_sha256),
                                   EncodeEnrollmentToken(record));
}

absl::StatusOr<EnrollmentTokenRecord> DirectoryStore::UseEnrollmentToken(
    const std::string& token_sha256, const std::string& device_id,
    int64_t now_unix_ms) {
  COHORT_RETURN_IF_ERROR(
      ValidateTokenUse(token_sha256, device_id, now_unix_ms));
  absl::MutexLock lock(&write_mu_);
  ScopedFlock flock(lock_fd_);
  COHORT_RETURN_IF_ERROR(flock.status());
  absl::StatusOr<EnrollmentTokenRecord> used =
      UseTokenLocked(token_sha256, device_id, now_unix_ms);
  if (!used.ok()) return ShortenHash(used.status(), token_sha256);
  return used;
}

absl::StatusOr<EnrollmentTokenRecord> DirectoryStore::UseTokenLocked(
    const std::string& token_sha256, const std::string& device_id,
    int64_t now_unix_ms) {
  COHORT_ASSIGN_OR_RETURN(std::optional<EnrollmentTokenRecord> token,
                          ReadToken(token_sha256));
  if (!token.has_value()) return UnknownTokenError(token_sha256);
  COHORT_RETURN_IF_ERROR(CheckTokenUsable(*token, device_id, now_unix_ms));
  token->used_unix_ms = now_unix_ms;
  // The use point: the rename under the lock, which every other writer of
  // this root waits for before it reads the file again.
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      TokenPath(token_sha256), EncodeEnrollmentToken(*token)));
  return *std::move(token);
}

}  // namespace cohort::server
