#include "common/data/idx_reader.h"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::data {
namespace {

using Bytes = std::vector<uint8_t>;

void AppendBigEndian(Bytes& out, uint32_t value) {
  out.push_back(value >> 24);
  out.push_back(value >> 16);
  out.push_back(value >> 8);
  out.push_back(value);
}

Bytes ImagesFile(uint32_t count, uint32_t rows, uint32_t cols,
                 const Bytes& pixels, uint32_t magic = 0x803) {
  Bytes out;
  AppendBigEndian(out, magic);
  AppendBigEndian(out, count);
  AppendBigEndian(out, rows);
  AppendBigEndian(out, cols);
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

Bytes LabelsFile(uint32_t count, const Bytes& labels, uint32_t magic = 0x801) {
  Bytes out;
  AppendBigEndian(out, magic);
  AppendBigEndian(out, count);
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

std::string TempPath(const std::string& name) {
  return testing::TempDir() + "/idx_reader_test_" + name;
}

std::string WriteGz(const std::string& name, const Bytes& bytes) {
  const std::string path = TempPath(name);
  gzFile file = gzopen(path.c_str(), "wb");
  EXPECT_NE(file, nullptr);
  if (!bytes.empty()) {
    EXPECT_EQ(gzwrite(file, bytes.data(), bytes.size()),
              static_cast<int>(bytes.size()));
  }
  EXPECT_EQ(gzclose(file), Z_OK);
  return path;
}

std::string WritePlain(const std::string& name, const Bytes& bytes) {
  const std::string path = TempPath(name);
  FILE* file = std::fopen(path.c_str(), "wb");
  EXPECT_NE(file, nullptr);
  if (!bytes.empty()) {
    EXPECT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), file), bytes.size());
  }
  std::fclose(file);
  return path;
}

Bytes ReadPlain(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  Bytes out;
  int c;
  while ((c = std::fgetc(file)) != EOF) out.push_back(static_cast<uint8_t>(c));
  std::fclose(file);
  return out;
}

// Three 2x3 images whose pixels encode (example, position).
Bytes SamplePixels() {
  Bytes pixels;
  for (int i = 0; i < 3; ++i) {
    for (int p = 0; p < 6; ++p) pixels.push_back(i * 16 + p);
  }
  return pixels;
}

absl::StatusCode ReadCode(const std::string& images, const std::string& labels,
                          int64_t max_examples = 0) {
  return ReadIdxImages(images, labels, max_examples).status().code();
}

TEST(IdxReaderTest, ReadsGzippedFiles) {
  const std::string images =
      WriteGz("ok_images.gz", ImagesFile(3, 2, 3, SamplePixels()));
  const std::string labels = WriteGz("ok_labels.gz", LabelsFile(3, {7, 0, 9}));
  auto dataset = ReadIdxImages(images, labels);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->num_examples, 3);
  EXPECT_EQ(dataset->height, 2);
  EXPECT_EQ(dataset->width, 3);
  EXPECT_EQ(dataset->num_classes, 10);
  EXPECT_EQ(dataset->images, SamplePixels());
  EXPECT_EQ(dataset->labels, (Bytes{7, 0, 9}));
}

TEST(IdxReaderTest, ReadsPlainFiles) {
  const std::string images =
      WritePlain("plain_images", ImagesFile(3, 2, 3, SamplePixels()));
  const std::string labels =
      WritePlain("plain_labels", LabelsFile(3, {1, 2, 3}));
  auto dataset = ReadIdxImages(images, labels);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->images, SamplePixels());
  EXPECT_EQ(dataset->labels, (Bytes{1, 2, 3}));
}

TEST(IdxReaderTest, MaxExamplesKeepsPrefix) {
  const std::string images =
      WriteGz("max_images.gz", ImagesFile(3, 2, 3, SamplePixels()));
  const std::string labels = WriteGz("max_labels.gz", LabelsFile(3, {4, 5, 6}));
  auto dataset = ReadIdxImages(images, labels, 2);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->num_examples, 2);
  EXPECT_EQ(dataset->labels, (Bytes{4, 5}));
  const Bytes pixels = SamplePixels();
  EXPECT_EQ(dataset->images, Bytes(pixels.begin(), pixels.begin() + 12));
  // More than available keeps all of them.
  auto all = ReadIdxImages(images, labels, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->num_examples, 3);
  EXPECT_EQ(ReadCode(images, labels, -1), absl::StatusCode::kInvalidArgument);
}

