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

}  // namespace
}  // namespace cohort::ml::internal
