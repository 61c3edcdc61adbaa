#include "common/model/weights_util.h"

#include <limits>
#include <vector>

#include "common/model/quantize.h"
#include "gtest/gtest.h"

namespace cohort::model {
namespace {

cohort::v1::Weights OneTensor(std::vector<float> values,
                              std::vector<int64_t> shape,
                              const std::string& name = "w") {
  cohort::v1::Weights w;
  auto* t = w.add_tensors();
  t->set_name(name);
  for (int64_t d : shape) t->add_shape(d);
  SetFloatData(values, t);
  return w;
}

TEST(WeightsUtilTest, ValidateDeltaAcceptsMatchingUpdate) {
  auto model = OneTensor({1, 2, 3, 4}, {2, 2});
  auto delta = OneTensor({0.5f, 0, 0, -1}, {2, 2});
  EXPECT_TRUE(ValidateDelta(model, delta).ok());
}

TEST(WeightsUtilTest, ValidateDeltaRejectsWrongShapeNameSizeAndNonFinite) {
  auto model = OneTensor({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(ValidateDelta(model, OneTensor({1, 2, 3, 4}, {4, 1})).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateDelta(model, OneTensor({1, 2, 3, 4}, {2, 2}, "x")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateDelta(model, OneTensor({1, 2, 3}, {2, 2})).code(),
            absl::StatusCode::kInvalidArgument);
  auto nan = OneTensor({1, std::numeric_limits<float>::quiet_NaN(), 3, 4}, {2, 2});
  absl::Status s = ValidateDelta(model, nan);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("NaN"), std::string::npos);
  auto inf = OneTensor({1, std::numeric_limits<float>::infinity(), 3, 4}, {2, 2});
  EXPECT_EQ(ValidateDelta(model, inf).code(), absl::StatusCode::kInvalidArgument);
  cohort::v1::Weights empty;
  EXPECT_EQ(ValidateDelta(model, empty).code(), absl::StatusCode::kInvalidArgument);
}

TEST(WeightsUtilTest, ElementCountRejectsOverflowAndNegative) {
  cohort::v1::Tensor t;
  t.add_shape(-1);
  EXPECT_EQ(ElementCount(t), -1);
  cohort::v1::Tensor big;
  big.add_shape(int64_t{1} << 40);
  big.add_shape(int64_t{1} << 40);
  EXPECT_EQ(ElementCount(big), -1);
}

// Found by fuzz/common/model/weights_fuzzer: an empty int8 tensor of shape
// [0, 2^62, 2^62] passed the element count (0) and then overflowed int64
// where dequantizing multiplies the dimensions after the axis. Shapes whose
// non-zero dimensions could not be carried are refused whatever else they
// hold, and counts stay small enough to multiply by 8.
TEST(WeightsUtilTest, ElementCountRefusesHugeDimensionsBesideAZero) {
  cohort::v1::Tensor t;
  t.add_shape(0);
  t.add_shape(int64_t{1} << 62);
  t.add_shape(int64_t{1} << 62);
  EXPECT_EQ(ElementCount(t), -1);
  cohort::v1::Tensor empty;
  empty.add_shape(0);
  empty.add_shape(5);
  EXPECT_EQ(ElementCount(empty), 0);
  cohort::v1::Tensor largest;
  largest.add_shape(kMaxTensorElements);
  EXPECT_EQ(ElementCount(largest), kMaxTensorElements);
  largest.add_shape(2);
  EXPECT_EQ(ElementCount(largest), -1);
  // The artifact that triggered it is refused with a clear error.
  cohort::v1::Weights w;
  cohort::v1::Tensor* q = w.add_tensors();
  q->set_name("w");
  q->set_dtype(cohort::v1::DTYPE_INT8);
  *q->mutable_shape() = t.shape();
  EXPECT_EQ(DequantizeWeights(w).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WeightsUtilTest, SerializeIsDeterministicAndParses) {
  auto w = OneTensor({1, 2}, {2});
  std::string a = SerializeWeights(w);
  EXPECT_EQ(a, SerializeWeights(w));
  cohort::v1::Weights back;
  ASSERT_TRUE(back.ParseFromString(a));
  EXPECT_EQ(FloatView(back.tensors(0))[1], 2.0f);
}

}  // namespace
}  // namespace cohort::model

namespace cohort::model {
namespace {

TEST(WeightsUtilTest, SubtractAndAddAreElementwiseAndCheckLayout) {
  cohort::v1::Weights a, b;
  auto* ta = a.add_tensors();
  ta->set_name("w");
  ta->add_shape(2);
  SetFloatData(std::vector<float>{3, 5}, ta);
  auto* tb = b.add_tensors();
  tb->set_name("w");
  tb->add_shape(2);
  SetFloatData(std::vector<float>{1, 7}, tb);
  auto d = Subtract(a, b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(FloatView(d->tensors(0))[0], 2.0f);
  EXPECT_EQ(FloatView(d->tensors(0))[1], -2.0f);
  auto sum = Add(a, b);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(FloatView(sum->tensors(0))[0], 4.0f);
  EXPECT_EQ(FloatView(sum->tensors(0))[1], 12.0f);
  // A delta added back to what it was taken from gives the weights.
  auto back = Add(b, *d);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(SerializeWeights(*back), SerializeWeights(a));
  tb->set_name("v");
  EXPECT_EQ(Subtract(a, b).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Add(a, b).status().code(), absl::StatusCode::kInvalidArgument);
}


// Every position of arrays of 1 to 40 values (the vectorised body and the
// tail), each non-finite value and the finite extremes beside it.
TEST(WeightsUtilTest, AllFiniteFindsEveryNonFiniteValueAnywhere) {
  const float kInf = std::numeric_limits<float>::infinity();
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  const float kMax = std::numeric_limits<float>::max();
  const float kTiny = std::numeric_limits<float>::denorm_min();
  for (size_t n = 1; n <= 40; ++n) {
    std::vector<float> v(n, 1.0f);
    v[0] = -kMax;
    v[n - 1] = kMax;
    if (n > 2) v[n / 2] = kTiny;
    EXPECT_TRUE(AllFinite(v)) << n;
    for (size_t i = 0; i < n; ++i) {
      for (float bad : {kInf, -kInf, kNaN, -kNaN}) {
        std::vector<float> w = v;
        w[i] = bad;
        EXPECT_FALSE(AllFinite(w)) << n << " " << i << " " << bad;
      }
    }
  }
  EXPECT_TRUE(AllFinite({}));
}

TEST(WeightsUtilTest, SumOfSquaresMatchesTheDirectSumForEveryTailLength) {
  for (size_t n = 0; n <= 35; ++n) {
    std::vector<float> v(n);
    double direct = 0;
    for (size_t i = 0; i < n; ++i) {
      v[i] = 0.25f * static_cast<float>(i) - 3.0f;
      direct += static_cast<double>(v[i]) * v[i];
    }
    EXPECT_NEAR(SumOfSquares(v), direct, 1e-12 * (1 + direct)) << n;
  }
  // The largest float squares to about 1.2e77: no overflow in double.
  const float kMax = std::numeric_limits<float>::max();
  EXPECT_DOUBLE_EQ(SumOfSquares(std::vector<float>{kMax, kMax}),
                   2.0 * static_cast<double>(kMax) * kMax);
}

}  // namespace
}  // namespace cohort::model
