// Token pooling: a token matrix [B, L·w (+ count column)] → one vector [B, w] per example.
//   mean:   y = (1/n) Σ_{t<n} x_t
//   max:    y_c = max_{t<n} x_{t,c}  (Sentence-BERT's max pooling, Reimers & Gurevych 2019,
//           arXiv 1908.10084); the gradient goes to the arg max (first one on ties)
//   first:  y = x_0  (BERT's [CLS] token)
// n = L, or with `masked` the count of valid tokens in the input's last column (gradient 0).
// The loops are kernels (kernels/tokens.hpp: read_token_counts, token_pool_forward / _backward).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/tokens.hpp"
#include "ctrnet/layers/attention.hpp"

namespace ctrnet {

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
    Buffer<index_t> counts;  // masked: [B] valid tokens per example (the policy's memory)
    Buffer<index_t> argmax;  // max: [B, w] token index of each maximum (the policy's memory)
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
  void forward(const P& p, const Weights<T>&, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    const index_t B = x.rows;
    if (opt_.masked) {
      c.counts.resize(B);
      kernels::read_token_counts(p, x, opt_.tokens * w_, opt_.tokens, c.counts.data(), "TokenPooling");
    }
    if (opt_.mode == TokenPoolingMode::max) c.argmax.resize(B * w_);
    kernels::token_pool_forward(p, opt_.mode, opt_.tokens, counts(c), x, y, argmax(c));
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>&, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>&) const {
    if (dx.empty()) return;
    kernels::token_pool_backward(p, opt_.mode, opt_.tokens, counts(c), argmax(c), dy, dx);
  }

 private:
  template <class T>
  const index_t* counts(const Cache<T>& c) const {
    return opt_.masked ? c.counts.data() : nullptr;
  }
  template <class T>
  index_t* argmax(Cache<T>& c) const {
    return opt_.mode == TokenPoolingMode::max ? c.argmax.data() : nullptr;
  }

  Options opt_;
  index_t w_ = 0;
};

}  // namespace ctrnet
