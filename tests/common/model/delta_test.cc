#include "common/model/delta.h"

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/model/quantize.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::model {
namespace {

using cohort::v1::Weights;

struct Layer {
  const char* name;
  std::vector<int64_t> shape;
};

// A small CNN's tensors with N(0, 0.05) values, seeded.
Weights RandomWeights(uint32_t seed) {
  const std::vector<Layer> layers = {
      {"conv1.weight", {16, 1, 3, 3}},  {"conv1.bias", {16}},
      {"conv2.weight", {32, 16, 3, 3}}, {"conv2.bias", {32}},
      {"fc1.weight", {128, 288}},       {"fc1.bias", {128}},
      {"fc2.weight", {10, 128}},        {"fc2.bias", {10}}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  Weights w;
  for (const Layer& l : layers) {
    auto* t = w.add_tensors();
    t->set_name(l.name);
    int64_t n = 1;
    for (int64_t d : l.shape) {
      t->add_shape(d);
      n *= d;
    }
    std::vector<float> values(n);
    for (float& v : values) v = normal(rng);
    SetFloatData(values, t);
  }
  return w;
}

// The next round's weights: every value moves by N(0, step), as a FedAvg
// round with momentum moves almost every value a little.
Weights NextRound(const Weights& w, float step, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, step);
  Weights next = w;
  for (auto& t : *next.mutable_tensors()) {
    std::vector<float> values(FloatView(t).begin(), FloatView(t).end());
    for (float& v : values) v += normal(rng);
    SetFloatData(values, &t);
  }
  return next;
}

std::string Int8(const Weights& w) {
  auto q = QuantizeWeights(w);
  EXPECT_TRUE(q.ok()) << q.status();
  return SerializeWeights(*q);
}

// Consecutive artifacts: (base, target) pairs, int8 and fp32.
std::vector<std::pair<std::string, std::string>> Pairs() {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    const Weights a = RandomWeights(seed);
    const Weights b = NextRound(a, 0.002f, seed + 100);
    pairs.emplace_back(Int8(a), Int8(b));
    pairs.emplace_back(SerializeWeights(a), SerializeWeights(b));
  }
  return pairs;
}

class DeltaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Weights a = RandomWeights(7);
    base_ = Int8(a);
    target_ = Int8(NextRound(a, 0.002f, 8));
    auto delta = EncodeDelta(base_, target_);
    ASSERT_TRUE(delta.ok()) << delta.status();
    delta_ = *delta;
  }
  absl::StatusCode Code(const std::string& delta, int64_t max = 1 << 20) {
    return ApplyDelta(base_, delta, max).status().code();
  }
  std::string base_, target_, delta_;
};

TEST(DeltaRoundTrip, ConsecutiveArtifactsRebuildExactlyAndAreSmaller) {
  for (const auto& [base, target] : Pairs()) {
    auto delta = EncodeDelta(base, target);
    ASSERT_TRUE(delta.ok()) << delta.status();
    EXPECT_EQ(ParseDeltaHeader(*delta)->method,
              DeltaMethod::kShuffledDifference);
    EXPECT_LT(delta->size(), target.size() * 9 / 10) << target.size();
    auto rebuilt =
        ApplyDelta(base, *delta, static_cast<int64_t>(target.size()));
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
    EXPECT_EQ(*rebuilt, target);
  }
}

TEST(DeltaRoundTrip, Int8DeltaIsUnderHalfTheArtifact) {
  const Weights a = RandomWeights(11);
  const std::string base = Int8(a), target = Int8(NextRound(a, 0.002f, 12));
  auto delta = EncodeDelta(base, target);
  ASSERT_TRUE(delta.ok());
  EXPECT_LT(delta->size(), target.size() / 2);
}

TEST(DeltaRoundTrip, DifferentLengthsUseThePrefixMethod) {
  const Weights a = RandomWeights(3);
  Weights b = NextRound(a, 0.002f, 4);
  b.mutable_tensors()->RemoveLast();
  const std::string base = SerializeWeights(a), target = SerializeWeights(b);
  ASSERT_NE(base.size(), target.size());
  auto delta = EncodeDelta(base, target);
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(ParseDeltaHeader(*delta)->method, DeltaMethod::kZstdPrefix);
  auto rebuilt = ApplyDelta(base, *delta, 1 << 20);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(*rebuilt, target);
}

