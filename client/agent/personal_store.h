#ifndef COHORT_CLIENT_AGENT_PERSONAL_STORE_H_
#define COHORT_CLIENT_AGENT_PERSONAL_STORE_H_

#include <string>

#include "absl/status/status.h"
#include "client/train/trainer.h"
#include "cohort/v1/coordinator.pb.h"
#include "cohort/v1/model.pb.h"

namespace cohort::client {

inline constexpr char kPersonalLayersFile[] = "personal_layers.pb";

// FedPer on a device: the personal layers it keeps between rounds
// (TrainingPlan.personal_layers), in one file, <state_dir>/personal_layers.pb
// (a PersonalLayersRecord), so they survive a restart. One task's layers
// at a time: saving another task's replaces them.
//
// Whatever is on disk, Load never fails: a file that cannot be read or
// parsed is moved aside to "<path>.corrupt" (logged) and the device starts
// again from the global model's layers. Writes are atomic
// (base::WriteFileAtomically), so a crash keeps the old layers or the new,
// never a torn file. Not thread-safe (the agent's thread only).
class PersonalStore {
 public:
  explicit PersonalStore(const std::string& state_dir);

  // The layers kept for `task` and `architecture`; empty when none are (no
  // file, another task's or architecture's, or a damaged file).
  cohort::v1::Weights Load(const std::string& task,
                           const std::string& architecture) const;

  // Keeps `weights` for `task` and `architecture`. INTERNAL on I/O errors;
  // the file then holds what it held before.
  absl::Status Save(const std::string& task, const std::string& architecture,
                    const cohort::v1::Weights& weights) const;

  // Forgets what is kept (for layers that no longer fit the global model).
  // Logged, never fails.
  void Clear() const;

  const std::string& path() const { return path_; }

 private:
  const std::string path_;
};

// The model a device trains from (and serves) for `assignment`: the global
// `weights` with the personal layers `store` keeps for its task, when the
// plan has personal layers and some are kept. Kept layers that no longer
// fit the global model are forgotten (logged): the global ones are used.
cohort::v1::Weights PersonalizedStart(const PersonalStore& store,
                                      const cohort::v1::TaskAssignment& assignment,
                                      cohort::v1::Weights global);

// After training from `start`: keeps the trained personal layers in `store`
// and leaves update->delta with the shared layers, all the report carries.
// Nothing without personal layers. INVALID_ARGUMENT if the update does not
// fit `start` or the trained layers are not finite (what was kept is then
// forgotten: the next round starts from the global layers); INTERNAL if the
// layers cannot be saved. Either way the round is not to be reported: a
// device must not upload an update whose personal half it lost.
absl::Status KeepTrained(const PersonalStore& store,
                         const cohort::v1::TaskAssignment& assignment,
                         const cohort::v1::Weights& start, LocalUpdate* update);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_PERSONAL_STORE_H_
