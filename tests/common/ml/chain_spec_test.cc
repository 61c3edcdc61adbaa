#include "common/ml/chain_spec.h"

#include "common/ml/model.h"
#include "common/ml/testing/torchscript_fixtures.h"
#include "gtest/gtest.h"

namespace cohort::ml::internal {
namespace {

TEST(ChainSpecTest, ImportedModelRebuildsFromItsArchitectureName) {
  const std::string path = ::testing::TempDir() + "/chain_spec_cnn.pt";
  ASSERT_TRUE(testing::WriteTorchScriptFixture(testing::Fixture::kChainCnn, path).ok());
  auto imported = Model::ImportTorchScript(path);
  ASSERT_TRUE(imported.ok()) << imported.status();
  const std::string arch = (*imported)->architecture();
  ASSERT_TRUE(IsChainSpec(arch)) << arch;
  // A device builds the same layout from the name alone and takes the weights.
  auto rebuilt = Model::Create(arch, 7);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ((*rebuilt)->NumParameters(), (*imported)->NumParameters());
  EXPECT_TRUE((*rebuilt)->SetWeights((*imported)->GetWeights()).ok());
  auto specs = ParseChainSpec(arch);
  ASSERT_TRUE(specs.ok());
  EXPECT_EQ(ChainSpecString(*specs), arch);
}

TEST(ChainSpecTest, UntrustedChainsAreCheckedShapeByShape) {
  const std::string good =
      "chain:conv2d/c1/1/4/k3/s1/p1/b1/r1/m2x2;linear/fc/784/10/f1/b1/r0";
  EXPECT_TRUE(ParseChainSpec(good).ok());
  for (const char* bad : {
           "chain:",                                                       // empty
           "chain:linear/fc/784/10/f1/b1/r0;",                             // empty layer
           "chain:conv2d/c1/3/4/k3/s1/p1/b1/r1/m2x2;linear/fc/784/10/f1/b1/r0",  // 3 channels in
           "chain:conv2d/c1/1/4/k3/s1/p1/b1/r1/m2x2;linear/fc/700/10/f1/b1/r0",  // features
           "chain:conv2d/c1/1/4/k3/s1/p1/b1/r1/m2x2;linear/fc/784/9/f1/b1/r0",   // 9 classes
           "chain:conv2d/c 1/1/4/k3/s1/p1/b1/r1/m2x2;linear/fc/784/10/f1/b1/r0", // name
           "chain:conv2d/c1/1/4/k99/s1/p1/b1/r1/m2x2;linear/fc/784/10/f1/b1/r0", // kernel
           "chain:linear/fc/784/100000000/f1/b1/r0;linear/o/100000000/10/f0/b1/r0",
           "chain:lstm/x/1/10",
           "chain:linear/fc/784/10/f1/b1/r0/d0",                           // p = 0
           "chain:linear/fc/784/10/f1/b1/r0/d1",                           // p = 1
           "chain:linear/fc/784/10/f1/b1/r0/d-0.5",
           "chain:linear/fc/784/10/f1/b1/r0/dnan",
           "chain:linear/fc/784/10/f1/b1/r0/d0.5/d0.5",
           "chain:linear/a/784/10/f1/b1/r1;linear/a/10/10/f0/b1/r0",      // same name
       }) {
    EXPECT_EQ(ParseChainSpec(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_FALSE(Model::Create(bad, 1).ok()) << bad;
  }
}

// Dropout probabilities come back bit for bit, on conv and linear layers.
TEST(ChainSpecTest, DropoutProbabilityRoundTripsExactly) {
  for (double p : {0.1, 0.25, 0.5, 1.0 / 3.0, 1e-7, 0.9999}) {
    LayerSpec conv;
    conv.kind = LayerSpec::Kind::kConv2d;
    conv.name = "conv";
    conv.in = 1;
    conv.out = 2;
    conv.kernel = 5;
    conv.pool = 2;
    conv.pool_stride = 2;
    conv.dropout = p;
    LayerSpec fc;
    fc.name = "fc";
    fc.in = 2 * 12 * 12;
    fc.out = 10;
    fc.flatten_before = true;
    fc.dropout = p;
    const std::string text = ChainSpecString({conv, fc});
    auto parsed = ParseChainSpec(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    ASSERT_EQ(parsed->size(), 2u);
    EXPECT_EQ((*parsed)[0].dropout, p) << text;
    EXPECT_EQ((*parsed)[1].dropout, p) << text;
    EXPECT_EQ(ChainSpecString(*parsed), text);
  }
  // A chain without dropout keeps the name it had before dropout existed.
  auto plain = ParseChainSpec(
      "chain:conv2d/c1/1/4/k3/s1/p1/b1/r1/m2x2;linear/fc/784/10/f1/b1/r0");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)[0].dropout, 0.0);
  EXPECT_EQ(ChainSpecString(*plain),
            "chain:conv2d/c1/1/4/k3/s1/p1/b1/r1/m2x2;linear/fc/784/10/f1/b1/r0");
}


// The mobile layers' tokens: groups, batch norm, residual, ReLU6 (r2),
// hardswish (r3), average (v) and global average (vg) pooling.
constexpr char kMobileChain[] =
    "chain:conv2d/stem/1/8/k3/s2/p1/b0/r2/m0x0/n1;"
    "conv2d/dw/8/8/k3/s1/p1/b0/r3/m0x0/g8/n1;"
    "conv2d/pw/8/8/k1/s1/p0/b0/r0/m0x0/n1/+1;"
    "conv2d/head/8/16/k1/s1/p0/b1/r1/v2x2;"
    "conv2d/last/16/16/k1/s1/p0/b1/r1/vg/d0.25;"
    "linear/fc/16/10/f1/b1/r0";

TEST(ChainSpecTest, MobileLayersRoundTripAndBuild) {
  auto specs = ParseChainSpec(kMobileChain);
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 6u);
  EXPECT_EQ((*specs)[1].groups, 8);
  EXPECT_TRUE((*specs)[1].batch_norm);
  EXPECT_EQ((*specs)[1].activation, LayerSpec::Activation::kHardswish);
  EXPECT_EQ((*specs)[2].residual, 1);
  EXPECT_EQ((*specs)[3].pool_kind, LayerSpec::Pool::kAvg);
  EXPECT_EQ((*specs)[4].pool_kind, LayerSpec::Pool::kGlobalAvg);
  EXPECT_EQ(ChainSpecString(*specs), kMobileChain);
  auto model = Model::Create(kMobileChain, 3);
  ASSERT_TRUE(model.ok()) << model.status();
  // Batch norm: weight, bias and two running statistics per channel.
  const int64_t weights = 8 * 9 + 8 * 9 + 8 * 8 + (8 * 16 + 16) +
                          (16 * 16 + 16) + (16 * 10 + 10);
  EXPECT_EQ((*model)->NumParameters(), weights + 2 * 8 * 3);
}

TEST(ChainSpecTest, MobileLayersAreCheckedShapeByShape) {
  for (const char* bad : {
           // groups that do not divide the channels
           "chain:conv2d/a/1/8/k3/s1/p1/b0/r2/m0x0;"
           "conv2d/b/8/6/k3/s1/p1/b0/r2/m0x0/g3;linear/fc/4704/10/f1/b1/r0",
           // a residual from itself, from later, from a different shape
           "chain:conv2d/a/1/8/k3/s1/p1/b0/r0/m0x0/+0;linear/fc/6272/10/f1/b1/r0",
           "chain:conv2d/a/1/8/k3/s1/p1/b0/r0/m0x0/+1;linear/fc/6272/10/f1/b1/r0",
           "chain:conv2d/a/1/8/k3/s2/p1/b0/r0/m0x0;"
           "conv2d/b/8/8/k3/s2/p1/b0/r0/m0x0/+0;linear/fc/392/10/f1/b1/r0",
           // hardswish after a residual has no int8 kernel
           "chain:conv2d/a/1/8/k3/s1/p1/b0/r0/m0x0;"
           "conv2d/b/8/8/k3/s1/p1/b0/r3/m0x0/+0;linear/fc/6272/10/f1/b1/r0",
           // fields out of order, unknown activation, pooling on a linear
           "chain:conv2d/a/1/8/k3/s1/p1/b0/r0/m0x0;"
           "conv2d/b/8/8/k3/s1/p1/b0/r0/m0x0/+0/n1;linear/fc/6272/10/f1/b1/r0",
           "chain:conv2d/a/1/8/k3/s1/p1/b0/r9/m0x0;linear/fc/6272/10/f1/b1/r0",
           "chain:conv2d/a/1/8/k3/s1/p1/b0/r0/vq;linear/fc/8/10/f1/b1/r0",
           "chain:linear/fc/784/10/f1/b1/r0/n1",
       }) {
    EXPECT_EQ(ParseChainSpec(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace cohort::ml::internal
