#ifndef COHORT_SERVER_API_PARTICIPATE_REACTOR_H_
#define COHORT_SERVER_API_PARTICIPATE_REACTOR_H_

#include <string>

#include "absl/time/time.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "server/round/device_session.h"
#include "server/round/round_engine.h"

namespace cohort::server {

// How long a Participate stream waits for its device. Zero: without end
// (the simulator, whose rounds run on a virtual clock). A stream past a
// deadline is ended with DEADLINE_EXCEEDED. So a device that opens streams
// and never speaks, or stalls in the middle of its CheckIn (slowloris),
// holds none longer than `check_in`; one that takes an assignment and
// sends nothing more, none past its report deadline and the grace. Later
// SecAgg+ phases are bounded by the round's own phase deadlines, which end
// the streams of devices that stall in them.
struct StreamDeadlines {
  // From the stream's start until its CheckIn has arrived whole
  // (ConnectionLimits.check_in_timeout_ms).
  absl::Duration check_in = absl::ZeroDuration();
  // After the assignment's report deadline, for the device's next message
  // (its Report, or secagg.ready); the device is then dropped from the
  // round as on a disconnect. The round no longer takes the update by then;
  // the grace only spares a device that is answered late a reset stream.
  absl::Duration after_report_deadline = absl::ZeroDuration();
};

// Creates the reactor of one Participate stream (it deletes itself when the
// RPC is done). `cert_name` is the client certificate's common name under
// mTLS, else empty (then CheckIn.device_id names the device). The device
// rules are DeviceSession's; `live` (may be null) counts each identity's
// open streams, `counters` (may be null) the check-ins, refused messages and
// bytes (rpc "participate") and streams ended by `deadlines` (check-in
// result "timed_out", rejected report reason "timed_out"). `leadership`
// (may be null: leading) as DeviceSession's.
grpc::ServerBidiReactor<cohort::v1::ClientMessage, cohort::v1::ServerMessage>*
NewParticipateReactor(RoundEngine* engine, LiveDevices* live,
                      std::string cert_name,
                      DeviceApiCounters* counters = nullptr,
                      StreamDeadlines deadlines = {},
                      const Leadership* leadership = nullptr);

// A Participate stream ended at once with `refused` (not OK), before its
// CheckIn is read: the answer to a source over its check-in rate.
grpc::ServerBidiReactor<cohort::v1::ClientMessage, cohort::v1::ServerMessage>*
NewRefusedParticipateReactor(const grpc::Status& refused);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_PARTICIPATE_REACTOR_H_
