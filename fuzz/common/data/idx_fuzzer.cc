// IDX image and label files (plain or gzip) as cohort-sim and cohortctl
// read them: the input is split into the two files, written to a private
// folder and read. A data set that loads must be consistent.

#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "common/data/idx_reader.h"

namespace {

std::string Folder() {
  static const std::string dir = [] {
    char path[] = "/tmp/cohort_idx_fuzzer.XXXXXX";
    return std::string(mkdtemp(path));
  }();
  return dir;
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const int64_t max_examples = in.ConsumeIntegralInRange<int64_t>(-1, 50);
  const std::string labels = in.ConsumeRandomLengthString(4096);
  const std::string images = in.ConsumeRemainingBytesAsString();
  const std::string dir = Folder();
  Write(dir + "/images", images);
  Write(dir + "/labels", labels);
  auto set = cohort::data::ReadIdxImages(dir + "/images", dir + "/labels",
                                         max_examples);
  if (!set.ok()) return 0;
  if (set->num_examples < 0 ||
      set->labels.size() != static_cast<size_t>(set->num_examples) ||
      set->images.size() != static_cast<size_t>(set->num_examples) *
                                static_cast<size_t>(set->height) *
                                static_cast<size_t>(set->width)) {
    __builtin_trap();
  }
  for (auto label : set->labels) {
    if (label >= 10) __builtin_trap();
  }
  return 0;
}
