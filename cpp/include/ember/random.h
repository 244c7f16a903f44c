// Random number generation: Generator, a counter-based Philox4x32-10 stream (Salmon et al.,
// "Parallel random numbers: as easy as 1, 2, 3", SC'11). A draw reserves a range of 128-bit
// counters under a lock and fills its output in parallel: value i depends only on (seed, first
// counter, i), so results are reproducible and independent of the thread count.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace ember {

// One Philox4x32-10 block: 4 random 32-bit words for a 128-bit counter and a 64-bit key.
inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c[0], p1 = uint64_t(0xCD9E8D57u) * c[2];
    c = {uint32_t(p1 >> 32) ^ c[1] ^ k[0], uint32_t(p1), uint32_t(p0 >> 32) ^ c[3] ^ k[1], uint32_t(p0)};
    k[0] += 0x9E3779B9u;  // Weyl key schedule
    k[1] += 0xBB67AE85u;
  }
  return c;
}
// Block `counter` of the stream keyed by `key` (the counter's high 64 bits are zero).
inline std::array<uint32_t, 4> philox_block(uint64_t key, uint64_t counter) {
  return philox4x32({uint32_t(counter), uint32_t(counter >> 32), 0u, 0u}, {uint32_t(key), uint32_t(key >> 32)});
}

class Generator {
 public:
  static constexpr uint64_t kDefaultSeed = 67280421310721ULL;  // torch's default seed
  explicit Generator(uint64_t seed = kDefaultSeed) : seed_(seed) {}

  void manual_seed(uint64_t seed);  // also rewinds the stream
  uint64_t initial_seed() const;
  uint64_t seed();                  // reseed from a non-deterministic source; returns the seed

  struct Draw {
    uint64_t key, counter;  // first block: philox(counter + b, key)
  };
  // Reserve `nblocks` Philox blocks (4 words each) for one draw.
  Draw reserve(uint64_t nblocks);

  // State as 16 bytes (seed, counter; little-endian), for get_state/set_state.
  std::vector<uint8_t> get_state() const;
  void set_state(const std::vector<uint8_t>& state);

 private:
  mutable std::mutex mu_;
  uint64_t seed_;
  uint64_t counter_ = 0;
};

// The global generator used when no generator is passed (ember.manual_seed seeds it).
const std::shared_ptr<Generator>& default_generator();

}  // namespace ember
