#include "server/api/coordinator_service.h"

#include <algorithm>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/crypto/x509.h"
#include "common/model/delta.h"
#include "glog/logging.h"
#include "server/api/grpc_util.h"
#include "server/api/participate_reactor.h"

namespace cohort::server {
namespace {

using cohort::v1::ClientMessage;
using cohort::v1::ServerMessage;

// What one FetchModel request streams: the full artifact of `model`, or a
// delta to it from `base_version`.
struct ModelStream {
  std::shared_ptr<const PublishedModel> model;
  std::shared_ptr<const std::string> bytes;
  cohort::v1::ModelChunk::Encoding encoding = cohort::v1::ModelChunk::FULL;
  int64_t base_version = 0;
};

grpc::Status CheckFetch(const cohort::v1::FetchModelRequest& request,
                        const PublishedModel* model, const std::string& task) {
  if (!request.task().empty() && request.task() != task) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("this coordinator serves task '", task,
                                     "', not '", request.task(), "'"));
  }
  if (model == nullptr) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("model version ", request.version(), " is not served"));
  }
  return grpc::Status::OK;
}

// Streams one ModelStream in chunks from an offset, or finishes with
// `refused` when that is not OK.
class FetchModelReactor final
    : public grpc::ServerWriteReactor<cohort::v1::ModelChunk> {
 public:
  FetchModelReactor(const grpc::Status& refused, ModelStream stream,
                    int64_t offset, DeviceApiCounters* counters)
      : stream_(std::move(stream)), offset_(offset), counters_(counters) {
    if (!refused.ok()) {
      Finish(refused);
      return;
    }
    const int64_t size = static_cast<int64_t>(stream_.bytes->size());
    if (offset_ < 0 || offset_ > size) {
      Finish(grpc::Status(
          grpc::StatusCode::OUT_OF_RANGE,
          absl::StrCat("offset ", offset_, " outside [0, ", size, "]")));
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
    const std::string& bytes = *stream_.bytes;
    const int64_t size = static_cast<int64_t>(bytes.size());
    if (offset_ >= size && sent_any_) {
      Finish(grpc::Status::OK);
      return;
    }
    const int64_t n = std::min(CoordinatorService::kChunkBytes, size - offset_);
    chunk_.Clear();
    chunk_.set_offset(offset_);
    chunk_.set_total_size(size);
    chunk_.set_sha256(stream_.model->sha256);
    chunk_.set_encoding(stream_.encoding);
    chunk_.set_base_version(stream_.base_version);
    chunk_.set_artifact_size(static_cast<int64_t>(stream_.model->bytes.size()));
    chunk_.set_data(bytes.data() + offset_, static_cast<size_t>(n));
    offset_ += n;
    sent_any_ = true;
    if (counters_ != nullptr) {
      counters_->Bytes("fetch_model", "out",
                       static_cast<int64_t>(chunk_.ByteSizeLong()));
    }
    StartWrite(&chunk_);
  }

  const ModelStream stream_;
  int64_t offset_;
  bool sent_any_ = false;
  DeviceApiCounters* const counters_;
  cohort::v1::ModelChunk chunk_;
};

// The delta from `base` to `target` when it is smaller, else null (also when
// it cannot be made: the full artifact always works).
std::shared_ptr<const std::string> MakeDelta(const PublishedModel& base,
                                             const PublishedModel& target) {
  absl::StatusOr<std::string> delta =
      model::EncodeDelta(base.bytes, target.bytes);
  if (!delta.ok()) {
    LOG(WARNING) << "no delta from version " << base.version << " to "
                 << target.version << ": " << delta.status();
    return nullptr;
  }
  VLOG(1) << "delta from version " << base.version << " to " << target.version
          << ": " << delta->size() << " bytes for a " << target.bytes.size()
          << "-byte artifact";
  if (delta->size() >= target.bytes.size()) return nullptr;
  return std::make_shared<const std::string>(*std::move(delta));
}

}  // namespace

grpc::ServerBidiReactor<ClientMessage, ServerMessage>*
CoordinatorService::Participate(grpc::CallbackServerContext* context) {
  std::string cert_name = PeerCommonName(*context);
  if (limiter_ != nullptr) {
    const absl::Status admitted =
        limiter_->Admit(CheckInSource(cert_name, context->peer()));
    if (!admitted.ok()) {
      if (counters_ != nullptr) counters_->CheckIn("rate_limited");
      return NewRefusedParticipateReactor(ToGrpcStatus(admitted));
    }
  }
  return NewParticipateReactor(engine_, &live_devices_, std::move(cert_name),
                               counters_, deadlines_, leadership_);
}

