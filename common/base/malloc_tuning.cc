#include "common/base/malloc_tuning.h"

#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

#include "glog/logging.h"

namespace cohort::base {

void RetainFreedMemory() {
#if defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
  constexpr int kMmapThreshold = 64 << 20;
  constexpr int kTrimThreshold = 256 << 20;
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1 ||
      mallopt(M_TRIM_THRESHOLD, kTrimThreshold) != 1) {
    LOG(WARNING) << "mallopt refused the malloc thresholds; large "
                    "allocations keep going back to the kernel";
  }
#endif
}

}  // namespace cohort::base
