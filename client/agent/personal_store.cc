#include "client/agent/personal_store.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "client/agent/state_file.h"
#include "client/train/personalization.h"
#include "common/base/files.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

constexpr char kWhat[] = "personal layers";

}  // namespace

PersonalStore::PersonalStore(const std::string& state_dir)
    : path_(state_dir + "/" + kPersonalLayersFile) {}

cohort::v1::Weights PersonalStore::Load(const std::string& task,
                                        const std::string& architecture) const {
  auto bytes = base::ReadFile(path_);
  if (bytes.status().code() == absl::StatusCode::kNotFound) return {};
  if (!bytes.ok()) {
    QuarantineStateFile(path_, kWhat, bytes.status().ToString());
    return {};
  }
  cohort::v1::PersonalLayersRecord record;
  if (!record.ParseFromString(*bytes)) {
    QuarantineStateFile(path_, kWhat, "it does not parse");
    return {};
  }
  if (record.task() != task || record.architecture() != architecture) {
    LOG(INFO) << "the personal layers kept in " << path_ << " belong to task '"
              << record.task() << "'; starting task '" << task
              << "' from the global model's";
    return {};
  }
  return std::move(*record.mutable_weights());
}

absl::Status PersonalStore::Save(const std::string& task,
                                 const std::string& architecture,
                                 const cohort::v1::Weights& weights) const {
  cohort::v1::PersonalLayersRecord record;
  record.set_task(task);
  record.set_architecture(architecture);
  *record.mutable_weights() = weights;
  return base::WriteFileAtomically(path_, record.SerializeAsString(), 0600);
}

void PersonalStore::Clear() const {
  if (std::remove(path_.c_str()) != 0 && errno != ENOENT) {
    LOG(WARNING) << "cannot remove " << path_ << ": " << std::strerror(errno);
  }
}

cohort::v1::Weights PersonalizedStart(
    const PersonalStore& store, const cohort::v1::TaskAssignment& assignment,
    cohort::v1::Weights global) {
  const model::PersonalLayers personal =
      model::PersonalLayersOf(assignment.plan());
  if (personal.empty()) return global;
  const cohort::v1::Weights kept =
      store.Load(assignment.task(), assignment.model().architecture());
  auto start = PersonalizedModel(global, kept, personal);
  if (!start.ok()) {
    LOG(WARNING) << "the personal layers kept in " << store.path()
                 << " do not fit the assigned model (" << start.status()
                 << "); starting from the global model's";
    store.Clear();
    return global;
  }
  return *std::move(start);
}

absl::Status KeepTrained(const PersonalStore& store,
                         const cohort::v1::TaskAssignment& assignment,
                         const cohort::v1::Weights& start,
                         LocalUpdate* update) {
  const model::PersonalLayers personal =
      model::PersonalLayersOf(assignment.plan());
  if (personal.empty()) return absl::OkStatus();
  auto trained = KeepPersonal(start, personal, update);
  if (!trained.ok()) {
    store.Clear();
    return trained.status();
  }
  return store.Save(assignment.task(), assignment.model().architecture(),
                    *trained);
}

}  // namespace cohort::client
