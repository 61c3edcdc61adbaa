#include "common/crypto/aes_ctr_prg.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "common/base/status_macros.h"
#include "common/crypto/openssl_util.h"

namespace cohort::crypto {
namespace {

using internal::OpenSslError;

using CtxPtr =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// Keystream bytes per EVP_EncryptUpdate call, and per block of elements in
// the expansion below. 16 KiB makes the per-call overhead a few percent of
// the AES work, while the keystream chunk and the block's lane sums (at most
// another 16 KiB for the native widths) both fit in a 32 KiB L1 cache.
constexpr size_t kChunkBytes = 16 * 1024;

// Cipher contexts alive at once in AddMasksAt: the masks are expanded in
// passes of this many, each pass one walk over the accumulator. A context
// is about 0.7 KB, so the server's 45k masks at n = 1,000 held 30 MB of them
// per unmasking thread when every mask had one for the whole call; 64 keep
// the pass's contexts in L2 while an extra walk over the accumulator costs
// under 1% of the keystream work.
constexpr size_t kMasksPerPass = 64;

const uint8_t* Zeros() {
  static const std::array<uint8_t, kChunkBytes> kZeros{};
  return kZeros.data();
}

// Fetched once for the process: a fetch per PRG means a provider lookup
// under a lock, which dominated when the server created thousands of PRGs.
// Deliberately never freed.
const EVP_CIPHER* Aes256Ctr() {
  static EVP_CIPHER* const cipher =
      EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr);
  return cipher;
}

absl::Status CheckSeed(absl::Span<const uint8_t> seed) {
  if (seed.size() != kAesCtrPrgSeedSize) {
    return absl::InvalidArgumentError(
        "AES-CTR PRG seed must be 32 bytes, got " +
        std::to_string(seed.size()));
  }
  return absl::OkStatus();
}

absl::Status CheckBits(int bits) {
  if (bits < 1 || bits > 64) {
    return absl::InvalidArgumentError("bits must be in [1, 64], got " +
                                      std::to_string(bits));
  }
  return absl::OkStatus();
}

// A context whose keystream starts at 16-byte block `first_block` (the
// counter block is the 128-bit big-endian block number).
absl::StatusOr<CtxPtr> NewCtx(absl::Span<const uint8_t> seed,
                              uint64_t first_block = 0) {
  COHORT_RETURN_IF_ERROR(CheckSeed(seed));
  CtxPtr ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  std::array<uint8_t, 16> counter{};
  for (int i = 0; i < 8; ++i) {
    counter[15 - i] = static_cast<uint8_t>(first_block >> (8 * i));
  }
  if (Aes256Ctr() == nullptr || ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), Aes256Ctr(), nullptr, seed.data(),
                         counter.data()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "AES-256-CTR setup failed");
  }
  return ctx;
}

// CTR mode XORs the keystream into its input, so encrypting zeros yields the
// keystream itself.
absl::Status Keystream(EVP_CIPHER_CTX* ctx, uint8_t* out, size_t size) {
  for (size_t off = 0; off < size; off += kChunkBytes) {
    const int n = static_cast<int>(std::min(kChunkBytes, size - off));
    int written = 0;
    if (EVP_EncryptUpdate(ctx, out + off, &written, Zeros(), n) != 1 ||
        written != n) {
      return OpenSslError(absl::StatusCode::kInternal,
                          "AES-256-CTR keystream failed");
    }
  }
  return absl::OkStatus();
}

// Element value of the W keystream bytes at p, little-endian by definition.
// On little-endian hosts with a native width this is a single load, which
// lets the compiler vectorise the loops below.
// For W < sizeof(Lane) this reads sizeof(Lane) - W bytes past the element,
// so keystream buffers carry kLoadSlack spare bytes.
constexpr size_t kLoadSlack = 8;

template <typename Lane, int W>
inline Lane LoadElement(const uint8_t* p) {
  if constexpr (std::endian::native == std::endian::little) {
    Lane v;
    std::memcpy(&v, p, sizeof(Lane));
    if constexpr (W < sizeof(Lane)) v &= (Lane{1} << (8 * W)) - 1;
    return v;
  } else {
    Lane v = 0;
    for (int i = W - 1; i >= 0; --i) v = static_cast<Lane>((v << 8) | p[i]);
    return v;
  }
}

// Three-byte elements (bits 17 to 24) are the usual SecAgg width: 16-bit
// coordinates plus headroom for the cohort's sum. The compiler does not
// vectorise their unaligned 3-byte stride well, so on x86-64 CPUs with AVX2
// (checked once at run time) each 256-bit step loads two overlapping 16-byte
// windows of 4 elements and spreads each element into a 32-bit lane with one
// byte shuffle. Elsewhere a plain loop does the same. Both read at most 4
// bytes past the last element (covered by kLoadSlack).
inline uint32_t Load3(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16;
}

