#ifndef COHORT_COMMON_ML_TESTING_TORCHSCRIPT_ARCHIVE_H_
#define COHORT_COMMON_ML_TESTING_TORCHSCRIPT_ARCHIVE_H_

// Test support: a TorchScript file is a zip archive of records (the
// pickled module "data.pkl", its code "code/__torch__/....py", constants,
// and one record per tensor storage "data/0", "data/1", ...). Tests read
// the records, change them, and write them back as a well-formed archive,
// to see what the importer does with a module whose contents, not its zip
// structure, are hostile. Torch-free header.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::ml::testing {

struct ArchiveRecord {
  std::string name;   // Without the archive's folder, e.g. "data/0".
  std::string bytes;
};

// The records of the TorchScript archive at `path`, in the archive's order.
// INVALID_ARGUMENT if it is not such an archive.
absl::StatusOr<std::vector<ArchiveRecord>> ReadTorchScriptArchive(
    const std::string& path);

// Writes `records` as a TorchScript archive at `path`, uncompressed and
// aligned as LibTorch writes them. Names must be distinct. INTERNAL on
// failure.
absl::Status WriteTorchScriptArchive(const std::string& path,
                                     const std::vector<ArchiveRecord>& records);

}  // namespace cohort::ml::testing

#endif  // COHORT_COMMON_ML_TESTING_TORCHSCRIPT_ARCHIVE_H_
