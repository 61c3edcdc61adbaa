#ifndef COHORT_SERVER_STORE_DEVICE_PAGE_H_
#define COHORT_SERVER_STORE_DEVICE_PAGE_H_

// The argument check of Store::ListDevices, shared by every backend so a page
// one backend accepts is accepted by all of them.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/store/store_util.h"

namespace cohort::server {

// OK for limit >= 1 and an `after` that is empty or a valid device id
// (ValidateStoreName); INVALID_ARGUMENT otherwise.
inline absl::Status ValidateDevicePage(const std::string& after, int limit) {
  if (limit < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("device page limit ", limit, ": must be >= 1"));
  }
  if (after.empty()) return absl::OkStatus();
  return ValidateStoreName(after, "device id to list after");
}

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_DEVICE_PAGE_H_
