#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <exception>
#include <mutex>

#include "common/ml/model.h"
#include "glog/logging.h"

namespace cohort::ml {

namespace {

// Debian's LibTorch runs fp32 matmul through the system BLAS, which keeps its
// own thread pool. Left at its default (one thread per core) it competes with
// the caller's threads and sums in a thread-count-dependent order, so it is
// sized together with LibTorch's pools. Looked up at run time: another BLAS
// simply has no such symbol.
void SetBlasThreads(int n) {
  using SetThreads = void (*)(int);
  auto fn = reinterpret_cast<SetThreads>(
      dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (fn != nullptr) fn(n);
}

}  // namespace

void SetNumThreads(int n) {
  if (n < 1) n = 1;
  SetBlasThreads(n);
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
