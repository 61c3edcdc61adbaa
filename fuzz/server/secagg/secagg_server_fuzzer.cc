// The SecAgg+ server state machine, live: five in-memory clients run a
// round (tests/server/secagg/secagg_test_harness.h) while client 0 is
// hostile. In each phase the input decides whether client 0 sends its own
// message or messages decoded from the input (wire form, then FromProto),
// and which of the other clients drop out after which phase. The server must
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

using cohort::secagg::ClientToServer;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  auto round = cohort::fuzz::MakeRound(in, 7, 1, 1);
  cohort::secagg::testing::Harness& harness = *round;
  bool hostile = false;
  harness.client_hook = [&](int phase, int client, ClientToServer m) {
    std::vector<ClientToServer> out;
    if (client != 0 || in.ConsumeBool()) {
      out.push_back(std::move(m));
      return out;
    }
    const int count = in.ConsumeIntegralInRange(0, 3);
    for (int j = 0; j < count; ++j) {
      cohort::v1::SecAggClientMessage wire;
      const std::string bytes = in.ConsumeRandomLengthString(2048);
      if (!wire.ParseFromString(bytes)) continue;
      auto parsed = cohort::secagg::FromProto(wire, harness.config());
      if (parsed.ok()) out.push_back(*std::move(parsed));
    }
    hostile = true;
    return out;
  };
  cohort::fuzz::RunAndCheck(harness, hostile);
  return 0;
}
