#include "client/agent/agent_counters.h"

#include <memory>
#include <string>
#include <utility>

#include "common/base/files.h"
#include "prometheus/text_serializer.h"

namespace cohort::client {
namespace {

constexpr Refusal kRefusals[] = {
    Refusal::kDeadline, Refusal::kModelRefused,  Refusal::kModelDownload,
    Refusal::kSecAgg,   Refusal::kServerRefused, Refusal::kIneligible,
    Refusal::kBudget};
constexpr RoundResult kRoundResults[] = {
    RoundResult::kAccepted, RoundResult::kNotUsed, RoundResult::kAbandoned};
// RetryWindow.cause values this build knows (coordinator.proto).
constexpr const char* kRetryCauses[] = {
    "not_selecting", "round_full", "already_assigned", "paused", "standby"};
constexpr const char* kCheckInResults[] = {"assigned", "retry", "error"};

template <typename T>
prometheus::Family<T>& MakeFamily(prometheus::detail::Builder<T> builder,
                                  prometheus::Registry& registry,
                                  const char* name, const char* help) {
  return builder.Name(name).Help(help).Register(registry);
}

// A session that counts the protobuf bytes it carries, then forwards.
class CountingSession final : public ParticipationSession {
 public:
  CountingSession(std::unique_ptr<ParticipationSession> inner,
                  AgentCounters* counters)
      : inner_(std::move(inner)), counters_(counters) {}

  absl::StatusOr<cohort::v1::ServerMessage> CheckIn(
      const cohort::v1::CheckIn& check_in) override {
    counters_->Sent(static_cast<int64_t>(check_in.ByteSizeLong()));
    return CountReceived(inner_->CheckIn(check_in));
  }
  absl::StatusOr<cohort::v1::Ack> Report(
      const cohort::v1::Report& report) override {
    counters_->Sent(static_cast<int64_t>(report.ByteSizeLong()));
    return CountReceived(inner_->Report(report));
  }
  absl::Status Send(const cohort::v1::ClientMessage& message) override {
    counters_->Sent(static_cast<int64_t>(message.ByteSizeLong()));
    return inner_->Send(message);
  }
  absl::StatusOr<cohort::v1::ServerMessage> Receive() override {
    return CountReceived(inner_->Receive());
  }
  void Close() override { inner_->Close(); }

 private:
  template <typename T>
  absl::StatusOr<T> CountReceived(absl::StatusOr<T> got) {
    if (got.ok())
      counters_->Received(static_cast<int64_t>(got->ByteSizeLong()));
    return got;
  }

  const std::unique_ptr<ParticipationSession> inner_;
  AgentCounters* const counters_;
};

// A transport whose sessions and downloads count their bytes. Forwards every
// virtual of CoordinatorTransport: one added there must be added here.
class CountingTransport final : public CoordinatorTransport {
 public:
  CountingTransport(std::unique_ptr<CoordinatorTransport> inner,
                    AgentCounters* counters)
      : inner_(std::move(inner)), counters_(counters) {}

  std::unique_ptr<ParticipationSession> OpenSession() override {
    return std::make_unique<CountingSession>(inner_->OpenSession(), counters_);
  }
  absl::StatusOr<std::string> FetchModel(const cohort::v1::ModelRef& ref,
                                         const std::string& task) override {
    const int64_t before = inner_->download_stats().bytes_received;
    return Counted(before, inner_->FetchModel(ref, task));
  }
  absl::StatusOr<std::string> FetchModelFrom(const cohort::v1::ModelRef& ref,
                                             const std::string& task,
                                             const ModelBase& base) override {
    const int64_t before = inner_->download_stats().bytes_received;
    return Counted(before, inner_->FetchModelFrom(ref, task, base));
  }
  DownloadStats download_stats() const override {
    return inner_->download_stats();
  }
  void CancelAll() override { inner_->CancelAll(); }
  absl::Status Diagnose() override { return inner_->Diagnose(); }
  absl::StatusOr<cohort::v1::DeviceCertificate> RenewCertificate(
      const std::string& csr_pem) override {
    return inner_->RenewCertificate(csr_pem);
  }
  absl::Status ReloadIdentity() override { return inner_->ReloadIdentity(); }

 private:
  // `before`: the inner transport's bytes_received before the download.
  absl::StatusOr<std::string> Counted(int64_t before,
                                      absl::StatusOr<std::string> bytes) {
    const int64_t streamed = inner_->download_stats().bytes_received - before;
    if (streamed > 0) {
      counters_->Received(streamed);
    } else if (bytes.ok()) {
      // A transport that does not count downloads.
      counters_->Received(static_cast<int64_t>(bytes->size()));
    }
    return bytes;
  }

