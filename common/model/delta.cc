#include "common/model/delta.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/crypto/sha256.h"

namespace cohort::model {
namespace {

constexpr char kMagic[4] = {'C', 'H', 'D', 'L'};
constexpr uint8_t kFormatVersion = 1;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

void PutU64(uint64_t v, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

uint64_t GetU64(const char* in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

absl::Status ZstdStatus(size_t code, const char* what) {
  if (!ZSTD_isError(code)) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("zstd ", what, ": ", ZSTD_getErrorName(code)));
}

// Level 19 gains about 10% over level 9 on int8 deltas but runs at about
// 1 MB/s; the lower levels keep a large model's first delta near a second.
int LevelFor(size_t target_size) {
  if (target_size <= (size_t{1} << 20)) return 19;
  if (target_size <= (size_t{16} << 20)) return 9;
  return 3;
}

// The smallest window log within `bounds` that covers `bytes`.
int WindowLogFor(uint64_t bytes, ZSTD_bounds bounds) {
  int log = bounds.lowerBound;
  while (log < bounds.upperBound && (uint64_t{1} << log) < bytes) ++log;
  return log;
}

uint8_t Byte(absl::string_view s, size_t i) {
  return static_cast<uint8_t>(s[i]);
}

// target - base (mod 256), byte-plane shuffled per block (see delta.h).
std::string ShuffledDifference(absl::string_view base,
                               absl::string_view target) {
  std::string out(target.size(), '\0');
  for (size_t start = 0; start < target.size(); start += kDeltaShuffleBlock) {
    const size_t len = std::min(kDeltaShuffleBlock, target.size() - start);
    const size_t words = len / 4;
    auto diff = [&](size_t i) {
      return static_cast<char>(Byte(target, start + i) - Byte(base, start + i));
    };
    for (size_t j = 0; j < words; ++j) {
      for (size_t k = 0; k < 4; ++k)
        out[start + k * words + j] = diff(4 * j + k);
    }
    for (size_t i = 4 * words; i < len; ++i) out[start + i] = diff(i);
  }
  return out;
}

// Inverse of ShuffledDifference, in place: `out` holds the decoded planes.
void UnshuffleAndAdd(absl::string_view base, std::string& out) {
  std::string block(std::min(kDeltaShuffleBlock, out.size()), '\0');
  for (size_t start = 0; start < out.size(); start += kDeltaShuffleBlock) {
    const size_t len = std::min(kDeltaShuffleBlock, out.size() - start);
    const size_t words = len / 4;
    std::memcpy(block.data(), out.data() + start, len);
    auto put = [&](size_t i, char d) {
      out[start + i] =
          static_cast<char>(static_cast<uint8_t>(d) + Byte(base, start + i));
    };
    for (size_t j = 0; j < words; ++j) {
      for (size_t k = 0; k < 4; ++k) put(4 * j + k, block[k * words + j]);
    }
    for (size_t i = 4 * words; i < len; ++i) put(i, block[i]);
  }
}

std::string Header(DeltaMethod method, absl::string_view base,
                   size_t target_size) {
  std::string h(kDeltaHeaderBytes, '\0');
  std::memcpy(h.data(), kMagic, sizeof(kMagic));
  h[4] = static_cast<char>(kFormatVersion);
  h[5] = static_cast<char>(method);
  PutU64(base.size(), &h[8]);
  PutU64(target_size, &h[16]);
  const auto digest = crypto::Sha256(Std(base));
  std::memcpy(&h[24], digest.data(), digest.size());
  return h;
}

// `header` followed by one zstd frame of `src`, with `cctx`'s parameters.
absl::StatusOr<std::string> Compress(ZSTD_CCtx* cctx, absl::string_view src,
                                     std::string header) {
  const size_t bound = ZSTD_compressBound(src.size());
  std::string out = std::move(header);
  const size_t at = out.size();
  out.resize(at + bound);
  const size_t n =
      ZSTD_compress2(cctx, out.data() + at, bound, src.data(), src.size());
  COHORT_RETURN_IF_ERROR(ZstdStatus(n, "compress"));
  out.resize(at + n);
  return out;
}

absl::Status CheckBase(const DeltaHeader& header, absl::string_view base) {
  if (header.base_size != base.size() ||
      header.base_sha256 != crypto::Sha256(Std(base))) {
    return absl::FailedPreconditionError(
        absl::StrCat("the delta was made against another base (",
                     header.base_size, " bytes) than the one held (",
                     base.size(), " bytes): their sizes or SHA-256 differ"));
  }
  return absl::OkStatus();
}

// The frame must be one whole zstd frame that records the target's size.
absl::Status CheckFrame(absl::string_view frame, uint64_t target_size) {
  const size_t size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "delta frame is malformed or truncated: ", ZSTD_getErrorName(size)));
  }
  if (size != frame.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "delta has ", frame.size() - size, " bytes after its frame"));
  }
  const unsigned long long content =
      ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content != target_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "delta frame does not record the header's target size ", target_size));
  }
  return absl::OkStatus();
}

