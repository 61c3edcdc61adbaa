#include "common/data/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace cohort::data {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr uint64_t kMaxPayloadBytes = uint64_t{1} << 30;
// Reads grow the buffer in steps of this size, so a header that lies about
// its count costs at most one step of memory before truncation is noticed.
constexpr size_t kReadChunk = size_t{1} << 22;
constexpr int kNumClasses = 10;

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// gzopen reads plain files transparently, so one path handles both formats.
absl::StatusOr<GzFile> Open(const std::string& path) {
  errno = 0;
  GzFile file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) {
    const int err = errno;
    const std::string message =
        absl::StrCat("cannot open ", path, ": ", std::strerror(err));
    if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }
  gzbuffer(file.get(), 1 << 17);
  return file;
}

// Appends exactly `n` bytes to `out`, or fails naming the file.
absl::Status ReadExactly(gzFile file, const std::string& path, uint64_t n,
                         std::vector<uint8_t>& out) {
  while (n > 0) {
    const size_t step = static_cast<size_t>(std::min<uint64_t>(n, kReadChunk));
    const size_t old_size = out.size();
    out.resize(old_size + step);
    const int got =
        gzread(file, out.data() + old_size, static_cast<unsigned>(step));
    if (got < 0) {
      int errnum = 0;
      const char* what = gzerror(file, &errnum);
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": corrupt data (", what ? what : "?", ")"));
    }
    if (static_cast<size_t>(got) != step) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": truncated payload"));
    }
    n -= step;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint32_t>> ReadHeader(gzFile file,
                                                 const std::string& path,
                                                 uint32_t magic, int num_dims) {
  std::vector<uint8_t> raw;
  const uint64_t header_bytes = 4 * static_cast<uint64_t>(1 + num_dims);
  absl::Status status = ReadExactly(file, path, header_bytes, raw);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": truncated or unreadable IDX header"));
  }
  std::vector<uint32_t> words;
  for (size_t i = 0; i < raw.size(); i += 4) {
    words.push_back(uint32_t{raw[i]} << 24 | uint32_t{raw[i + 1]} << 16 |
                    uint32_t{raw[i + 2]} << 8 | uint32_t{raw[i + 3]});
  }
  if (words[0] != magic) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": bad IDX magic 0x", absl::Hex(words[0], absl::kZeroPad8),
        ", want 0x", absl::Hex(magic, absl::kZeroPad8)));
  }
  words.erase(words.begin());
  return words;
}

// Strict mode: a file read to its declared end must end there.
absl::Status ExpectEof(gzFile file, const std::string& path) {
  uint8_t extra;
  const int got = gzread(file, &extra, 1);
  if (got == 0) return absl::OkStatus();
  if (got < 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt data"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": trailing bytes after declared payload"));
}

int64_t KeepCount(uint32_t declared, int64_t max_examples) {
  const int64_t count = declared;
  return max_examples > 0 ? std::min(count, max_examples) : count;
}

absl::Status ReadImages(const std::string& path, int64_t max_examples,
                        ImageDataset& out) {
  COHORT_ASSIGN_OR_RETURN(GzFile file, Open(path));
  COHORT_ASSIGN_OR_RETURN(std::vector<uint32_t> dims,
                          ReadHeader(file.get(), path, kImagesMagic, 3));
  const uint64_t count = dims[0], rows = dims[1], cols = dims[2];
  if (rows == 0 || cols == 0 ||
      rows > static_cast<uint64_t>(std::numeric_limits<int>::max()) ||
      cols > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": bad image size ", rows, "x", cols));
  }
  // rows * cols < 2^64 since both are < 2^32; compare by division so the
  // product with count cannot overflow.
  const uint64_t pixels = rows * cols;
  if (pixels > kMaxPayloadBytes ||
      (count > 0 && count > kMaxPayloadBytes / pixels)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": header declares ", count, " images of ", rows,
                     "x", cols, ", more than 1 GiB"));
  }
  const int64_t keep = KeepCount(dims[0], max_examples);
  out.num_examples = keep;
  out.height = static_cast<int>(rows);
  out.width = static_cast<int>(cols);
  out.images.clear();
  COHORT_RETURN_IF_ERROR(ReadExactly(
      file.get(), path, static_cast<uint64_t>(keep) * pixels, out.images));
  if (static_cast<uint64_t>(keep) == count) {
    COHORT_RETURN_IF_ERROR(ExpectEof(file.get(), path));
  }
  return absl::OkStatus();
}

absl::Status ReadLabels(const std::string& path, int64_t max_examples,
                        uint32_t* declared, ImageDataset& out) {
  COHORT_ASSIGN_OR_RETURN(GzFile file, Open(path));
  COHORT_ASSIGN_OR_RETURN(std::vector<uint32_t> dims,
                          ReadHeader(file.get(), path, kLabelsMagic, 1));
  *declared = dims[0];
  if (dims[0] > kMaxPayloadBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": header declares ", dims[0], " labels, more than 1 GiB"));
  }
  const int64_t keep = KeepCount(dims[0], max_examples);
  out.labels.clear();
  COHORT_RETURN_IF_ERROR(
      ReadExactly(file.get(), path, static_cast<uint64_t>(keep), out.labels));
  if (static_cast<uint64_t>(keep) == dims[0]) {
    COHORT_RETURN_IF_ERROR(ExpectEof(file.get(), path));
  }
  for (size_t i = 0; i < out.labels.size(); ++i) {
    if (out.labels[i] >= kNumClasses) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": label ", out.labels[i], " at index ", i,
                       " is not in [0, ", kNumClasses, ")"));
    }
  }
  return absl::OkStatus();
}

// Peeks at the image count so a count mismatch is reported before reading
// the (much larger) payload.
absl::StatusOr<uint32_t> DeclaredImageCount(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(GzFile file, Open(path));
  COHORT_ASSIGN_OR_RETURN(std::vector<uint32_t> dims,
                          ReadHeader(file.get(), path, kImagesMagic, 3));
  return dims[0];
}

}  // namespace

absl::StatusOr<ImageDataset> ReadIdxImages(const std::string& images_path,
                                           const std::string& labels_path,
                                           int64_t max_examples) {
  if (max_examples < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_examples must be >= 0, got ", max_examples));
  }
  COHORT_ASSIGN_OR_RETURN(uint32_t image_count,
                          DeclaredImageCount(images_path));
  ImageDataset dataset;
  dataset.num_classes = kNumClasses;
  uint32_t label_count = 0;
  COHORT_RETURN_IF_ERROR(
      ReadLabels(labels_path, max_examples, &label_count, dataset));
  if (label_count != image_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "count mismatch: ", images_path, " declares ", image_count,
        " images but ", labels_path, " declares ", label_count, " labels"));
  }
  COHORT_RETURN_IF_ERROR(ReadImages(images_path, max_examples, dataset));
  return dataset;
}

absl::StatusOr<ImageDataset> LoadFashionMnist(const std::string& dir,
                                              bool test_split,
                                              int64_t max_examples) {
  const std::string prefix =
      absl::StrCat(dir, "/", test_split ? "t10k" : "train");
  return ReadIdxImages(absl::StrCat(prefix, "-images-idx3-ubyte.gz"),
                       absl::StrCat(prefix, "-labels-idx1-ubyte.gz"),
                       max_examples);
}

}  // namespace cohort::data
