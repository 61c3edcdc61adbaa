#ifndef COHORT_COMMON_BASE_DESCRIPTOR_LIMIT_H_
#define COHORT_COMMON_BASE_DESCRIPTOR_LIMIT_H_

#include <cstdint>

namespace cohort::base {

// Raises this process's soft RLIMIT_NOFILE to its hard limit (at most 2^20)
// and returns the soft limit now in force. A daemon that serves the network
// needs the headroom; the hard limit stays the operator's (systemd's
// LimitNOFILE=, `ulimit -Hn`).
int64_t RaiseDescriptorLimit();

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_DESCRIPTOR_LIMIT_H_
