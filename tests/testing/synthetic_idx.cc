#include "tests/testing/synthetic_idx.h"

#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace cohort::testing {
namespace {

void PutBigEndian(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

// Writes to a file of its own and renames it into place, so that tests run in
// parallel that share a data folder never read a half-written file.
bool WriteGz(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string temp =
      path + ".tmp" + std::to_string(static_cast<long>(::getpid()));
  gzFile f = gzopen(temp.c_str(), "wb");
  if (f == nullptr) return false;
  int n = gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  if (gzclose(f) != Z_OK || n != static_cast<int>(bytes.size())) return false;
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  return !ec;
}

bool WriteSplit(const std::string& dir, const std::string& prefix, int n,
                std::mt19937& rng) {
  std::vector<uint8_t> images, labels;
  PutBigEndian(images, 0x00000803);
  PutBigEndian(images, n);
  PutBigEndian(images, 28);
  PutBigEndian(images, 28);
  PutBigEndian(labels, 0x00000801);
  PutBigEndian(labels, n);
  std::uniform_int_distribution<int> noise(0, 90), shift(-1, 1), label(0, 9);
  for (int i = 0; i < n; ++i) {
    int c = label(rng);
    labels.push_back(static_cast<uint8_t>(c));
    int top = (c / 5) * 13 + 5 + shift(rng);
    int left = (c % 5) * 5 + 2 + shift(rng);
    for (int r = 0; r < 28; ++r) {
      for (int col = 0; col < 28; ++col) {
        bool patch = r >= top && r < top + 5 && col >= left && col < left + 4;
        images.push_back(static_cast<uint8_t>(patch ? 230 : noise(rng)));
      }
    }
  }
  return WriteGz(dir + "/" + prefix + "-images-idx3-ubyte.gz", images) &&
         WriteGz(dir + "/" + prefix + "-labels-idx1-ubyte.gz", labels);
}

}  // namespace

bool WriteSyntheticFashionMnist(const std::string& dir, int num_train,
                                int num_test, uint64_t seed) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  return WriteSplit(dir, "train", num_train, rng) &&
         WriteSplit(dir, "t10k", num_test, rng);
}

}  // namespace cohort::testing
