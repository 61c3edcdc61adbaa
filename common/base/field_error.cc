#include "common/base/field_error.h"

#include "absl/strings/str_cat.h"

namespace cohort::base {

absl::Status FieldError(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

}  // namespace cohort::base
