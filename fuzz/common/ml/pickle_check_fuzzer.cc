// Pickles from TorchScript archives, as internal::CheckPickleStructure sees
// them before LibTorch's unpickler does (common/ml/torchscript_load.h): any
// bytes must be refused or accepted without a fault, and since reading ends
// at STOP, bytes after an accepted pickle must not change the answer.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/ml/pickle_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string pickle(reinterpret_cast<const char*>(data), size);
  if (!cohort::ml::internal::CheckPickleStructure(pickle).ok()) return 0;
  if (!cohort::ml::internal::CheckPickleStructure(pickle + "\x62\x30garbage")
           .ok()) {
    __builtin_trap();
  }
  return 0;
}