TEST(IdxReaderTest, MissingFileIsNotFound) {
  const std::string labels = WriteGz("nf_labels.gz", LabelsFile(3, {1, 2, 3}));
  EXPECT_EQ(ReadCode(TempPath("does_not_exist.gz"), labels),
            absl::StatusCode::kNotFound);
  const std::string images =
      WriteGz("nf_images.gz", ImagesFile(3, 2, 3, SamplePixels()));
  EXPECT_EQ(ReadCode(images, TempPath("also_missing.gz")),
            absl::StatusCode::kNotFound);
}

TEST(IdxReaderTest, BadMagicIsInvalidAndNamesFile) {
  const std::string images =
      WriteGz("magic_images.gz", ImagesFile(3, 2, 3, SamplePixels(), 0x801));
  const std::string labels =
      WriteGz("magic_labels.gz", LabelsFile(3, {1, 2, 3}));
  auto result = ReadIdxImages(images, labels);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("magic_images.gz"),
            std::string::npos)
      << result.status();
  // Swapped pair: each file has the other's magic.
  EXPECT_EQ(ReadCode(labels, images), absl::StatusCode::kInvalidArgument);
}

TEST(IdxReaderTest, TruncatedPayloadIsInvalid) {
  Bytes pixels = SamplePixels();
  pixels.resize(pixels.size() - 1);
  const std::string images =
      WriteGz("trunc_images.gz", ImagesFile(3, 2, 3, pixels));
  const std::string labels =
      WriteGz("trunc_labels.gz", LabelsFile(3, {1, 2, 3}));
  EXPECT_EQ(ReadCode(images, labels), absl::StatusCode::kInvalidArgument);

  const std::string ok_images =
      WriteGz("trunc_ok_images.gz", ImagesFile(3, 2, 3, SamplePixels()));
  const std::string short_labels =
      WriteGz("trunc_short_labels.gz", LabelsFile(3, {1, 2}));
  EXPECT_EQ(ReadCode(ok_images, short_labels),
            absl::StatusCode::kInvalidArgument);
}

TEST(IdxReaderTest, TruncatedHeaderAndEmptyFileAreInvalid) {
  const std::string labels = WriteGz("hdr_labels.gz", LabelsFile(3, {1, 2, 3}));
  Bytes header = ImagesFile(3, 2, 3, {});
  header.resize(10);
  EXPECT_EQ(ReadCode(WriteGz("hdr_images.gz", header), labels),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCode(WriteGz("empty_images.gz", {}), labels),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCode(WritePlain("empty_plain", {}), labels),
            absl::StatusCode::kInvalidArgument);
}

TEST(IdxReaderTest, TruncatedGzipStreamIsInvalid) {
  const std::string full =
      WriteGz("gzcut_full.gz", ImagesFile(3, 2, 3, SamplePixels()));
  Bytes bytes = ReadPlain(full);
  ASSERT_GT(bytes.size(), 20u);
  bytes.resize(bytes.size() - 12);  // Cut into the deflate stream / trailer.
  const std::string cut = WritePlain("gzcut_cut.gz", bytes);
  const std::string labels =
      WriteGz("gzcut_labels.gz", LabelsFile(3, {1, 2, 3}));
  EXPECT_EQ(ReadCode(cut, labels), absl::StatusCode::kInvalidArgument);
}

TEST(IdxReaderTest, HugeHeaderCountsAreRejectedWithoutAllocating) {
  const std::string labels =
      WriteGz("huge_labels.gz", LabelsFile(0xFFFFFFFF, {1, 2, 3}));
  const std::string images =
      WriteGz("huge_images.gz", ImagesFile(0xFFFFFFFF, 28, 28, SamplePixels()));
  EXPECT_EQ(ReadCode(images, labels), absl::StatusCode::kInvalidArgument);

  // Huge dimensions with a small count overflow 32-bit arithmetic.
  const std::string wide = WriteGz(
      "huge_dims.gz", ImagesFile(3, 0xFFFFFFFF, 0xFFFFFFFF, SamplePixels()));
  const std::string small_labels =
      WriteGz("huge_small_labels.gz", LabelsFile(3, {1, 2, 3}));
  EXPECT_EQ(ReadCode(wide, small_labels), absl::StatusCode::kInvalidArgument);

  // Under the cap but far larger than the file: truncation, not a crash.
  const std::string liar =
      WriteGz("liar_images.gz", ImagesFile(1000000, 28, 28, SamplePixels()));
  const std::string liar_labels =
      WriteGz("liar_labels.gz", LabelsFile(1000000, Bytes(1000000, 1)));
  EXPECT_EQ(ReadCode(liar, liar_labels), absl::StatusCode::kInvalidArgument);
}

