#ifndef COHORT_COMMON_CRYPTO_AES_CTR_PRG_H_
#define COHORT_COMMON_CRYPTO_AES_CTR_PRG_H_

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cohort::crypto {

inline constexpr size_t kAesCtrPrgSeedSize = 32;

// A pseudorandom generator that expands a 32-byte seed into a keystream, used
// for SecAgg masks.
//
// Construction (fixed; masks computed by different devices must agree):
//   keystream = AES-256-CTR(key = seed, initial counter block = 0^128) applied
//   to zeros, i.e. the concatenation of AES-256_seed(i) for i = 0, 1, 2, ...
//   where i is a 128-bit big-endian block counter.
// Elements modulo 2^b (b in [1, 64]) are read from the keystream in
// w = ceil(b / 8) byte words: element j is the little-endian integer of
// keystream bytes [w*j, w*j + w), masked to its low b bits. Because w*8 >= b
// and whole bytes are uniform, elements are uniform over [0, 2^b). The result
// depends only on the bytes, never on the host's endianness.
//
// The generator is a stream: successive calls continue where the last one
// stopped. Owns its OpenSSL context; movable (a moved-from PRG must not be
// used), not copyable, not thread-safe.
class AesCtrPrg {
 public:
  // Returns INVALID_ARGUMENT unless `seed` is exactly 32 bytes; INTERNAL if
  // OpenSSL fails.
  static absl::StatusOr<AesCtrPrg> Create(absl::Span<const uint8_t> seed);

  AesCtrPrg(AesCtrPrg&&) = default;
  AesCtrPrg& operator=(AesCtrPrg&&) = default;
  ~AesCtrPrg();

  // Writes the next out.size() keystream bytes. Returns INTERNAL if OpenSSL
  // fails; the stream position is then unspecified.
  absl::Status Fill(absl::Span<uint8_t> out);

  // The next `num` elements modulo 2^`bits` (see above), consuming
  // num * ceil(bits / 8) keystream bytes.
  // Returns INVALID_ARGUMENT if bits is outside [1, 64]; INTERNAL if OpenSSL
  // fails.
  absl::StatusOr<std::vector<uint64_t>> NextModPow2(size_t num, int bits);

  // As above, writing out.size() elements into caller-owned memory (no
  // allocation). Same status codes; on error `out` is unspecified.
  absl::Status NextModPow2(int bits, absl::Span<uint64_t> out);

  // acc[j] = (acc[j] + e_j) mod 2^bits (Add) or (acc[j] - e_j) mod 2^bits
  // (Subtract) for the next acc.size() elements e_j: applies or removes a
  // mask in one pass over `acc`. Inputs need not be reduced; outputs are.
  // Same status codes; on error `acc` is unspecified.
  absl::Status AddModPow2(int bits, absl::Span<uint64_t> acc);
  absl::Status SubtractModPow2(int bits, absl::Span<uint64_t> acc);

 private:
  struct CtxDeleter {
    void operator()(EVP_CIPHER_CTX* ctx) const;
  };
  explicit AesCtrPrg(std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx)
      : ctx_(std::move(ctx)) {}

  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx_;
};

// One mask for AddMasks: the element stream of `seed` (as AesCtrPrg defines
// it, from the start of the stream), to be added or, if `subtract`, removed.
struct MaskSeed {
  std::array<uint8_t, kAesCtrPrgSeedSize> seed{};
  bool subtract = false;
};

// OPENSSL_cleanse, for WipingAllocator (keeps <openssl/crypto.h> out of
// this header).
void WipeBytes(void* p, size_t n);

// An allocator that wipes (OPENSSL_cleanse) what it frees, so a vector of
// secrets leaves none behind when it grows or dies.
template <typename T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) {}  // NOLINT: allocator rebind
  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) {
    WipeBytes(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const WipingAllocator<U>&) const { return true; }
};

// Masks whose storage is wiped when freed.
using MaskSeeds = std::vector<MaskSeed, WipingAllocator<MaskSeed>>;

// acc[j] = (acc[j] + sum over masks of +-e_j) mod 2^bits, where e is each
// mask's element stream. Equivalent to one AesCtrPrg per seed calling
// AddModPow2 / SubtractModPow2 on `acc`, but `acc` is walked once per 64
// masks in cache-sized blocks: each block's masks are summed in narrow lanes
// while the keystream is still in L1, and folded into the 64-bit words once.
// This is the path for masking (client) and unmasking (server); it holds two
// block buffers and at most 64 cipher contexts (about 0.7 KB each) at a
// time, whatever the number of masks.
// INVALID_ARGUMENT if bits is outside [1, 64]; INTERNAL if OpenSSL fails (acc
// is then unspecified). Thread-safe for distinct `acc`.
absl::Status AddMasks(absl::Span<const MaskSeed> masks, int bits,
                      absl::Span<uint64_t> acc);

// Slices of a mask vector must start at a multiple of this many elements
// (so that the slice starts on a whole AES block at every width).
inline constexpr uint64_t kMaskSliceAlignment = 16;

// AddMasks on the slice of the mask vectors that starts at element
// `first_element` (a multiple of kMaskSliceAlignment) and is acc.size()
// long: acc[j] gains +-e_{first_element + j}. The slices of one vector can
// be unmasked on different threads (server unmasking), each seeking its
// keystream instead of generating what comes before. INVALID_ARGUMENT for a
// misaligned first_element, else as AddMasks.
absl::Status AddMasksAt(absl::Span<const MaskSeed> masks, int bits,
                        uint64_t first_element, absl::Span<uint64_t> acc);

// AddMasks with one seed. Same status codes, plus INVALID_ARGUMENT unless
// `seed` is 32 bytes.
absl::Status AddMask(absl::Span<uint64_t> acc, absl::Span<const uint8_t> seed,
                     bool subtract, int bits);

// One-shot helpers: the first `length` bytes / `num` elements of the stream
// for `seed`. Same status codes as AesCtrPrg::Create and its methods.
absl::StatusOr<std::vector<uint8_t>> ExpandSeedToBytes(
    absl::Span<const uint8_t> seed, size_t length);
absl::StatusOr<std::vector<uint64_t>> ExpandSeedModPow2(
    absl::Span<const uint8_t> seed, size_t num, int bits);

}  // namespace cohort::crypto

#endif  // COHORT_COMMON_CRYPTO_AES_CTR_PRG_H_
