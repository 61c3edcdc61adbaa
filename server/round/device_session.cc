#include "server/round/device_session.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/store/store_util.h"

namespace cohort::server {

int LiveDevices::Open(const std::string& device) {
  absl::MutexLock lock(&mu_);
  const int live = ++live_[device];
  if (live > 1) {
    absl::Time& last = warned_[device];
    if (absl::Now() - last >= absl::Minutes(1)) {
      last = absl::Now();
      LOG(WARNING) << "device " << device << " has " << live
                   << " live conversations: is one certificate or device_id "
                      "used by several devices? Only one of them is served "
                      "per round";
    }
  }
  return live;
}

void LiveDevices::Close(const std::string& device) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(device);
  if (it == live_.end()) return;
  if (--it->second == 0) live_.erase(it);
}

namespace {

// DeviceApiCounters::CheckIn's word for a check-in's answer.
absl::string_view CheckInResult(const absl::StatusOr<CheckInOutcome>& outcome) {
  if (!outcome.ok()) {
    return outcome.status().code() == absl::StatusCode::kUnavailable
               ? "store_unavailable"
               : "refused";
  }
  if (auto* retry = std::get_if<cohort::v1::RetryWindow>(&*outcome)) {
    return retry->cause();
  }
  return "assigned";
}

// DeviceApiCounters::Rejected's word for the engine's refusal of a
// message. The engine's FAILED_PRECONDITION means the round or the
// protocol had moved on (a dropped device, a finished aggregation); the
// session's own "nothing assigned" is counted where it is decided.
absl::string_view RejectionReason(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return "malformed";
    case absl::StatusCode::kAborted:
      return "not_in_round";
    case absl::StatusCode::kFailedPrecondition:
      return "late";
    default:
      return "other";
  }
}

}  // namespace

DeviceSession::DeviceSession(RoundEngine* engine, LiveDevices* live,
                             std::string cert_name, DeviceApiCounters* counters,
                             const Leadership* leadership)
    : engine_(engine),
      live_(live),
      cert_name_(std::move(cert_name)),
      counters_(counters),
      leadership_(leadership) {}

DeviceSession::~DeviceSession() { End(); }

absl::StatusOr<CheckInOutcome> DeviceSession::CheckIn(
    const cohort::v1::CheckIn& check_in) {
  absl::StatusOr<CheckInOutcome> outcome = CheckInUncounted(check_in);
  if (counters_ != nullptr) counters_->CheckIn(CheckInResult(outcome));
  return outcome;
}

absl::StatusOr<CheckInOutcome> DeviceSession::CheckInUncounted(
    const cohort::v1::CheckIn& check_in) {
  if (!device_.empty()) {
    return absl::FailedPreconditionError(
        "this conversation already checked in");
  }
  const std::string device =
      cert_name_.empty() ? check_in.device_id() : cert_name_;
  if (absl::Status valid = ValidateStoreName(device, "device id");
      !valid.ok()) {
    return valid;
  }
  const std::string& population = check_in.population();
  if (!population.empty() && population != engine_->task()) {
    return absl::FailedPreconditionError(
        absl::StrCat("this coordinator serves population '", engine_->task(),
                     "', not '", population, "'"));
  }
  // A standby's engine has not started: nothing past here may touch it.
  if (leadership_ != nullptr && !leadership_->leading()) {
    device_ = device;
    return leadership_->StandbyRetry();
  }
  if (!check_in.capabilities().clips_statistics_apart() &&
      engine_->has_running_statistics()) {
    return absl::FailedPreconditionError(
        "this task's model has batch norm running statistics, which this "
        "agent does not clip apart from the weights "
        "(Capabilities.clips_statistics_apart): upgrade the agent");
  }
  // Rounds pause while the store is away: no device trains for a version
  // that could not be stored.
  if (absl::Status store = engine_->StoreStatus(); !store.ok()) return store;
  device_ = device;
  if (live_ != nullptr) {
    live_->Open(device_);
    registered_ = true;
  }
  CheckInOutcome outcome = engine_->CheckIn(device_);
  // Only from a device that proved its identity (mTLS), about the model it
  // says it holds: anonymous statistics could steer automatic rollback.
  if (check_in.has_field_evaluation() && !cert_name_.empty() &&
      check_in.field_evaluation().version() ==
          check_in.cached_model_version()) {
    engine_->RecordCheckInField(device_, check_in.field_evaluation());
  }
  if (auto* a = std::get_if<cohort::v1::TaskAssignment>(&outcome)) {
    round_id_ = a->round_id();
    absl::MutexLock lock(&mu_);
    assigned_ = true;
  }
  return outcome;
}

absl::StatusOr<cohort::v1::Ack> DeviceSession::Report(
    const cohort::v1::Report& report) {
  if (!TakeAssignment()) {
    absl::Status refused =
        absl::FailedPreconditionError("no assignment in this conversation");
    if (counters_ != nullptr) counters_->Rejected("report", "no_assignment");
    return refused;
  }
  // The engine has this device's answer, accepted or not: no drop follows.
  absl::StatusOr<cohort::v1::Ack> ack = engine_->SubmitReport(device_, report);
  CountRejection("report", ack.status(), ack.ok() ? &*ack : nullptr);
  return ack;
}

absl::StatusOr<std::optional<cohort::v1::Ack>> DeviceSession::SecAgg(
    const cohort::v1::SecAggClientMessage& message,
    std::shared_ptr<DeviceChannel> channel) {
  {
    absl::MutexLock lock(&mu_);
    if (!assigned_) {
      absl::Status refused =
          absl::FailedPreconditionError("no assignment in this conversation");
      if (counters_ != nullptr) counters_->Rejected("secagg", "no_assignment");
      return refused;
    }
  }
  auto ack =
      engine_->SubmitSecAgg(device_, round_id_, message, std::move(channel));
  const cohort::v1::Ack* answer =
      ack.ok() && ack->has_value() ? &**ack : nullptr;
  CountRejection("secagg", ack.status(), answer);
  if (!ack.ok()) End();
  return ack;
}

void DeviceSession::CountRejection(absl::string_view kind,
                                   const absl::Status& status,
                                   const cohort::v1::Ack* ack) {
  if (counters_ == nullptr) return;
  if (!status.ok()) {
    counters_->Rejected(kind, RejectionReason(status));
  } else if (ack != nullptr && !ack->accepted()) {
    counters_->Rejected(kind, "late");
  }
}

void DeviceSession::Answered() { TakeAssignment(); }

bool DeviceSession::TakeAssignment() {
  absl::MutexLock lock(&mu_);
  const bool had = assigned_;
  assigned_ = false;
  return had;
}

void DeviceSession::End() {
  {
    absl::MutexLock lock(&mu_);
    if (ended_) return;
    ended_ = true;
  }
  if (TakeAssignment()) engine_->Drop(device_, round_id_);
  if (registered_) live_->Close(device_);
}

}  // namespace cohort::server