TEST(IdxReaderTest, ZeroDimensionIsInvalid) {
  const std::string images = WriteGz("zero_images.gz", ImagesFile(3, 0, 3, {}));
  const std::string labels =
      WriteGz("zero_labels.gz", LabelsFile(3, {1, 2, 3}));
  EXPECT_EQ(ReadCode(images, labels), absl::StatusCode::kInvalidArgument);
}

TEST(IdxReaderTest, LabelOutOfRangeIsInvalid) {
  const std::string images =
      WriteGz("lbl_images.gz", ImagesFile(3, 2, 3, SamplePixels()));
  const std::string labels =
      WriteGz("lbl_labels.gz", LabelsFile(3, {1, 10, 3}));
  auto result = ReadIdxImages(images, labels);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("lbl_labels.gz"), std::string::npos);
  const std::string max_label =
      WriteGz("lbl255_labels.gz", LabelsFile(3, {255, 0, 0}));
  EXPECT_EQ(ReadCode(images, max_label), absl::StatusCode::kInvalidArgument);
}

TEST(IdxReaderTest, CountMismatchIsInvalid) {
  const std::string images =
      WriteGz("cnt_images.gz", ImagesFile(3, 2, 3, SamplePixels()));
  const std::string labels = WriteGz("cnt_labels.gz", LabelsFile(2, {1, 2}));
  EXPECT_EQ(ReadCode(images, labels), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCode(images, labels, 1), absl::StatusCode::kInvalidArgument);
}

TEST(IdxReaderTest, TrailingBytesAreInvalid) {
  Bytes pixels = SamplePixels();
  pixels.push_back(0);
  const std::string images =
      WriteGz("trail_images.gz", ImagesFile(3, 2, 3, pixels));
  const std::string labels =
      WriteGz("trail_labels.gz", LabelsFile(3, {1, 2, 3}));
  EXPECT_EQ(ReadCode(images, labels), absl::StatusCode::kInvalidArgument);
}

// Property: no single-byte corruption of a valid gzipped pair crashes the
// reader; each read either succeeds or is INVALID_ARGUMENT.
TEST(IdxReaderTest, RandomCorruptionNeverCrashes) {
  const std::string good_images =
      WriteGz("fuzz_src_images.gz", ImagesFile(3, 2, 3, SamplePixels()));
  const std::string labels =
      WriteGz("fuzz_labels.gz", LabelsFile(3, {1, 2, 3}));
  const Bytes original = ReadPlain(good_images);
  std::mt19937 rng(42);
  int failures = 0;
  for (int trial = 0; trial < 300; ++trial) {
    Bytes mutated = original;
    const size_t at = rng() % mutated.size();
    mutated[at] ^= static_cast<uint8_t>(1 + rng() % 255);
    if (trial % 3 == 0) mutated.resize(rng() % mutated.size());
    const std::string path = WritePlain("fuzz_images.gz", mutated);
    auto result = ReadIdxImages(path, labels);
    if (!result.ok()) {
      ++failures;
      EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
          << result.status();
    } else {
      EXPECT_EQ(result->images.size(), 18u);
    }
  }
  EXPECT_GT(failures, 100);
}

TEST(IdxReaderTest, LoadFashionMnistReadsDebianFiles) {
  if (!std::filesystem::exists(std::string(kDefaultFashionMnistDir) +
                               "/t10k-labels-idx1-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  auto test = LoadFashionMnist(kDefaultFashionMnistDir, /*test_split=*/true);
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_EQ(test->num_examples, 10000);
  EXPECT_EQ(test->height, 28);
  EXPECT_EQ(test->width, 28);
  std::vector<int> per_class(10, 0);
  for (uint8_t label : test->labels) ++per_class[label];
  for (int count : per_class) EXPECT_EQ(count, 1000);

  auto train = LoadFashionMnist(kDefaultFashionMnistDir, false, 500);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->num_examples, 500);
  EXPECT_EQ(train->images.size(), 500u * 28 * 28);

  EXPECT_EQ(LoadFashionMnist(testing::TempDir() + "/no_such_dir", false)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cohort::data
