#ifndef COHORT_COMMON_BASE_PEAK_RSS_H_
#define COHORT_COMMON_BASE_PEAK_RSS_H_

namespace cohort::base {

// This process's peak resident memory (VmHWM) in MiB; 0 if /proc is
// unavailable. The one reader, for `cohort-agent profile` and `cohortctl`.
double PeakRssMib();

// Resets the peak to the current resident memory (Linux 4.0+), so that the
// next PeakRssMib() measures one phase alone. False if the kernel refused.
bool ResetPeakRss();

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_PEAK_RSS_H_
