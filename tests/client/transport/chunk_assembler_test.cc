#include "client/transport/chunk_assembler.h"

#include <string>

#include "gtest/gtest.h"

namespace cohort::client {
namespace {

using cohort::v1::ModelChunk;

cohort::v1::ModelRef Ref(int64_t size) {
  cohort::v1::ModelRef ref;
  ref.set_version(4);
  ref.set_size_bytes(size);
  return ref;
}

ModelChunk Chunk(int64_t offset, const std::string& data, int64_t total,
                 ModelChunk::Encoding encoding = ModelChunk::FULL,
                 int64_t base_version = 0, int64_t artifact_size = 0) {
  ModelChunk c;
  c.set_offset(offset);
  c.set_data(data);
  c.set_total_size(total);
  c.set_encoding(encoding);
  c.set_base_version(base_version);
  c.set_artifact_size(artifact_size);
  return c;
}

TEST(ChunkAssemblerTest, FullArtifactInChunksAcrossAResume) {
  ChunkAssembler a(Ref(6), 0);
  ASSERT_TRUE(a.Add(Chunk(0, "abc", 6)).ok());
  EXPECT_EQ(a.size(), 3);
  EXPECT_FALSE(a.complete());
  // A resumed stream starts again at the bytes held.
  ASSERT_TRUE(a.Add(Chunk(3, "de", 6)).ok());
  ASSERT_TRUE(a.Add(Chunk(5, "f", 6)).ok());
  EXPECT_TRUE(a.complete());
  EXPECT_FALSE(a.delta());
  EXPECT_EQ(a.Take(), "abcdef");
  EXPECT_EQ(a.size(), 0);
  EXPECT_FALSE(a.complete());
}

TEST(ChunkAssemblerTest, ChunksThatDoNotContinueAreDataLossAndLoseNothing) {
  ChunkAssembler a(Ref(6), 0);
  // The first chunk must describe the model asked for.
  EXPECT_EQ(a.Add(Chunk(0, "abc", 7)).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.Add(Chunk(0, "abc", 6, ModelChunk::ZSTD_DELTA, 3, 6)).code(),
            absl::StatusCode::kDataLoss);  // no delta was offered
  ASSERT_TRUE(a.Add(Chunk(0, "abc", 6)).ok());
  EXPECT_EQ(a.Add(Chunk(4, "e", 6)).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.Add(Chunk(2, "cd", 6)).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.Add(Chunk(3, "defg", 6)).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.Add(Chunk(3, "d", 9)).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.size(), 3);
  ASSERT_TRUE(a.Add(Chunk(3, "def", 6)).ok());
  EXPECT_EQ(a.Take(), "abcdef");
}

TEST(ChunkAssemblerTest, DeltaFromTheOfferedBaseOnly) {
  ChunkAssembler a(Ref(100), 3);
  EXPECT_FALSE(a.Add(Chunk(0, "xy", 2, ModelChunk::ZSTD_DELTA, 2, 100)).ok());
  EXPECT_FALSE(a.Add(Chunk(0, "xy", 2, ModelChunk::ZSTD_DELTA, 3, 99)).ok());
  EXPECT_FALSE(a.Add(Chunk(0, "xy", 101, ModelChunk::ZSTD_DELTA, 3, 100)).ok());
  ASSERT_TRUE(a.Add(Chunk(0, "xy", 2, ModelChunk::ZSTD_DELTA, 3, 100)).ok());
  EXPECT_TRUE(a.complete());
  EXPECT_TRUE(a.delta());
  // The full artifact is still accepted when the coordinator has no delta.
  ChunkAssembler full(Ref(2), 3);
  ASSERT_TRUE(full.Add(Chunk(0, "ab", 2)).ok());
  EXPECT_FALSE(full.delta());
}

TEST(ChunkAssemblerTest, AnEmptyModelIsCompleteAfterItsFirstChunk) {
  ChunkAssembler a(Ref(0), 0);
  EXPECT_FALSE(a.complete());
  ASSERT_TRUE(a.Add(Chunk(0, "", 0)).ok());
  EXPECT_TRUE(a.complete());
}

}  // namespace
}  // namespace cohort::client