  const std::unique_ptr<CoordinatorTransport> inner_;
  AgentCounters* const counters_;
};

}  // namespace

const char* RefusalName(Refusal reason) {
  switch (reason) {
    case Refusal::kDeadline:
      return "deadline";
    case Refusal::kModelRefused:
      return "model_refused";
    case Refusal::kModelDownload:
      return "model_download";
    case Refusal::kSecAgg:
      return "secagg";
    case Refusal::kServerRefused:
      return "server_refused";
    case Refusal::kIneligible:
      return "ineligible";
    case Refusal::kBudget:
      return "budget";
  }
  return "unknown";
}

const char* RoundResultName(RoundResult result) {
  switch (result) {
    case RoundResult::kAccepted:
      return "accepted";
    case RoundResult::kNotUsed:
      return "not_used";
    case RoundResult::kAbandoned:
      return "abandoned";
  }
  return "unknown";
}

std::string RetryCauseLabel(absl::string_view cause) {
  if (cause.empty()) return "unspecified";
  for (const char* known : kRetryCauses) {
    if (cause == known) return known;
  }
  // A label value a server can choose freely would grow the series without
  // bound.
  return "other";
}

AgentCounters::AgentCounters()
    : check_ins_(MakeFamily(prometheus::BuildCounter(), registry_,
                            "cohort_agent_check_ins_total",
                            "Check-ins by answer: assigned (a task "
                            "assignment), retry (a retry window) or error "
                            "(the call failed or was refused).")),
      retries_(MakeFamily(prometheus::BuildCounter(), registry_,
                          "cohort_agent_retries_total",
                          "Check-ins answered with a retry window, by the "
                          "window's cause.")),
      joined_(MakeFamily(prometheus::BuildCounter(), registry_,
                         "cohort_agent_rounds_joined_total",
                         "Task assignments taken.")
                  .Add({})),
      rounds_(MakeFamily(prometheus::BuildCounter(), registry_,
                         "cohort_agent_rounds_total",
                         "Joined rounds by how they ended: accepted, "
                         "not_used (acknowledged but not used) or "
                         "abandoned.")),
      refusals_(MakeFamily(prometheus::BuildCounter(), registry_,
                           "cohort_agent_refusals_total",
                           "Work the agent refused or gave up, by reason: "
                           "deadline, model_refused, model_download, "
                           "secagg, server_refused, ineligible or "
                           "budget.")),
      training_seconds_(MakeFamily(prometheus::BuildCounter(), registry_,
                                   "cohort_agent_training_seconds_total",
                                   "Wall time spent in local training.")
                            .Add({})),
      bytes_(MakeFamily(prometheus::BuildCounter(), registry_,
                        "cohort_agent_bytes_total",
                        "Protobuf message bytes exchanged with the "
                        "coordinator, model downloads included, by "
                        "direction: sent or received.")),
      bytes_sent_(bytes_.Add({{"direction", "sent"}})),
      bytes_received_(bytes_.Add({{"direction", "received"}})),
      model_version_(MakeFamily(prometheus::BuildGauge(), registry_,
                                "cohort_agent_model_version",
                                "Version of the model the agent holds (0: "
                                "none).")
                         .Add({})),
      last_round_(MakeFamily(prometheus::BuildGauge(), registry_,
                             "cohort_agent_last_round_timestamp_seconds",
                             "Unix time of the last accepted round.")) {
  // Every label value from zero, so rate() sees the first increment.
  for (const char* result : kCheckInResults) {
    check_ins_.Add({{"result", result}});
  }
  for (const char* cause : kRetryCauses) retries_.Add({{"cause", cause}});
  retries_.Add({{"cause", "unspecified"}});
  retries_.Add({{"cause", "other"}});
  for (RoundResult result : kRoundResults) {
    rounds_.Add({{"result", RoundResultName(result)}});
  }
  for (Refusal reason : kRefusals) {
    refusals_.Add({{"reason", RefusalName(reason)}});
  }
}

void AgentCounters::Assigned() {
  check_ins_.Add({{"result", "assigned"}}).Increment();
  joined_.Increment();
}

void AgentCounters::Retry(absl::string_view cause) {
  check_ins_.Add({{"result", "retry"}}).Increment();
  retries_.Add({{"cause", RetryCauseLabel(cause)}}).Increment();
}

void AgentCounters::CheckInFailed() {
  check_ins_.Add({{"result", "error"}}).Increment();
}

void AgentCounters::RoundEnded(RoundResult result, absl::Time now) {
  rounds_.Add({{"result", RoundResultName(result)}}).Increment();
  if (result == RoundResult::kAccepted) {
    last_round_.Add({}).Set(absl::ToDoubleSeconds(now - absl::UnixEpoch()));
  }
}

void AgentCounters::Refused(Refusal reason) {
  refusals_.Add({{"reason", RefusalName(reason)}}).Increment();
}

void AgentCounters::Trained(absl::Duration elapsed) {
  if (elapsed > absl::ZeroDuration()) {
    training_seconds_.Increment(absl::ToDoubleSeconds(elapsed));
  }
}

void AgentCounters::Sent(int64_t bytes) {
  if (bytes > 0) bytes_sent_.Increment(static_cast<double>(bytes));
}

void AgentCounters::Received(int64_t bytes) {
  if (bytes > 0) bytes_received_.Increment(static_cast<double>(bytes));
}

int64_t AgentCounters::bytes_sent() const {
  return static_cast<int64_t>(bytes_sent_.Value());
}

int64_t AgentCounters::bytes_received() const {
  return static_cast<int64_t>(bytes_received_.Value());
}

void AgentCounters::SetModelVersion(int64_t version) {
  model_version_.Set(static_cast<double>(version));
}

std::string AgentCounters::Text() const {
  return prometheus::TextSerializer().Serialize(registry_.Collect());
}

absl::Status WriteTextfile(const AgentCounters& counters,
                           const std::string& path) {
  return base::WriteFileAtomically(path, counters.Text(), 0644);
}

std::unique_ptr<CoordinatorTransport> CountTraffic(
    std::unique_ptr<CoordinatorTransport> transport, AgentCounters* counters) {
  return std::make_unique<CountingTransport>(std::move(transport), counters);
}

}  // namespace cohort::client