grpc::ServerWriteReactor<cohort::v1::ModelChunk>*
CoordinatorService::FetchModel(grpc::CallbackServerContext* context,
                               const cohort::v1::FetchModelRequest* request) {
  if (counters_ != nullptr) {
    counters_->Bytes("fetch_model", "in",
                     static_cast<int64_t>(request->ByteSizeLong()));
  }
  if (leadership_ != nullptr && !leadership_->leading()) {
    return new FetchModelReactor(
        grpc::Status(grpc::StatusCode::UNAVAILABLE,
                     absl::StrCat("this coordinator stands by: ",
                                  leadership_->StandbyRetry().reason())),
        ModelStream{}, 0, counters_);
  }
  ModelStream stream;
  stream.model = request->version() == 0
                     ? engine_->current_model()
                     : engine_->FindModel(request->version());
  const grpc::Status refused =
      CheckFetch(*request, stream.model.get(), engine_->task());
  if (refused.ok()) {
    // Aliases the model's bytes: the stream keeps the model alive.
    stream.bytes =
        std::shared_ptr<const std::string>(stream.model, &stream.model->bytes);
    if (auto delta = DeltaFrom(request->base_version(), *stream.model)) {
      stream.bytes = std::move(delta);
      stream.encoding = cohort::v1::ModelChunk::ZSTD_DELTA;
      stream.base_version = request->base_version();
    }
  }
  return new FetchModelReactor(refused, std::move(stream), request->offset(),
                               counters_);
}

std::shared_ptr<const std::string> CoordinatorService::DeltaFrom(
    int64_t base_version, const PublishedModel& target) {
  if (base_version <= 0 || base_version == target.version) return nullptr;
  std::shared_ptr<const PublishedModel> base = engine_->FindModel(base_version);
  if (base == nullptr) return nullptr;
  std::shared_ptr<DeltaEntry> entry = Entry(*base, target);
  absl::call_once(entry->made,
                  [&] { entry->delta = MakeDelta(*base, target); });
  return entry->delta;
}

std::shared_ptr<CoordinatorService::DeltaEntry> CoordinatorService::Entry(
    const PublishedModel& base, const PublishedModel& target) {
  absl::MutexLock lock(&deltas_mu_);
  auto it = std::find_if(deltas_.begin(), deltas_.end(), [&](const auto& e) {
    return e->base_sha256 == base.sha256 && e->target_sha256 == target.sha256;
  });
  std::shared_ptr<DeltaEntry> entry;
  if (it != deltas_.end()) {
    entry = *it;
    deltas_.erase(it);
  } else {
    entry = std::make_shared<DeltaEntry>();
    entry->base_sha256 = base.sha256;
    entry->target_sha256 = target.sha256;
  }
  deltas_.push_front(entry);
  if (deltas_.size() > kDeltaCacheEntries) deltas_.pop_back();
  return entry;
}

namespace {

// Renewal is the device's own: the certificate it connected with names it,
// and it may only renew that name.
absl::StatusOr<cohort::v1::DeviceCertificate> Renew(
    const FleetCa* ca, const std::string& peer, const std::string& csr_pem) {
  if (ca == nullptr) return NotEnrollingError();
  if (peer.empty()) {
    return absl::PermissionDeniedError(
        "renewal needs the device's current certificate (mTLS)");
  }
  COHORT_ASSIGN_OR_RETURN(const crypto::CsrInfo csr,
                          crypto::VerifyCsrPem(csr_pem));
  if (csr.common_name != peer) {
    return absl::PermissionDeniedError(
        absl::StrCat("device ", peer, " may not renew a certificate for '",
                     absl::CHexEscape(csr.common_name), "'"));
  }
  return ca->Issue(csr_pem, peer, absl::Now());
}

}  // namespace

grpc::ServerUnaryReactor* CoordinatorService::RenewCertificate(
    grpc::CallbackServerContext* context,
    const cohort::v1::RenewCertificateRequest* request,
    cohort::v1::DeviceCertificate* response) {
  const std::string peer = PeerCommonName(*context);
  absl::StatusOr<cohort::v1::DeviceCertificate> renewed =
      Renew(ca_, peer, request->csr_pem());
  if (renewed.ok()) {
    LOG(INFO) << "renewed the certificate of device " << peer << " until "
              << absl::FromUnixMillis(renewed->not_after_unix_ms());
    *response = *std::move(renewed);
  } else {
    LOG(WARNING) << "certificate renewal for '" << peer
                 << "' refused: " << renewed.status();
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(renewed.status()));
  return reactor;
}

}  // namespace cohort::server
