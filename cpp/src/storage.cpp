// Storage and the CPU caching allocator. Blocks are rounded up (512 B granularity below 1 MiB,
// then 1/8 of the power of two) and kept in per-size free lists up to a cap, so a training loop
// that allocates the same shapes every step stops touching fresh pages after its first step.
#include "ember/storage.h"

#include <cstdlib>
#include <atomic>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ember/backend.h"

namespace ember {

namespace cpu_allocator {
namespace {
constexpr size_t kAlign = 64;
constexpr size_t kMaxCached = size_t(2) << 30;  // 2 GiB

constexpr size_t kSmallLimit = size_t(1) << 20;  // sizes up to here are multiples of 512 B
constexpr size_t kSmallBins = kSmallLimit / 512;

// The cache's lock: a spinlock, held for a few loads and stores. Tensors are allocated and freed
// on the calling thread (kernels' worker threads do not allocate), so it is all but never
// contended, and one atomic exchange is cheaper than a pthread mutex's lock and unlock calls
// (every tiny op allocates and frees once).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class SpinLock {
 public:
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire))
      while (flag_.load(std::memory_order_relaxed)) cpu_relax();
  }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

struct Cache {
  SpinLock mu;
  // Free blocks by rounded size: a flat array of bins for small sizes (one index computation, no
  // hashing, on the path every tiny op takes twice), a map for the rest.
  std::vector<void*> small[kSmallBins + 1];
  std::unordered_map<size_t, std::vector<void*>> large;
  size_t cached = 0;
  size_t allocated = 0;  // bytes in blocks handed out and not yet released (rounded sizes)

  std::vector<void*>* find(size_t sz) {
    if (sz <= kSmallLimit) return &small[sz / 512];
    auto it = large.find(sz);
    return it == large.end() ? nullptr : &it->second;
  }
  std::vector<void*>& bin(size_t sz) { return sz <= kSmallLimit ? small[sz / 512] : large[sz]; }
};
Cache& cache() {
  static Cache* c = new Cache();  // leaked on purpose: outlives static tensors at exit
  return *c;
}

size_t round_size(size_t n) {
  if (n <= kSmallLimit) return (n + 511) & ~size_t(511);
  size_t p = size_t(1) << (63 - __builtin_clzll(n));
  size_t step = p / 8;
  return (n + step - 1) / step * step;
}
}  // namespace

void* allocate(size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  size_t sz = round_size(nbytes);
  {
    Cache& c = cache();
    std::lock_guard<SpinLock> g(c.mu);
    std::vector<void*>* b = c.find(sz);
    if (b && !b->empty()) {
      void* p = b->back();
      b->pop_back();
      c.cached -= sz;
      c.allocated += sz;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlign, (sz + kAlign - 1) / kAlign * kAlign);
  if (!p) {
    empty_cache();
    p = std::aligned_alloc(kAlign, (sz + kAlign - 1) / kAlign * kAlign);
  }
  if (!p) throw OutOfMemoryError(str("out of memory: failed to allocate ", nbytes, " bytes on cpu"));
  Cache& c = cache();
  std::lock_guard<SpinLock> g(c.mu);
  c.allocated += sz;
  return p;
}

void release(void* p, size_t nbytes) {
  if (!p) return;
  if (nbytes == 0) nbytes = 1;
  size_t sz = round_size(nbytes);
  Cache& c = cache();
  {
    std::lock_guard<SpinLock> g(c.mu);
    c.allocated -= sz;
    if (c.cached + sz <= kMaxCached) {
      c.bin(sz).push_back(p);
      c.cached += sz;
      return;
    }
  }
  std::free(p);
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<SpinLock> g(c.mu);
  for (auto& b : c.small) {
    for (void* p : b) std::free(p);
    b.clear();
  }
  for (auto& kv : c.large)
    for (void* p : kv.second) std::free(p);
  c.large.clear();
  c.cached = 0;
}

size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<SpinLock> g(c.mu);
  return c.cached;
}

size_t allocated_bytes() {
  Cache& c = cache();
  std::lock_guard<SpinLock> g(c.mu);
  return c.allocated;
}
}  // namespace cpu_allocator

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) {
  EMBER_CHECK(d.is_cpu(), RuntimeError, "ember was built without CUDA: cannot allocate on ", d);
  data = cpu_allocator::allocate(n);
}

Storage::Storage(void* p, size_t n, Device d, std::function<void(void*)> del)
    : data(p), nbytes(n), device(d), deleter(std::move(del)) {}

Storage::~Storage() {
  if (deleter) {
    deleter(data);
  } else if (device.is_cpu()) {
    cpu_allocator::release(data, nbytes);
  }
}

}  // namespace ember
