// Deterministic random numbers, identical on every platform and standard library:
// xoshiro256++ (Blackman & Vigna 2019) seeded through splitmix64, with our own uniform and
// normal transforms (std::*_distribution is implementation-defined, so it is never used).
#pragma once
#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <utility>

namespace ctrnet {

/// splitmix64 step: a fast, well-mixed 64-bit hash of a counter (Steele et al. 2014).
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Mixes several 64-bit values into one seed; used to derive independent streams
/// (e.g. seed, step, layer, example row for dropout masks).
template <class... Ints>
inline std::uint64_t mix_seed(std::uint64_t seed, Ints... xs) {
  std::uint64_t s = seed;
  std::uint64_t h = splitmix64(s);
  ((s = h ^ (static_cast<std::uint64_t>(xs) + 0x632BE59BD9B4E019ull), h = splitmix64(s)), ...);
  return h;
}

/// \brief xoshiro256++ generator. Same seed, same sequence, everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }
  void reseed(std::uint64_t seed) {
    std::uint64_t sm = seed;
    for (auto& w : s_) w = splitmix64(sm);
  }
  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n) (Lemire's multiply-shift; bias < n / 2^64, negligible).
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next_u64()) * n) >> 64);
  }
  /// Standard normal via Box–Muller (one value per call; no hidden cached state).
  double normal() {
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  double normal(double mean, double stddev) { return mean + stddev * normal(); }
  bool bernoulli(double p) { return uniform() < p; }
  /// Fisher–Yates shuffle of `v` in place (the one every epoch order in the library uses).
  template <class T>
  void shuffle(std::span<T> v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

  /// The full state, for checkpoints.
  const std::uint64_t* state() const { return s_; }
  void set_state(const std::uint64_t* s) {
    for (int i = 0; i < 4; ++i) s_[i] = s[i];
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace ctrnet
