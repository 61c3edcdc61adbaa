#ifndef COHORT_CLIENT_SECAGG_SECURE_ROUND_DRIVER_H_
#define COHORT_CLIENT_SECAGG_SECURE_ROUND_DRIVER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/secagg/secagg_participant.h"
#include "cohort/v1/coordinator.pb.h"
#include "common/crypto/secure_random.h"

namespace cohort::secagg {

// SecAgg+ phases as a device sees them, by the server message that starts
// each: begin (1, AdvertiseKeys), keys (2, ShareKeys), shares (3,
// MaskedInputCollection), unmasking request (4, Unmasking).
inline constexpr int kSecAggPhases = 4;

// What one server message did to a device's secure round.
struct SecureRoundStep {
  // The device's answers, in order, already wrapped in ClientMessage.secagg.
  // Send them all, even when `status` is not OK: the protocol may have
  // produced an answer before it failed.
  std::vector<cohort::v1::ClientMessage> send;
  // Set when the message was the server's Ack: the round is over for this
  // device, whether its update was used (accepted) or not. `send` is then
  // empty and `status` OK.
  std::optional<cohort::v1::Ack> ack;
  // Not OK: the device is out of the protocol once `send` is sent.
  //   INVALID_ARGUMENT     a message that is neither Ack nor SecAgg
  //                        ("unexpected server message"), a SecAgg message
  //                        before begin, a second begin, a malformed message,
  //                        or a begin that does not fit the update (at
  //                        begin, or at the shares for an UpdateSource);
  //   any code             an UpdateSource's own error, at the shares;
  //   ABORTED              the server aborted the protocol (secagg.abort), or
  //                        too few neighbours are left to go on;
  //   FAILED_PRECONDITION  a SecAgg message out of phase, or any message
  //                        after the SecAgg client failed;
  //   INTERNAL             randomness or OpenSSL failed.
  absl::Status status;
  // The phase (1..kSecAggPhases) the message starts; 0 for an Ack, an abort
  // or a message that is not SecAgg.
  int phase = 0;
};

// The device side of one secure round on the Participate stream (message in,
// messages out), shared by the agent and the simulator so both follow the
// same rules. It speaks cohort.v1 ServerMessage / ClientMessage and runs
// SecAgg+ (Bell et al. 2020, "Secure Single-Server Aggregation with
// (Poly)Logarithmic Overhead") through the lower layer SecAggParticipant,
// which encodes the update with the server's begin parameters and runs a
// SecAggClient:
//
//   Ready()  ->  begin -> advertise_keys  ->  keys -> share_keys
//            ->  shares -> masked_input   ->  unmasking_request ->
//                unmasking_response       ->  Ack (round over)
//
// The driver does no I/O: the caller sends Ready(), then feeds every server
// message to Handle() and sends what it returns, until the step carries an
// Ack or a non-OK status.
//
// Not thread-safe; `random` must outlive it.
class SecureRoundDriver {
 public:
  // `delta` is the flattened update (model::FlattenFloats); rounding_seed
  // keys its stochastic rounding.
  // `field_evaluation` travels only inside the masked input
  // (SecAggParticipant).
  // `noise_seed`: SecAggParticipant's. `clipped`: the device clipped the
  // update already (model::PrepareUpdate), for the clipped count.
  SecureRoundDriver(int64_t round_id, std::vector<float> delta,
                    int64_t examples, double loss, uint64_t rounding_seed,
                    crypto::SecureRandom* random,
                    std::optional<cohort::v1::FieldEvaluation>
                        field_evaluation = std::nullopt,
                    std::optional<std::array<uint8_t, 32>> noise_seed =
                        std::nullopt,
                    bool clipped = false);
  // The update comes from `source` when the masked input is due
  // (SecAggParticipant's lazy form): its errors end the device's part at
  // the shares message.
  SecureRoundDriver(int64_t round_id, UpdateSource source,
                    uint64_t rounding_seed, crypto::SecureRandom* random,
                    std::optional<std::array<uint8_t, 32>> noise_seed =
                        std::nullopt);

  SecureRoundDriver(const SecureRoundDriver&) = delete;
  SecureRoundDriver& operator=(const SecureRoundDriver&) = delete;

  // ClientMessage{secagg.ready{round_id}}: the device trained and waits for
  // the server to fix the cohort.
  cohort::v1::ClientMessage Ready() const;

  // Handles one server message; see SecureRoundStep for the outcomes. Stop
  // after a step with an Ack or a non-OK status: the round is over for this
  // device.
  SecureRoundStep Handle(const cohort::v1::ServerMessage& message);

  // After begin: the protocol's state name, else "Waiting".
  std::string StateName() const;

 private:
  const int64_t round_id_;
  SecAggParticipant participant_;
};

}  // namespace cohort::secagg

#endif  // COHORT_CLIENT_SECAGG_SECURE_ROUND_DRIVER_H_
