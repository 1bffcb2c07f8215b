// Deterministic, seeded parameter initialisers.
//   glorot_uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out))   (Glorot & Bengio 2010)
//   he_normal:      N(0, 2 / fan_in)                             (He et al. 2015)
//   normal:         N(0, scale²);  uniform: U(-scale, scale);  zeros;  ones.
// Weights are [fan_out, fan_in] (PyTorch's Linear layout); a table is [rows, dim].
#pragma once
#include <cmath>
#include <string>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/rng.hpp"

namespace ctrnet {

enum class InitKind { zeros, ones, glorot_uniform, he_normal, normal, uniform };

/// \brief An initialiser: kind plus a scale used by `normal` (stddev) and `uniform` (bound).
struct Init {
  InitKind kind = InitKind::glorot_uniform;
  double scale = 0.01;

  static Init zeros() { return {InitKind::zeros, 0}; }
  static Init ones() { return {InitKind::ones, 0}; }
  static Init glorot_uniform() { return {InitKind::glorot_uniform, 0}; }
  static Init he_normal() { return {InitKind::he_normal, 0}; }
  static Init normal(double stddev) { return {InitKind::normal, stddev}; }
  static Init uniform(double bound) { return {InitKind::uniform, bound}; }
};

inline const char* to_string(InitKind k) {
  switch (k) {
    case InitKind::zeros: return "zeros";
    case InitKind::ones: return "ones";
    case InitKind::glorot_uniform: return "glorot_uniform";
    case InitKind::he_normal: return "he_normal";
    case InitKind::normal: return "normal";
    case InitKind::uniform: return "uniform";
  }
  return "?";
}

/// Fills `n` values at `dst` for a tensor of shape [rows, cols] (fan_out = rows, fan_in = cols).
template <class T>
void initialize(T* dst, index_t rows, index_t cols, Init init, Rng& rng) {
  const index_t n = rows * cols;
  const double fan_in = static_cast<double>(cols), fan_out = static_cast<double>(rows);
  switch (init.kind) {
    case InitKind::zeros:
      for (index_t i = 0; i < n; ++i) dst[i] = T(0);
      break;
    case InitKind::ones:
      for (index_t i = 0; i < n; ++i) dst[i] = T(1);
      break;
    case InitKind::glorot_uniform: {
      const double a = std::sqrt(6.0 / (fan_in + fan_out));
      for (index_t i = 0; i < n; ++i) dst[i] = static_cast<T>(rng.uniform(-a, a));
      break;
    }
    case InitKind::he_normal: {
      const double s = std::sqrt(2.0 / fan_in);
      for (index_t i = 0; i < n; ++i) dst[i] = static_cast<T>(s * rng.normal());
      break;
    }
    case InitKind::normal:
      for (index_t i = 0; i < n; ++i) dst[i] = static_cast<T>(init.scale * rng.normal());
      break;
    case InitKind::uniform:
      for (index_t i = 0; i < n; ++i) dst[i] = static_cast<T>(rng.uniform(-init.scale, init.scale));
      break;
  }
}

}  // namespace ctrnet
