#ifndef COHORT_SERVER_API_COORDINATOR_SERVICE_H_
#define COHORT_SERVER_API_COORDINATOR_SERVICE_H_

#include <list>
#include <memory>
#include <string>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "server/api/check_in_limiter.h"
#include "server/api/participate_reactor.h"
#include "server/enrollment/fleet_ca.h"
#include "server/round/device_session.h"
#include "server/round/leadership.h"
#include "server/round/published_model.h"
#include "server/round/round_engine.h"

namespace cohort::server {

// The device API over gRPC's callback interface: one reactor per RPC, none of
// which blocks on I/O (the engine never does I/O on these paths). Translates
// streams into RoundEngine calls. The engine must outlive the service.
//
// Device identity is the client certificate's common name under mTLS, else
// CheckIn.device_id.
//
// FetchModel streams the full artifact, or, when FetchModelRequest.base_version
// names a version the engine still serves (current or previous) and a delta
// from it (common/model/delta.h) is smaller, the delta (ZSTD_DELTA). Deltas
// are kept per (base, target) artifact pair, at most kDeltaCacheEntries, since
// a round's devices all ask for the same pair. The first request for a pair
// makes its delta on its own thread (milliseconds for the demo's 48 KB
// artifact; about a second at 100 MB) while requests for the same pair wait.
// The choice is deterministic, so a resumed download gets the same stream.
class CoordinatorService final
    : public cohort::v1::Coordinator::CallbackService {
 public:
  // `counters` (may be null, borrowed) hears check-ins, refused messages and
  // bytes. `ca` (may be null: no enrollment, borrowed) issues renewed
  // device certificates. `deadlines` bound how long Participate streams
  // wait for their devices (none by default).
  // `leadership` (may be null: always leading; borrowed): while it stands
  // by, check-ins get a RetryWindow with cause "standby" and FetchModel
  // UNAVAILABLE, and the engine (not started yet) is not touched.
  // `limiter` (may be null: no limit; borrowed) admits each Participate
  // stream by its CheckInSource; a stream over the rate ends at once with
  // RESOURCE_EXHAUSTED (check-in result "rate_limited").
  explicit CoordinatorService(RoundEngine* engine,
                              DeviceApiCounters* counters = nullptr,
                              const FleetCa* ca = nullptr,
                              StreamDeadlines deadlines = {},
                              const Leadership* leadership = nullptr,
                              CheckInLimiter* limiter = nullptr)
      : engine_(engine),
        counters_(counters),
        ca_(ca),
        deadlines_(deadlines),
        leadership_(leadership),
        limiter_(limiter) {}

  grpc::ServerBidiReactor<cohort::v1::ClientMessage, cohort::v1::ServerMessage>*
  Participate(grpc::CallbackServerContext* context) override;

  grpc::ServerWriteReactor<cohort::v1::ModelChunk>* FetchModel(
      grpc::CallbackServerContext* context,
      const cohort::v1::FetchModelRequest* request) override;

  // The peer's mTLS common name must be the CSR's; the answer is a new
  // certificate from the fleet CA (coordinator.proto lists the codes).
  grpc::ServerUnaryReactor* RenewCertificate(
      grpc::CallbackServerContext* context,
      const cohort::v1::RenewCertificateRequest* request,
      cohort::v1::DeviceCertificate* response) override;

  // Largest chunk FetchModel sends.
  static constexpr int64_t kChunkBytes = 1 << 20;
  // (base, target) pairs whose delta is kept.
  static constexpr size_t kDeltaCacheEntries = 4;

 private:
  // One pair's delta, made once (absl::call_once) by the first request.
  struct DeltaEntry {
    std::string base_sha256;
    std::string target_sha256;
    absl::once_flag made;
    // Null when the delta is not smaller than the full artifact.
    std::shared_ptr<const std::string> delta;
  };

  // The delta from the artifact of `base_version` to `target` when the
  // engine still serves that version and the delta is smaller; else null.
  std::shared_ptr<const std::string> DeltaFrom(int64_t base_version,
                                               const PublishedModel& target);
  std::shared_ptr<DeltaEntry> Entry(const PublishedModel& base,
                                    const PublishedModel& target);

  RoundEngine* const engine_;
  DeviceApiCounters* const counters_;
  const FleetCa* const ca_;
  const StreamDeadlines deadlines_;
  const Leadership* const leadership_;
  CheckInLimiter* const limiter_;
  LiveDevices live_devices_;
  absl::Mutex deltas_mu_;
  // Most recently used first.
  std::list<std::shared_ptr<DeltaEntry>> deltas_ ABSL_GUARDED_BY(deltas_mu_);
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_COORDINATOR_SERVICE_H_
