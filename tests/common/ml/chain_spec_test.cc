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
       }) {
    EXPECT_EQ(ParseChainSpec(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_FALSE(Model::Create(bad, 1).ok()) << bad;
  }
}

}  // namespace
}  // namespace cohort::ml::internal
