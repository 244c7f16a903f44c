// Storage: one allocation (or a borrowed buffer) that tensors view. CPU memory comes from a
// caching allocator (freed blocks are kept per size and reused: training loops allocate the same
// sizes every step, and fresh pages cost page faults). Borrowed memory (numpy, DLPack) carries
// a deleter that releases its owner.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

#include "ember/device.h"

namespace ember {

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  std::function<void(void*)> deleter;  // empty: memory came from the device allocator

  Storage(size_t nbytes, Device device);                   // allocate
  Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter);  // borrow
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

namespace cpu_allocator {
void* allocate(size_t nbytes);  // 64-byte aligned; never returns null for nbytes > 0
void release(void* p, size_t nbytes);
void empty_cache();
size_t cached_bytes();
size_t allocated_bytes();  // live tensor memory (rounded block sizes): leak checks
}  // namespace cpu_allocator

}  // namespace ember
