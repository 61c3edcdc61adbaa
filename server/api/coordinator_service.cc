#include "server/api/coordinator_service.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace cohort::server {
namespace {

using cohort::v1::ClientMessage;
using cohort::v1::ServerMessage;

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

// The same rule the stores apply to device ids, so every device the engine
// accepts can also be recorded.
bool ValidDeviceId(const std::string& id) {
  if (id.empty() || id.size() > 128 || !std::isalnum(static_cast<unsigned char>(id[0]))) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

std::string CertificateName(grpc::CallbackServerContext* context) {
  auto auth = context->auth_context();
  if (!auth) return "";
  auto names = auth->FindPropertyValues("x509_common_name");
  if (names.empty()) return "";
  return std::string(names[0].data(), names[0].size());
}

// CheckIn -> (RetryWindow | TaskAssignment -> Report -> Ack). One read or one
// write is outstanding at a time, so the reactor needs no lock.
class ParticipateReactor final
    : public grpc::ServerBidiReactor<ClientMessage, ServerMessage> {
 public:
  ParticipateReactor(RoundEngine* engine, std::string cert_name)
      : engine_(engine), cert_name_(std::move(cert_name)) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Client went away (or sent an oversized message, which gRPC has
      // already failed with RESOURCE_EXHAUSTED).
      DropIfAssigned();
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream ended"));
      return;
    }
    if (phase_ == Phase::kAwaitCheckIn) {
      HandleCheckIn();
    } else {
      HandleReport();
    }
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      DropIfAssigned();
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    if (finish_after_write_) {
      Finish(grpc::Status::OK);
    } else {
      StartRead(&in_);
    }
  }

  void OnDone() override { delete this; }

 private:
  enum class Phase { kAwaitCheckIn, kAwaitReport, kDone };

  void HandleCheckIn() {
    if (!in_.has_check_in()) {
      Fail(grpc::StatusCode::INVALID_ARGUMENT,
           "the first message on Participate must be CheckIn");
      return;
    }
    device_ = cert_name_.empty() ? in_.check_in().device_id() : cert_name_;
    if (!ValidDeviceId(device_)) {
      Fail(grpc::StatusCode::INVALID_ARGUMENT,
           "device_id must be 1-128 characters of [A-Za-z0-9._-], starting "
           "with a letter or digit");
      return;
    }
    const std::string& population = in_.check_in().population();
    if (!population.empty() && population != engine_->task()) {
      Fail(grpc::StatusCode::FAILED_PRECONDITION,
           absl::StrCat("this coordinator serves population '",
                        engine_->task(), "', not '", population, "'"));
      return;
    }
    CheckInOutcome outcome = engine_->CheckIn(device_);
    if (auto* retry = std::get_if<cohort::v1::RetryWindow>(&outcome)) {
      *out_.mutable_retry_window() = std::move(*retry);
      finish_after_write_ = true;
      phase_ = Phase::kDone;
    } else {
      *out_.mutable_task_assignment() =
          std::move(std::get<cohort::v1::TaskAssignment>(outcome));
      round_id_ = out_.task_assignment().round_id();
      finish_after_write_ = false;
      phase_ = Phase::kAwaitReport;
    }
    StartWrite(&out_);
  }

  void HandleReport() {
    if (!in_.has_report()) {
      DropIfAssigned();
      Fail(grpc::StatusCode::FAILED_PRECONDITION,
           "expected Report after TaskAssignment");
      return;
    }
    auto ack = engine_->SubmitReport(device_, in_.report());
    phase_ = Phase::kDone;
    if (!ack.ok()) {
      Finish(ToGrpc(ack.status()));
      return;
    }
    *out_.mutable_ack() = *ack;
    finish_after_write_ = true;
    StartWrite(&out_);
  }

  void DropIfAssigned() {
    if (phase_ == Phase::kAwaitReport) engine_->Drop(device_, round_id_);
    phase_ = Phase::kDone;
  }

  void Fail(grpc::StatusCode code, const std::string& message) {
    phase_ = Phase::kDone;
    Finish(grpc::Status(code, message));
  }

  RoundEngine* const engine_;
  const std::string cert_name_;
  std::string device_;
  int64_t round_id_ = 0;
  Phase phase_ = Phase::kAwaitCheckIn;
  bool finish_after_write_ = false;
  ClientMessage in_;
  ServerMessage out_;
};

// Streams the serialized weights of one version in chunks from an offset.
class FetchModelReactor final
    : public grpc::ServerWriteReactor<cohort::v1::ModelChunk> {
 public:
  FetchModelReactor(std::shared_ptr<const PublishedModel> model,
                    const cohort::v1::FetchModelRequest& request)
      : model_(std::move(model)), offset_(request.offset()) {
    if (!model_) {
      Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("model version ", request.version(),
                                       " is not served")));
      return;
    }
    const int64_t size = static_cast<int64_t>(model_->bytes.size());
    if (offset_ < 0 || offset_ > size) {
      Finish(grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                          absl::StrCat("offset ", offset_, " outside [0, ",
                                       size, "]")));
      return;
    }
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    const int64_t size = static_cast<int64_t>(model_->bytes.size());
    if (offset_ >= size && sent_any_) {
      Finish(grpc::Status::OK);
      return;
    }
    const int64_t n =
        std::min(CoordinatorService::kChunkBytes, size - offset_);
    chunk_.Clear();
    chunk_.set_offset(offset_);
    chunk_.set_total_size(size);
    chunk_.set_sha256(model_->sha256);
    chunk_.set_data(model_->bytes.data() + offset_, static_cast<size_t>(n));
    offset_ += n;
    sent_any_ = true;
    StartWrite(&chunk_);
  }

  std::shared_ptr<const PublishedModel> model_;
  int64_t offset_;
  bool sent_any_ = false;
  cohort::v1::ModelChunk chunk_;
};

}  // namespace

grpc::ServerBidiReactor<ClientMessage, ServerMessage>*
CoordinatorService::Participate(grpc::CallbackServerContext* context) {
  return new ParticipateReactor(engine_, CertificateName(context));
}

grpc::ServerWriteReactor<cohort::v1::ModelChunk>*
CoordinatorService::FetchModel(grpc::CallbackServerContext* context,
                               const cohort::v1::FetchModelRequest* request) {
  std::shared_ptr<const PublishedModel> model =
      request->version() == 0 ? engine_->current_model()
                              : engine_->FindModel(request->version());
  return new FetchModelReactor(std::move(model), *request);
}

}  // namespace cohort::server