template <bool kSubtract>
void Accumulate3Scalar(const uint8_t* ks, size_t count, uint32_t* sums) {
  for (size_t j = 0; j < count; ++j) {
    sums[j] = kSubtract ? sums[j] - Load3(ks + 3 * j) : sums[j] + Load3(ks + 3 * j);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
template <bool kSubtract>
__attribute__((target("avx2"))) void Accumulate3Avx2(const uint8_t* ks,
                                                     size_t count,
                                                     uint32_t* sums) {
  // Byte 3k..3k+2 of each 16-byte window -> 32-bit lane k, top byte zero.
  const __m256i spread = _mm256_setr_epi8(
      0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1,  //
      0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
  size_t j = 0;
  for (; j + 8 <= count; j += 8) {
    const uint8_t* p = ks + 3 * j;
    const __m256i raw = _mm256_inserti128_si256(
        _mm256_castsi128_si256(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 12)), 1);
    const __m256i v = _mm256_shuffle_epi8(raw, spread);
    __m256i* dst = reinterpret_cast<__m256i*>(sums + j);
    const __m256i acc = _mm256_loadu_si256(dst);
    _mm256_storeu_si256(dst, kSubtract ? _mm256_sub_epi32(acc, v)
                                       : _mm256_add_epi32(acc, v));
  }
  Accumulate3Scalar<kSubtract>(ks + 3 * j, count - j, sums + j);
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

// Native widths (1, 2, 4, 8 bytes, little-endian host): 32 keystream bytes
// are 32 / W whole elements, added lane-wise. Returns how many elements it
// handled; the caller finishes the tail.
template <typename Lane, bool kSubtract>
__attribute__((target("avx2"))) size_t AccumulateNativeAvx2(
    const uint8_t* ks, size_t count, Lane* sums) {
  constexpr size_t kPer = 32 / sizeof(Lane);
  size_t j = 0;
  for (; j + kPer <= count; j += kPer) {
    const __m256i v =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ks + j * sizeof(Lane)));
    __m256i* dst = reinterpret_cast<__m256i*>(sums + j);
    const __m256i a = _mm256_loadu_si256(dst);
    __m256i r;
    if constexpr (sizeof(Lane) == 1) {
      r = kSubtract ? _mm256_sub_epi8(a, v) : _mm256_add_epi8(a, v);
    } else if constexpr (sizeof(Lane) == 2) {
      r = kSubtract ? _mm256_sub_epi16(a, v) : _mm256_add_epi16(a, v);
    } else if constexpr (sizeof(Lane) == 4) {
      r = kSubtract ? _mm256_sub_epi32(a, v) : _mm256_add_epi32(a, v);
    } else {
      r = kSubtract ? _mm256_sub_epi64(a, v) : _mm256_add_epi64(a, v);
    }
    _mm256_storeu_si256(dst, r);
  }
  return j;
}
#endif

template <bool kSubtract>
void Accumulate3(const uint8_t* ks, size_t count, uint32_t* sums) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (HasAvx2()) return Accumulate3Avx2<kSubtract>(ks, count, sums);
#endif
  Accumulate3Scalar<kSubtract>(ks, count, sums);
}

// sums[j] += or -= element j of the keystream chunk. Lanes are at least W
// bytes wide and wrap modulo 2^(8*sizeof(Lane)), a multiple of 2^bits, so
// reducing once at the end gives the sum modulo 2^bits.
template <typename Lane, int W, bool kSubtract>
void Accumulate(const uint8_t* __restrict ks, size_t count,
                Lane* __restrict sums) {
  if constexpr (W == 3) {
    static_assert(sizeof(Lane) == 4);
    return Accumulate3<kSubtract>(ks, count, sums);
  }
  size_t start = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if constexpr (W == sizeof(Lane) && std::endian::native == std::endian::little) {
    if (HasAvx2()) start = AccumulateNativeAvx2<Lane, kSubtract>(ks, count, sums);
  }
#endif
  for (size_t j = start; j < count; ++j) {
    const Lane v = LoadElement<Lane, W>(ks + W * j);
    if constexpr (kSubtract) {
      sums[j] = static_cast<Lane>(sums[j] - v);
    } else {
      sums[j] = static_cast<Lane>(sums[j] + v);
    }
  }
}

// How a block's lane sums land in the caller's 64-bit words.
enum class Fold { kAssign, kAdd };

