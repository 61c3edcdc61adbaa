#include "common/crypto/x25519.h"

#include <string_view>
#include <vector>

#include "common/crypto/hex.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_random.h"

namespace cohort::crypto {
namespace {

std::vector<uint8_t> Hex(std::string_view hex) {
  return HexToBytes(hex).value();
}

// RFC 7748 section 6.1.
constexpr std::string_view kAlicePrivate =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
constexpr std::string_view kAlicePublic =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
constexpr std::string_view kBobPrivate =
    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
constexpr std::string_view kBobPublic =
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
constexpr std::string_view kShared =
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

TEST(X25519Test, Rfc7748Section61PublicKeys) {
  auto alice = X25519PrivateKey::FromBytes(Hex(kAlicePrivate));
  auto bob = X25519PrivateKey::FromBytes(Hex(kBobPrivate));
  ASSERT_TRUE(alice.ok()) << alice.status();
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_EQ(BytesToHex(alice->PublicKey().bytes()), kAlicePublic);
  EXPECT_EQ(BytesToHex(bob->PublicKey().bytes()), kBobPublic);
}

TEST(X25519Test, Rfc7748Section61SharedSecret) {
  auto alice = X25519PrivateKey::FromBytes(Hex(kAlicePrivate));
  auto bob = X25519PrivateKey::FromBytes(Hex(kBobPrivate));
  auto bob_public = X25519PublicKey::FromBytes(Hex(kBobPublic));
  auto alice_public = X25519PublicKey::FromBytes(Hex(kAlicePublic));
  ASSERT_TRUE(alice.ok() && bob.ok() && bob_public.ok() && alice_public.ok());
  auto ab = alice->ComputeSharedSecret(*bob_public);
  auto ba = bob->ComputeSharedSecret(*alice_public);
  ASSERT_TRUE(ab.ok()) << ab.status();
  ASSERT_TRUE(ba.ok()) << ba.status();
  EXPECT_EQ(BytesToHex(*ab), kShared);
  EXPECT_EQ(BytesToHex(*ba), kShared);
}

// RFC 7748 section 5.2, first vector: scalar times an arbitrary u-coordinate.
TEST(X25519Test, Rfc7748Section52Vector1) {
  auto scalar = X25519PrivateKey::FromBytes(
      Hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"));
  auto u = X25519PublicKey::FromBytes(
      Hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"));
  ASSERT_TRUE(scalar.ok() && u.ok());
  auto out = scalar->ComputeSharedSecret(*u);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(BytesToHex(*out),
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
}

TEST(X25519Test, GeneratedKeysAgree) {
  testing::FakeRandom random(42);
  for (int i = 0; i < 5; ++i) {
    auto a = X25519PrivateKey::Generate(random);
    auto b = X25519PrivateKey::Generate(random);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_NE(a->PublicKey(), b->PublicKey());
    auto ab = a->ComputeSharedSecret(b->PublicKey());
    auto ba = b->ComputeSharedSecret(a->PublicKey());
    ASSERT_TRUE(ab.ok() && ba.ok());
    EXPECT_EQ(*ab, *ba);
  }
}

TEST(X25519Test, GenerateIsDeterministicUnderFakeRandom) {
  testing::FakeRandom r1(9), r2(9);
  auto a = X25519PrivateKey::Generate(r1);
  auto b = X25519PrivateKey::Generate(r2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->bytes(), b->bytes());
  EXPECT_EQ(a->PublicKey(), b->PublicKey());
}

TEST(X25519Test, GenerateReportsRandomFailure) {
  testing::FakeRandom random(1);
  random.FailNextFill();
  EXPECT_EQ(X25519PrivateKey::Generate(random).status().code(),
            absl::StatusCode::kInternal);
}

// Every encoding of a point of small order (0, 1, the two points of order
// 8, and p - 1, p, p + 1) gives an all-zero secret with any clamped scalar;
// each is refused, also when the same context then meets a good key (the
// agreements of one key with many peers, as SecAgg+ unmasking does).
TEST(X25519Test, LowOrderPeerIsInvalidArgument) {
  auto alice = X25519PrivateKey::FromBytes(Hex(kAlicePrivate));
  auto bob = X25519PrivateKey::FromBytes(Hex(kBobPrivate));
  ASSERT_TRUE(alice.ok() && bob.ok());
  auto agreements = X25519Agreements::Create(*alice);
  ASSERT_TRUE(agreements.ok());
  auto good = X25519PeerKey::Load(bob->PublicKey());
  ASSERT_TRUE(good.ok());
  const std::string ff(60, 'f');
  for (const std::string& hex :
       {std::string(64, '0'), "01" + std::string(62, '0'),
        std::string("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        std::string("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        "ec" + ff + "7f", "ed" + ff + "7f", "ee" + ff + "7f"}) {
    auto peer = X25519PublicKey::FromBytes(Hex(hex));
    ASSERT_TRUE(peer.ok());
    EXPECT_EQ(alice->ComputeSharedSecret(*peer).status().code(),
              absl::StatusCode::kInvalidArgument)
        << hex;
    auto loaded = X25519PeerKey::Load(*peer);
    ASSERT_TRUE(loaded.ok());
    EXPECT_EQ(agreements->With(*loaded).status().code(),
              absl::StatusCode::kInvalidArgument)
        << hex;
    auto after = agreements->With(*good);
    ASSERT_TRUE(after.ok()) << "after " << hex;
    EXPECT_EQ(*after, *alice->ComputeSharedSecret(bob->PublicKey()));
  }
}

TEST(X25519Test, WrongSizesAreInvalidArgument) {
  EXPECT_EQ(
      X25519PrivateKey::FromBytes(std::vector<uint8_t>(31)).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      X25519PublicKey::FromBytes(std::vector<uint8_t>(33)).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(X25519PublicKey::FromBytes({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::crypto
