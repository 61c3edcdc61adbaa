#ifndef COHORT_SERVER_ROUND_DEVICE_CHANNEL_H_
#define COHORT_SERVER_ROUND_DEVICE_CHANNEL_H_

#include "cohort/v1/coordinator.pb.h"

namespace cohort::server {

// The server-to-device half of one Participate stream, for messages the
// engine sends on its own initiative (secure aggregation). Implementations
// queue: Send never blocks and may be called with engine or SecAgg locks
// held. An Ack is the last message; the stream ends after it is written.
// Sends after the stream ended are dropped silently.
class DeviceChannel {
 public:
  virtual ~DeviceChannel() = default;
  virtual void Send(cohort::v1::ServerMessage message) = 0;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_DEVICE_CHANNEL_H_