// Single-shot decoding writes into `out` directly: zstd allocates no window
// buffer, so a hostile frame cannot make it allocate more than the output.
absl::StatusOr<std::string> Decompress(const DeltaHeader& header,
                                       absl::string_view base,
                                       absl::string_view frame) {
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx(ZSTD_createDCtx());
  if (dctx == nullptr) return absl::InternalError("zstd: out of memory");
  if (header.method == DeltaMethod::kZstdPrefix) {
    const int log = WindowLogFor(header.base_size + header.target_size,
                                 ZSTD_dParam_getBounds(ZSTD_d_windowLogMax));
    COHORT_RETURN_IF_ERROR(
        ZstdStatus(ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, log),
                   "window"));
    COHORT_RETURN_IF_ERROR(ZstdStatus(
        ZSTD_DCtx_refPrefix(dctx.get(), base.data(), base.size()), "prefix"));
  }
  std::string out(static_cast<size_t>(header.target_size), '\0');
  const size_t n = ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(),
                                       frame.data(), frame.size());
  if (ZSTD_isError(n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("delta frame does not decode: ", ZSTD_getErrorName(n)));
  }
  if (n != out.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("delta frame decoded to ", n, " bytes, not ", out.size()));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> EncodeDelta(absl::string_view base,
                                        absl::string_view target) {
  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
  if (cctx == nullptr) return absl::InternalError("zstd: out of memory");
  ZSTD_CCtx* c = cctx.get();
  COHORT_RETURN_IF_ERROR(
      ZstdStatus(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel,
                                        LevelFor(target.size())),
                 "level"));
  COHORT_RETURN_IF_ERROR(ZstdStatus(
      ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1), "checksum"));
  if (base.size() == target.size()) {
    return Compress(
        c, ShuffledDifference(base, target),
        Header(DeltaMethod::kShuffledDifference, base, target.size()));
  }
  const int log = WindowLogFor(uint64_t{base.size()} + target.size(),
                               ZSTD_cParam_getBounds(ZSTD_c_windowLog));
  COHORT_RETURN_IF_ERROR(
      ZstdStatus(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, log), "window"));
  COHORT_RETURN_IF_ERROR(
      ZstdStatus(ZSTD_CCtx_refPrefix(c, base.data(), base.size()), "prefix"));
  return Compress(c, target,
                  Header(DeltaMethod::kZstdPrefix, base, target.size()));
}

absl::StatusOr<DeltaHeader> ParseDeltaHeader(absl::string_view delta) {
  if (delta.size() < kDeltaHeaderBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("delta of ", delta.size(), " bytes is shorter than its ",
                     kDeltaHeaderBytes, "-byte header"));
  }
  if (std::memcmp(delta.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError("not a model delta (bad magic)");
  }
  if (Byte(delta, 4) != kFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported delta format ", int{Byte(delta, 4)}));
  }
  const uint8_t method = Byte(delta, 5);
  if (method != static_cast<uint8_t>(DeltaMethod::kShuffledDifference) &&
      method != static_cast<uint8_t>(DeltaMethod::kZstdPrefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown delta method ", int{method}));
  }
  if (delta[6] != 0 || delta[7] != 0) {
    return absl::InvalidArgumentError("delta header's reserved bytes are set");
  }
  DeltaHeader header;
  header.method = static_cast<DeltaMethod>(method);
  header.base_size = GetU64(&delta[8]);
  header.target_size = GetU64(&delta[16]);
  std::memcpy(header.base_sha256.data(), &delta[24], header.base_sha256.size());
  return header;
}

absl::StatusOr<std::string> ApplyDelta(absl::string_view base,
                                       absl::string_view delta,
                                       int64_t max_output_bytes) {
  if (max_output_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_output_bytes ", max_output_bytes, " is negative"));
  }
  COHORT_ASSIGN_OR_RETURN(const DeltaHeader header, ParseDeltaHeader(delta));
  if (header.target_size > static_cast<uint64_t>(max_output_bytes)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("delta rebuilds ", header.target_size,
                     " bytes; the limit is ", max_output_bytes));
  }
  COHORT_RETURN_IF_ERROR(CheckBase(header, base));
  // Each method has one size relation, so a corrupt method byte cannot
  // decode a frame the other way.
  const bool same_size = header.target_size == base.size();
  if (same_size != (header.method == DeltaMethod::kShuffledDifference)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "delta method ", static_cast<int>(header.method), " cannot rebuild ",
        header.target_size, " bytes from ", base.size()));
  }
  const absl::string_view frame = delta.substr(kDeltaHeaderBytes);
  COHORT_RETURN_IF_ERROR(CheckFrame(frame, header.target_size));
  COHORT_ASSIGN_OR_RETURN(std::string out, Decompress(header, base, frame));
  if (header.method == DeltaMethod::kShuffledDifference) {
    UnshuffleAndAdd(base, out);
  }
  return out;
}

}  // namespace cohort::model
