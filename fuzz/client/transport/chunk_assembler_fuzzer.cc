// Model downloads reassembled by offset (client::ChunkAssembler), as a
// device takes them from a possibly hostile coordinator: a model size, an
// offered base version and a run of chunks, some of them inconsistent.
// Whatever it accepts must be exactly the bytes of the accepted chunks, in
// order, never past the stream's declared size.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "client/transport/chunk_assembler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  cohort::v1::ModelRef ref;
  ref.set_size_bytes(in.ConsumeIntegralInRange<int64_t>(0, 1 << 16));
  const int64_t base = in.ConsumeIntegralInRange<int64_t>(0, 3);
  cohort::client::ChunkAssembler assembler(ref, base);
  std::string expected;
  int64_t declared = -1;
  while (in.remaining_bytes() > 0) {
    cohort::v1::ModelChunk chunk;
    chunk.set_offset(in.ConsumeBool() ? assembler.size()
                                      : in.ConsumeIntegral<int64_t>());
    chunk.set_total_size(in.ConsumeBool() ? ref.size_bytes()
                                          : in.ConsumeIntegral<int64_t>());
    chunk.set_encoding(in.ConsumeBool() ? cohort::v1::ModelChunk::FULL
                                        : cohort::v1::ModelChunk::ZSTD_DELTA);
    chunk.set_base_version(in.ConsumeIntegralInRange<int64_t>(0, 3));
    chunk.set_artifact_size(in.ConsumeBool() ? ref.size_bytes()
                                             : in.ConsumeIntegral<int64_t>());
    chunk.set_data(in.ConsumeRandomLengthString(4096));
    if (!assembler.Add(chunk).ok()) continue;
    if (declared < 0) declared = chunk.total_size();
    expected += chunk.data();
    if (assembler.size() != static_cast<int64_t>(expected.size()) ||
        assembler.size() > declared || declared > ref.size_bytes()) {
      __builtin_trap();
    }
  }
  if (assembler.complete() && assembler.Take() != expected) __builtin_trap();
  return 0;
}
