#include "server/round/published_model.h"

#include <limits>
#include <vector>

#include "common/crypto/sha256.h"
#include "common/model/quantize.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

cohort::v1::Weights Master() {
  cohort::v1::Weights w;
  auto* t = w.add_tensors();
  t->set_name("fc.weight");
  t->add_shape(16);
  t->add_shape(64);
  std::vector<float> v(16 * 64);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.01f * static_cast<float>(i % 97) - 0.4f;
  model::SetFloatData(v, t);
  auto* b = w.add_tensors();
  b->set_name("fc.bias");
  b->add_shape(16);
  model::SetFloatData(std::vector<float>(16, 0.1f), b);
  return w;
}

TEST(PublishTest, Int8ArtifactIsServedAndTheMasterKept) {
  auto m = Publish(2, 1, "fake", Master(), {}, /*int8=*/true);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE((*m)->int8);
  EXPECT_EQ((*m)->sha256, crypto::Sha256Hex((*m)->bytes));
  cohort::v1::Weights served;
  ASSERT_TRUE(served.ParseFromString((*m)->bytes));
  EXPECT_TRUE(model::IsQuantized(served));
  EXPECT_EQ(served.tensors(0).dtype(), cohort::v1::DTYPE_INT8);
  EXPECT_EQ(served.tensors(1).dtype(), cohort::v1::DTYPE_FLOAT32);  // bias
  // The master stays fp32 and exact.
  EXPECT_EQ(model::SerializeWeights((*m)->weights), model::SerializeWeights(Master()));
  // About 4x smaller than the fp32 serialization.
  const double ratio = static_cast<double>(model::SerializeWeights(Master()).size()) /
                       static_cast<double>((*m)->bytes.size());
  EXPECT_GT(ratio, 3.5);
}

TEST(PublishTest, Fp32TasksServeTheMasterBytes) {
  auto m = Publish(2, 1, "fake", Master(), {}, /*int8=*/false);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->bytes, model::SerializeWeights(Master()));
}

TEST(PublishTest, NonFiniteWeightsAreRefused) {
  auto w = Master();
  std::vector<float> v(16 * 64, std::numeric_limits<float>::quiet_NaN());
  model::SetFloatData(v, w.mutable_tensors(0));
  EXPECT_FALSE(Publish(2, 1, "fake", w, {}, true).ok());
}

}  // namespace
}  // namespace cohort::server
