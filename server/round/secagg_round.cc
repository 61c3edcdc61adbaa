#include "server/round/secagg_round.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/kill_point.h"
#include "common/base/status_macros.h"
#include "common/crypto/sha256.h"
#include "common/secagg/parameter_finder.h"
#include "common/secagg/secagg_wire.h"
#include "glog/logging.h"

namespace cohort::server {
namespace {

// Public per-round seeds (graph ring order, rotation signs), fixed by the
// round and its cohort so a run is reproducible.
uint64_t PublicSeed(int64_t round_id, const std::vector<std::string>& devices,
                    const char* label) {
  std::string material = absl::StrCat(label, "|", round_id);
  for (const auto& d : devices) absl::StrAppend(&material, "|", d);
  return crypto::Sha256Prefix64(material);
}

}  // namespace

absl::StatusOr<std::shared_ptr<SecAggRound>> SecAggRound::Plan(
    const SecAggOptions& options, double clip_norm, int64_t round_id,
    int64_t dimension,
    std::map<std::string, std::shared_ptr<DeviceChannel>> cohort,
    absl::Time now, int threads) {
  std::shared_ptr<SecAggRound> r(new SecAggRound());
  for (auto& [device, channel] : cohort) {
    r->ids_[device] = static_cast<int>(r->devices_.size());
    r->devices_.push_back(device);
    r->channels_.push_back(std::move(channel));
  }
  r->phase_timeout_ = options.phase_timeout;
  COHORT_RETURN_IF_ERROR(
      r->PlanEncoding(options, clip_norm, round_id, dimension));
  auto server = secagg::SecAggServer::Create(r->config_, r.get(), threads);
  if (!server.ok()) return server.status();
  r->server_ = *std::move(server);
  {
    absl::MutexLock lock(&r->mu_);
    r->armed_phase_ = r->server_->StateName();
    r->deadline_ = now + r->phase_timeout_;
  }
  const secagg::SecAggConfig& c = r->config_;
  LOG(INFO) << "round " << round_id << ": secure aggregation over " << c.n
            << " devices, k=" << c.k << " t=" << c.t << ", " << c.vector_length
            << " coordinates mod 2^" << c.bits;
  return r;
}

absl::Status SecAggRound::PlanEncoding(const SecAggOptions& options,
                                       double clip_norm, int64_t round_id,
                                       int64_t dimension) {
  const int n = static_cast<int>(devices_.size());
  COHORT_ASSIGN_OR_RETURN(secagg::SecAggParameters params,
                          secagg::ChooseParameters(n, options.expected_dropout,
                                                   options.corrupt_fraction));
  if (params.fallback) {
    LOG(WARNING) << "round " << round_id << ": " << n
                 << " devices are too few for the SecAgg+ targets at dropout "
                 << options.expected_dropout
                 << "; using the complete graph with threshold " << params.t;
  }
  if (options.distributed_encoding.has_value()) {
    // Distributed DP: planned once for the largest cohort, so that the
    // accountant's view holds for every round.
    encoding_ = *options.distributed_encoding;
  } else {
    COHORT_ASSIGN_OR_RETURN(
        encoding_, secagg::PlanUpdateEncoding(
                       options.bits_per_coordinate, clip_norm, options.rotate,
                       /*rotation_seed=*/0, options.example_cap, dimension, n));
  }
  encoding_.params.rotation_seed = PublicSeed(round_id, devices_, "rotation");
  encoding_.field = options.field;
  config_.n = n;
  config_.k = params.k;
  config_.t = params.t;
  config_.bits = encoding_.params.bits;
  config_.vector_length = secagg::InputLength(encoding_);
  config_.graph_seed = PublicSeed(round_id, devices_, "graph");
  config_.round_id = static_cast<uint64_t>(round_id);
  return absl::OkStatus();
}

void SecAggRound::Begin(const std::map<std::string, double>& update_scales) {
  for (int i = 0; i < config_.n; ++i) {
    secagg::BeginParams begin{config_, i, encoding_};
    auto scale = update_scales.find(devices_[i]);
    if (scale != update_scales.end()) begin.update_scale = scale->second;
    cohort::v1::ServerMessage m;
    *m.mutable_secagg()->mutable_begin() = secagg::MakeBegin(begin);
    channels_[i]->Send(std::move(m));
  }
}

absl::Status SecAggRound::Receive(
    const std::string& device, const cohort::v1::SecAggClientMessage& message) {
  auto it = ids_.find(device);
  if (it == ids_.end()) {
    return absl::AbortedError("device is not in this round's SecAgg cohort");
  }
  auto parsed = secagg::FromProto(message, config_);
  if (!parsed.ok()) {
    // Malformed on the wire: treated as any other bad message.
    server_->ClientGone(it->second);
    return parsed.status();
  }
  if (base::KillPointArmed()) {
    base::KillPoint(absl::StrCat("server.secagg.", server_->StateName()));
  }
  return server_->ReceiveMessage(it->second, *parsed);
}

void SecAggRound::Gone(const std::string& device) {
  auto it = ids_.find(device);
  if (it != ids_.end()) server_->ClientGone(it->second);
}

void SecAggRound::Tick(absl::Time now) {
  const std::string phase = server_->StateName();
  {
    absl::MutexLock lock(&mu_);
    if (phase != armed_phase_) {
      armed_phase_ = phase;
      deadline_ = now + phase_timeout_;
      return;
    }
    if (now < deadline_) return;
  }
  if (completed() || aborted()) return;
  LOG(INFO) << "SecAgg phase " << phase << " deadline passed";
  server_->ProceedToNext().IgnoreError();
}

absl::StatusOr<secagg::DecodedUpdateSum> SecAggRound::Result() const {
  auto sum = server_->Result();
  if (!sum.ok()) return sum.status();
  return secagg::DecodeUpdateSum(encoding_, *sum);
}

int64_t SecAggRound::contributors() const {
  return static_cast<int64_t>(server_->Contributors().size());
}

void SecAggRound::SendAcks(const std::string& message, bool accept) {
  std::vector<bool> in_sum(devices_.size(), false);
  if (accept) {
    for (int i : server_->Contributors()) in_sum[i] = true;
  }
  for (size_t i = 0; i < devices_.size(); ++i) {
    cohort::v1::ServerMessage m;
    m.mutable_ack()->set_round_id(static_cast<int64_t>(config_.round_id));
    m.mutable_ack()->set_accepted(in_sum[i]);
    m.mutable_ack()->set_message(in_sum[i] ? "update summed securely"
                                           : message);
    channels_[i]->Send(std::move(m));
  }
}

void SecAggRound::Send(int client, secagg::ServerToClient message) {
  if (client < 0 || client >= static_cast<int>(channels_.size())) return;
  cohort::v1::ServerMessage m;
  *m.mutable_secagg() = secagg::ToProto(message);
  channels_[client]->Send(std::move(m));
}

}  // namespace cohort::server
