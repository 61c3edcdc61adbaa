// SecAgg+ messages as they arrive on the Participate stream, before a state
// machine sees them: client messages (server side), server messages and
// SecAggBegin (device side). Whatever parses must convert back to a message
// that parses to the same struct's wire form.

#include <cstddef>
#include <cstdint>

#include "cohort/v1/coordinator.pb.h"
#include "common/secagg/secagg_wire.h"

namespace {

using cohort::secagg::FromProto;
using cohort::secagg::ToProto;

cohort::secagg::SecAggConfig Config(uint8_t b) {
  cohort::secagg::SecAggConfig c;
  c.n = 5;
  c.k = 4;
  c.t = 3;
  c.bits = 1 + b % 64;
  c.vector_length = 1 + b % 7;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t* body = data + 1;
  const int length = static_cast<int>(size - 1);
  switch (data[0] % 3) {
    case 0: {
      cohort::v1::SecAggClientMessage m;
      if (!m.ParseFromArray(body, length)) return 0;
      const cohort::secagg::SecAggConfig config = Config(data[0] / 3);
      auto parsed = FromProto(m, config);
      if (!parsed.ok()) return 0;
      const auto wire = ToProto(*parsed, config);
      auto again = FromProto(wire, config);
      if (!again.ok() ||
          ToProto(*again, config).SerializeAsString() != wire.SerializeAsString()) {
        __builtin_trap();
      }
      break;
    }
    case 1: {
      cohort::v1::SecAggServerMessage m;
      if (!m.ParseFromArray(body, length)) return 0;
      auto parsed = FromProto(m);
      if (!parsed.ok()) return 0;
      const auto wire = ToProto(*parsed);
      auto again = FromProto(wire);
      if (!again.ok() ||
          ToProto(*again).SerializeAsString() != wire.SerializeAsString()) {
        __builtin_trap();
      }
      break;
    }
    default: {
      cohort::v1::SecAggBegin begin;
      if (!begin.ParseFromArray(body, length)) return 0;
      auto params = cohort::secagg::ParseBegin(begin);
      if (!params.ok()) return 0;
      auto again = cohort::secagg::ParseBegin(cohort::secagg::MakeBegin(*params));
      if (!again.ok()) __builtin_trap();
      break;
    }
  }
  return 0;
}
