#ifndef COHORT_SERVER_STORE_DIRECTORY_STORE_H_
#define COHORT_SERVER_STORE_DIRECTORY_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/directory_format.h"
#include "server/store/store.h"

namespace cohort::server {

// A Store kept in plain files under one root directory: the embedded backend
// for cohort-sim and single-node trials. Layout (formats in
// directory_format.h):
//
//   <root>/LOCK                              flock()ed around every write
//   <root>/tasks/<task>/CURRENT              "<version>\n"
//   <root>/tasks/<task>/versions/<v>.meta    record without weights
//   <root>/tasks/<task>/versions/<v>.weights opaque weights bytes
//   <root>/tasks/<task>/CURRENT_RELEASE      "<release>\n"
//   <root>/tasks/<task>/releases/<r>.release one release, manifest included
//   <root>/devices/<device_id>.device        counters
//   <root>/enrollment/<sha256>.token         one enrollment token
//
// Every file is written with cohort::base::WriteFileAtomically (temp file,
// fsync, rename, directory fsync). A commit writes the weights, then the
// meta, then CURRENT, so the commit point is the rename of CURRENT. The
// committed history is the parent chain that starts at CURRENT; version files
// off that chain (left by a crash before CURRENT moved) and temp files are
// never read, and are overwritten when their number is committed.
//
// Releases follow the same pattern: AppendRelease writes <r>.release, then
// CURRENT_RELEASE, whose rename is the commit point. Release numbers have no
// gaps, so the committed log is releases 1..CURRENT_RELEASE; a .release file
// above it (left by a crash before CURRENT_RELEASE moved) is never read and
// is overwritten when its number is appended. Committed .release files are
// never rewritten.
//
// An enrollment token is one file named by its hash, written under the LOCK
// like every other write: UseEnrollmentToken reads it, checks it and
// rewrites it with used_unix_ms set while holding the lock, so a token is
// used at most once across every instance and process sharing the root.
// Token files are never removed. Messages shorten the hash in a token's
// path to its first 8 hex chars, as every token message does.
//
// Thread-safe. Writers also hold an exclusive flock() on <root>/LOCK, so
// several DirectoryStore instances, in this process or others, may share a
// root; readers need no lock because every file is replaced atomically.
//
// Task names and device ids are checked with ValidateStoreName
// (store_util.h). Reads cost one small file per version visited: ListVersions
// and LastRoundId read every committed .meta, GetVersion walks back from
// CURRENT. Pruning old version files breaks the chain and reads as DATA_LOSS.
// AppendRelease walks the chain from CURRENT back to the released version to
// check that it is committed; ListReleases reads every .release file.
// ListDevices reads the devices directory and one file per device returned.
//
// Status codes, in addition to those documented on Store:
//   INVALID_ARGUMENT  bad task name or device id, negative counters, or a
//                     release record ValidateRelease rejects;
//   DATA_LOSS         a file on the committed chain or in the committed
//                     release log is missing, unparsable, or fails its
//                     size/CRC-32 check, or a .token file is unparsable or
//                     holds another hash (message has the path);
//   INTERNAL          other I/O errors.
// CommitVersion checks the parent first, and a version above the current one
// is never on the committed chain, so it never returns ALREADY_EXISTS.
class DirectoryStore final : public Store {
 public:
  // Opens the store at `root`, creating the directory if needed.
  // INVALID_ARGUMENT if `root` is empty; INTERNAL if it cannot be created or
  // is not a writable directory.
  static absl::StatusOr<std::unique_ptr<DirectoryStore>> Open(
      const std::string& root);

  DirectoryStore(const DirectoryStore&) = delete;
  DirectoryStore& operator=(const DirectoryStore&) = delete;
  ~DirectoryStore() override;

