// Teaches ThreadSanitizer the happens-before edges of Debian's Abseil
// synchronization primitives. Linked into every executable of the `tsan`
// preset only (cmake/Sanitizers.cmake).
//
// Why: Debian builds libabsl_synchronization without -fsanitize=thread, so
// absl::Mutex's lock word and futex waits are invisible to TSan, and every
// access guarded by an absl::Mutex is reported as a race. Rebuilding Abseil
// with TSan needs its source package, which Cohort's machines do not have.
//
// How: an executable's definition of a symbol takes precedence over a shared
// library's (ELF symbol interposition). Each wrapper below has the mangled
// name of an exported Abseil member function, calls the library's own
// definition (found with dlsym(RTLD_NEXT)) and tells TSan what it means:
//   - taking a Mutex, or returning from a wait on a Notification or a
//     BlockingCounter, acquires the object's address;
//   - releasing a Mutex, Notify() and DecrementCount() release it;
//   - Await, LockWhen and CondVar waits release the Mutex before waiting
//     and acquire it after;
//   - what a Condition reads while Abseil evaluates it is ignored (see
//     Condition::Eval below).
// These are happens-before edges only: TSan does not learn which thread
// holds a Mutex, so it reports no lock-order inversions on them, and
// readers of a reader lock are ordered among themselves (a write made under
// a reader lock would be missed). Inline Abseil code (HasBeenNotified()) is
// not covered.
//
// The names are those of Abseil 20220623 as Debian 12 builds it (inline
// namespace debian3). A wrapper whose target is missing aborts with its
// name, so a different Abseil cannot be misread silently.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();

namespace {

void* Original(const char* name) {
  void* f = ::dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found in Abseil\n", name);
    std::abort();
  }
  return f;
}

template <typename Fn>
Fn Resolve(const char* name) {
  return reinterpret_cast<Fn>(Original(name));
}

// Opaque stand-ins: the wrappers pass Abseil's arguments through unchanged.
struct Condition;
struct Duration {
  int64_t hi;
  uint32_t lo;
};
struct Time {
  Duration rep;
};

}  // namespace

