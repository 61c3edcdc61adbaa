#include "server/round/secagg_groups.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/secagg/parameter_finder.h"
#include "glog/logging.h"

namespace cohort::server {

absl::StatusOr<std::shared_ptr<SecAggGroups>> SecAggGroups::Start(
    const SecAggOptions& options, double clip_norm, int64_t round_id,
    int64_t dimension,
    std::map<std::string, std::shared_ptr<DeviceChannel>> cohort,
    absl::Time now) {
  const std::vector<int> sizes = secagg::GroupSizes(
      static_cast<int>(cohort.size()), options.max_group_size);
  std::vector<std::map<std::string, std::shared_ptr<DeviceChannel>>> split(
      sizes.size());
  auto it = cohort.begin();
  for (size_t g = 0; g < sizes.size(); ++g) {
    for (int i = 0; i < sizes[g]; ++i, ++it) split[g].insert(*it);
  }
  // Plan every group before any device hears of it.
  std::shared_ptr<SecAggGroups> r(new SecAggGroups());
  for (size_t g = 0; g < split.size(); ++g) {
    auto group = SecAggRound::Plan(options, clip_norm, round_id, dimension,
                                   std::move(split[g]), now);
    if (!group.ok()) {
      if (split.size() == 1) return group.status();
      return absl::Status(group.status().code(),
                          absl::StrCat("SecAgg group ", g, " of ", split.size(),
                                       ": ", group.status().message()));
    }
    for (const std::string& device : (*group)->devices()) {
      r->group_of_[device] = static_cast<int>(g);
    }
    r->groups_.push_back(*std::move(group));
  }
  if (r->groups_.size() > 1) {
    LOG(INFO) << "round " << round_id << ": " << cohort.size()
              << " devices in " << r->groups_.size()
              << " SecAgg groups of at most " << options.max_group_size;
  }
  for (auto& group : r->groups_) group->Begin();
  return r;
}

absl::Status SecAggGroups::Receive(
    const std::string& device, const cohort::v1::SecAggClientMessage& message) {
  auto it = group_of_.find(device);
  if (it == group_of_.end()) {
    return absl::AbortedError("device is not in this round's SecAgg cohort");
  }
  return groups_[it->second]->Receive(device, message);
}

void SecAggGroups::Gone(const std::string& device) {
  auto it = group_of_.find(device);
  if (it != group_of_.end()) groups_[it->second]->Gone(device);
}

void SecAggGroups::Tick(absl::Time now) {
  for (auto& group : groups_) group->Tick(now);
}

bool SecAggGroups::completed() const {
  bool any = false;
  for (const auto& group : groups_) {
    if (group->completed()) {
      any = true;
    } else if (!group->aborted()) {
      return false;
    }
  }
  return any;
}

bool SecAggGroups::aborted() const {
  for (const auto& group : groups_) {
    if (!group->aborted()) return false;
  }
  return true;
}

int SecAggGroups::groups_aborted() const {
  int n = 0;
  for (const auto& group : groups_) n += group->aborted() ? 1 : 0;
  return n;
}

absl::Status SecAggGroups::abort_status() const {
  if (!aborted()) return absl::OkStatus();
  const absl::Status first = groups_.front()->abort_status();
  if (groups_.size() == 1) return first;
  return absl::Status(first.code(),
                      absl::StrCat("all ", groups_.size(),
                                   " SecAgg groups aborted; group 0: ",
                                   first.message()));
}

std::optional<secagg::AbortInfo> SecAggGroups::abort_info() const {
  if (!aborted()) return std::nullopt;
  std::optional<secagg::AbortInfo> info = groups_.front()->abort_info();
  if (info.has_value()) info->status = abort_status();
  return info;
}

absl::StatusOr<secagg::DecodedUpdateSum> SecAggGroups::Result() const {
  if (!completed()) {
    return absl::FailedPreconditionError("no SecAgg group has completed");
  }
  std::optional<secagg::DecodedUpdateSum> total;
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (!groups_[g]->completed()) continue;
    auto sum = groups_[g]->Result();
    if (!sum.ok()) {
      return absl::Status(sum.status().code(),
                          absl::StrCat("SecAgg group ", g, ": ",
                                       sum.status().message()));
    }
    if (!total.has_value()) {
      total = *std::move(sum);
      continue;
    }
    auto added = secagg::AddDecodedSums(*std::move(total), *sum);
    if (!added.ok()) return added.status();
    total = *std::move(added);
  }
  return *std::move(total);
}

int64_t SecAggGroups::contributors() const {
  int64_t n = 0;
  for (const auto& group : groups_) {
    if (group->completed()) n += group->contributors();
  }
  return n;
}

int SecAggGroups::num_clients() const {
  int n = 0;
  for (const auto& group : groups_) n += group->num_clients();
  return n;
}

int SecAggGroups::live_count() const {
  int n = 0;
  for (const auto& group : groups_) n += group->live_count();
  return n;
}

std::array<int, 4> SecAggGroups::dropped_by_phase() const {
  std::array<int, 4> total{};
  for (const auto& group : groups_) {
    const std::array<int, 4> by_phase = group->dropped_by_phase();
    for (size_t i = 0; i < total.size(); ++i) total[i] += by_phase[i];
  }
  return total;
}

void SecAggGroups::SendAcks(const std::string& message,
                            const std::string& aborted_message) {
  for (auto& group : groups_) {
    group->SendAcks(group->aborted() ? aborted_message : message);
  }
}

}  // namespace cohort::server
