#ifndef COHORT_COMMON_BASE_FIELD_ERROR_H_
#define COHORT_COMMON_BASE_FIELD_ERROR_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace cohort::base {

// The one shape of a config error: INVALID_ARGUMENT with the message
// "<field>: <why>", where `field` is the field's path in its config message
// ("round.goal_count", "limits.max_buffered_bytes"). Resolvers name the field
// first so an operator can find it, and so tests can match on the path.
absl::Status FieldError(absl::string_view field, absl::string_view why);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_FIELD_ERROR_H_
