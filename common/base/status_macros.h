#ifndef COHORT_COMMON_BASE_STATUS_MACROS_H_
#define COHORT_COMMON_BASE_STATUS_MACROS_H_

// Debian's Abseil 20220623 ships no status macros; these are the project's.
//
//   COHORT_RETURN_IF_ERROR(DoThing());
//   COHORT_ASSIGN_OR_RETURN(auto value, MaybeValue());

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define COHORT_STATUS_CONCAT_INNER_(a, b) a##b
#define COHORT_STATUS_CONCAT_(a, b) COHORT_STATUS_CONCAT_INNER_(a, b)

#define COHORT_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status cohort_status_ = (expr);          \
    if (!cohort_status_.ok()) return cohort_status_; \
  } while (0)

#define COHORT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()

#define COHORT_ASSIGN_OR_RETURN(lhs, expr) \
  COHORT_ASSIGN_OR_RETURN_IMPL_(           \
      COHORT_STATUS_CONCAT_(cohort_statusor_, __LINE__), lhs, expr)

#endif  // COHORT_COMMON_BASE_STATUS_MACROS_H_
