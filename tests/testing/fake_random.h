#ifndef COHORT_TESTS_TESTING_FAKE_RANDOM_H_
#define COHORT_TESTS_TESTING_FAKE_RANDOM_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/crypto/secure_random.h"
#include "common/crypto/sha256.h"

namespace cohort::testing {

// Deterministic SecureRandom for tests: the byte stream is
// SHA-256(seed_le64 || counter_le64) for counter = 0, 1, 2, ..., so the same
// seed always yields the same keys and nonces, on every platform. NOT secure.
// Not thread-safe. Fill never fails unless `FailNextFill()` was called, which
// makes the next call return INTERNAL (to test error paths).
class FakeRandom final : public crypto::SecureRandom {
 public:
  explicit FakeRandom(uint64_t seed) : seed_(seed) {}

  absl::Status Fill(absl::Span<uint8_t> out) override {
    if (fail_next_) {
      fail_next_ = false;
      return absl::InternalError("FakeRandom: injected failure");
    }
    for (uint8_t& byte : out) {
      if (pos_ == block_.size()) Refill();
      byte = block_[pos_++];
    }
    return absl::OkStatus();
  }

  void FailNextFill() { fail_next_ = true; }

 private:
  void Refill() {
    std::string input(16, '\0');
    for (int i = 0; i < 8; ++i) {
      input[i] = static_cast<char>((seed_ >> (8 * i)) & 0xff);
      input[8 + i] = static_cast<char>((counter_ >> (8 * i)) & 0xff);
    }
    block_ = crypto::Sha256(input);
    ++counter_;
    pos_ = 0;
  }

  uint64_t seed_;
  uint64_t counter_ = 0;
  std::array<uint8_t, crypto::kSha256Size> block_{};
  size_t pos_ = crypto::kSha256Size;
  bool fail_next_ = false;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_FAKE_RANDOM_H_
