#include "common/secagg/field_encoding.h"

#include <cmath>
#include <vector>

#include "common/base/splitmix64.h"
#include "common/secagg/secagg_wire.h"
#include "common/secagg/secure_update.h"
#include "gtest/gtest.h"
#include "tests/testing/field_summaries.h"

namespace cohort::secagg {
namespace {

using testing::ImageEvaluation;

TEST(FieldEncodingTest, ImageLayoutIsPatchesOfTheImage) {
  const FieldLayout l = ImageFieldLayout();
  EXPECT_EQ(l.classes, 10);
  EXPECT_EQ(l.confidence_bins, 10);
  EXPECT_EQ(l.features, 49);
  EXPECT_EQ(FieldLength(l), 3 + 10 + 10 + 2 * 49);
  EXPECT_EQ(FieldLength(FieldLayout{}), 0);
  EXPECT_TRUE(ValidateFieldLayout(l).ok());
  EXPECT_TRUE(ValidateFieldLayout(FieldLayout{}).ok());
  EXPECT_FALSE(ValidateFieldLayout({.classes = 1, .confidence_bins = 1,
                                    .features = 1}).ok());
  EXPECT_FALSE(ValidateFieldLayout({.classes = 10, .confidence_bins = 0,
                                    .features = 1}).ok());
  EXPECT_FALSE(ValidateFieldLayout({.classes = 10, .confidence_bins = 10,
                                    .features = (1 << 20) + 1}).ok());
}

TEST(FieldEncodingTest, ValuesFollowTheLayout) {
  const FieldLayout l = ImageFieldLayout();
  const auto e = ImageEvaluation(3, 0.75, /*top=*/2, /*level=*/0.5);
  const std::vector<double> v = FieldValues(l, &e, /*loss_cap=*/2.0);
  ASSERT_EQ(static_cast<int64_t>(v.size()), FieldLength(l));
  EXPECT_EQ(v[0], 1.0);
  EXPECT_EQ(v[1], 0.75);
  EXPECT_EQ(v[2], 0.25);           // loss 0.5 / cap 2
  EXPECT_EQ(v[3 + 2], 1.0);        // prediction class 2
  EXPECT_EQ(v[3 + 10 + 9], 1.0);   // confidence bin 9
  EXPECT_EQ(v[3 + 20], 0.5);       // first feature mean
  EXPECT_NEAR(v[3 + 20 + 49], 0.26, 1e-12);  // its mean square
}

TEST(FieldEncodingTest, AnUnusableEvaluationAddsNothing) {
  const FieldLayout l = ImageFieldLayout();
  const std::vector<double> zeros(FieldLength(l), 0.0);
  EXPECT_EQ(FieldValues(l, nullptr, 2.0), zeros);
  auto no_summary = ImageEvaluation(3, 0.75, 2, 0.5);
  no_summary.clear_summary();
  EXPECT_EQ(FieldValues(l, &no_summary, 2.0), zeros);
  auto short_summary = ImageEvaluation(3, 0.75, 2, 0.5);
  short_summary.mutable_summary()->mutable_feature_mean()->RemoveLast();
  EXPECT_EQ(FieldValues(l, &short_summary, 2.0), zeros);
  auto not_a_share = ImageEvaluation(3, 0.75, 2, 0.5);
  not_a_share.mutable_summary()->set_prediction_fraction(0, 0.5);
  EXPECT_EQ(FieldValues(l, &not_a_share, 2.0), zeros);
  auto nan_accuracy = ImageEvaluation(3, std::nan(""), 2, 0.5);
  EXPECT_EQ(FieldValues(l, &nan_accuracy, 2.0), zeros);
  auto negative_variance = ImageEvaluation(3, 0.75, 2, 0.5);
  negative_variance.mutable_summary()->set_feature_mean_square(0, 0.1);
  EXPECT_FALSE(ValidateFieldSummary(l, negative_variance.summary()).ok());
  EXPECT_EQ(FieldValues(l, &negative_variance, 2.0), zeros);
}

TEST(FieldEncodingTest, TheMeanOfASumCountsEachDeviceOnce) {
  const FieldLayout l = ImageFieldLayout();
  const auto a = ImageEvaluation(3, 0.9, 1, 0.2);
  const auto b = ImageEvaluation(3, 0.5, 4, 0.6);
  std::vector<double> sum(FieldLength(l), 0.0);
  for (const auto* e : {&a, &b, static_cast<decltype(&a)>(nullptr)}) {
    const auto v = FieldValues(l, e, 4.0);
    for (size_t i = 0; i < v.size(); ++i) sum[i] += v[i];
  }
  auto mean = FieldMeanOfSum(l, sum, 4.0, /*max_devices=*/3);
  ASSERT_TRUE(mean.ok()) << mean.status();
  ASSERT_TRUE(mean->has_value());
  EXPECT_EQ((*mean)->devices, 2);
  EXPECT_NEAR((*mean)->accuracy, 0.7, 1e-12);
  EXPECT_NEAR((*mean)->loss, 0.5, 1e-12);
  EXPECT_NEAR((*mean)->summary.prediction_fraction(1), 0.5, 1e-12);
  EXPECT_NEAR((*mean)->summary.prediction_fraction(4), 0.5, 1e-12);
  EXPECT_NEAR((*mean)->summary.feature_mean(0), 0.4, 1e-12);
  EXPECT_TRUE(ValidateFieldSummary(l, (*mean)->summary).ok());
}

TEST(FieldEncodingTest, MalformedSumsAreRefused) {
  const FieldLayout l = ImageFieldLayout();
  std::vector<double> sum(FieldLength(l), 0.0);
  auto none = FieldMeanOfSum(l, sum, 4.0, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(FieldMeanOfSum(l, std::vector<double>(5, 0.0), 4.0, 10).ok());
  // Two honest devices.
  const auto a = ImageEvaluation(3, 0.9, 1, 0.2);
  const auto b = ImageEvaluation(3, 0.5, 4, 0.6);
  for (const auto* e : {&a, &b}) {
    const auto v = FieldValues(l, e, 4.0);
    for (size_t i = 0; i < v.size(); ++i) sum[i] += v[i];
  }
  EXPECT_TRUE(FieldMeanOfSum(l, sum, 4.0, 10).ok());
  // One device cannot claim to be many: at most the inputs summed.
  EXPECT_FALSE(FieldMeanOfSum(l, sum, 4.0, /*max_devices=*/1).ok());
  // An honest count is exact: nothing but whole numbers passes.
  std::vector<double> bad = sum;
  bad[0] = 1.5;
  EXPECT_FALSE(FieldMeanOfSum(l, bad, 4.0, 10).ok());
  bad[0] = 2 + 1e-9;
  EXPECT_FALSE(FieldMeanOfSum(l, bad, 4.0, 10).ok());
  bad = sum;
  bad[7] = -0.25;
  EXPECT_FALSE(FieldMeanOfSum(l, bad, 4.0, 10).ok());
  // Shares that add up to nothing cannot be a mean of summaries.
  bad = sum;
  for (int c = 0; c < l.classes; ++c) bad[3 + c] = 0;
  EXPECT_FALSE(FieldMeanOfSum(l, bad, 4.0, 10).ok());
}

// Through the fixed-point encoding and a modular sum, the field sum comes
// back within the rounding of one step per device.
TEST(FieldEncodingTest, SurvivesTheSecureEncoding) {
  const int n = 5;
  auto e = PlanUpdateEncoding(16, 1.0, false, 0, 100, 20, n);
  ASSERT_TRUE(e.ok()) << e.status();
  e->field = ImageFieldLayout();
  ASSERT_TRUE(ValidateUpdateEncoding(*e).ok());
  EXPECT_EQ(InputLength(*e), 20 + kExtraCoordinates + FieldLength(e->field));
  base::SplitMix64 rng(5);
  std::vector<uint64_t> sum(InputLength(*e), 0);
  std::vector<double> expected(FieldLength(e->field), 0.0);
  const uint64_t mask = (uint64_t{1} << e->params.bits) - 1;
  for (int i = 0; i < n; ++i) {
    auto eval = ImageEvaluation(3, 0.1 * i, i, 0.1 * i);
    // Shares that fixed point cannot hold exactly.
    for (int c = 0; c < 10; ++c) {
      eval.mutable_summary()->set_prediction_fraction(c, 0.1);
    }
    eval.mutable_summary()->set_confidence_fraction(9, 0.7);
    eval.mutable_summary()->set_confidence_fraction(3, 0.3);
    const auto field = FieldValues(e->field, &eval, e->loss_cap);
    for (size_t k = 0; k < field.size(); ++k) expected[k] += field[k];
    auto input = EncodeUpdate(*e, std::vector<float>(20, 0.01f), 10, 0.5,
                              [&] { return rng.NextDouble(); }, field);
    ASSERT_TRUE(input.ok()) << input.status();
    for (size_t k = 0; k < sum.size(); ++k) {
      sum[k] = (sum[k] + (*input)[k]) & mask;
    }
  }
  auto decoded = DecodeUpdateSum(*e, sum);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->field_sum.size(), expected.size());
  const double step = 1.0 / (e->loss_cap * e->loss_scale);
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_NEAR(decoded->field_sum[k], expected[k], n * step) << k;
  }
  EXPECT_EQ(decoded->field_sum[0], n);
  EXPECT_NEAR(decoded->mean_loss, 0.5, 1e-3);
  // The decoded mean is a valid summary despite the rounding.
  auto mean = FieldMeanOfSum(e->field, decoded->field_sum, e->loss_cap, n);
  ASSERT_TRUE(mean.ok()) << mean.status();
  ASSERT_TRUE(mean->has_value());
  EXPECT_EQ((*mean)->devices, n);
  EXPECT_TRUE(ValidateFieldSummary(e->field, (*mean)->summary).ok())
      << ValidateFieldSummary(e->field, (*mean)->summary);
  EXPECT_NEAR((*mean)->summary.prediction_fraction(0), 0.1, 1e-4);
  EXPECT_NEAR((*mean)->summary.confidence_fraction(3), 0.3, 1e-4);
}

TEST(FieldEncodingTest, EncodeRefusesFieldValuesOffTheLayout) {
  auto e = PlanUpdateEncoding(16, 1.0, false, 0, 100, 4, 3);
  ASSERT_TRUE(e.ok());
  e->field = ImageFieldLayout();
  auto uniform = [] { return 0.5; };
  const std::vector<float> delta(4, 0.0f);
  EXPECT_FALSE(EncodeUpdate(*e, delta, 1, 0.1, uniform).ok());
  std::vector<double> field(FieldLength(e->field), 0.0);
  EXPECT_TRUE(EncodeUpdate(*e, delta, 1, 0.1, uniform, field).ok());
  field[4] = 1.5;
  EXPECT_FALSE(EncodeUpdate(*e, delta, 1, 0.1, uniform, field).ok());
}

TEST(FieldEncodingTest, TheLayoutTravelsInBegin) {
  auto e = PlanUpdateEncoding(16, 1.0, false, 0, 100, 4, 3);
  ASSERT_TRUE(e.ok());
  e->field = ImageFieldLayout();
  BeginParams p;
  p.config.n = 3;
  p.config.k = 2;
  p.config.t = 2;
  p.config.bits = e->params.bits;
  p.config.vector_length = InputLength(*e);
  p.client_id = 1;
  p.encoding = *e;
  auto parsed = ParseBegin(MakeBegin(p));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->encoding.field, ImageFieldLayout());
  // A begin whose layout does not match its vector length is refused.
  cohort::v1::SecAggBegin wrong = MakeBegin(p);
  wrong.mutable_encoding()->set_field_features(48);
  EXPECT_FALSE(ParseBegin(wrong).ok());
}

}  // namespace
}  // namespace cohort::secagg
