#ifndef COHORT_SERVER_STORE_STORE_UTIL_H_
#define COHORT_SERVER_STORE_STORE_UTIL_H_

// Argument checks and number codecs shared by every Store backend, so that a
// name or record one backend accepts is accepted by all of them and data can
// move between backends unchanged.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/store/lease_table.h"
#include "server/store/store.h"

namespace cohort::server {

// Longest task name or device id, in bytes.
inline constexpr size_t kMaxStoreNameLength = 128;

// Task names and device ids are 1..kMaxStoreNameLength bytes of [A-Za-z0-9._-]
// starting with a letter or digit, so they are safe as file names (no '/',
// no "." or "..", no hidden files). INVALID_ARGUMENT otherwise; the message
// names `what` ("task name", "device id").
absl::Status ValidateStoreName(absl::string_view name, absl::string_view what);

// Checks a record before CommitVersion: valid task name, 0 <= parent <
// version, lease_epoch >= 0, and no NUL bytes in the architecture or metric
// names (PostgreSQL text cannot hold them). INVALID_ARGUMENT otherwise.
absl::Status ValidateCommit(const ModelVersionRecord& record);

// The order rule of CommitVersion, checked against what the store holds:
// `current` (0: none), `highest` (the highest version number of the task,
// held ones included) and whether record.version is `taken`. Codes as
// documented on Store::CommitVersion.
// Whether a release may publish record.version, given whether that version
// is held (std::nullopt: no such version). NOT_FOUND or FAILED_PRECONDITION
// as documented on Store::AppendRelease.
absl::Status CheckReleasable(const ReleaseRecord& record,
                             std::optional<bool> held);

absl::Status CheckCommitOrder(const ModelVersionRecord& record, int64_t current,
                              int64_t highest, bool taken);

// Largest ReleaseRecord::signed_manifest, in bytes. Manifests are a few KiB;
// the limit keeps a release row and a release file small.
inline constexpr size_t kMaxSignedManifestBytes = size_t{1} << 20;

// Largest ReleaseRecord::reason and ReleaseRecord::actor, in bytes each.
inline constexpr size_t kMaxReleaseTextBytes = size_t{64} << 10;

// Checks a record before AppendRelease: valid task name, release >= 1,
// lease_epoch >= 0, a kind
// that is one of the enumerators, a signed_manifest of
// 1..kMaxSignedManifestBytes bytes, and reason and actor of at most
// kMaxReleaseTextBytes with no NUL byte. INVALID_ARGUMENT otherwise. Whether
// the version exists is the backend's check.
absl::Status ValidateRelease(const ReleaseRecord& record);

// The stored name of a release kind: "promote", "rollback" or "pin"; nullptr
// for a value that is not one of the enumerators.
const char* ReleaseKindName(ReleaseRecord::Kind kind);

// Parses a ReleaseKindName. False for any other text.
bool ParseReleaseKind(absl::string_view name, ReleaseRecord::Kind* kind);

// Checks RecordDevice arguments: valid device id and non-negative counter
// increments. INVALID_ARGUMENT otherwise.
absl::Status ValidateDeviceUpdate(absl::string_view device_id,
                                  int64_t check_ins, int64_t reports_accepted,
                                  int64_t reports_rejected);

// Length of EnrollmentTokenRecord::token_sha256: a SHA-256 in hex.
inline constexpr size_t kTokenSha256HexLength = 64;

// OK if `token_sha256` is kTokenSha256HexLength lower-case hex chars;
// INVALID_ARGUMENT otherwise. The message never quotes the text, which may be
// a token passed by mistake.
absl::Status ValidateTokenHash(absl::string_view token_sha256);

// How messages name a token: "enrollment token <first 8 hex chars>", never
// the whole hash.
std::string DescribeToken(absl::string_view token_sha256);

// Checks a record before AddEnrollmentToken: ValidateTokenHash, valid device
// id, created_by of at most kMaxReleaseTextBytes with no NUL byte,
// expires_unix_ms > created_unix_ms and used_unix_ms >= 0. INVALID_ARGUMENT
// otherwise.
absl::Status ValidateEnrollmentToken(const EnrollmentTokenRecord& record);

// Checks UseEnrollmentToken arguments: ValidateTokenHash, valid device id,
// now_unix_ms > 0. INVALID_ARGUMENT otherwise.
absl::Status ValidateTokenUse(absl::string_view token_sha256,
                              absl::string_view device_id, int64_t now_unix_ms);

// The NOT_FOUND of UseEnrollmentToken for `token_sha256`.
absl::Status UnknownTokenError(absl::string_view token_sha256);

// Whether the stored `token` may be used by `device_id` at `now_unix_ms`:
// FAILED_PRECONDITION "already used", FAILED_PRECONDITION "expired" or
// PERMISSION_DENIED, in that order, as documented on
// Store::UseEnrollmentToken.
absl::Status CheckTokenUsable(const EnrollmentTokenRecord& token,
                              absl::string_view device_id, int64_t now_unix_ms);

// Shortest decimal text that parses back to exactly `value` ("0.1", "-0",
// "1e-300"); "inf", "-inf" and "nan" for the non-finite values.
std::string FormatDouble(double value);

// Parses FormatDouble output and PostgreSQL float8 output ("Infinity",
// "-Infinity", "NaN"). The whole string must be consumed; false otherwise.
bool ParseDouble(absl::string_view text, double* value);

// Parses a base-10 int64 with an optional leading '-', nothing else (no
// spaces, no '+'). False on any other input or overflow.
bool ParseInt64(absl::string_view text, int64_t* value);

// Whether a store call failed because the store is away rather than because
// of the call: UNAVAILABLE (unreachable, a broken connection, an unknown
// commit outcome) or DEADLINE_EXCEEDED (a statement timeout). The same call
// may succeed once the store answers again.
bool IsStoreAway(const absl::Status& status);

// Longest Lease::holder, in bytes.
inline constexpr size_t kMaxLeaseHolderBytes = 256;

// A lease holder is 1..kMaxLeaseHolderBytes bytes with no NUL byte.
// INVALID_ARGUMENT otherwise.
absl::Status ValidateLeaseHolder(absl::string_view holder);

// The lease rule of CommitVersion and AppendRelease (the fence) for a write
// to `task` carrying `epoch`, given the task's stored lease (std::nullopt:
// never granted; a backend without leases passes std::nullopt):
//   no lease,            epoch 0        OK: one coordinator, no leases;
//   no lease,            epoch != 0     FAILED_PRECONDITION: no such lease;
//   an expired lease,    epoch 0        OK: nobody leads the task now;
//   a live lease,        epoch 0        FAILED_PRECONDITION: the task is led
//                                       through leases by another process;
//   a live lease of `epoch`             OK;
//   any other epoch, or `epoch` expired ABORTED (LeaseLostError): the writer
//                                       was deposed and must stop writing.
absl::Status CheckLeaseEpoch(const std::string& task,
                             const std::optional<LeaseInfo>& stored,
                             int64_t epoch);

// ABORTED "task <task>: lease epoch <epoch> is no longer live (...)",
// naming the stored lease if there is one.
absl::Status LeaseLostError(const std::string& task, int64_t epoch,
                            const std::optional<LeaseInfo>& stored);

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_STORE_UTIL_H_
