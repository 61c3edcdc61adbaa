#include "common/model/quantize.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/model/weights_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::model {
namespace {

using ::testing::HasSubstr;
using cohort::v1::Tensor;
using cohort::v1::Weights;

void AddTensor(const std::string& name, std::vector<int64_t> shape,
               const std::vector<float>& values, Weights* w) {
  Tensor* t = w->add_tensors();
  t->set_name(name);
  for (int64_t d : shape) t->add_shape(d);
  SetFloatData(values, t);
}

std::vector<float> Random(size_t n, float spread, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, spread);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// The small CNN's parameter layout (see common/ml/zoo.cc).
Weights SmallCnnLayout(uint32_t seed) {
  std::mt19937 rng(seed);
  Weights w;
  AddTensor("conv1.weight", {16, 1, 5, 5}, Random(400, 0.2f, rng), &w);
  AddTensor("conv1.bias", {16}, Random(16, 0.1f, rng), &w);
  AddTensor("conv2.weight", {32, 16, 5, 5}, Random(12800, 0.05f, rng), &w);
  AddTensor("conv2.bias", {32}, Random(32, 0.1f, rng), &w);
  AddTensor("fc1.weight", {64, 512}, Random(32768, 0.04f, rng), &w);
  AddTensor("fc1.bias", {64}, Random(64, 0.1f, rng), &w);
  AddTensor("fc2.weight", {10, 64}, Random(640, 0.1f, rng), &w);
  AddTensor("fc2.bias", {10}, Random(10, 0.1f, rng), &w);
  return w;
}

TEST(QuantizeTest, WeightsBecomeInt8AndBiasesStayFloat) {
  auto q = QuantizeWeights(SmallCnnLayout(1));
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->tensors_size(), 8);
  for (const Tensor& t : q->tensors()) {
    if (t.shape_size() >= 2) {
      EXPECT_EQ(t.dtype(), cohort::v1::DTYPE_INT8) << t.name();
      EXPECT_EQ(t.quant_axis(), 0);
      EXPECT_EQ(t.scales_size(), t.shape(0));
      EXPECT_EQ(static_cast<int64_t>(t.data().size()), ElementCount(t));
    } else {
      EXPECT_EQ(t.dtype(), cohort::v1::DTYPE_FLOAT32) << t.name();
    }
  }
  EXPECT_TRUE(IsQuantized(*q));
  EXPECT_FALSE(IsQuantized(SmallCnnLayout(1)));
}

// Property: every element comes back within half a step of its channel's
// grid, for many random layouts and spreads.
TEST(QuantizeTest, RoundTripErrorWithinHalfScalePerChannel) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    const int64_t out = 1 + rng() % 20;
    const int64_t in = 2 + rng() % 40;
    const float spread = std::pow(10.0f, -3.0f + static_cast<float>(trial % 6));
    Weights w;
    AddTensor("w", {out, in}, Random(out * in, spread, rng), &w);
    auto q = QuantizeWeights(w);
    ASSERT_TRUE(q.ok()) << q.status();
    auto d = DequantizeWeights(*q);
    ASSERT_TRUE(d.ok()) << d.status();
    const auto orig = FloatView(w.tensors(0));
    const auto back = FloatView(d->tensors(0));
    ASSERT_EQ(orig.size(), back.size());
    for (int64_t c = 0; c < out; ++c) {
      const float scale = q->tensors(0).scales(c);
      float max_abs = 0.0f;
      for (int64_t i = 0; i < in; ++i) {
        max_abs = std::max(max_abs, std::fabs(orig[c * in + i]));
      }
      EXPECT_NEAR(scale, max_abs / 127.0f, 1e-6f * max_abs);
      for (int64_t i = 0; i < in; ++i) {
        const float x = orig[c * in + i];
        EXPECT_LE(std::fabs(x - back[c * in + i]),
                  scale / 2 + 1e-6f * std::fabs(x))
            << "trial " << trial << " channel " << c;
      }
    }
  }
}

TEST(QuantizeTest, QuantizingTheDequantizedArtifactIsStable) {
  auto q = QuantizeWeights(SmallCnnLayout(2));
  ASSERT_TRUE(q.ok());
  auto d = DequantizeWeights(*q);
  ASSERT_TRUE(d.ok());
  auto q2 = QuantizeWeights(*d);
  ASSERT_TRUE(q2.ok());
  for (int i = 0; i < q->tensors_size(); ++i) {
    EXPECT_EQ(q->tensors(i).data(), q2->tensors(i).data())
        << q->tensors(i).name();
  }
}

TEST(QuantizeTest, ZeroChannelsStayExactlyZero) {
  std::vector<float> values(3 * 4, 0.0f);
  values[8] = 0.5f;  // only channel 2 is non-zero
  values[11] = -1.0f;
  Weights w;
  AddTensor("w", {3, 4}, values, &w);
  auto q = QuantizeWeights(w);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->tensors(0).scales(0), kZeroChannelScale);
  EXPECT_FLOAT_EQ(q->tensors(0).scales(2), 1.0f / 127.0f);
  auto d = DequantizeWeights(*q);
  ASSERT_TRUE(d.ok());
  const auto back = FloatView(d->tensors(0));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(back[i], 0.0f);
  EXPECT_FLOAT_EQ(back[11], -1.0f);
}

TEST(QuantizeTest, NanAndInfAreRefused) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity()}) {
    std::vector<float> v(16, 0.1f);
    v[5] = bad;
    Weights w;
    AddTensor("fc.weight", {2, 8}, v, &w);
    auto q = QuantizeWeights(w);
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(q.status().message()), HasSubstr("fc.weight"));
  }
}

