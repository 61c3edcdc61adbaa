#ifndef COHORT_TESTS_TESTING_FORWARDING_STORE_H_
#define COHORT_TESTS_TESTING_FORWARDING_STORE_H_

// Tests name the forwarding Store as their own; it lives with the store.

#include "server/store/forwarding_store.h"

namespace cohort::testing {

using ForwardingStore = server::ForwardingStore;

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_FORWARDING_STORE_H_
