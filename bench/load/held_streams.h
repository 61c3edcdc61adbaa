#ifndef COHORT_BENCH_LOAD_HELD_STREAMS_H_
#define COHORT_BENCH_LOAD_HELD_STREAMS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bench/load/device_load.h"
#include "cohort/v1/coordinator.pb.h"
#include "grpcpp/grpcpp.h"

namespace cohort::bench {

// A TLS channel of its own (its own connection: a local subchannel pool) to
// options.target, trusting options.ca_pem.
std::shared_ptr<grpc::Channel> OwnConnection(const LoadOptions& options);

// Fake devices that each check in on a connection of their own and hold the
// stream open after a TaskAssignment, as a training device does, until
// Release(). Streams are callback reactors, so holding costs the generator
// no thread each. Thread-safe counters; Open and Release from one thread.
class HeldStreams {
 public:
  explicit HeldStreams(const LoadOptions& options);
  // Releases what is still held and waits for every stream to end.
  ~HeldStreams();
  HeldStreams(const HeldStreams&) = delete;
  HeldStreams& operator=(const HeldStreams&) = delete;

  // Opens options.held_streams streams, at most options.ramp unanswered at
  // once, and waits until each is answered or ended, or options.ramp_timeout
  // passed (streams still unanswered then count as failed).
  void Open();
  // Cancels every stream and waits (up to a minute) for all of them to end.
  void Release();

  // Fills the held_* fields and first_error of `result`.
  void Tally(LoadResult* result);

 private:
  class Stream;
  // What streams report to, shared with them so that a stream gRPC ends
  // late still has it.
  struct Shared {
    void Answered(bool assigned);
    void Done(bool answered, bool assigned, const grpc::Status& status);

    absl::Mutex mu;
    int pending ABSL_GUARDED_BY(mu) = 0;  // started, not answered or ended
    int done ABSL_GUARDED_BY(mu) = 0;
    bool released ABSL_GUARDED_BY(mu) = false;
    bool timed_out ABSL_GUARDED_BY(mu) = false;
    int assigned ABSL_GUARDED_BY(mu) = 0;
    int retried ABSL_GUARDED_BY(mu) = 0;
    int ended_early ABSL_GUARDED_BY(mu) = 0;
    std::string first_error ABSL_GUARDED_BY(mu);
  };

  const LoadOptions options_;
  const std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::vector<std::unique_ptr<Stream>> streams_;
};

}  // namespace cohort::bench

#endif  // COHORT_BENCH_LOAD_HELD_STREAMS_H_
