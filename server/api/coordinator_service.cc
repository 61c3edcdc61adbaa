#include "server/api/coordinator_service.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/api/grpc_util.h"
#include "server/api/participate_reactor.h"

namespace cohort::server {
namespace {

using cohort::v1::ClientMessage;
using cohort::v1::ServerMessage;

// Streams the serialized weights of one version in chunks from an offset.
class FetchModelReactor final
    : public grpc::ServerWriteReactor<cohort::v1::ModelChunk> {
 public:
  FetchModelReactor(std::shared_ptr<const PublishedModel> model,
                    const cohort::v1::FetchModelRequest& request,
                    const std::string& task)
      : model_(std::move(model)), offset_(request.offset()) {
    if (!request.task().empty() && request.task() != task) {
      Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("this coordinator serves task '", task,
                                       "', not '", request.task(), "'")));
      return;
    }
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
  return NewParticipateReactor(engine_, &live_devices_,
                               PeerCommonName(*context));
}

grpc::ServerWriteReactor<cohort::v1::ModelChunk>*
CoordinatorService::FetchModel(grpc::CallbackServerContext* context,
                               const cohort::v1::FetchModelRequest* request) {
  std::shared_ptr<const PublishedModel> model =
      request->version() == 0 ? engine_->current_model()
                              : engine_->FindModel(request->version());
  return new FetchModelReactor(std::move(model), *request, engine_->task());
}

}  // namespace cohort::server
