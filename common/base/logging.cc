#include "common/base/logging.h"

namespace cohort::base {

void InitLogging(const char* argv0) {
  FLAGS_logtostderr = true;
  FLAGS_colorlogtostderr = false;
  google::InitGoogleLogging(argv0);
}

}  // namespace cohort::base
