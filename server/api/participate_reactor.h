#ifndef COHORT_SERVER_API_PARTICIPATE_REACTOR_H_
#define COHORT_SERVER_API_PARTICIPATE_REACTOR_H_

#include <string>

#include "cohort/v1/coordinator.grpc.pb.h"
#include "server/round/device_session.h"
#include "server/round/round_engine.h"

namespace cohort::server {

// Creates the reactor of one Participate stream (it deletes itself when the
// RPC is done). `cert_name` is the client certificate's common name under
// mTLS, else empty (then CheckIn.device_id names the device). The device
// rules are DeviceSession's; `live` (may be null) counts each identity's
// open streams, `counters` (may be null) the check-ins, refused messages and
// bytes (rpc "participate").
grpc::ServerBidiReactor<cohort::v1::ClientMessage, cohort::v1::ServerMessage>*
NewParticipateReactor(RoundEngine* engine, LiveDevices* live,
                      std::string cert_name,
                      DeviceApiCounters* counters = nullptr);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_PARTICIPATE_REACTOR_H_
