// Element-wise activation functions and their derivatives (scalar definitions shared by all
// backends, so SIMD kernels are tested against exactly these formulas).
//   relu(x) = max(x, 0)             leaky_relu(x) = x > 0 ? x : alpha x
//   sigmoid(x) = 1 / (1 + e^-x)     tanh(x)
//   gelu(x) = x Φ(x) = 0.5 x (1 + erf(x / √2))   (Hendrycks & Gimpel 2016, exact form)
//   gelu'(x) = Φ(x) + x φ(x),  φ(x) = e^{-x²/2} / √(2π)
#pragma once
#include <cmath>
#include <string>
#include <string_view>

#include "ctrnet/core/error.hpp"

namespace ctrnet {

enum class Activation { identity, relu, leaky_relu, sigmoid, tanh, gelu };

inline const char* to_string(Activation a) {
  switch (a) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::leaky_relu: return "leaky_relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::tanh: return "tanh";
    case Activation::gelu: return "gelu";
  }
  return "?";
}

inline Activation parse_activation(std::string_view s) {
  for (Activation a : {Activation::identity, Activation::relu, Activation::leaky_relu, Activation::sigmoid,
                       Activation::tanh, Activation::gelu})
    if (s == to_string(a)) return a;
  detail::throw_error("unknown activation '", s, "': expected identity, relu, leaky_relu, sigmoid, tanh or gelu");
}

/// Whether the derivative needs the pre-activation x (true) or can use y = f(x) (false).
inline bool derivative_needs_input(Activation a) { return a == Activation::gelu || a == Activation::leaky_relu; }

namespace detail {
template <class T>
inline T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}
}  // namespace detail

template <class T>
inline T activate(Activation a, T x, T alpha) {
  switch (a) {
    case Activation::identity: return x;
    case Activation::relu: return x > T(0) ? x : T(0);
    case Activation::leaky_relu: return x > T(0) ? x : alpha * x;
    case Activation::sigmoid: return detail::stable_sigmoid(x);
    case Activation::tanh: return std::tanh(x);
    case Activation::gelu: return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
  }
  return x;
}

/// f'(x) expressed with x and y = f(x) (whichever is cheaper and exact).
template <class T>
inline T activation_derivative(Activation a, T x, T y, T alpha) {
  switch (a) {
    case Activation::identity: return T(1);
    case Activation::relu: return y > T(0) ? T(1) : T(0);
    case Activation::leaky_relu: return x > T(0) ? T(1) : alpha;
    case Activation::sigmoid: return y * (T(1) - y);
    case Activation::tanh: return T(1) - y * y;
    case Activation::gelu: {
      const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
      const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
      return cdf + x * pdf;
    }
  }
  return T(1);
}

}  // namespace ctrnet
