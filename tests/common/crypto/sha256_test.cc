#include "common/crypto/sha256.h"

#include <string>

#include "common/crypto/hex.h"
#include "gtest/gtest.h"

namespace cohort::crypto {
namespace {

// FIPS 180-2 examples.
TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, RawBytesMatchHex) {
  for (const std::string& input :
       {std::string(""), std::string("abc"), std::string(1000, 'x')}) {
    EXPECT_EQ(BytesToHex(Sha256(input)), Sha256Hex(input)) << input;
  }
  const auto digest = Sha256("abc");
  EXPECT_EQ(digest[0], 0xba);
  EXPECT_EQ(digest[31], 0xad);
}

}  // namespace
}  // namespace cohort::crypto