#if defined(__x86_64__) && defined(__GNUC__)
// Widens four lane sums at a time to 64 bits. Returns how many elements it
// handled; the caller finishes the tail.
template <typename Lane, Fold kFold>
__attribute__((target("avx2"))) size_t FoldAvx2(const Lane* sums, size_t count,
                                                uint64_t mask, uint64_t* out) {
  const __m256i m = _mm256_set1_epi64x(static_cast<long long>(mask));
  size_t j = 0;
  for (; j + 4 <= count; j += 4) {
    __m256i v;
    if constexpr (sizeof(Lane) == 1) {
      int32_t packed;
      std::memcpy(&packed, sums + j, 4);
      v = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(packed));
    } else if constexpr (sizeof(Lane) == 2) {
      v = _mm256_cvtepu16_epi64(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sums + j)));
    } else if constexpr (sizeof(Lane) == 4) {
      v = _mm256_cvtepu32_epi64(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(sums + j)));
    } else {
      v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + j));
    }
    __m256i* dst = reinterpret_cast<__m256i*>(out + j);
    if constexpr (kFold == Fold::kAdd) {
      v = _mm256_add_epi64(_mm256_loadu_si256(dst), v);
    }
    _mm256_storeu_si256(dst, _mm256_and_si256(v, m));
  }
  return j;
}
#endif

template <typename Lane, Fold kFold>
void FoldInto(const Lane* __restrict sums, size_t count, uint64_t mask,
              uint64_t* __restrict out) {
  size_t start = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (HasAvx2()) start = FoldAvx2<Lane, kFold>(sums, count, mask, out);
#endif
  for (size_t j = start; j < count; ++j) {
    const uint64_t v = sums[j];
    if constexpr (kFold == Fold::kAssign) {
      out[j] = v & mask;
    } else {
      out[j] = (out[j] + v) & mask;  // wraps mod 2^64, a multiple of 2^bits
    }
  }
}

struct Stream {
  EVP_CIPHER_CTX* ctx;
  bool subtract;
};

// Walks `out` once in blocks; for each block, sums every stream's next
// elements in Lane-wide words, then folds the sums into `out`.
template <typename Lane, int W>
absl::Status ExpandBlocks(absl::Span<const Stream> streams, Fold fold,
                          uint64_t mask, absl::Span<uint64_t> out) {
  constexpr size_t kPerBlock = kChunkBytes / W;
  std::vector<uint8_t> ks(kPerBlock * W + kLoadSlack);
  std::vector<Lane> sums(kPerBlock);
  for (size_t start = 0; start < out.size(); start += kPerBlock) {
    const size_t count = std::min(kPerBlock, out.size() - start);
    std::fill_n(sums.data(), count, Lane{0});
    for (const Stream& s : streams) {
      COHORT_RETURN_IF_ERROR(Keystream(s.ctx, ks.data(), count * W));
      if (s.subtract) {
        Accumulate<Lane, W, true>(ks.data(), count, sums.data());
      } else {
        Accumulate<Lane, W, false>(ks.data(), count, sums.data());
      }
    }
    uint64_t* dst = out.data() + start;
    if (fold == Fold::kAssign) {
      FoldInto<Lane, Fold::kAssign>(sums.data(), count, mask, dst);
    } else {
      FoldInto<Lane, Fold::kAdd>(sums.data(), count, mask, dst);
    }
  }
  return absl::OkStatus();
}

absl::Status Expand(absl::Span<const Stream> streams, int bits, Fold fold,
                    absl::Span<uint64_t> out) {
  COHORT_RETURN_IF_ERROR(CheckBits(bits));
  const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  switch ((bits + 7) / 8) {
    case 1:
      return ExpandBlocks<uint8_t, 1>(streams, fold, mask, out);
    case 2:
      return ExpandBlocks<uint16_t, 2>(streams, fold, mask, out);
    case 3:
      return ExpandBlocks<uint32_t, 3>(streams, fold, mask, out);
    case 4:
      return ExpandBlocks<uint32_t, 4>(streams, fold, mask, out);
    case 5:
      return ExpandBlocks<uint64_t, 5>(streams, fold, mask, out);
    case 6:
      return ExpandBlocks<uint64_t, 6>(streams, fold, mask, out);
    case 7:
      return ExpandBlocks<uint64_t, 7>(streams, fold, mask, out);
    default:
      return ExpandBlocks<uint64_t, 8>(streams, fold, mask, out);
  }
}

}  // namespace

void AesCtrPrg::CtxDeleter::operator()(EVP_CIPHER_CTX* ctx) const {
  EVP_CIPHER_CTX_free(ctx);
}

AesCtrPrg::~AesCtrPrg() = default;

