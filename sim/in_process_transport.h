#ifndef COHORT_SIM_IN_PROCESS_TRANSPORT_H_
#define COHORT_SIM_IN_PROCESS_TRANSPORT_H_

#include <memory>

#include "client/transport/transport.h"
#include "server/round/round_engine.h"

namespace cohort::sim {

// CoordinatorTransport that calls the round engine directly: the same engine
// calls the gRPC service makes, with no sockets and no serialization of the
// stream. The engine must outlive the transport. Thread-safe (the engine is).
class InProcessTransport final : public client::CoordinatorTransport {
 public:
  explicit InProcessTransport(server::RoundEngine* engine) : engine_(engine) {}

  std::unique_ptr<client::ParticipationSession> OpenSession() override;
  absl::StatusOr<std::string> FetchModel(const cohort::v1::ModelRef& ref,
                                         const std::string& task) override;

 private:
  server::RoundEngine* const engine_;
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_IN_PROCESS_TRANSPORT_H_
