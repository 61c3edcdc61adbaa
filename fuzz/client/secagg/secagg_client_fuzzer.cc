// The SecAgg+ client state machine, live: five in-memory clients run a
// round against a real server (tests/server/secagg/secagg_test_harness.h),
// and client 1 receives hostile server messages. In each phase the input
// decides whether client 1 gets the server's message or one decoded from
// the input (wire form, then FromProto). The client must refuse or follow,
// never crash; with no hostile message a completed round must release the
// exact sum.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cohort/v1/coordinator.pb.h"
#include "common/secagg/secagg_wire.h"
#include "fuzz/secagg_fuzz_round.h"

namespace {

using cohort::secagg::ServerToClient;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  auto round = cohort::fuzz::MakeRound(in, 9, 2, 2);
  cohort::secagg::testing::Harness& harness = *round;
  bool hostile = false;
  harness.server_hook = [&](int phase, int client, ServerToClient& m) {
    if (client != 1 || in.ConsumeBool()) return;
    cohort::v1::SecAggServerMessage wire;
    if (in.ConsumeBool()) {
      // A mutation of the real message keeps the fuzzer near valid input.
      wire = cohort::secagg::ToProto(m);
      std::string bytes = wire.SerializeAsString();
      if (!bytes.empty()) {
        const size_t at = in.ConsumeIntegralInRange<size_t>(0, bytes.size() - 1);
        bytes[at] = static_cast<char>(in.ConsumeIntegral<uint8_t>());
      }
      if (!wire.ParseFromString(bytes)) return;
    } else if (!wire.ParseFromString(in.ConsumeRandomLengthString(2048))) {
      return;
    }
    auto parsed = cohort::secagg::FromProto(wire);
    if (!parsed.ok()) return;
    m = *std::move(parsed);
    hostile = true;
  };
  cohort::fuzz::RunAndCheck(harness, hostile);
  return 0;
}
