#include "common/crypto/aes_ctr_prg.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <string>

#include "absl/status/status.h"
#include "common/base/status_macros.h"
#include "common/crypto/openssl_util.h"

namespace cohort::crypto {
namespace {

using internal::OpenSslError;

using CipherPtr = std::unique_ptr<EVP_CIPHER, decltype(&EVP_CIPHER_free)>;

// Keystream is produced by encrypting this many zero bytes per
// EVP_EncryptUpdate call: large enough to amortise the call, small enough to
// stay in L2 while the caller consumes it.
constexpr size_t kChunkBytes = 64 * 1024;

const uint8_t* Zeros() {
  static const std::array<uint8_t, kChunkBytes> kZeros{};
  return kZeros.data();
}

// Little-endian decode of W bytes; portable across host byte orders. A
// compile-time width lets the compiler turn this into a single load.
template <int W>
inline uint64_t LoadLe(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = W - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// How a keystream element v combines with the existing output word x.
enum class Op { kAssign, kAdd, kSubtract };

template <int W, Op kOp>
void Decode(const uint8_t* p, size_t count, uint64_t mask, uint64_t* out) {
  for (size_t j = 0; j < count; ++j, p += W) {
    const uint64_t v = LoadLe<W>(p);
    // Unsigned arithmetic wraps mod 2^64, and 2^b divides 2^64, so masking
    // afterwards gives the result mod 2^b.
    if constexpr (kOp == Op::kAssign) out[j] = v & mask;
    if constexpr (kOp == Op::kAdd) out[j] = (out[j] + v) & mask;
    if constexpr (kOp == Op::kSubtract) out[j] = (out[j] - v) & mask;
  }
}

template <Op kOp>
void DecodeWords(const uint8_t* p, size_t count, int width, uint64_t mask,
                 uint64_t* out) {
  switch (width) {
    case 1:
      return Decode<1, kOp>(p, count, mask, out);
    case 2:
      return Decode<2, kOp>(p, count, mask, out);
    case 3:
      return Decode<3, kOp>(p, count, mask, out);
    case 4:
      return Decode<4, kOp>(p, count, mask, out);
    case 5:
      return Decode<5, kOp>(p, count, mask, out);
    case 6:
      return Decode<6, kOp>(p, count, mask, out);
    case 7:
      return Decode<7, kOp>(p, count, mask, out);
    default:
      return Decode<8, kOp>(p, count, mask, out);
  }
}

absl::Status CheckBits(int bits) {
  if (bits < 1 || bits > 64) {
    return absl::InvalidArgumentError("bits must be in [1, 64], got " +
                                      std::to_string(bits));
  }
  return absl::OkStatus();
}

// Streams the next out.size() elements of `prg` into `out` with kOp.
template <Op kOp>
absl::Status Expand(AesCtrPrg& prg, int bits, absl::Span<uint64_t> out) {
  COHORT_RETURN_IF_ERROR(CheckBits(bits));
  const int width = (bits + 7) / 8;
  const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  // Whole elements per chunk, so no element straddles two chunks; the chunk
  // stays in L1/L2 between encryption and decoding.
  const size_t per_chunk = kChunkBytes / width;
  std::array<uint8_t, kChunkBytes> buf;
  for (size_t start = 0; start < out.size(); start += per_chunk) {
    const size_t count = std::min(per_chunk, out.size() - start);
    COHORT_RETURN_IF_ERROR(prg.Fill(absl::MakeSpan(buf.data(), count * width)));
    DecodeWords<kOp>(buf.data(), count, width, mask, out.data() + start);
  }
  return absl::OkStatus();
}

}  // namespace

void AesCtrPrg::CtxDeleter::operator()(EVP_CIPHER_CTX* ctx) const {
  EVP_CIPHER_CTX_free(ctx);
}

AesCtrPrg::~AesCtrPrg() = default;

absl::StatusOr<AesCtrPrg> AesCtrPrg::Create(absl::Span<const uint8_t> seed) {
  if (seed.size() != kAesCtrPrgSeedSize) {
    return absl::InvalidArgumentError(
        "AES-CTR PRG seed must be 32 bytes, got " +
        std::to_string(seed.size()));
  }
  CipherPtr cipher(EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr),
                   &EVP_CIPHER_free);
  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx(EVP_CIPHER_CTX_new());
  static constexpr std::array<uint8_t, 16> kZeroCounter{};
  if (cipher == nullptr || ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), cipher.get(), nullptr, seed.data(),
                         kZeroCounter.data()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "AES-256-CTR setup failed");
  }
  return AesCtrPrg(std::move(ctx));
}

absl::Status AesCtrPrg::Fill(absl::Span<uint8_t> out) {
  for (size_t off = 0; off < out.size(); off += kChunkBytes) {
    const int n = static_cast<int>(std::min(kChunkBytes, out.size() - off));
    int written = 0;
    if (EVP_EncryptUpdate(ctx_.get(), out.data() + off, &written, Zeros(), n) !=
            1 ||
        written != n) {
      return OpenSslError(absl::StatusCode::kInternal,
                          "AES-256-CTR keystream failed");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> AesCtrPrg::NextModPow2(size_t num,
                                                             int bits) {
  COHORT_RETURN_IF_ERROR(CheckBits(bits));
  std::vector<uint64_t> out(num);
  COHORT_RETURN_IF_ERROR(NextModPow2(bits, absl::MakeSpan(out)));
  return out;
}

absl::Status AesCtrPrg::NextModPow2(int bits, absl::Span<uint64_t> out) {
  return Expand<Op::kAssign>(*this, bits, out);
}

absl::Status AesCtrPrg::AddModPow2(int bits, absl::Span<uint64_t> acc) {
  return Expand<Op::kAdd>(*this, bits, acc);
}

absl::Status AesCtrPrg::SubtractModPow2(int bits, absl::Span<uint64_t> acc) {
  return Expand<Op::kSubtract>(*this, bits, acc);
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
