#include "common/ml/testing/torchscript_archive.h"

#include <caffe2/serialize/inline_container.h>
#include <c10/util/Exception.h>

#include <exception>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace cohort::ml::testing {

absl::StatusOr<std::vector<ArchiveRecord>> ReadTorchScriptArchive(
    const std::string& path) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    std::vector<ArchiveRecord> records;
    for (const std::string& name : reader.getAllRecords()) {
      auto [data, size] = reader.getRecord(name);
      records.push_back(
          {name, std::string(static_cast<const char*>(data.get()), size)});
    }
    return records;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a TorchScript archive: ", e.what()));
  }
}

absl::Status WriteTorchScriptArchive(const std::string& path,
                                     const std::vector<ArchiveRecord>& records) {
  try {
    caffe2::serialize::PyTorchStreamWriter writer(path);
    for (const ArchiveRecord& r : records) {
      writer.writeRecord(r.name, r.bytes.data(), r.bytes.size());
    }
    writer.writeEndOfFile();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("cannot write archive ", path, ": ", e.what()));
  }
}

}  // namespace cohort::ml::testing
