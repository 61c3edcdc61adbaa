#ifndef COHORT_CLIENT_AGENT_HELD_MODEL_H_
#define COHORT_CLIENT_AGENT_HELD_MODEL_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "client/agent/release_guard.h"
#include "client/agent/serving_model.h"
#include "cohort/v1/model.pb.h"

namespace cohort::client {

// The model a restarted agent can serve before its next round: the
// ModelCache's files in the state directory.
struct HeldModel {
  cohort::v1::Weights weights;
  // architecture, sha256, version and release; kernels unset.
  ServedModelInfo info;
};

// The model in `state_dir`, or nullopt when there is none (a new device).
// With a release guard (a pinned root) the model must be the artifact of
// the signed manifest the guard holds (its SHA-256 and architecture);
// version and release come from that manifest. Without one, the version
// is the last round's when that round's model has the same SHA-256, else 0.
// DATA_LOSS naming the file when model.pb does not parse or does not match
// the held manifest (a crash between the model's write and its release's:
// the next round fetches it again); the caller serves nothing then.
absl::StatusOr<std::optional<HeldModel>> ReadHeldModel(
    const std::string& state_dir, const ReleaseGuard* guard);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_HELD_MODEL_H_
