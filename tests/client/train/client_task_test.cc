#include "client/train/client_task.h"

#include <vector>

#include "common/crypto/sha256.h"
#include "common/model/quantize.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

cohort::v1::Weights TwoByThree() {
  cohort::v1::Weights w;
  auto* t = w.add_tensors();
  t->set_name("fc.weight");
  t->add_shape(2);
  t->add_shape(3);
  model::SetFloatData(std::vector<float>{0.5f, -1.0f, 0.25f, 2.0f, 0.0f, -0.75f}, t);
  return w;
}

cohort::v1::ModelRef RefTo(const std::string& bytes) {
  cohort::v1::ModelRef ref;
  ref.set_version(3);
  ref.set_size_bytes(static_cast<int64_t>(bytes.size()));
  ref.set_sha256(crypto::Sha256Hex(bytes));
  return ref;
}

TEST(VerifyModelBytesTest, Int8ArtifactIsDequantizedForTraining) {
  auto artifact = model::QuantizeWeights(TwoByThree());
  ASSERT_TRUE(artifact.ok());
  ASSERT_TRUE(model::IsQuantized(*artifact));
  const std::string bytes = model::SerializeWeights(*artifact);
  auto start = VerifyModelBytes(RefTo(bytes), bytes);
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_FALSE(model::IsQuantized(*start));
  auto expected = model::DequantizeWeights(*artifact);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(model::SerializeWeights(*start), model::SerializeWeights(*expected));
  // The device's start weights are within half a step of the master's.
  auto got = model::FloatView(start->tensors(0));
  auto master = TwoByThree();
  auto want = model::FloatView(master.tensors(0));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 2.0 / 127 / 2 + 1e-6) << i;
  }
}

TEST(VerifyModelBytesTest, Fp32WeightsPassThrough) {
  const std::string bytes = model::SerializeWeights(TwoByThree());
  auto start = VerifyModelBytes(RefTo(bytes), bytes);
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(model::SerializeWeights(*start), bytes);
}

TEST(VerifyModelBytesTest, MalformedInt8ArtifactIsDataLoss) {
  auto artifact = model::QuantizeWeights(TwoByThree());
  ASSERT_TRUE(artifact.ok());
  artifact->mutable_tensors(0)->add_scales(1.0f);  // one scale too many
  const std::string bytes = model::SerializeWeights(*artifact);
  EXPECT_EQ(VerifyModelBytes(RefTo(bytes), bytes).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(VerifyModelBytesTest, WrongHashOrSizeIsDataLoss) {
  const std::string bytes = model::SerializeWeights(TwoByThree());
  auto ref = RefTo(bytes);
  EXPECT_EQ(VerifyModelBytes(ref, bytes + "x").status().code(),
            absl::StatusCode::kDataLoss);
  ref.set_sha256(std::string(64, '0'));
  EXPECT_EQ(VerifyModelBytes(ref, bytes).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace cohort::client
