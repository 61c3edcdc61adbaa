#ifndef COHORT_TOOLS_COHORTCTL_KEYS_H_
#define COHORT_TOOLS_COHORTCTL_KEYS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/secure_random.h"

namespace cohort::tools {

// `cohortctl keys`: the offline side of the release trust model
// (common/model/signing.h, docs/LIFECYCLE.md). Root keys live in files in a
// root directory that only their holders read, never the coordinator:
//
//   <root_dir>/root-<N>.pb            SignedRoot, version N (devices pin one)
//   <root_dir>/root-<N>-key-<i>.seed  root key i of version N: hex Ed25519
//                                     seed, mode 0600
//
// The coordinator gets only a release key and its certificate:
//
//   <out_dir>/release-key.seed        hex Ed25519 seed, mode 0600
//   <out_dir>/release-key.cert.pb     SignedReleaseKey by the current root
//
// Holders of separate root keys can each keep their own .seed file; the
// commands below sign with every key file present for the root version.

struct RootSpec {
  int keys = 3;
  int threshold = 2;
  absl::Duration valid_for = absl::Hours(24 * 365);
  // Key ids to revoke in the new root (release keys or old root keys).
  std::vector<std::string> revoke;
};

// What a command wrote.
struct KeysReport {
  int64_t root_version = 0;
  std::vector<std::string> key_ids;  // the new keys
  std::vector<std::string> files;    // written, in order
};

// Creates root version 1 in `root_dir` (created if missing).
// FAILED_PRECONDITION if it already holds a root; INVALID_ARGUMENT unless
// 1 <= threshold <= keys <= 32 and valid_for > 0.
absl::StatusOr<KeysReport> GenerateRoot(const std::string& root_dir,
                                        const RootSpec& spec,
                                        crypto::SecureRandom& random,
                                        absl::Time now);

// Writes root version N + 1 with fresh keys, signed by the key files of
// root N present in `root_dir` and by every new key, so devices can follow
// it. FAILED_PRECONDITION if the key files of root N present do not meet its
// threshold; NOT_FOUND if `root_dir` holds no root.
absl::StatusOr<KeysReport> RotateRoot(const std::string& root_dir,
                                      const RootSpec& spec,
                                      crypto::SecureRandom& random,
                                      absl::Time now);

// A fresh release key in `out_dir`, certified by the current root's key
// files for `valid_for`. Run again to rotate the release key; revoke the old
// one with RotateRoot. Errors as RotateRoot.
absl::StatusOr<KeysReport> CertifyReleaseKey(const std::string& root_dir,
                                             const std::string& out_dir,
                                             absl::Duration valid_for,
                                             crypto::SecureRandom& random,
                                             absl::Time now);

// A table (or one JSON object) of a report.
std::string FormatKeysReport(const KeysReport& report, bool json);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_KEYS_H_
