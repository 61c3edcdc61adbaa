#ifndef COHORT_FUZZ_SECAGG_FUZZ_ROUND_H_
#define COHORT_FUZZ_SECAGG_FUZZ_ROUND_H_

// The round both live SecAgg+ fuzzers drive (fuzz/server/secagg and
// fuzz/client/secagg): five in-memory clients of the test harness, k = 4,
// t = 3, 16-bit sums of 4 coordinates, with dropouts drawn from the input.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "tests/server/secagg/secagg_test_harness.h"

namespace cohort::fuzz {

// Clients [first_dropping, n) go silent after a phase in [min_phase, 4]
// read from `in`; the others never drop. The inputs' seed comes from `in`.
inline std::unique_ptr<secagg::testing::Harness> MakeRound(
    FuzzedDataProvider& in, uint64_t round_id, int first_dropping,
    int min_phase) {
  secagg::SecAggConfig config;
  config.n = 5;
  config.k = 4;
  config.t = 3;
  config.bits = 16;
  config.vector_length = 4;
  config.round_id = round_id;
  std::vector<int> last_phase(config.n, 4);
  for (int i = first_dropping; i < config.n; ++i) {
    last_phase[i] = in.ConsumeIntegralInRange(min_phase, 4);
  }
  return std::make_unique<secagg::testing::Harness>(
      config, last_phase, in.ConsumeIntegral<uint8_t>());
}

// Runs the round. A fault: a server both completed and aborted, or a round
// that completed with no hostile message (`hostile`, set by the hooks while
// it runs) yet released a sum other than the exact one.
inline void RunAndCheck(secagg::testing::Harness& round, const bool& hostile) {
  round.Run();
  auto& server = round.server();
  if (server.IsCompleted() && server.IsAborted()) __builtin_trap();
  if (server.IsCompleted() && !hostile) {
    auto sum = server.Result();
    if (!sum.ok() || *sum != round.ExpectedSum()) __builtin_trap();
  }
}

}  // namespace cohort::fuzz

#endif  // COHORT_FUZZ_SECAGG_FUZZ_ROUND_H_
