#include "client/agent/model_cache.h"

#include <filesystem>
#include <vector>

#include "common/base/files.h"
#include "common/crypto/sha256.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

std::string WeightsBytes(std::vector<int> shape, float value) {
  cohort::v1::Weights w;
  auto* t = w.add_tensors();
  t->set_name("fc.weight");
  int n = 1;
  for (int d : shape) {
    t->add_shape(d);
    n *= d;
  }
  model::SetFloatData(std::vector<float>(n, value), t);
  return model::SerializeWeights(w);
}

cohort::v1::ModelRef RefTo(const std::string& bytes, int64_t version,
                           const std::string& arch) {
  cohort::v1::ModelRef ref;
  ref.set_version(version);
  ref.set_architecture(arch);
  ref.set_size_bytes(static_cast<int64_t>(bytes.size()));
  ref.set_sha256(crypto::Sha256Hex(bytes));
  return ref;
}

class ModelCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/model_cache_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }
  // A fetch that serves `bytes`, counts its calls and keeps the base offered.
  ModelCache::Fetch Serving(const std::string& bytes) {
    return [this, bytes](const ModelBase& base) -> absl::StatusOr<std::string> {
      ++fetches_;
      base_version_ = base.version;
      base_bytes_ = std::string(base.bytes);
      return bytes;
    };
  }
  std::string dir_;
  int fetches_ = 0;
  int64_t base_version_ = -1;
  std::string base_bytes_;
};

TEST_F(ModelCacheTest, FetchIsOfferedTheHeldModelAsDeltaBase) {
  ModelCache cache(dir_);
  const std::string v4 = WeightsBytes({2, 3}, 0.5f);
  ASSERT_TRUE(cache.Get(RefTo(v4, 4, "mlp"), Serving(v4)).ok());
  EXPECT_EQ(base_version_, 0);
  EXPECT_TRUE(base_bytes_.empty());
  const std::string v5 = WeightsBytes({2, 3}, 0.75f);
  ASSERT_TRUE(cache.Get(RefTo(v5, 5, "mlp"), Serving(v5)).ok());
  EXPECT_EQ(base_version_, 4);
  EXPECT_EQ(base_bytes_, v4);
}

TEST_F(ModelCacheTest, AlteredStateFileIsNoDeltaBase) {
  ModelCache cache(dir_);
  const std::string v4 = WeightsBytes({2, 3}, 0.5f);
  ASSERT_TRUE(cache.Get(RefTo(v4, 4, "mlp"), Serving(v4)).ok());
  ASSERT_TRUE(
      base::WriteFileAtomically(ModelCache::ModelPath(dir_), "junk").ok());
  const std::string v5 = WeightsBytes({2, 3}, 0.75f);
  ASSERT_TRUE(cache.Get(RefTo(v5, 5, "mlp"), Serving(v5)).ok());
  EXPECT_EQ(base_version_, 0);
  EXPECT_TRUE(base_bytes_.empty());
}

TEST_F(ModelCacheTest, SameHashAndArchitectureIsServedFromMemory) {
  ModelCache cache(dir_);
  const std::string bytes = WeightsBytes({2, 3}, 0.5f);
  const auto ref = RefTo(bytes, 4, "mlp");
  ASSERT_TRUE(cache.Get(ref, Serving(bytes)).ok());
  ASSERT_TRUE(cache.Get(ref, Serving(bytes)).ok());
  EXPECT_EQ(fetches_, 1);
  EXPECT_EQ(cache.cached_version(), 4);
}

TEST_F(ModelCacheTest, SameVersionFromAReplacedServerIsFetchedAgain) {
  // The field report: a new coordinator also starts at version 1, with
  // another architecture. The old weights must not be reused.
  ModelCache cache(dir_);
  const std::string old_bytes = WeightsBytes({2, 3}, 0.5f);
  ASSERT_TRUE(cache.Get(RefTo(old_bytes, 1, "mlp"), Serving(old_bytes)).ok());
  const std::string new_bytes = WeightsBytes({4, 5}, 1.5f);
  auto got = cache.Get(RefTo(new_bytes, 1, "small_cnn"), Serving(new_bytes));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(fetches_, 2);
  EXPECT_EQ(model::SerializeWeights(*got), new_bytes);
  EXPECT_EQ(*base::ReadFile(ModelCache::ArchitecturePath(dir_)), "small_cnn");
}

TEST_F(ModelCacheTest, SameBytesUnderAnotherArchitectureAreNotAHit) {
  ModelCache cache(dir_);
  const std::string bytes = WeightsBytes({2, 3}, 0.5f);
  ASSERT_TRUE(cache.Get(RefTo(bytes, 1, "mlp"), Serving(bytes)).ok());
  ASSERT_TRUE(cache.Get(RefTo(bytes, 1, "other"), Serving(bytes)).ok());
  EXPECT_EQ(fetches_, 2);
}

TEST_F(ModelCacheTest, RestartedAgentReadsStateDirectoryInsteadOfFetching) {
  const std::string bytes = WeightsBytes({2, 3}, 0.5f);
  const auto ref = RefTo(bytes, 7, "mlp");
  ASSERT_TRUE(ModelCache(dir_).Get(ref, Serving(bytes)).ok());
  ModelCache restarted(dir_);
  EXPECT_EQ(restarted.cached_version(), 0);
  ASSERT_TRUE(restarted.Get(ref, Serving(bytes)).ok());
  EXPECT_EQ(fetches_, 1);
}

TEST_F(ModelCacheTest, CorruptStateFileIsFetchedAgainAndRewritten) {
  const std::string bytes = WeightsBytes({2, 3}, 0.5f);
  const auto ref = RefTo(bytes, 7, "mlp");
  ASSERT_TRUE(ModelCache(dir_).Get(ref, Serving(bytes)).ok());
  ASSERT_TRUE(base::WriteFileAtomically(ModelCache::ModelPath(dir_), "junk").ok());
  ModelCache restarted(dir_);
  ASSERT_TRUE(restarted.Get(ref, Serving(bytes)).ok());
  EXPECT_EQ(fetches_, 2);
  EXPECT_EQ(*base::ReadFile(ModelCache::ModelPath(dir_)), bytes);
}

TEST_F(ModelCacheTest, TamperedDownloadIsDataLossAndNotCached) {
  ModelCache cache(dir_);
  const std::string bytes = WeightsBytes({2, 3}, 0.5f);
  const auto ref = RefTo(bytes, 2, "mlp");
  std::string tampered = bytes;
  tampered.back() ^= 1;
  auto got = cache.Get(ref, Serving(tampered));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(cache.cached_version(), 0);
  EXPECT_FALSE(std::filesystem::exists(ModelCache::ModelPath(dir_)));
}

}  // namespace
}  // namespace cohort::client
