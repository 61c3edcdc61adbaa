#ifndef COHORT_SERVER_API_COORDINATOR_SERVICE_H_
#define COHORT_SERVER_API_COORDINATOR_SERVICE_H_

#include "cohort/v1/coordinator.grpc.pb.h"
#include "server/round/device_session.h"
#include "server/round/round_engine.h"

namespace cohort::server {

// The device API over gRPC's callback interface: one reactor per RPC, none of
// which blocks (the engine never does I/O on these paths). Translates streams
// into RoundEngine calls. The engine must outlive the service.
//
// Device identity is the client certificate's common name under mTLS, else
// CheckIn.device_id.
class CoordinatorService final : public cohort::v1::Coordinator::CallbackService {
 public:
  explicit CoordinatorService(RoundEngine* engine) : engine_(engine) {}

  grpc::ServerBidiReactor<cohort::v1::ClientMessage, cohort::v1::ServerMessage>*
  Participate(grpc::CallbackServerContext* context) override;

  grpc::ServerWriteReactor<cohort::v1::ModelChunk>* FetchModel(
      grpc::CallbackServerContext* context,
      const cohort::v1::FetchModelRequest* request) override;

  // Largest chunk FetchModel sends.
  static constexpr int64_t kChunkBytes = 1 << 20;

 private:
  RoundEngine* const engine_;
  LiveDevices live_devices_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_COORDINATOR_SERVICE_H_
