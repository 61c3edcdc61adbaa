#include "common/crypto/secure_random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>

#include "common/crypto/openssl_util.h"

namespace cohort::crypto {

absl::Status OpenSslRandom::Fill(absl::Span<uint8_t> out) {
  // RAND_bytes takes an int length; feed huge buffers in pieces.
  size_t offset = 0;
  while (offset < out.size()) {
    const size_t n = std::min<size_t>(out.size() - offset, INT_MAX);
    if (RAND_bytes(out.data() + offset, static_cast<int>(n)) != 1) {
      return internal::OpenSslError(absl::StatusCode::kInternal,
                                    "RAND_bytes failed");
    }
    offset += n;
  }
  return absl::OkStatus();
}

}  // namespace cohort::crypto
