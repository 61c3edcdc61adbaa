#ifndef COHORT_COMMON_BASE_LOGGING_H_
#define COHORT_COMMON_BASE_LOGGING_H_

#include "glog/logging.h"

namespace cohort::base {

// Sets glog up for a daemon: one line per event on stderr (journald-friendly),
// no log files. Call once at the top of main().
void InitLogging(const char* argv0);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_LOGGING_H_
