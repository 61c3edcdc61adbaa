#ifndef COHORT_SERVER_STORE_DIRECTORY_FORMAT_H_
#define COHORT_SERVER_STORE_DIRECTORY_FORMAT_H_

// The on-disk text formats of DirectoryStore. Each file is self-describing
// "key=value" lines, the first of which names the format:
//
//   <version>.meta                       CURRENT
//     format=cohort-model-version-1        <version>\n
//     task=mnist
//     version=2                          devices/<id>.device
//     parent=1                             format=cohort-device-1
//     round_id=7                           device_id=phone-1
//     architecture=mlp                     last_seen_unix_ms=...
//     created_at_unix_ms=1700000000000     check_ins=3
//     weights_bytes=1234                   reports_accepted=2
//     weights_crc32=305419896              reports_rejected=0
//     metric=accuracy 0.91
//
//   releases/<release>.release           CURRENT_RELEASE
//     format=cohort-release-1              <release>\n
//     task=mnist
//     release=3
//     version=1
//     kind=rollback                      (promote, rollback or pin)
//     reason=field accuracy fell
//     actor=gate
//     created_at_unix_ms=1700000000000
//     signed_manifest_crc32=305419896
//     signed_manifest=\022\000\377...
//
//   enrollment/<token_sha256>.token
//     format=cohort-enrollment-token-1
//     token_sha256=9f86d081...            (64 lower-case hex chars)
//     device_id=phone-1
//     created_unix_ms=1700000000000
//     expires_unix_ms=1700086400000
//     created_by=operator:alice
//     used_unix_ms=0                     (0 while unused)
//
// String values are C-escaped (absl::CEscape), so they never hold a newline
// and binary values such as signed_manifest are plain ASCII; doubles use the
// shortest exact decimal form. Decoding is strict: unknown, missing or
// repeated keys, bad escapes, trailing garbage and a missing final newline
// are all DATA_LOSS with the file's path in the message.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/store/store.h"

namespace cohort::server {

// A decoded .meta file: the record without weights, plus what the weights
// file must hold.
struct VersionMeta {
  ModelVersionRecord record;  // `weights` is empty.
  int64_t weights_bytes = 0;
  uint32_t weights_crc32 = 0;
  // The .optimizer file (record.optimizer_state); 0 bytes: none. Optional
  // keys, absent from versions written before they existed.
  int64_t optimizer_bytes = 0;
  uint32_t optimizer_crc32 = 0;
};

// CRC-32 (zlib polynomial) of `data`, used to detect damaged weights files.
uint32_t WeightsChecksum(absl::string_view data);

// Encodes `record` (its weights contribute only size and checksum).
std::string EncodeVersionMeta(const ModelVersionRecord& record);

// DATA_LOSS naming `path` if `text` is not a valid .meta file.
absl::StatusOr<VersionMeta> DecodeVersionMeta(absl::string_view text,
                                              const std::string& path);

std::string EncodeCurrent(int64_t version);

// The HELD file: the task's held version numbers, one per line, ascending.
std::string EncodeHeld(const std::vector<int64_t>& versions);

// DATA_LOSS naming `path` unless `text` is positive numbers, one per line,
// strictly ascending.
absl::StatusOr<std::vector<int64_t>> DecodeHeld(absl::string_view text,
                                                const std::string& path);

// DATA_LOSS naming `path` unless `text` is "<positive version>\n".
absl::StatusOr<int64_t> DecodeCurrent(absl::string_view text,
                                      const std::string& path);

// Encodes `record`, which must pass ValidateRelease (store_util.h).
std::string EncodeRelease(const ReleaseRecord& record);

// DATA_LOSS naming `path` if `text` is not a valid .release file, including a
// signed_manifest that does not match its CRC-32.
absl::StatusOr<ReleaseRecord> DecodeRelease(absl::string_view text,
                                            const std::string& path);

std::string EncodeCurrentRelease(int64_t release);

// DATA_LOSS naming `path` unless `text` is "<positive release>\n".
absl::StatusOr<int64_t> DecodeCurrentRelease(absl::string_view text,
                                             const std::string& path);

std::string EncodeDevice(const DeviceRecord& device);

// DATA_LOSS naming `path` if `text` is not a valid device file.
absl::StatusOr<DeviceRecord> DecodeDevice(absl::string_view text,
                                          const std::string& path);

// Encodes `record`, which must pass ValidateEnrollmentToken (store_util.h).
std::string EncodeEnrollmentToken(const EnrollmentTokenRecord& record);

// DATA_LOSS naming `path` if `text` is not a valid .token file, including a
// token_sha256 that is not 64 lower-case hex chars.
absl::StatusOr<EnrollmentTokenRecord> DecodeEnrollmentToken(
    absl::string_view text, const std::string& path);

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_DIRECTORY_FORMAT_H_