TEST(QuantizeTest, SmallCnnArtifactIsAtLeast3p5TimesSmaller) {
  const Weights fp32 = SmallCnnLayout(3);
  auto q = QuantizeWeights(fp32);
  ASSERT_TRUE(q.ok());
  const double ratio = static_cast<double>(SerializedSizeBytes(fp32)) /
                       static_cast<double>(SerializedSizeBytes(*q));
  EXPECT_GE(ratio, 3.5) << SerializedSizeBytes(fp32) << " vs "
                        << SerializedSizeBytes(*q);
  EXPECT_LT(PayloadSizeBytes(*q), PayloadSizeBytes(fp32) / 3);
}

TEST(QuantizeTest, ShortChannelsStayFloat) {
  Weights w;
  AddTensor("column", {6, 1}, std::vector<float>(6, 0.3f), &w);
  auto q = QuantizeWeights(w);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->tensors(0).dtype(), cohort::v1::DTYPE_FLOAT32);
}

// The largest scale accepted still dequantizes -128 to a finite value.
TEST(DequantizeTest, EveryAcceptedScaleGivesFiniteValues) {
  Weights w;
  Tensor* t = w.add_tensors();
  t->set_name("w");
  t->set_dtype(cohort::v1::DTYPE_INT8);
  t->add_shape(1);
  t->add_shape(2);
  t->set_data(std::string("\x80\x7f", 2));
  t->add_scales(kMaxInt8Scale);
  auto d = DequantizeWeights(w);
  ASSERT_TRUE(d.ok()) << d.status();
  for (float v : FloatView(d->tensors(0))) EXPECT_TRUE(std::isfinite(v));
  t->set_scales(0, std::nextafter(t->scales(0), 1e39f));
  EXPECT_EQ(DequantizeWeights(w).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Found by fuzz/common/model/weights_fuzzer: a channel of subnormal weights
// got scale 0 (and one near FLT_MAX a scale whose -128 overflows), so the
// coordinator would have published an artifact every device refuses.
TEST(QuantizeTest, TinyAndHugeChannelsGiveArtifactsDevicesAccept) {
  const float tiny = std::numeric_limits<float>::denorm_min();
  const float huge = std::numeric_limits<float>::max();
  Weights w;
  Tensor* t = w.add_tensors();
  t->set_name("w");
  t->add_shape(2);
  t->add_shape(8);
  std::vector<float> values(16, 0.0f);
  values[0] = tiny;
  values[1] = -tiny;
  values[8] = huge;
  values[9] = -huge / 2;
  SetFloatData(values, t);
  auto q = QuantizeWeights(w);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->tensors(0).dtype(), cohort::v1::DTYPE_INT8);
  EXPECT_EQ(q->tensors(0).scales(0), kMinInt8Scale);
  EXPECT_EQ(q->tensors(0).scales(1), kMaxInt8Scale);
  auto back = DequantizeWeights(*q);
  ASSERT_TRUE(back.ok()) << back.status();
  const auto v = FloatView(back->tensors(0));
  EXPECT_EQ(v[0], 0.0f);  // within half a scale of the subnormal
  for (float x : v) EXPECT_TRUE(std::isfinite(x));
  EXPECT_GT(v[8], huge * 0.99f);
}

TEST(DequantizeTest, MalformedArtifactsAreRefusedWithTheTensorName) {
  auto good = QuantizeWeights(SmallCnnLayout(4));
  ASSERT_TRUE(good.ok());
  struct Case {
    const char* what;
    void (*mutate)(Tensor*);
    const char* message;
  };
  const Case cases[] = {
      {"short payload", [](Tensor* t) { t->mutable_data()->pop_back(); },
       "bytes"},
      {"missing scale", [](Tensor* t) { t->mutable_scales()->RemoveLast(); },
       "scales"},
      {"zero scale", [](Tensor* t) { t->set_scales(0, 0.0f); }, "scale 0"},
      {"nan scale",
       [](Tensor* t) {
         t->set_scales(1, std::numeric_limits<float>::quiet_NaN());
       },
       "scale"},
      // Found by fuzz/common/model/weights_fuzzer: a finite scale so large
      // that -128 times it is -Inf, which devices would have trained on.
      {"scale that overflows",
       [](Tensor* t) { t->set_scales(0, 1.7e38f); },
       "scale"},
      {"bad axis", [](Tensor* t) { t->set_quant_axis(4); }, "quant_axis"},
      {"bad dtype",
       [](Tensor* t) { t->set_dtype(cohort::v1::DTYPE_UNSPECIFIED); },
       "dtype"},
  };
  for (const Case& c : cases) {
    Weights bad = *good;
    c.mutate(bad.mutable_tensors(2));  // conv2.weight, int8
    auto d = DequantizeWeights(bad);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument)
        << c.what;
    EXPECT_THAT(std::string(d.status().message()), HasSubstr("conv2.weight"))
        << c.what;
    EXPECT_THAT(std::string(d.status().message()), HasSubstr(c.message))
        << c.what;
  }
}

TEST(DequantizeTest, OtherAxesUseTheirOwnSlices) {
  Tensor t;
  t.set_name("w");
  t.set_dtype(cohort::v1::DTYPE_INT8);
  t.add_shape(2);
  t.add_shape(3);
  t.set_quant_axis(1);
  t.set_data(std::string{1, 1, 1, -2, -2, -2});
  t.add_scales(1.0f);
  t.add_scales(2.0f);
  t.add_scales(4.0f);
  Weights w;
  *w.add_tensors() = t;
  auto d = DequantizeWeights(w);
  ASSERT_TRUE(d.ok()) << d.status();
  const auto v = FloatView(d->tensors(0));
  EXPECT_EQ(std::vector<float>(v.begin(), v.end()),
            (std::vector<float>{1, 2, 4, -2, -4, -8}));
}

}  // namespace
}  // namespace cohort::model
