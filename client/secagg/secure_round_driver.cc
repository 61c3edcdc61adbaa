#include "client/secagg/secure_round_driver.h"

#include <utility>

namespace cohort::secagg {
namespace {

// The phase (1..kSecAggPhases) a server message starts, 0 for an abort.
int PhaseOf(const cohort::v1::SecAggServerMessage& m) {
  switch (m.kind_case()) {
    case cohort::v1::SecAggServerMessage::kBegin:
      return 1;
    case cohort::v1::SecAggServerMessage::kKeys:
      return 2;
    case cohort::v1::SecAggServerMessage::kShares:
      return 3;
    case cohort::v1::SecAggServerMessage::kUnmaskingRequest:
      return 4;
    default:
      return 0;
  }
}

}  // namespace

SecureRoundDriver::SecureRoundDriver(int64_t round_id, std::vector<float> delta,
                                     int64_t examples, double loss,
                                     uint64_t rounding_seed,
                                     crypto::SecureRandom* random,
                                     std::optional<cohort::v1::FieldEvaluation>
                                         field_evaluation,
                                     std::optional<std::array<uint8_t, 32>>
                                         noise_seed,
                                     bool clipped)
    : round_id_(round_id),
      participant_(std::move(delta), examples, loss, rounding_seed, random,
                   std::move(field_evaluation), noise_seed, clipped) {}

SecureRoundDriver::SecureRoundDriver(
    int64_t round_id, UpdateSource source, uint64_t rounding_seed,
    crypto::SecureRandom* random,
    std::optional<std::array<uint8_t, 32>> noise_seed)
    : round_id_(round_id),
      participant_(std::move(source), rounding_seed, random, noise_seed) {}

cohort::v1::ClientMessage SecureRoundDriver::Ready() const {
  cohort::v1::ClientMessage m;
  *m.mutable_secagg() = participant_.Ready(round_id_);
  return m;
}

SecureRoundStep SecureRoundDriver::Handle(
    const cohort::v1::ServerMessage& message) {
  SecureRoundStep step;
  if (message.has_ack()) {
    step.ack = message.ack();
    return step;
  }
  if (!message.has_secagg()) {
    step.status = absl::InvalidArgumentError("unexpected server message");
    return step;
  }
  step.phase = PhaseOf(message.secagg());
  std::vector<cohort::v1::SecAggClientMessage> out;
  step.status = participant_.Handle(message.secagg(), &out);
  step.send.reserve(out.size());
  for (auto& m : out) {
    *step.send.emplace_back().mutable_secagg() = std::move(m);
  }
  return step;
}

std::string SecureRoundDriver::StateName() const {
  return participant_.StateName();
}

}  // namespace cohort::secagg
