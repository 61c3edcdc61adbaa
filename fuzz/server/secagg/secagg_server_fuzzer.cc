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
#include "tests/server/secagg/secagg_test_harness.h"

namespace {

using cohort::secagg::ClientToServer;
using cohort::secagg::SecAggConfig;

SecAggConfig Config() {
  SecAggConfig c;
  c.n = 5;
  c.k = 4;
  c.t = 3;
  c.bits = 16;
  c.vector_length = 4;
  c.round_id = 7;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const SecAggConfig config = Config();
  std::vector<int> last_phase(config.n, 4);
  for (int i = 1; i < config.n; ++i) {
    last_phase[i] = in.ConsumeIntegralInRange(1, 4);
  }
  cohort::secagg::testing::Harness harness(config, last_phase,
                                           in.ConsumeIntegral<uint8_t>());
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
      auto parsed = cohort::secagg::FromProto(wire, config);
      if (parsed.ok()) out.push_back(*std::move(parsed));
    }
    hostile = true;
    return out;
  };
  harness.Run();
  auto& server = harness.server();
  if (server.IsCompleted() && server.IsAborted()) __builtin_trap();
  if (server.IsCompleted() && !hostile) {
    auto sum = server.Result();
    if (!sum.ok() || *sum != harness.ExpectedSum()) __builtin_trap();
  }
  return 0;
}