  absl::Status CommitVersion(const ModelVersionRecord& record) override;
  absl::StatusOr<std::optional<ModelVersionRecord>> GetCurrent(
      const std::string& task) override;
  absl::StatusOr<ModelVersionRecord> GetVersion(const std::string& task,
                                                int64_t version) override;
  absl::StatusOr<std::vector<ModelVersionRecord>> ListVersions(
      const std::string& task) override;
  absl::StatusOr<int64_t> LastRoundId(const std::string& task) override;
  absl::Status RecordDevice(const std::string& device_id, int64_t seen_unix_ms,
                            int64_t check_ins, int64_t reports_accepted,
                            int64_t reports_rejected) override;
  absl::StatusOr<DeviceRecord> GetDevice(const std::string& device_id) override;
  // Device files (above too); defined in directory_devices.cc.
  absl::StatusOr<std::vector<DeviceRecord>> ListDevices(
      const std::string& after, int limit) override;
  // Release log; defined in directory_releases.cc.
  absl::Status AppendRelease(const ReleaseRecord& record) override;
  absl::StatusOr<std::optional<ReleaseRecord>> GetCurrentRelease(
      const std::string& task) override;
  absl::StatusOr<std::vector<ReleaseRecord>> ListReleases(
      const std::string& task) override;
  absl::StatusOr<ReleaseRecord> GetRelease(const std::string& task,
                                           int64_t release) override;
  // Enrollment tokens; defined in directory_enrollment.cc.
  absl::Status AddEnrollmentToken(const EnrollmentTokenRecord& record) override;
  absl::StatusOr<EnrollmentTokenRecord> UseEnrollmentToken(
      const std::string& token_sha256, const std::string& device_id,
      int64_t now_unix_ms) override;

 private:
  DirectoryStore(std::string root, int lock_fd);

  std::string TaskDir(const std::string& task) const;
  std::string CurrentPath(const std::string& task) const;
  std::string HeldPath(const std::string& task) const;
  std::string VersionPath(const std::string& task, int64_t version,
                          const char* suffix) const;
  std::string DevicePath(const std::string& device_id) const;
  std::string CurrentReleasePath(const std::string& task) const;
  std::string ReleasePath(const std::string& task, int64_t release) const;
  std::string TokenPath(const std::string& token_sha256) const;

  // The task's current version, 0 if it has none.
  absl::StatusOr<int64_t> ReadCurrent(const std::string& task) const;
  // The task's held version numbers, ascending (the HELD file).
  absl::StatusOr<std::vector<int64_t>> ReadHeld(const std::string& task) const;
  // The committed chain and the held versions, oldest first, no weights.
  absl::StatusOr<std::vector<VersionMeta>> ReadAll(
      const std::string& task) const;
  // The .meta of a version on the committed chain; DATA_LOSS if it is
  // missing, unparsable or does not match its file name.
  absl::StatusOr<VersionMeta> ReadMeta(const std::string& task,
                                       int64_t version) const;
  // Reads the weights that `meta` describes into meta->record.weights;
  // DATA_LOSS on a size or CRC-32 mismatch.
  absl::Status ReadWeights(VersionMeta* meta) const;
  // The version file `suffix` of `meta`, checked against `bytes` and
  // `crc32` from its .meta file; DATA_LOSS naming the file otherwise.
  absl::StatusOr<std::string> ReadChecked(const VersionMeta& meta,
                                          const char* suffix, int64_t bytes,
                                          uint32_t crc32) const;
  // The committed chain, newest first, down to and including the first
  // version <= `stop_at`. Records have no weights.
  absl::StatusOr<std::vector<VersionMeta>> ReadChain(const std::string& task,
                                                     int64_t stop_at) const;
  // OK if `version` is on the task's committed chain; NOT_FOUND or
  // FAILED_PRECONDITION (held) otherwise, as CheckReleasable.
  absl::Status CheckCommitted(const ReleaseRecord& record) const;

  // The task's current release number, 0 if it has none.
  absl::StatusOr<int64_t> ReadCurrentRelease(const std::string& task) const;
  // A release in the committed log; DATA_LOSS if its file is missing,
  // unparsable or does not match its file name.
  absl::StatusOr<ReleaseRecord> ReadRelease(const std::string& task,
                                            int64_t release) const;

  // The token with this hash, std::nullopt if there is none; DATA_LOSS if its
  // file is unparsable or holds another hash. Messages carry the full path.
  absl::StatusOr<std::optional<EnrollmentTokenRecord>> ReadToken(
      const std::string& token_sha256) const;
  // The bodies of AddEnrollmentToken and UseEnrollmentToken, run with
  // write_mu_ and the flock held on checked arguments. Their messages may
  // still hold the full hash (in a path); the callers shorten it.
  absl::Status AddTokenLocked(const EnrollmentTokenRecord& record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::StatusOr<EnrollmentTokenRecord> UseTokenLocked(
      const std::string& token_sha256, const std::string& device_id,
      int64_t now_unix_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const std::string root_;
  const int lock_fd_;  // <root>/LOCK, open for the lifetime of the store.
  // Serializes this instance's writers: flock() on lock_fd_ excludes other
  // instances and processes but not threads sharing the descriptor. Readers
  // take no lock; every file they read is replaced atomically.
  absl::Mutex write_mu_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_DIRECTORY_STORE_H_
