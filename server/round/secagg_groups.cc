#include "server/round/secagg_groups.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/splitmix64.h"
#include "common/crypto/sha256.h"
#include "common/secagg/parameter_finder.h"
#include "glog/logging.h"

namespace cohort::server {

namespace {

// The cohort's devices in a shuffled order keyed by `key` and the round
// (Fisher-Yates over SplitMix64 seeded from SHA-256(key | round)): fixed for
// a key, round and cohort, and unknown to devices.
std::vector<std::string> ShuffledDevices(
    const std::map<std::string, std::shared_ptr<DeviceChannel>>& cohort,
    const std::array<uint8_t, 32>& key, int64_t round_id) {
  std::vector<std::string> order;
  order.reserve(cohort.size());
  for (const auto& [device, channel] : cohort) order.push_back(device);
  std::string material = "cohort secagg groups|";
  material.append(reinterpret_cast<const char*>(key.data()), key.size());
  absl::StrAppend(&material, "|", round_id);
  base::SplitMix64 rng(crypto::Sha256Prefix64(material));
  for (size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[rng.Uniform(i)]);
  }
  return order;
}

}  // namespace

absl::StatusOr<std::shared_ptr<SecAggGroups>> SecAggGroups::Start(
    const SecAggOptions& options, double clip_norm, int64_t round_id,
    int64_t dimension,
    std::map<std::string, std::shared_ptr<DeviceChannel>> cohort,
    absl::Time now, int threads,
    const std::map<std::string, double>& update_scales) {
  const std::vector<int> sizes = secagg::GroupSizes(
      static_cast<int>(cohort.size()), options.max_group_size);
  std::vector<std::map<std::string, std::shared_ptr<DeviceChannel>>> split(
      sizes.size());
  if (sizes.size() == 1) {
    split[0] = cohort;
  } else {
    const std::vector<std::string> order =
        ShuffledDevices(cohort, options.group_key, round_id);
    size_t next = 0;
    for (size_t g = 0; g < sizes.size(); ++g) {
      for (int i = 0; i < sizes[g]; ++i, ++next) {
        split[g].emplace(order[next], cohort.at(order[next]));
      }
    }
  }
  // Plan every group before any device hears of it.
  std::shared_ptr<SecAggGroups> r(new SecAggGroups());
  for (size_t g = 0; g < split.size(); ++g) {
    auto group = SecAggRound::Plan(options, clip_norm, round_id, dimension,
                                   std::move(split[g]), now, threads);
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
  r->undecodable_.assign(r->groups_.size(), false);
  if (r->groups_.size() > 1) {
    LOG(INFO) << "round " << round_id << ": " << cohort.size() << " devices in "
              << r->groups_.size() << " SecAgg groups of at most "
              << options.max_group_size;
  }
  for (auto& group : r->groups_) group->Begin(update_scales);
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

int SecAggGroups::groups_left_out() const {
  int n = 0;
  for (size_t g = 0; g < groups_.size(); ++g) n += summed(g) ? 0 : 1;
  return n;
}

absl::Status SecAggGroups::abort_status() const {
  if (!aborted()) return absl::OkStatus();
  const absl::Status first = groups_.front()->abort_status();
  if (groups_.size() == 1) return first;
  std::string detail =
      absl::StrCat("all ", groups_.size(), " SecAgg groups aborted");
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto info = groups_[g]->abort_info();
    if (!info.has_value()) continue;
    absl::StrAppend(&detail, g == 0 ? ": " : "; ", "group ", g, " in ",
                    info->phase, " (", info->survivors, " of ",
                    groups_[g]->num_clients(), " left, t=", info->threshold,
                    ")");
  }
  return absl::Status(first.code(), detail);
}

std::optional<secagg::AbortInfo> SecAggGroups::abort_info() const {
  if (!aborted()) return std::nullopt;
  std::optional<secagg::AbortInfo> info = groups_.front()->abort_info();
  if (!info.has_value() || groups_.size() == 1) return info;
  info->survivors = 0;
  for (const auto& group : groups_) {
    if (auto i = group->abort_info()) info->survivors += i->survivors;
  }
  info->status = abort_status();
  return info;
}

absl::StatusOr<secagg::DecodedUpdateSum> SecAggGroups::Result() {
  if (!completed()) {
    return absl::FailedPreconditionError("no SecAgg group has completed");
  }
  std::optional<secagg::DecodedUpdateSum> total;
  absl::Status first_error;
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (!summed(g)) continue;
    auto sum = groups_[g]->Result();
    if (sum.ok() && total.has_value()) {
      sum = secagg::AddDecodedSums(*std::move(total), *sum);
    }
    if (!sum.ok()) {
      // Left out, as an aborted group is; the others still count.
      undecodable_[g] = true;
      LOG(WARNING) << "SecAgg group " << g << " of " << groups_.size()
                   << " left out: its sum does not decode: " << sum.status();
      if (first_error.ok()) first_error = sum.status();
      continue;
    }
    total = *std::move(sum);
  }
  if (!total.has_value()) return first_error;
  return *std::move(total);
}

int64_t SecAggGroups::contributors() const {
  int64_t n = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (summed(g)) n += groups_[g]->contributors();
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
                            const std::string& left_out_message, bool accept) {
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (summed(g)) {
      groups_[g]->SendAcks(message, accept);
    } else {
      groups_[g]->SendAcks(left_out_message, /*accept=*/false);
    }
  }
}

}  // namespace cohort::server