// Each name is declared with the mangled symbol in one place.
#define COHORT_TSAN_WRAP(ret, mangled, params, call_args, before, after)   \
  extern "C" ret mangled params {                                          \
    using Fn = ret(*) params;                                              \
    static const Fn original = Resolve<Fn>(#mangled);                     \
    before;                                                                \
    ret result = original call_args;                                       \
    after;                                                                 \
    return result;                                                         \
  }
#define COHORT_TSAN_WRAP_VOID(mangled, params, call_args, before, after)   \
  extern "C" void mangled params {                                         \
    using Fn = void(*) params;                                             \
    static const Fn original = Resolve<Fn>(#mangled);                      \
    before;                                                                \
    original call_args;                                                    \
    after;                                                                 \
  }

#define ACQUIRE(p) __tsan_acquire(p)
#define RELEASE(p) __tsan_release(p)
#define NOTHING (void)0

// absl::Mutex
COHORT_TSAN_WRAP_VOID(_ZN4absl7debian35Mutex4LockEv, (void* mu), (mu),
                      NOTHING, ACQUIRE(mu))
COHORT_TSAN_WRAP_VOID(_ZN4absl7debian35Mutex10ReaderLockEv, (void* mu), (mu),
                      NOTHING, ACQUIRE(mu))
COHORT_TSAN_WRAP_VOID(_ZN4absl7debian35Mutex6UnlockEv, (void* mu), (mu),
                      RELEASE(mu), NOTHING)
COHORT_TSAN_WRAP_VOID(_ZN4absl7debian35Mutex12ReaderUnlockEv, (void* mu),
                      (mu), RELEASE(mu), NOTHING)
COHORT_TSAN_WRAP(bool, _ZN4absl7debian35Mutex7TryLockEv, (void* mu), (mu),
                 NOTHING, if (result) ACQUIRE(mu))
COHORT_TSAN_WRAP(bool, _ZN4absl7debian35Mutex13ReaderTryLockEv, (void* mu),
                 (mu), NOTHING, if (result) ACQUIRE(mu))
COHORT_TSAN_WRAP_VOID(_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE,
                      (void* mu, const Condition* c), (mu, c), NOTHING,
                      ACQUIRE(mu))
COHORT_TSAN_WRAP_VOID(_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE,
                      (void* mu, const Condition* c), (mu, c), NOTHING,
                      ACQUIRE(mu))
COHORT_TSAN_WRAP(bool,
                 _ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE,
                 (void* mu, const Condition* c, Duration d), (mu, c, d),
                 NOTHING, ACQUIRE(mu))
COHORT_TSAN_WRAP(bool,
                 _ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE,
                 (void* mu, const Condition* c, Time t), (mu, c, t), NOTHING,
                 ACQUIRE(mu))
COHORT_TSAN_WRAP(bool,
                 _ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE,
                 (void* mu, const Condition* c, Duration d), (mu, c, d),
                 NOTHING, ACQUIRE(mu))
COHORT_TSAN_WRAP(bool,
                 _ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE,
                 (void* mu, const Condition* c, Time t), (mu, c, t), NOTHING,
                 ACQUIRE(mu))
COHORT_TSAN_WRAP_VOID(_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE,
                      (void* mu, const Condition* c), (mu, c), RELEASE(mu),
                      ACQUIRE(mu))
COHORT_TSAN_WRAP(bool,
                 _ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE,
                 (void* mu, const Condition* c, Duration d), (mu, c, d),
                 RELEASE(mu), ACQUIRE(mu))
COHORT_TSAN_WRAP(bool,
                 _ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE,
                 (void* mu, const Condition* c, Time t), (mu, c, t),
                 RELEASE(mu), ACQUIRE(mu))

// absl::CondVar: the wait releases the Mutex and takes it again.
COHORT_TSAN_WRAP_VOID(_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE,
                      (void* cv, void* mu), (cv, mu), RELEASE(mu),
                      ACQUIRE(mu))
COHORT_TSAN_WRAP(bool,
                 _ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE,
                 (void* cv, void* mu, Duration d), (cv, mu, d), RELEASE(mu),
                 ACQUIRE(mu))
COHORT_TSAN_WRAP(bool,
                 _ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE,
                 (void* cv, void* mu, Time t), (cv, mu, t), RELEASE(mu),
                 ACQUIRE(mu))

// absl::Condition: Abseil evaluates a waiter's condition inside the Mutex,
// in the waiter's thread while it takes the Mutex or in the thread that
// releases it, before the edges above are made. The condition only reads
// what the Mutex guards, so TSan ignores the accesses it makes.
COHORT_TSAN_WRAP(bool, _ZNK4absl7debian39Condition4EvalEv, (const void* c),
                 (c), __tsan_ignore_thread_begin(),
                 __tsan_ignore_thread_end())

// absl::Notification
COHORT_TSAN_WRAP_VOID(_ZN4absl7debian312Notification6NotifyEv, (void* n), (n),
                      RELEASE(n), NOTHING)
COHORT_TSAN_WRAP_VOID(_ZNK4absl7debian312Notification19WaitForNotificationEv,
                      (const void* n), (n), NOTHING,
                      ACQUIRE(const_cast<void*>(n)))
COHORT_TSAN_WRAP(bool,
                 _ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE,
                 (const void* n, Duration d), (n, d), NOTHING,
                 if (result) ACQUIRE(const_cast<void*>(n)))
COHORT_TSAN_WRAP(bool,
                 _ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE,
                 (const void* n, Time t), (n, t), NOTHING,
                 if (result) ACQUIRE(const_cast<void*>(n)))

// absl::BlockingCounter
COHORT_TSAN_WRAP(bool, _ZN4absl7debian315BlockingCounter14DecrementCountEv,
                 (void* b), (b), RELEASE(b), NOTHING)
COHORT_TSAN_WRAP_VOID(_ZN4absl7debian315BlockingCounter4WaitEv, (void* b),
                      (b), NOTHING, ACQUIRE(b))
