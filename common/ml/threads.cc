#include <ATen/Parallel.h>

#include <exception>
#include <mutex>

#include "common/ml/model.h"
#include "glog/logging.h"

namespace cohort::ml {

void SetNumThreads(int n) {
  if (n < 1) n = 1;
  try {
    at::set_num_threads(n);
  } catch (const std::exception& e) {
    LOG(WARNING) << "set_num_threads(" << n << ") failed: " << e.what();
  }
  // LibTorch lets the inter-op pool be sized only once, and only before it
  // starts; a second call throws (and would abort if left uncaught), so the
  // first caller wins and later calls keep the size it chose.
  static std::once_flag interop_once;
  std::call_once(interop_once, [n] {
    try {
      at::set_num_interop_threads(n);
    } catch (const std::exception& e) {
      LOG(WARNING) << "set_num_interop_threads(" << n
                   << ") ignored: " << e.what();
    }
  });
}

}  // namespace cohort::ml
