#ifndef COHORT_COMMON_MODEL_DELTA_H_
#define COHORT_COMMON_MODEL_DELTA_H_

// Deltas between two model artifacts (serialized cohort.v1.Weights): what a
// device that holds release r downloads instead of release r' when it is
// smaller (FetchModel, ModelChunk.encoding ZSTD_DELTA). Byte-level: any two
// byte strings work, and the result is checked against the signed SHA-256 of
// the full artifact by the caller, exactly like a full download.
//
// Format (integers little-endian):
//   bytes  0..3   magic "CHDL"
//   byte   4      format version, 1
//   byte   5      method (DeltaMethod)
//   bytes  6..7   zero
//   bytes  8..15  base size in bytes (uint64)
//   bytes 16..23  target size in bytes (uint64)
//   bytes 24..55  SHA-256 of the base (raw 32 bytes)
//   bytes 56..    exactly one zstd frame that records its content size (and
//                 a checksum of it) and ends the delta
//
// Methods (docs/DECISIONS.md has the measurements behind them):
//   kShuffledDifference  base and target of equal length. d[i] = target[i] -
//     base[i] (mod 256); within each block of kDeltaShuffleBlock bytes the
//     first 4*floor(len/4) bytes are stored as four byte planes (plane k holds
//     d[4j + k]), the rest as is; the frame holds those bytes. Consecutive
//     rounds change almost every value by a few quantization steps, so the
//     differences are small and the planes of fp32 payloads separate the
//     noisy low bytes from the quiet high ones.
//   kZstdPrefix  lengths that differ: the target compressed with the base
//     as zstd prefix (`zstd --patch-from`).
// Each method is only valid for its size relation (equal, different), so the
// method is checked against the sizes too.
//
// Thread-safe (no shared state). Deterministic: the same inputs give the same
// delta bytes.

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::model {

inline constexpr size_t kDeltaHeaderBytes = 56;
// Block of the byte-plane shuffle; ApplyDelta's only scratch allocation.
inline constexpr size_t kDeltaShuffleBlock = 64 * 1024;

enum class DeltaMethod : uint8_t {
  kShuffledDifference = 1,
  kZstdPrefix = 2,
};

struct DeltaHeader {
  DeltaMethod method = DeltaMethod::kShuffledDifference;
  uint64_t base_size = 0;    // bytes
  uint64_t target_size = 0;  // bytes
  std::array<uint8_t, 32> base_sha256{};
};

// A delta that rebuilds `target` from `base`: kShuffledDifference when both
// have the same length, else kZstdPrefix. The zstd level falls with the
// target's size so that encoding stays under about a second (19 up to 1 MiB,
// 9 up to 16 MiB, 3 above). The delta may be larger than `target` (nothing
// in common): the caller compares sizes. INTERNAL if zstd fails (allocation).
absl::StatusOr<std::string> EncodeDelta(absl::string_view base,
                                        absl::string_view target);

// The header of `delta`, checked for shape only (magic, format, method,
// reserved bytes, room for the header). INVALID_ARGUMENT otherwise.
absl::StatusOr<DeltaHeader> ParseDeltaHeader(absl::string_view delta);

// The target `delta` rebuilds from `base`. Safe on hostile input: it never
// allocates more than the target size (at most `max_output_bytes`, checked
// before allocating) plus one kDeltaShuffleBlock and zstd's decoding context,
// and refuses anything malformed before using it:
//   INVALID_ARGUMENT    a negative max_output_bytes; a malformed, truncated
//                       or extended delta (bad header, a zstd frame that is
//                       corrupt, fails its checksum, does not decode to the
//                       header's target size, or is followed by more bytes);
//                       a method that does not match the sizes (see
//                       above);
//   RESOURCE_EXHAUSTED  the header's target size is over max_output_bytes;
//   FAILED_PRECONDITION the delta was made against another base (its size
//                       or SHA-256 differs from `base`'s).
absl::StatusOr<std::string> ApplyDelta(absl::string_view base,
                                       absl::string_view delta,
                                       int64_t max_output_bytes);

}  // namespace cohort::model

#endif  // COHORT_COMMON_MODEL_DELTA_H_
