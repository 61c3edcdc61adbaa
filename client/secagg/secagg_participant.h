#ifndef COHORT_CLIENT_SECAGG_SECAGG_PARTICIPANT_H_
#define COHORT_CLIENT_SECAGG_SECAGG_PARTICIPANT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/secagg/secagg_client.h"
#include "cohort/v1/coordinator.pb.h"
#include "common/crypto/secure_random.h"
#include "common/secagg/secagg_wire.h"

namespace cohort::secagg {

// What a device trained, as its masked input encodes it.
struct TrainedUpdate {
  std::vector<float> delta;  // model::FlattenFloats of the update
  int64_t examples = 0;
  double loss = 0;
  // Goes into the masked input when begin's encoding carries a field
  // layout (field_encoding.h), and nowhere else.
  std::optional<cohort::v1::FieldEvaluation> field_evaluation;
  // The device clipped the delta already (model::PrepareUpdate), for the
  // clipped count.
  bool clipped = false;
};

// Gives the update when the masked input is due (MaskedInputCollection),
// once. The simulator trains its clients then, so a secure cohort's updates
// are never all in memory together. It runs while the device's SecAggClient
// is locked: it must not call back into the driver.
using UpdateSource = absl::AnyInvocable<absl::StatusOr<TrainedUpdate>()>;

// A device's side of a secure round, on the SecAgg messages (inner layer):
// it holds the trained update (or its UpdateSource) until the masked input
// is due, encodes it then with the parameters of the server's begin
// (secure_update.h), and runs a SecAggClient from begin on. SecureRoundDriver (secure_round_driver.h) wraps it in the
// Participate stream's envelopes for the agent and the simulator.
//
// Not thread-safe; `random` must outlive it.
class SecAggParticipant final : public ClientSender {
 public:
  // `delta` is the flattened update (model::FlattenFloats); rounding_seed
  // keys its stochastic rounding. `field_evaluation` (nullopt: none) goes
  // into the masked input when begin's encoding carries a field layout
  // (field_encoding.h), and nowhere else.
  // Under distributed DP (the encoding's noise_stddev) the noise comes from
  // `noise_seed` (the simulator's, so runs repeat) or, unset, from 32 bytes
  // of `random`: it must stay secret, or the sum's noise can be removed.
  SecAggParticipant(std::vector<float> delta, int64_t examples, double loss,
                    uint64_t rounding_seed, crypto::SecureRandom* random,
                    std::optional<cohort::v1::FieldEvaluation>
                        field_evaluation = std::nullopt,
                    std::optional<std::array<uint8_t, 32>> noise_seed =
                        std::nullopt,
                    bool clipped = false);
  // The update comes from `source` when the masked input is due; its
  // errors, and a dimension other than begin's (INVALID_ARGUMENT), end the
  // device's part then.
  SecAggParticipant(UpdateSource source, uint64_t rounding_seed,
                    crypto::SecureRandom* random,
                    std::optional<std::array<uint8_t, 32>> noise_seed =
                        std::nullopt);

  // Its SecAggClient points back at it (the sender and the input source).
  SecAggParticipant(const SecAggParticipant&) = delete;
  SecAggParticipant& operator=(const SecAggParticipant&) = delete;

  cohort::v1::SecAggClientMessage Ready(int64_t round_id) const;

  // Handles one server message and appends the answers to `out`. Errors end
  // the device's part: INVALID_ARGUMENT for a bad or unexpected server
  // message, ABORTED when the server aborted the protocol.
  absl::Status Handle(const cohort::v1::SecAggServerMessage& message,
                      std::vector<cohort::v1::SecAggClientMessage>* out);

  // After begin: the protocol's state name, else "Waiting".
  std::string StateName() const;

  // ClientSender: collects the SecAggClient's messages.
  void Send(ClientToServer message) override;

 private:
  absl::Status Begin(const cohort::v1::SecAggBegin& begin);
  // The SecAggClient's input: the source's update, EncodeUpdate'd with
  // distributed DP noise when the encoding asks for it.
  absl::StatusOr<std::vector<uint64_t>> Encode();

  UpdateSource source_;
  // The update's length when it was given up front (checked at begin).
  std::optional<int64_t> dimension_;
  uint64_t rounding_seed_;
  std::optional<std::array<uint8_t, 32>> noise_seed_;
  crypto::SecureRandom* const random_;
  BeginParams params_;
  std::unique_ptr<SecAggClient> client_;
  std::vector<cohort::v1::SecAggClientMessage> pending_;
};

}  // namespace cohort::secagg

#endif  // COHORT_CLIENT_SECAGG_SECAGG_PARTICIPANT_H_
