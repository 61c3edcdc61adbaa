#ifndef COHORT_SIM_MPI_MPI_CHANNEL_H_
#define COHORT_SIM_MPI_MPI_CHANNEL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sim/rank_channel.h"

namespace cohort::sim {

// MPI_COMM_WORLD of a run started by mpirun, as a RankChannel: the one
// place that includes <mpi.h> (OpenMPI from Debian). Only the thread that
// called Init uses MPI (MPI_THREAD_FUNNELED); errors come back as Status
// (MPI_ERRORS_RETURN), not as an abort.
//
// A rank that dies ends the whole run: mpirun kills the others and names
// the rank, so no rank waits forever for a dead one.
class MpiChannel : public RankChannel {
 public:
  // Whether this process was started by mpirun (OpenMPI's or PMIx's
  // environment); a plain start never initializes MPI.
  static bool LaunchedByMpirun();
  // Initializes MPI once per process. UNAVAILABLE if MPI cannot start.
  static absl::StatusOr<std::unique_ptr<MpiChannel>> Init();
  // MPI_Finalize: every rank must get here for the run to end cleanly.
  ~MpiChannel() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // MPI_Ssend. RESOURCE_EXHAUSTED over 2^31 - 1 bytes.
  absl::Status Send(int to, const std::string& bytes) override;
  absl::StatusOr<std::string> Receive(int from) override;

  // Ends every rank of the run with `code` (MPI_Abort), after the caller
  // has said why.
  [[noreturn]] void Abort(int code);

  // What this rank's messages cost so far: bytes each way; seconds moving
  // them (inside MPI_Ssend, and MPI_Recv once a message is there); seconds
  // waiting for a message to arrive (MPI_Probe: on rank 0, mostly the other
  // ranks' training).
  struct Traffic {
    int64_t bytes_sent = 0;
    int64_t bytes_received = 0;
    double transfer_seconds = 0;
    double wait_seconds = 0;
  };
  const Traffic& traffic() const { return traffic_; }

 private:
  MpiChannel(int rank, int size) : rank_(rank), size_(size) {}

  const int rank_;
  const int size_;
  Traffic traffic_;
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_MPI_MPI_CHANNEL_H_
