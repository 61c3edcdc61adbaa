// Model deltas (ModelChunk ZSTD_DELTA) as a device applies them to the
// release it holds: the input is split into a base and a delta. ApplyDelta
// must refuse or return exactly the target size the header declares, and a
// delta Cohort encodes between two inputs must rebuild the target.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/model/delta.h"

namespace {
constexpr int64_t kMaxOutput = 1 << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string base = in.ConsumeRandomLengthString(1 << 16);
  const std::string delta = in.ConsumeRemainingBytesAsString();
  auto header = cohort::model::ParseDeltaHeader(delta);
  auto target = cohort::model::ApplyDelta(base, delta, kMaxOutput);
  if (target.ok() && (!header.ok() || target->size() != header->target_size)) {
    __builtin_trap();
  }
  // The encoder: any two byte strings round-trip.
  auto encoded = cohort::model::EncodeDelta(base, delta);
  if (encoded.ok()) {
    auto rebuilt = cohort::model::ApplyDelta(base, *encoded, kMaxOutput);
    if (!rebuilt.ok() || *rebuilt != delta) __builtin_trap();
  }
  return 0;
}
