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
// in one group is one instance, as before). secagg::GroupSizes fixes the
// sizes; which device joins which group is a shuffle keyed by
// options.group_key and the round, so no device picks its group by its id.
// Each group has its own keys, sharing graph, threshold, deadlines and
// encoding (planned for its own size) and releases only its own sum; the
// coordinator decodes each completed group's sum and adds them. A group
// that aborts (fewer than its threshold left in a phase), or whose sum does
// not decode, is left out with its devices' inputs, not the round: the
// round's sum is ready once every group has finished and one completed.
//
// Thread-safe: the groups are fixed at Start and each SecAggRound is
// thread-safe. Result and SendAcks run on the engine's thread.
class SecAggGroups final {
 public:
  // Splits `cohort`, plans one SecAggRound per group (SecAggRound::Plan,
  // whose errors it returns, naming the group; then no device heard
  // anything) and sends every device its group's SecAggBegin. Each group
  // unmasks on `threads` threads. `update_scales` (buffered rounds) gives
  // a device's staleness weight, sent in its SecAggBegin; absent devices
  // weigh 1.
  static absl::StatusOr<std::shared_ptr<SecAggGroups>> Start(
      const SecAggOptions& options, double clip_norm, int64_t round_id,
      int64_t dimension,
      std::map<std::string, std::shared_ptr<DeviceChannel>> cohort,
      absl::Time now, int threads,
      const std::map<std::string, double>& update_scales = {});

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
  // Why, when aborted(): the first group's phase and threshold, the
  // survivors of every group, and a detail naming each group's abort.
  std::optional<secagg::AbortInfo> abort_info() const;
  absl::Status abort_status() const;

  // The sum of the completed groups' decoded sums. A group whose sum does
  // not decode is logged and left out from then on (contributors, Acks);
  // FAILED_PRECONDITION unless completed(), or the first group's decoding
  // error if no group's sum decodes.
  absl::StatusOr<secagg::DecodedUpdateSum> Result();
  // Devices whose input is in the sum: contributors of the groups summed.
  int64_t contributors() const;
  // Devices in every group.
  int num_clients() const;
  // Devices no group has dropped.
  int live_count() const;
  std::array<int, 4> dropped_by_phase() const;
  int num_groups() const { return static_cast<int>(groups_.size()); }
  // Groups not in the sum: aborted, or completed with a sum that did not
  // decode.
  int groups_left_out() const;
  // The first group's encoding; every group shares its field layout and
  // loss cap (only the modulus and rotation seed differ).
  const secagg::UpdateEncoding& encoding() const {
    return groups_.front()->encoding();
  }

  // Ends every device's stream: accepted for contributors of the groups
  // summed (unless `accept` is false: the round did not commit their
  // sum), `message` for the others of those groups, `left_out_message` for
  // every device of a group left out.
  void SendAcks(const std::string& message,
                const std::string& left_out_message, bool accept = true);

 private:
  SecAggGroups() = default;
  bool summed(size_t g) const {
    return groups_[g]->completed() && !undecodable_[g];
  }

  std::vector<std::shared_ptr<SecAggRound>> groups_;
  std::map<std::string, int> group_of_;
  // Completed groups whose sum did not decode (set by Result).
  std::vector<bool> undecodable_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_SECAGG_GROUPS_H_
