#ifndef COHORT_CLIENT_AGENT_MODEL_CACHE_H_
#define COHORT_CLIENT_AGENT_MODEL_CACHE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "client/transport/transport.h"
#include "cohort/v1/coordinator.pb.h"
#include "cohort/v1/model.pb.h"

namespace cohort::client {

// The agent's copy of the global model it last used: in memory, and in the
// state directory, whose layout this class owns:
//   <state_dir>/model.pb    the artifact bytes exactly as downloaded
//   <state_dir>/model.arch  the architecture the server named for them
//   <state_dir>/release     the highest release accepted (ReleaseGuard)
//   <state_dir>/root.pb     the newest root followed (ReleaseGuard)
//   <state_dir>/manifest.pb the signed manifest of that release (ReleaseGuard)
//
// A cached model is reused only when its SHA-256 *and* its architecture
// match the ModelRef the server assigns. A version number proves nothing: a
// replaced coordinator (new store, another architecture) numbers its
// versions from 1 again. Bytes from disk are verified like a download
// (VerifyModelBytes) before a byte is used.
//
// A download goes through `Fetch` with the artifact the cache holds as its
// base (ModelBase: version and bytes, read back from the state directory and
// checked against the hash it was verified under; version 0 when there is
// none, e.g. after a restart), so the transport can ask for a delta from it.
// Whatever comes back is verified against the ModelRef as before.
//
// Not thread-safe: the agent loop owns it.
class ModelCache {
 public:
  using Fetch =
      std::function<absl::StatusOr<std::string>(const ModelBase& base)>;

  explicit ModelCache(std::string state_dir);

  // Version of the model in memory, reported at check-in; 0 if none.
  int64_t cached_version() const { return version_; }
  // Whether the artifact in memory is the int8 one (Get returns it
  // dequantized, for training).
  bool int8_artifact() const { return int8_; }

  // Verified fp32 weights of `ref`: from memory, else from the state
  // directory, else from `fetch(base)` (then written to the state directory
  // atomically). DATA_LOSS if the fetched bytes fail verification; the
  // fetch's own error; INTERNAL if the state directory cannot be written.
  absl::StatusOr<cohort::v1::Weights> Get(const cohort::v1::ModelRef& ref,
                                          const Fetch& fetch);

  static std::string ModelPath(const std::string& state_dir);
  static std::string ArchitecturePath(const std::string& state_dir);
  static std::string ReleasePath(const std::string& state_dir);
  static std::string RootPath(const std::string& state_dir);
  static std::string ManifestPath(const std::string& state_dir);
  // Largest model.pb read back from disk.
  static constexpr int64_t kMaxModelBytes = int64_t{256} << 20;

 private:
  bool Holds(const cohort::v1::ModelRef& ref) const;
  absl::Status Store(const cohort::v1::ModelRef& ref, const std::string& bytes);

  const std::string dir_;
  int64_t version_ = 0;
  std::string sha256_;
  std::string architecture_;
  cohort::v1::Weights weights_;
  bool int8_ = false;
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_MODEL_CACHE_H_
