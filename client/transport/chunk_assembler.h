#ifndef COHORT_CLIENT_TRANSPORT_CHUNK_ASSEMBLER_H_
#define COHORT_CLIENT_TRANSPORT_CHUNK_ASSEMBLER_H_

// One model download put back together from its ModelChunks
// (coordinator.proto, FetchModel), across streams resumed at an offset.
//
// The first chunk fixes the stream's shape: the full artifact of
// ref.size_bytes() (FULL), or a delta from the base version the device
// offered that rebuilds that size and is no larger (ZSTD_DELTA). Every chunk
// after it must continue at exactly the bytes held, with the same shape, and
// not run past total_size. The bytes are only checked for shape here; the
// caller checks the artifact (or the delta's result) against the signed
// SHA-256. No gRPC: the transport feeds it, and fuzz/ feeds it hostile
// chunks.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "cohort/v1/coordinator.pb.h"

namespace cohort::client {

class ChunkAssembler {
 public:
  // `ref.size_bytes()` must already be bounded by the caller (the transport
  // refuses models over its limit); `base_version` is the version a delta
  // may start from, 0 for none.
  ChunkAssembler(const cohort::v1::ModelRef& ref, int64_t base_version);

  // Appends `chunk`. DATA_LOSS, with what was held kept (the download may
  // resume at size()), if it does not fit the stream as described above.
  absl::Status Add(const cohort::v1::ModelChunk& chunk);

  // Bytes held: the offset a resumed stream starts at.
  int64_t size() const { return static_cast<int64_t>(bytes_.size()); }
  // The first chunk arrived and total_size bytes are held.
  bool complete() const;
  // The stream is a delta (ZSTD_DELTA) rather than the artifact itself.
  bool delta() const;
  // The assembled bytes; the assembler is empty afterwards.
  std::string Take();

 private:
  bool ValidFirst(const cohort::v1::ModelChunk& chunk) const;
  bool Continues(const cohort::v1::ModelChunk& chunk) const;

  int64_t artifact_size_;
  int64_t base_version_;
  // The first chunk without its data: the stream's shape.
  std::optional<cohort::v1::ModelChunk> first_;
  std::string bytes_;
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRANSPORT_CHUNK_ASSEMBLER_H_