absl::StatusOr<AesCtrPrg> AesCtrPrg::Create(absl::Span<const uint8_t> seed) {
  COHORT_ASSIGN_OR_RETURN(CtxPtr ctx, NewCtx(seed));
  return AesCtrPrg(std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>(ctx.release()));
}

absl::Status AesCtrPrg::Fill(absl::Span<uint8_t> out) {
  return Keystream(ctx_.get(), out.data(), out.size());
}

absl::StatusOr<std::vector<uint64_t>> AesCtrPrg::NextModPow2(size_t num,
                                                             int bits) {
  COHORT_RETURN_IF_ERROR(CheckBits(bits));
  std::vector<uint64_t> out(num);
  COHORT_RETURN_IF_ERROR(NextModPow2(bits, absl::MakeSpan(out)));
  return out;
}

absl::Status AesCtrPrg::NextModPow2(int bits, absl::Span<uint64_t> out) {
  const Stream s{ctx_.get(), false};
  return Expand({&s, 1}, bits, Fold::kAssign, out);
}

absl::Status AesCtrPrg::AddModPow2(int bits, absl::Span<uint64_t> acc) {
  const Stream s{ctx_.get(), false};
  return Expand({&s, 1}, bits, Fold::kAdd, acc);
}

absl::Status AesCtrPrg::SubtractModPow2(int bits, absl::Span<uint64_t> acc) {
  const Stream s{ctx_.get(), true};
  return Expand({&s, 1}, bits, Fold::kAdd, acc);
}

void WipeBytes(void* p, size_t n) { OPENSSL_cleanse(p, n); }

absl::Status AddMasks(absl::Span<const MaskSeed> masks, int bits,
                      absl::Span<uint64_t> acc) {
  return AddMasksAt(masks, bits, /*first_element=*/0, acc);
}

absl::Status AddMasksAt(absl::Span<const MaskSeed> masks, int bits,
                        uint64_t first_element, absl::Span<uint64_t> acc) {
  COHORT_RETURN_IF_ERROR(CheckBits(bits));
  if (first_element % kMaskSliceAlignment != 0) {
    return absl::InvalidArgumentError(
        "a mask slice must start at a multiple of " +
        std::to_string(kMaskSliceAlignment) + " elements, got " +
        std::to_string(first_element));
  }
  // Element j starts at keystream byte w*j; with first_element a multiple
  // of 16 that is a whole block.
  const uint64_t first_block = first_element / 16 * ((bits + 7) / 8);
  // No masks still reduces acc mod 2^bits, as the contract says.
  if (masks.empty()) return Expand({}, bits, Fold::kAdd, acc);
  std::vector<CtxPtr> ctxs;
  std::vector<Stream> streams;
  const size_t group = std::min(masks.size(), kMasksPerPass);
  ctxs.reserve(group);
  streams.reserve(group);
  for (size_t start = 0; start < masks.size(); start += group) {
    ctxs.clear();
    streams.clear();
    for (const MaskSeed& m : masks.subspan(start, group)) {
      COHORT_ASSIGN_OR_RETURN(CtxPtr ctx, NewCtx(m.seed, first_block));
      streams.push_back(Stream{ctx.get(), m.subtract});
      ctxs.push_back(std::move(ctx));
    }
    COHORT_RETURN_IF_ERROR(Expand(streams, bits, Fold::kAdd, acc));
  }
  return absl::OkStatus();
}

absl::Status AddMask(absl::Span<uint64_t> acc, absl::Span<const uint8_t> seed,
                     bool subtract, int bits) {
  COHORT_RETURN_IF_ERROR(CheckBits(bits));
  COHORT_ASSIGN_OR_RETURN(CtxPtr ctx, NewCtx(seed));
  const Stream s{ctx.get(), subtract};
  return Expand({&s, 1}, bits, Fold::kAdd, acc);
}

absl::StatusOr<std::vector<uint8_t>> ExpandSeedToBytes(
    absl::Span<const uint8_t> seed, size_t length) {
  COHORT_ASSIGN_OR_RETURN(AesCtrPrg prg, AesCtrPrg::Create(seed));
  std::vector<uint8_t> out(length);
  COHORT_RETURN_IF_ERROR(prg.Fill(absl::MakeSpan(out)));
  return out;
}

absl::StatusOr<std::vector<uint64_t>> ExpandSeedModPow2(
    absl::Span<const uint8_t> seed, size_t num, int bits) {
  COHORT_ASSIGN_OR_RETURN(AesCtrPrg prg, AesCtrPrg::Create(seed));
  return prg.NextModPow2(num, bits);
}

}  // namespace cohort::crypto
