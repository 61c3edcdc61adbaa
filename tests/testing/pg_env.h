#ifndef COHORT_TESTS_TESTING_PG_ENV_H_
#define COHORT_TESTS_TESTING_PG_ENV_H_

#include <cstdlib>

#include "gtest/gtest.h"

// Skips a PostgreSQL test when no test database is configured, unless
// COHORT_TEST_REQUIRE_PG is set (./scripts/test sets it), in which case a
// missing database is a failure: CI must never pass by skipping.
#define COHORT_SKIP_OR_FAIL_WITHOUT_PG(message)                     \
  do {                                                              \
    if (std::getenv("COHORT_TEST_REQUIRE_PG") != nullptr) {         \
      FAIL() << "COHORT_TEST_REQUIRE_PG is set but " << (message);  \
    }                                                               \
    GTEST_SKIP() << (message);                                      \
  } while (0)

#endif  // COHORT_TESTS_TESTING_PG_ENV_H_
