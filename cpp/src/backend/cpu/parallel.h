// parallel_for: the one place that talks to OpenMP. Ranges at or below `grain` run serially on
// the calling thread (waking threads costs ~1 us); nested calls run serially. Exceptions thrown in
// workers are re-thrown on the caller.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>
#ifdef EMBER_TRACE_PARALLEL
#include <chrono>
#include <typeinfo>
#endif
#ifdef EMBER_HAS_OPENMP
#include <omp.h>
#endif

namespace ember::cpu {

int get_num_threads();
void set_num_threads(int n);
int hardware_threads();
// Flush denormal floats to zero on the CPU (all kernel threads); false where unsupported.
bool set_flush_denormal(bool on);

#ifdef EMBER_TRACE_PARALLEL
// Development build option (cmake -DEMBER_TRACE_PARALLEL=ON): every parallel region records its
// wall time and each thread's start and busy time, read by ember._C._parallel_trace(), to find
// where a multi-threaded step waits (imbalance, wake-up, serial gaps).
struct TraceEv {
  const char* name;
  int64_t n;
  int nt;
  double t0, t1;     // region entry and exit on the caller, seconds
  double start[4];   // per thread: first instruction in the region, relative to t0
  double busy[4];    // per thread: time in the body
};
std::vector<TraceEv>& trace_events();
inline double trace_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
#define EMBER_TRACE_BEGIN(F, N, NT) \
  TraceEv ev_{typeid(F).name(), (N), (NT), trace_now(), 0, {0, 0, 0, 0}, {0, 0, 0, 0}};
#define EMBER_TRACE_THREAD_BEGIN(T) const double tt0_ = trace_now();
#define EMBER_TRACE_THREAD_END(T)        \
  if ((T) < 4) {                         \
    ev_.start[(T)] = tt0_ - ev_.t0;      \
    ev_.busy[(T)] = trace_now() - tt0_;  \
  }
#define EMBER_TRACE_END() \
  ev_.t1 = trace_now();   \
  trace_events().push_back(ev_);
#else
#define EMBER_TRACE_BEGIN(F, N, NT)
#define EMBER_TRACE_THREAD_BEGIN(T)
#define EMBER_TRACE_THREAD_END(T)
#define EMBER_TRACE_END()
#endif

inline bool in_parallel_region() {
#ifdef EMBER_HAS_OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

// f(begin, end) over disjoint chunks of [begin, end).
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  if (begin >= end) return;
  int64_t n = end - begin;
  int nt = get_num_threads();
  if (nt <= 1 || n <= std::max<int64_t>(grain, 1) || in_parallel_region()) {
    f(begin, end);
    return;
  }
#ifdef EMBER_HAS_OPENMP
  int64_t max_chunks = (n + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1);
  nt = static_cast<int>(std::min<int64_t>(nt, max_chunks));
  std::exception_ptr err;
  std::mutex mu;
  EMBER_TRACE_BEGIN(F, n, nt)
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    EMBER_TRACE_THREAD_BEGIN(t)
    int64_t chunk = (n + T - 1) / T;
    int64_t b = begin + t * chunk, e = std::min(end, b + chunk);
    if (b < e) {
      try {
        f(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> g(mu);
        if (!err) err = std::current_exception();
      }
    }
    EMBER_TRACE_THREAD_END(t)
  }
  EMBER_TRACE_END()
  if (err) std::rethrow_exception(err);
#else
  f(begin, end);
#endif
}

// run(k, t) for every piece k in [0, home[nt]), balanced at run time over nt threads (t: the
// thread running the piece, in [0, nt), for per-thread scratch): thread t owns the pieces
// [home[t], home[t + 1]) and takes them from the front; a thread done with its own takes the last
// untaken pieces of the others. Threads keep their own data (the same thread mostly gets the same
// pieces call after call, in its cache) while work whose cost varies, or a thread slowed by other
// work on a shared machine, evens out. For pieces that are independent, whose results do not
// depend on the thread (no reductions across pieces in the order they ran). Call outside parallel
// regions, with nt > 1 and fewer than 2^32 pieces.
template <class F>
void parallel_pieces_t(const int64_t* home, int nt, const F& run) {
#ifdef EMBER_HAS_OPENMP
  // per thread: its untaken pieces [front, back), packed as front << 32 | back
  struct alignas(64) Share {
    std::atomic<uint64_t> fb;
  };
  constexpr int kStack = 8;  // no heap allocation up to 8 threads
  Share local[kStack];
  std::unique_ptr<Share[]> heap(nt > kStack ? new Share[static_cast<size_t>(nt)] : nullptr);
  Share* const share = nt > kStack ? heap.get() : local;
  for (int t = 0; t < nt; ++t)
    share[t].fb.store(uint64_t(home[t]) << 32 | uint64_t(home[t + 1]), std::memory_order_relaxed);
  std::exception_ptr err;
  std::mutex mu;
  EMBER_TRACE_BEGIN(F, home[nt], nt)
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    EMBER_TRACE_THREAD_BEGIN(t)
    try {
      for (int i = 0; i < T; ++i) {
        const int o = (t + i) % T;  // own share first, then the others'
        std::atomic<uint64_t>& fb = share[o].fb;
        uint64_t v = fb.load(std::memory_order_relaxed);
        for (;;) {
          const uint64_t front = v >> 32, back = v & 0xffffffffu;
          if (front >= back) break;
          const uint64_t next = i == 0 ? (front + 1) << 32 | back : front << 32 | (back - 1);
          if (!fb.compare_exchange_weak(v, next, std::memory_order_relaxed)) continue;
          run(static_cast<int64_t>(i == 0 ? front : back - 1), t);
          v = fb.load(std::memory_order_relaxed);
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> g(mu);
      if (!err) err = std::current_exception();
    }
    EMBER_TRACE_THREAD_END(t)
  }
  EMBER_TRACE_END()
  if (err) std::rethrow_exception(err);
#else
  for (int64_t k = 0; k < home[nt]; ++k) run(k, 0);
#endif
}

// parallel_pieces_t for pieces that need no per-thread scratch: run(k).
template <class F>
void parallel_pieces(const int64_t* home, int nt, const F& run) {
  parallel_pieces_t(home, nt, [&run](int64_t k, int) { run(k); });
}

// run(k, t) for k in [0, P) through parallel_pieces_t, thread t owning an even share of the pieces.
template <class F>
void parallel_even_pieces(int64_t P, int nt, const F& run) {
  int64_t local[17] = {};
  std::vector<int64_t> heap(nt >= 17 ? static_cast<size_t>(nt) + 1 : 0);
  int64_t* const home = nt >= 17 ? heap.data() : local;
  for (int t = 0; t <= nt; ++t) home[t] = P * t / nt;
  parallel_pieces_t(home, nt, run);
}

// Pieces per thread for loops over a batch's images: with 8, a thread running at 80% of the
// other's speed ends at most ~1/16 of its share after the other (with 1, 1/4).
constexpr int kImagePieces = 8;

// f(b, e, t) over disjoint pieces of [begin, end), up to per_thread pieces per thread and each at
// least `grain` long (except where fewer than 2 * nt such pieces fit), balanced at run time
// (parallel_pieces_t); t, below get_num_threads(), names the running thread (per-thread
// scratch). Serial (f(begin, end, 0)) where parallel_for would be. For independent items (batch
// images, rows): with one fixed share per thread, a thread slowed by other work on a shared
// machine held up the whole region.
template <class F>
void parallel_for_pieces(int64_t begin, int64_t end, int64_t grain, int per_thread, const F& f) {
  if (begin >= end) return;
  const int64_t n = end - begin, gr = std::max<int64_t>(grain, 1);
  int nt = get_num_threads();
  if (nt <= 1 || n <= gr || in_parallel_region()) {
    f(begin, end, 0);
    return;
  }
  nt = static_cast<int>(std::min<int64_t>(nt, (n + gr - 1) / gr));
  // a multiple of nt pieces (3 pieces on 2 threads would end at 2/3 of the work, not 1/2)
  const int64_t P = nt * std::max<int64_t>(1, std::min<int64_t>(n / gr / nt, std::max(per_thread, 1)));
  parallel_even_pieces(P, nt, [&](int64_t k, int t) { f(begin + n * k / P, begin + n * (k + 1) / P, t); });
}

// Per-thread scratch for parallel_for_pieces: thread t's n-element buffer, allocated on its first
// piece (value-initialised, i.e. zeroed, when zero) and kept for its later pieces.
template <class T>
class ThreadScratch {
 public:
  explicit ThreadScratch(int64_t n, bool zero = false)
      : n_(static_cast<size_t>(std::max<int64_t>(n, 1))), zero_(zero), bufs_(static_cast<size_t>(get_num_threads())) {}
  T* operator()(int t) {
    std::unique_ptr<T[]>& b = bufs_[static_cast<size_t>(t)];
    if (!b) b.reset(zero_ ? new T[n_]() : new T[n_]);
    return b.get();
  }

 private:
  size_t n_;
  bool zero_;
  std::vector<std::unique_ptr<T[]>> bufs_;
};

}  // namespace ember::cpu
