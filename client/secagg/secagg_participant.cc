#include "client/secagg/secagg_participant.h"

#include "absl/strings/str_cat.h"
#include "common/base/splitmix64.h"
#include "common/privacy/noise_source.h"

namespace cohort::secagg {

SecAggParticipant::SecAggParticipant(std::vector<float> delta, int64_t examples,
                                     double loss, uint64_t rounding_seed,
                                     crypto::SecureRandom* random,
                                     std::optional<cohort::v1::FieldEvaluation>
                                         field_evaluation,
                                     std::optional<std::array<uint8_t, 32>>
                                         noise_seed,
                                     bool clipped)
    : SecAggParticipant(UpdateSource(nullptr), rounding_seed, random,
                        noise_seed) {
  // Given up front: a begin for another length is refused at begin.
  dimension_ = static_cast<int64_t>(delta.size());
  source_ = [u = TrainedUpdate{std::move(delta), examples, loss,
                               std::move(field_evaluation), clipped}]() mutable
      -> absl::StatusOr<TrainedUpdate> { return std::move(u); };
}

SecAggParticipant::SecAggParticipant(
    UpdateSource source, uint64_t rounding_seed, crypto::SecureRandom* random,
    std::optional<std::array<uint8_t, 32>> noise_seed)
    : source_(std::move(source)),
      rounding_seed_(rounding_seed),
      noise_seed_(noise_seed),
      random_(random) {}

absl::StatusOr<std::vector<uint64_t>> SecAggParticipant::Encode() {
  if (source_ == nullptr) {
    return absl::FailedPreconditionError("the update was encoded already");
  }
  absl::StatusOr<TrainedUpdate> update = std::move(source_)();
  source_ = nullptr;
  if (!update.ok()) return update.status();
  if (params_.encoding.dimension != static_cast<int64_t>(update->delta.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SecAggBegin is for ", params_.encoding.dimension,
        " coordinates, this update has ", update->delta.size()));
  }
  if (params_.update_scale != 1.0) {
    // The staleness weight scales the update, not its example weight.
    const float scale = static_cast<float>(params_.update_scale);
    for (float& v : update->delta) v *= scale;
  }
  base::SplitMix64 rng(rounding_seed_);
  auto uniform = [&rng] { return rng.NextDouble(); };
  const std::vector<double> field = FieldValues(
      params_.encoding.field,
      update->field_evaluation.has_value() ? &*update->field_evaluation : nullptr,
      params_.encoding.loss_cap);
  if (params_.encoding.noise_stddev == 0) {
    return EncodeUpdate(params_.encoding, update->delta, update->examples,
                        update->loss, uniform, field, std::nullopt,
                        update->clipped);
  }
  std::array<uint8_t, 32> seed{};
  if (noise_seed_.has_value()) {
    seed = *noise_seed_;
  } else if (absl::Status s = random_->Fill(absl::MakeSpan(seed)); !s.ok()) {
    return s;
  }
  auto source = privacy::NoiseSource::Create(seed);
  if (!source.ok()) return source.status();
  // The keystream cannot fail once created; a failure is reported after.
  absl::Status failed;
  auto noise = [&] {
    absl::StatusOr<double> u = source->Uniform();
    if (!u.ok()) failed.Update(u.status());
    return u.value_or(1.0);
  };
  auto input = EncodeUpdate(params_.encoding, update->delta, update->examples,
                            update->loss, uniform, field, noise,
                            update->clipped);
  if (!failed.ok()) return failed;
  return input;
}

cohort::v1::SecAggClientMessage SecAggParticipant::Ready(
    int64_t round_id) const {
  cohort::v1::SecAggClientMessage m;
  m.mutable_ready()->set_round_id(round_id);
  return m;
}

std::string SecAggParticipant::StateName() const {
  return client_ == nullptr ? "Waiting" : client_->StateName();
}

void SecAggParticipant::Send(ClientToServer message) {
  pending_.push_back(ToProto(message, params_.config));
}

absl::Status SecAggParticipant::Begin(const cohort::v1::SecAggBegin& begin) {
  auto params = ParseBegin(begin);
  if (!params.ok()) return params.status();
  if (dimension_.has_value() && params->encoding.dimension != *dimension_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SecAggBegin is for ", params->encoding.dimension,
        " coordinates, this update has ", *dimension_));
  }
  params_ = *std::move(params);
  // Encoded when the masked input is due, not now: the update is held as
  // floats (or not at all) through the first two phases.
  auto client = SecAggClient::Create(params_.config, params_.client_id,
                                     InputSource([this] { return Encode(); }),
                                     random_, this);
  if (!client.ok()) return client.status();
  client_ = *std::move(client);
  return client_->Start();
}

absl::Status SecAggParticipant::Handle(
    const cohort::v1::SecAggServerMessage& message,
    std::vector<cohort::v1::SecAggClientMessage>* out) {
  absl::Status status;
  if (message.has_begin()) {
    status = client_ != nullptr
                 ? absl::InvalidArgumentError("a second SecAggBegin")
                 : Begin(message.begin());
  } else if (client_ == nullptr) {
    status = absl::InvalidArgumentError("SecAgg message before SecAggBegin");
  } else if (message.has_abort()) {
    status = absl::AbortedError(
        absl::StrCat("the server aborted secure aggregation: ",
                     message.abort().reason()));
  } else {
    auto parsed = FromProto(message);
    status = parsed.ok() ? client_->ReceiveMessage(*parsed) : parsed.status();
  }
  for (auto& m : pending_) out->push_back(std::move(m));
  pending_.clear();
  return status;
}

}  // namespace cohort::secagg
