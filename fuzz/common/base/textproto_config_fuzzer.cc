// Config files as the binaries read them (base::ParseTextProto): the first
// byte picks the config type, the rest is the text. Any text must give OK
// or a clear error; a config that parses must print and parse back the same.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cohort/v1/config.pb.h"
#include "common/base/textproto.h"
#include "google/protobuf/text_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::unique_ptr<google::protobuf::Message> config;
  switch (data[0] % 3) {
    case 0: config = std::make_unique<cohort::v1::ServerConfig>(); break;
    case 1: config = std::make_unique<cohort::v1::AgentConfig>(); break;
    default: config = std::make_unique<cohort::v1::SimConfig>(); break;
  }
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (!cohort::base::ParseTextProto(text, config.get()).ok()) return 0;
  std::string printed;
  if (!google::protobuf::TextFormat::PrintToString(*config, &printed)) {
    __builtin_trap();
  }
  std::unique_ptr<google::protobuf::Message> again(config->New());
  if (!cohort::base::ParseTextProto(printed, again.get()).ok() ||
      again->SerializeAsString() != config->SerializeAsString()) {
    __builtin_trap();
  }
  return 0;
}
