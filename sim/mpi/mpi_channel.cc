#include "sim/mpi/mpi_channel.h"

#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"

#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

namespace cohort::sim {
namespace {

// Every message of the run carries this tag; order per pair of ranks is
// MPI's non-overtaking rule.
constexpr int kTag = 17;

absl::Status MpiError(int code, const char* call) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  return absl::UnavailableError(
      absl::StrCat(call, " failed: ", std::string(text, length)));
}

}  // namespace

bool MpiChannel::LaunchedByMpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

absl::StatusOr<std::unique_ptr<MpiChannel>> MpiChannel::Init() {
  int provided = 0;
  if (int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      rc != MPI_SUCCESS) {
    return MpiError(rc, "MPI_Init_thread");
  }
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    return absl::UnavailableError(
        "this MPI library cannot be used from a threaded process "
        "(MPI_THREAD_FUNNELED)");
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return std::unique_ptr<MpiChannel>(new MpiChannel(rank, size));
}

MpiChannel::~MpiChannel() { MPI_Finalize(); }

absl::Status MpiChannel::Send(int to, const std::string& bytes) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "a message of ", bytes.size(), " bytes to rank ", to,
        " is over MPI's 2^31 - 1"));
  }
  const double start = MPI_Wtime();
  if (int rc = MPI_Ssend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE,
                         to, kTag, MPI_COMM_WORLD);
      rc != MPI_SUCCESS) {
    return MpiError(rc, "MPI_Ssend");
  }
  traffic_.transfer_seconds += MPI_Wtime() - start;
  traffic_.bytes_sent += static_cast<int64_t>(bytes.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> MpiChannel::Receive(int from) {
  MPI_Status status;
  const double start = MPI_Wtime();
  if (int rc = MPI_Probe(from, kTag, MPI_COMM_WORLD, &status); rc != MPI_SUCCESS) {
    return MpiError(rc, "MPI_Probe");
  }
  const double arrived = MPI_Wtime();
  traffic_.wait_seconds += arrived - start;
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  std::string bytes(static_cast<size_t>(count), '\0');
  if (int rc = MPI_Recv(bytes.data(), count, MPI_BYTE, from, kTag,
                        MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      rc != MPI_SUCCESS) {
    return MpiError(rc, "MPI_Recv");
  }
  traffic_.transfer_seconds += MPI_Wtime() - arrived;
  traffic_.bytes_received += count;
  return bytes;
}

void MpiChannel::Abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace cohort::sim
