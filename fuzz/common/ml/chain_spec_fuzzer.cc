// Chain specs (ModelRef.architecture of an imported model) as every device
// parses them from the coordinator (internal::ParseChainSpec): any text must
// give a clear error or a chain that prints back to a spec that parses to
// the same chain.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/ml/chain_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto chain = cohort::ml::internal::ParseChainSpec(text);
  if (!chain.ok()) return 0;
  const std::string printed = cohort::ml::internal::ChainSpecString(*chain);
  auto again = cohort::ml::internal::ParseChainSpec(printed);
  if (!again.ok() ||
      cohort::ml::internal::ChainSpecString(*again) != printed) {
    __builtin_trap();
  }
  return 0;
}
