// Token pooling: a token matrix [B, L·w (+ count column)] → one vector [B, w] per example.
//   mean:   y = (1/n) Σ_{t<n} x_t
//   max:    y_c = max_{t<n} x_{t,c}  (Sentence-BERT's max pooling, Reimers & Gurevych 2019,
//           arXiv 1908.10084); the gradient goes to the arg max (first one on ties)
//   first:  y = x_0  (BERT's [CLS] token)
// n = L, or with `masked` the count of valid tokens in the input's last column (gradient 0).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/layers/attention.hpp"

namespace ctrnet {

enum class TokenPoolingMode { mean, max, first };

inline const char* to_string(TokenPoolingMode m) {
  switch (m) {
    case TokenPoolingMode::mean: return "mean";
    case TokenPoolingMode::max: return "max";
    case TokenPoolingMode::first: return "first";
  }
  return "?";
}
inline TokenPoolingMode parse_token_pooling(std::string_view s) {
  for (TokenPoolingMode m : {TokenPoolingMode::mean, TokenPoolingMode::max, TokenPoolingMode::first})
    if (s == to_string(m)) return m;
  detail::throw_error("unknown token pooling '", s, "': expected mean, max or first");
}

/// \brief Pools L tokens of width w into one: mean, max or the first token.
class TokenPooling {
 public:
  using input_kind = Dense;
  struct Options {
    index_t tokens = 0;
    TokenPoolingMode mode = TokenPoolingMode::mean;
    bool masked = false;
  };
  template <class T>
  struct Cache {
    std::vector<index_t> counts;
    std::vector<index_t> argmax;  // max: [B, w] token index of each maximum
  };

  TokenPooling() = default;
  explicit TokenPooling(Options o) : opt_(o) {}

  index_t build(index_t in, ParamRegistry& reg) {
    w_ = detail::token_width(in, opt_.tokens, opt_.masked, "TokenPooling '" + reg.full_name("") + "'");
    return w_;
  }
  index_t out_dim() const { return w_; }
  const Options& options() const { return opt_; }

  template <class P, class T>
  void forward(const P&, const Weights<T>&, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    const index_t B = x.rows;
    read_counts(x, c);
    if (opt_.mode == TokenPoolingMode::max) c.argmax.resize(static_cast<std::size_t>(B * w_));
    for (index_t b = 0; b < B; ++b) {
      const index_t n = count(c, b);
      const T* xr = x.row(b);
      T* yr = y.row(b);
      switch (opt_.mode) {
        case TokenPoolingMode::first:
          for (index_t k = 0; k < w_; ++k) yr[k] = xr[k];
          break;
        case TokenPoolingMode::mean: {
          for (index_t k = 0; k < w_; ++k) yr[k] = T(0);
          for (index_t t = 0; t < n; ++t)
            for (index_t k = 0; k < w_; ++k) yr[k] += xr[t * w_ + k];
          const T inv = T(1) / T(n);
          for (index_t k = 0; k < w_; ++k) yr[k] *= inv;
          break;
        }
        case TokenPoolingMode::max: {
          index_t* am = c.argmax.data() + b * w_;
          for (index_t k = 0; k < w_; ++k) yr[k] = xr[k], am[k] = 0;
          for (index_t t = 1; t < n; ++t)
            for (index_t k = 0; k < w_; ++k)
              if (xr[t * w_ + k] > yr[k]) yr[k] = xr[t * w_ + k], am[k] = t;
          break;
        }
      }
    }
  }

  template <class P, class T>
  void backward(const P&, const Weights<T>&, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>&) const {
    if (dx.empty()) return;
    for (index_t b = 0; b < dy.rows; ++b) {
      const index_t n = count(c, b);
      const T* g = dy.row(b);
      T* d = dx.row(b);
      switch (opt_.mode) {
        case TokenPoolingMode::first:
          for (index_t k = 0; k < w_; ++k) d[k] += g[k];
          break;
        case TokenPoolingMode::mean: {
          const T inv = T(1) / T(n);
          for (index_t t = 0; t < n; ++t)
            for (index_t k = 0; k < w_; ++k) d[t * w_ + k] += inv * g[k];
          break;
        }
        case TokenPoolingMode::max: {
          const index_t* am = c.argmax.data() + b * w_;
          for (index_t k = 0; k < w_; ++k) d[am[k] * w_ + k] += g[k];
          break;
        }
      }
    }
  }

 private:
  template <class T>
  void read_counts(ConstMatrixView<T> x, Cache<T>& c) const {
    if (!opt_.masked) return;
    c.counts.resize(static_cast<std::size_t>(x.rows));
    const index_t L = opt_.tokens;
    for (index_t b = 0; b < x.rows; ++b) {
      const double v = static_cast<double>(x(b, L * w_));
      CTRNET_CHECK(std::isfinite(v) && std::lround(v) >= 1 && std::lround(v) <= L, "TokenPooling: example ", b,
                   " has a valid-token count of ", v, " (expected an integer in [1, ", L, "])");
      c.counts[static_cast<std::size_t>(b)] = static_cast<index_t>(std::lround(v));
    }
  }
  template <class T>
  index_t count(const Cache<T>& c, index_t b) const {
    return opt_.masked ? c.counts[static_cast<std::size_t>(b)] : opt_.tokens;
  }

  Options opt_;
  index_t w_ = 0;
};

}  // namespace ctrnet
