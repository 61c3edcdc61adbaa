#ifndef COHORT_SERVER_ROUND_SECAGG_ROUND_H_
#define COHORT_SERVER_ROUND_SECAGG_ROUND_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cohort/v1/coordinator.pb.h"
#include "common/secagg/secure_update.h"
#include "server/round/device_channel.h"
#include "server/round/round_options.h"
#include "server/secagg/secagg_server.h"

namespace cohort::server {

// The secure-aggregation part of one round: the fixed cohort of devices that
// finished training, mapped to SecAgg+ ids 0..n-1 in device-id order, the
// SecAggServer, and the routing of its messages onto the devices' streams.
//
// Thread-safe. Receive and Gone may run on RPC threads without the engine's
// lock; Tick runs on the engine's driver thread. The unmasking work runs on
// whichever thread completes the last phase.
class SecAggRound final : public secagg::ServerSender {
 public:
  // Picks k and t for n = cohort.size() devices (secagg::ChooseParameters:
  // a cohort too small to meet the targets gets the complete graph with t
  // just above k/2 and a warning), plans the update encoding for `dimension`
  // coordinates and creates the server; nothing is sent until Begin.
  // INVALID_ARGUMENT for fewer than 2 devices or an impossible encoding,
  // FAILED_PRECONDITION for an expected dropout no cohort can be planned
  // for. ResolveRoundOptions refuses configs that could get either.
  // Devices clip their updates to `clip_norm`, the round's bound. One
  // SecAggRound is one SecAgg+ instance: the whole secure cohort, or one
  // group of it (SecAggGroups). Unmasking runs on `threads` threads.
  static absl::StatusOr<std::shared_ptr<SecAggRound>> Plan(
      const SecAggOptions& options, double clip_norm, int64_t round_id,
      int64_t dimension,
      std::map<std::string, std::shared_ptr<DeviceChannel>> cohort,
      absl::Time now, int threads);
  // Sends every device its SecAggBegin, with its entry of `update_scales`
  // (SecAggBegin.update_scale; 1 when absent). Once, after Plan.
  void Begin(const std::map<std::string, double>& update_scales = {});

  // The devices, in SecAgg+ id order.
  const std::vector<std::string>& devices() const { return devices_; }

  // One protocol message from `device`. OK if accepted; otherwise the device
  // is out of the protocol and its stream should end with the status
  // (ABORTED for a device not in the cohort).
  absl::Status Receive(const std::string& device,
                       const cohort::v1::SecAggClientMessage& message);
  // The device's stream ended: it is dropped now rather than at the deadline.
  void Gone(const std::string& device);
  // Advances past a phase whose deadline passed; (re)arms the deadline when
  // the phase changed since the last tick.
  void Tick(absl::Time now);

  bool completed() const { return server_->IsCompleted(); }
  bool aborted() const { return server_->IsAborted(); }
  absl::Status abort_status() const { return server_->AbortStatus(); }
  // The aborted phase, its threshold and survivors; nullopt unless aborted.
  std::optional<secagg::AbortInfo> abort_info() const {
    return server_->abort_info();
  }
  // Devices the protocol has not dropped.
  int live_count() const { return server_->LiveCount(); }
  // Devices dropped by the protocol, by phase (SecAggServer::kPhaseNames).
  std::array<int, 4> dropped_by_phase() const {
    return server_->DroppedByPhase();
  }
  // The decoded sum. FAILED_PRECONDITION unless completed.
  absl::StatusOr<secagg::DecodedUpdateSum> Result() const;
  // Devices whose input is in the sum (after completion).
  int64_t contributors() const;
  int num_clients() const { return config_.n; }
  const secagg::SecAggConfig& config() const { return config_; }
  const secagg::UpdateEncoding& encoding() const { return encoding_; }
  std::string phase_name() const { return server_->StateName(); }

  // Ends every device's stream with an Ack: accepted for the contributors of
  // a completed instance (unless `accept` is false: its sum was left out),
  // not accepted (with `message`) for everyone else.
  void SendAcks(const std::string& message, bool accept = true);

  // secagg::ServerSender: routes to the device's channel.
  void Send(int client, secagg::ServerToClient message) override;

 private:
  SecAggRound() = default;
  // Fills config_ and encoding_ for the cohort in devices_.
  absl::Status PlanEncoding(const SecAggOptions& options, double clip_norm,
                            int64_t round_id, int64_t dimension);

  secagg::SecAggConfig config_;
  secagg::UpdateEncoding encoding_;
  absl::Duration phase_timeout_;
  std::vector<std::string> devices_;
  std::map<std::string, int> ids_;
  std::vector<std::shared_ptr<DeviceChannel>> channels_;
  std::unique_ptr<secagg::SecAggServer> server_;

  mutable absl::Mutex mu_;
  std::string armed_phase_ ABSL_GUARDED_BY(mu_);
  absl::Time deadline_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_SECAGG_ROUND_H_
