#include "common/ml/torchscript_load.h"

#include <caffe2/serialize/file_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <c10/util/Exception.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/serialization/import.h>

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/child_process.h"
#include "common/ml/pickle_check.h"
#include "common/ml/torch_guard.h"

namespace cohort::ml::internal {
namespace {

// How long the child may take to load a file. Cohort's largest test
// modules load in under a second; a file that keeps the loader busy for
// minutes is refused as hostile.
constexpr absl::Duration kChildLoadLimit = absl::Minutes(2);

// Reads a file for torch::jit::load and remembers, for each buffer read
// into, how many bytes the last read put there. Throws as FileAdapter does
// if the file cannot be opened.
class RecordingFileReader final
    : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit RecordingFileReader(const std::string& path) : file_(path) {}

  size_t size() const override { return file_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n,
              const char* what = "") const override {
    const size_t got = file_.read(pos, buf, n, what);
    std::lock_guard<std::mutex> lock(mu_);
    reads_[buf] = got;
    return got;
  }

  // Bytes last read into a buffer starting at `data`; 0 if none.
  size_t BytesReadInto(const void* data) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = reads_.find(data);
    return it == reads_.end() ? 0 : it->second;
  }

 private:
  caffe2::serialize::FileAdapter file_;
  mutable std::mutex mu_;
  mutable std::map<const void*, size_t> reads_;
};


// Whether every element of `t` lies within the first `available` bytes of
// its storage.
bool WithinStorage(const at::Tensor& t, size_t available) {
  if (!t.defined() || t.numel() == 0) return true;
  if (!t.has_storage() || t.storage_offset() < 0) return false;
  // The last element's index: offset + sum of (size - 1) * stride, computed
  // without overflow (sizes and strides come from the file).
  int64_t last = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t stride = t.stride(d);
    int64_t step = 0;
    if (stride < 0 || __builtin_mul_overflow(t.size(d) - 1, stride, &step) ||
        __builtin_add_overflow(last, step, &last)) {
      return false;
    }
  }
  int64_t end_bytes = 0;
  if (__builtin_add_overflow(last, int64_t{1}, &last) ||
      __builtin_mul_overflow(last, static_cast<int64_t>(t.element_size()),
                             &end_bytes)) {
    return false;
  }
  return static_cast<uint64_t>(end_bytes) <= available &&
         static_cast<uint64_t>(end_bytes) <= t.storage().nbytes();
}

absl::Status Refuse(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(
      what,
      " reaches past the data the file holds for it (the file is truncated, "
      "its sizes are wrong, or its records are compressed)"));
}

// Whether `t` lies within the bytes the file holds for its storage.
bool WithinFile(const at::Tensor& t, const RecordingFileReader& reader) {
  if (!t.defined() || t.numel() == 0) return true;
  return t.has_storage() &&
         WithinStorage(t, reader.BytesReadInto(t.storage().data()));
}

absl::Status CheckBlock(const torch::jit::Block* block,
                        const std::string& method,
                        const RecordingFileReader& reader) {
  for (const torch::jit::Node* node : block->nodes()) {
    for (const torch::jit::Block* inner : node->blocks()) {
      if (absl::Status s = CheckBlock(inner, method, reader); !s.ok()) {
        return s;
      }
    }
    if (node->kind() != c10::prim::Constant || node->outputs().size() != 1) {
      continue;
    }
    const c10::optional<c10::IValue> value = toIValue(node->output());
    if (value && value->isTensor() && !WithinFile(value->toTensor(), reader)) {
      return Refuse(absl::StrCat("a tensor constant of ", method));
    }
  }
  return absl::OkStatus();
}

// Every tensor the module holds lies within the bytes `reader` read for it.
absl::Status CheckTensorsWithinStorage(const torch::jit::Module& module,
                                       const RecordingFileReader& reader) {
  for (const auto& attribute : module.named_attributes(/*recurse=*/true)) {
    if (attribute.value.isTensor() &&
        !WithinFile(attribute.value.toTensor(), reader)) {
      return Refuse(absl::StrCat("tensor ", attribute.name));
    }
  }
  for (const torch::jit::Module& m : module.modules()) {
    for (const torch::jit::Method& method : m.get_methods()) {
      const std::string name = absl::StrCat(
          m.type()->name() ? m.type()->name()->qualifiedName() : "module",
          ".", method.name());
      if (absl::Status s = CheckBlock(method.graph()->block(), name, reader);
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

// Every pickle in the archive is well formed.
absl::Status CheckPickles(const std::string& path) {
  caffe2::serialize::PyTorchStreamReader archive(path);
  for (const std::string& name : archive.getAllRecords()) {
    if (!absl::EndsWith(name, ".pkl")) continue;
    auto [data, size] = archive.getRecord(name);
    absl::Status s = CheckPickleStructure(
        absl::string_view(static_cast<const char*>(data.get()), size));
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(name, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<torch::jit::Module> Load(const std::string& path) {
  if (absl::Status s = CheckPickles(path); !s.ok()) return s;
  auto reader = std::make_shared<RecordingFileReader>(path);
  torch::jit::Module module = torch::jit::load(reader);
  if (absl::Status s = CheckTensorsWithinStorage(module, *reader); !s.ok()) {
    return s;
  }
  return module;
}

// Loads `path` in a child process first (base::TryInChildProcess).
// LibTorch's TorchScript compiler has faults no check here can rule out (a
// changed class constant in the module's code made it segfault in
// ScriptTypeParser::parseClassConstant): such a file kills the child, not
// the caller, and one that makes the loader spin is killed at
// kChildLoadLimit.
absl::Status LoadInChild(const std::string& path) {
  absl::Status tried = base::TryInChildProcess(
      [&path] {
        try {
          (void)Load(path);
        } catch (...) {
        }
      },
      kChildLoadLimit);
  if (tried.ok() || tried.code() == absl::StatusCode::kInternal) return tried;
  return absl::InvalidArgumentError(
      absl::StrCat("LibTorch's loader ", tried.message(), " reading it"));
}

}  // namespace

// The file is untrusted: whatever LibTorch throws while reading it
// (c10::Error, the TorchScript compiler's ErrorReport, a std::exception of
// its own) is a fault of the file.
absl::StatusOr<torch::jit::Module> LoadUntrustedModule(const std::string& path) {
  absl::StatusOr<torch::jit::Module> module;
  try {
    absl::Status survived = LoadInChild(path);
    module = survived.ok() ? Load(path) : survived;
  } catch (const std::exception&) {
    module = absl::InvalidArgumentError(CurrentExceptionReason());
  }
  if (module.ok()) return module;
  return absl::InvalidArgumentError(
      absl::StrCat(path, " is not a loadable TorchScript module: ",
                   module.status().message()));
}

}  // namespace cohort::ml::internal
