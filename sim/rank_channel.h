#ifndef COHORT_SIM_RANK_CHANNEL_H_
#define COHORT_SIM_RANK_CHANNEL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::sim {

// Messages between the processes (ranks 0 .. size-1) of one simulation run:
// MPI in cohort-sim (sim/mpi/mpi_channel.h), memory in tests. Messages from
// one rank to another arrive whole and in the order they were sent.
class RankChannel {
 public:
  virtual ~RankChannel() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Sends `bytes` to rank `to` and returns once `to` has begun receiving
  // it, so a sender holds at most one message in flight per receiver
  // (backpressure: a fast rank cannot pile its results up in a slow one).
  virtual absl::Status Send(int to, const std::string& bytes) = 0;
  // The next message from rank `from`; blocks until there is one.
  virtual absl::StatusOr<std::string> Receive(int from) = 0;
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_RANK_CHANNEL_H_
