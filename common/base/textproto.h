#ifndef COHORT_COMMON_BASE_TEXTPROTO_H_
#define COHORT_COMMON_BASE_TEXTPROTO_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace cohort::base {

// Parses a textproto config into `message`. Unknown fields, bad values and
// syntax errors are INVALID_ARGUMENT with the line, column and field named.
absl::Status ParseTextProto(const std::string& text,
                            google::protobuf::Message* message);

// Reads `path` and parses it. NOT_FOUND if the file is missing.
absl::Status LoadTextProtoFile(const std::string& path,
                               google::protobuf::Message* message);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_TEXTPROTO_H_
