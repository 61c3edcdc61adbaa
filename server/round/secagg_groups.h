#ifndef COHORT_SERVER_ROUND_SECAGG_GROUPS_H_
#define COHORT_SERVER_ROUND_SECAGG_GROUPS_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/coordinator.pb.h"
#include "common/secagg/secure_update.h"
#include "server/round/device_channel.h"
#include "server/round/round_options.h"
#include "server/round/secagg_round.h"

namespace cohort::server {

// Hierarchical secure aggregation: the secure part of one round as several
// independent SecAgg+ instances (groups) of at most
// options.max_group_size devices each, run in parallel (a cohort that fits
// in one group is one instance, as before). Devices are split in device-id
// order by secagg::GroupSizes. Each group has its own keys, sharing graph,
// threshold, deadlines and encoding (planned for its own size) and releases
// only its own sum; the coordinator decodes each completed group's sum and
// adds them. A group that aborts (fewer than its threshold left in a phase)
// is dropped with its devices' inputs, not the round: the round completes
// once every group has finished and at least one completed.
//
// Thread-safe: the groups are fixed at Start and each SecAggRound is
// thread-safe.
class SecAggGroups final {
 public:
  // Splits `cohort` and starts one SecAggRound per group (SecAggRound::Start,
  // whose errors it returns; then no group was started).
  static absl::StatusOr<std::shared_ptr<SecAggGroups>> Start(
      const SecAggOptions& options, double clip_norm, int64_t round_id,
      int64_t dimension,
      std::map<std::string, std::shared_ptr<DeviceChannel>> cohort,
      absl::Time now);

  // Routes to the device's group (SecAggRound::Receive); ABORTED for a
  // device in no group.
  absl::Status Receive(const std::string& device,
                       const cohort::v1::SecAggClientMessage& message);
  void Gone(const std::string& device);
  void Tick(absl::Time now);

  // Every group has completed or aborted, and at least one completed.
  bool completed() const;
  // Every group aborted: no sum at all.
  bool aborted() const;
  // A summary of the groups' aborts (the first one's phase and threshold);
  // nullopt unless aborted().
  std::optional<secagg::AbortInfo> abort_info() const;
  absl::Status abort_status() const;

  // The sum of the completed groups' decoded sums (FAILED_PRECONDITION
  // unless completed(); a group's decoding error otherwise).
  absl::StatusOr<secagg::DecodedUpdateSum> Result() const;
  // Devices whose input is in the sum: contributors of completed groups.
  int64_t contributors() const;
  // Devices in every group.
  int num_clients() const;
  // Devices no group has dropped.
  int live_count() const;
  std::array<int, 4> dropped_by_phase() const;
  int num_groups() const { return static_cast<int>(groups_.size()); }
  int groups_aborted() const;
  // The first group's encoding; every group shares its field layout and
  // loss cap (only the modulus and rotation seed differ).
  const secagg::UpdateEncoding& encoding() const {
    return groups_.front()->encoding();
  }

  // Ends every device's stream: accepted for contributors of completed
  // groups, `message` for the others of completed groups, `aborted_message`
  // for every device of an aborted group.
  void SendAcks(const std::string& message, const std::string& aborted_message);

 private:
  SecAggGroups() = default;

  std::vector<std::shared_ptr<SecAggRound>> groups_;
  std::map<std::string, int> group_of_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_SECAGG_GROUPS_H_
