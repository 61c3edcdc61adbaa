// Linked into every fuzzer: protobuf's parse warnings (invalid UTF-8 in a
// string field, which the code under test then refuses) would flood the
// output at thousands of inputs a second.

#include "google/protobuf/stubs/logging.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}
