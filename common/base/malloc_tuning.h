#ifndef COHORT_COMMON_BASE_MALLOC_TUNING_H_
#define COHORT_COMMON_BASE_MALLOC_TUNING_H_

namespace cohort::base {

// For processes that evaluate and train models in a loop (cohort-server,
// cohort-sim): keeps glibc malloc from handing large freed blocks back to
// the kernel. By default glibc serves blocks above a size threshold with
// mmap and trims the heap top after free, so every batch of activations
// (tens of MB at evaluation batch sizes) is faulted in page by page again:
// in the demo that tripled a round's wall time. This raises the mmap
// threshold to 64 MiB and the trim threshold to 256 MiB (mallopt
// M_MMAP_THRESHOLD, M_TRIM_THRESHOLD), so freed memory up to about that
// much stays in the process for the next batch. Costs resident memory at
// the high-water mark; the device agent, which must stay small, does not
// call it. Call once, first thing in main. A no-op where mallopt is absent.
void RetainFreedMemory();

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_MALLOC_TUNING_H_
