#include "sim/in_process_transport.h"

#include "absl/strings/str_cat.h"

namespace cohort::sim {
namespace {

class InProcessSession final : public client::ParticipationSession {
 public:
  explicit InProcessSession(server::RoundEngine* engine) : engine_(engine) {}
  ~InProcessSession() override { Close(); }

  absl::StatusOr<cohort::v1::ServerMessage> CheckIn(
      const cohort::v1::CheckIn& check_in) override {
    if (closed_) return absl::FailedPreconditionError("session is closed");
    device_ = check_in.device_id();
    cohort::v1::ServerMessage reply;
    auto outcome = engine_->CheckIn(device_);
    if (auto* a = std::get_if<cohort::v1::TaskAssignment>(&outcome)) {
      round_id_ = a->round_id();
      *reply.mutable_task_assignment() = std::move(*a);
      assigned_ = true;
    } else {
      *reply.mutable_retry_window() =
          std::move(std::get<cohort::v1::RetryWindow>(outcome));
    }
    return reply;
  }

  absl::StatusOr<cohort::v1::Ack> Report(
      const cohort::v1::Report& report) override {
    if (closed_ || !assigned_) {
      return absl::FailedPreconditionError("no assignment in this session");
    }
    reported_ = true;
    return engine_->SubmitReport(device_, report);
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    if (assigned_ && !reported_) engine_->Drop(device_, round_id_);
  }

 private:
  server::RoundEngine* const engine_;
  std::string device_;
  int64_t round_id_ = 0;
  bool assigned_ = false;
  bool reported_ = false;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<client::ParticipationSession> InProcessTransport::OpenSession() {
  return std::make_unique<InProcessSession>(engine_);
}

absl::StatusOr<std::string> InProcessTransport::FetchModel(
    const cohort::v1::ModelRef& ref, const std::string& task) {
  auto model = engine_->FindModel(ref.version());
  if (model == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("model version ", ref.version(), " is not served"));
  }
  return model->bytes;
}

}  // namespace cohort::sim