TEST(DeltaRoundTrip, IdenticalAndEmptyInputs) {
  const std::string bytes = Int8(RandomWeights(5));
  auto same = EncodeDelta(bytes, bytes);
  ASSERT_TRUE(same.ok());
  EXPECT_LT(same->size(), kDeltaHeaderBytes + 64);
  EXPECT_EQ(*ApplyDelta(bytes, *same, 1 << 20), bytes);
  for (const auto& [base, target] :
       std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"", bytes}, {bytes, ""}, {"abc", "abd"}}) {
    auto delta = EncodeDelta(base, target);
    ASSERT_TRUE(delta.ok());
    auto rebuilt = ApplyDelta(base, *delta, 1 << 20);
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
    EXPECT_EQ(*rebuilt, target);
  }
}

TEST_F(DeltaTest, EveryTruncationIsInvalidArgument) {
  for (size_t n = 0; n < delta_.size(); ++n) {
    ASSERT_EQ(Code(delta_.substr(0, n)), absl::StatusCode::kInvalidArgument)
        << n;
  }
  EXPECT_EQ(Code(delta_ + "x"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(delta_ + delta_.substr(kDeltaHeaderBytes)),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DeltaTest, FlippedBitIsRefusedOrRebuildsTheTarget) {
  std::mt19937 rng(42);
  int refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bad = delta_;
    bad[rng() % bad.size()] ^= static_cast<char>(1 << (rng() % 8));
    auto rebuilt = ApplyDelta(base_, bad, 1 << 20);
    if (rebuilt.ok()) {
      // Padding bits zstd ignores.
      EXPECT_EQ(*rebuilt, target_);
      continue;
    }
    ++refused;
    const absl::StatusCode code = rebuilt.status().code();
    EXPECT_TRUE(code == absl::StatusCode::kInvalidArgument ||
                code == absl::StatusCode::kFailedPrecondition ||
                code == absl::StatusCode::kResourceExhausted)
        << rebuilt.status();
  }
  EXPECT_GT(refused, 2900);
}

TEST_F(DeltaTest, GarbageAfterAValidHeaderIsInvalidArgument) {
  std::mt19937 rng(9);
  const std::string zstd_magic("\x28\xb5\x2f\xfd", 4);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = delta_.substr(0, kDeltaHeaderBytes);
    if (trial % 2 == 0) bad += zstd_magic;
    const size_t n = rng() % 512;
    for (size_t i = 0; i < n; ++i) bad += static_cast<char>(rng());
    EXPECT_EQ(Code(bad), absl::StatusCode::kInvalidArgument) << trial;
  }
}

TEST_F(DeltaTest, OversizedTargetIsResourceExhaustedBeforeAllocating) {
  const int64_t size = static_cast<int64_t>(target_.size());
  EXPECT_TRUE(ApplyDelta(base_, delta_, size).ok());
  EXPECT_EQ(Code(delta_, size - 1), absl::StatusCode::kResourceExhausted);
  std::string huge = delta_;
  huge[16 + 7] = 0x40;  // target size 2^62 and more
  EXPECT_EQ(Code(huge, std::numeric_limits<int64_t>::max()),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(huge), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Code(delta_, -1), absl::StatusCode::kInvalidArgument);
}

TEST_F(DeltaTest, AnotherBaseIsFailedPrecondition) {
  std::string other = base_;
  other[other.size() / 2] ^= 1;
  EXPECT_EQ(ApplyDelta(other, delta_, 1 << 20).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ApplyDelta(base_.substr(1), delta_, 1 << 20).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(DeltaTest, MalformedHeaderFieldsAreInvalidArgument) {
  for (size_t byte : {size_t{0}, size_t{4}, size_t{5}, size_t{6}}) {
    std::string bad = delta_;
    bad[byte] ^= 0x02;  // e.g. format 1 -> 3, method 1 -> 3
    EXPECT_EQ(Code(bad), absl::StatusCode::kInvalidArgument) << byte;
  }
  std::string prefix_method = delta_;
  prefix_method[5] = static_cast<char>(DeltaMethod::kZstdPrefix);
  EXPECT_EQ(Code(prefix_method), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::model
