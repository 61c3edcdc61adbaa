#include "common/codec/bit_packing.h"

#include "absl/strings/str_cat.h"

namespace cohort::codec {
namespace {

absl::Status CheckBits(int bits) {
  if (bits < 1 || bits > 62) {
    return absl::InvalidArgumentError(
        absl::StrCat("bits must be in [1, 62], got ", bits));
  }
  return absl::OkStatus();
}

size_t PackedSize(int64_t count, int bits) {
  return static_cast<size_t>((count * bits + 7) / 8);
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> PackBits(absl::Span<const uint64_t> values,
                                              int bits) {
  if (absl::Status s = CheckBits(bits); !s.ok()) return s;
  const uint64_t limit = uint64_t{1} << bits;
  std::vector<uint8_t> out(PackedSize(values.size(), bits), 0);
  // A 128-bit accumulator holds up to 62 pending bits plus 7 leftover ones.
  unsigned __int128 acc = 0;
  int acc_bits = 0;
  size_t pos = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] >= limit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "value ", values[i], " at index ", i, " needs more than ", bits,
          " bits"));
    }
    acc |= static_cast<unsigned __int128>(values[i]) << acc_bits;
    acc_bits += bits;
    while (acc_bits >= 8) {
      out[pos++] = static_cast<uint8_t>(acc);
      acc >>= 8;
      acc_bits -= 8;
    }
  }
  if (acc_bits > 0) out[pos++] = static_cast<uint8_t>(acc);
  return out;
}

absl::StatusOr<std::vector<uint64_t>> UnpackBits(absl::Span<const uint8_t> bytes,
                                                 int64_t count, int bits) {
  if (absl::Status s = CheckBits(bits); !s.ok()) return s;
  if (count < 0 || bytes.size() != PackedSize(count, bits)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", count < 0 ? 0 : PackedSize(count, bits),
                     " bytes for ", count, " values at ", bits,
                     " bits, got ", bytes.size()));
  }
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  std::vector<uint64_t> out(count);
  unsigned __int128 acc = 0;
  int acc_bits = 0;
  size_t pos = 0;
  for (int64_t i = 0; i < count; ++i) {
    while (acc_bits < bits) {
      acc |= static_cast<unsigned __int128>(bytes[pos++]) << acc_bits;
      acc_bits += 8;
    }
    out[i] = static_cast<uint64_t>(acc) & mask;
    acc >>= bits;
    acc_bits -= bits;
  }
  if (acc != 0) {
    return absl::InvalidArgumentError("nonzero padding bits after last value");
  }
  return out;
}

}  // namespace cohort::codec
