// Token kernels: the data movement of the token layers and models (layers/attention.hpp,
// layers/token_pooling.hpp, models/tab_transformer.hpp, models/two_tower_transformer.hpp).
// A token matrix is [B, L·w (+ count column)]: L tokens of width w per example, row-major.
//
// Valid-token counts (key padding mask): n_b = round(x[b, column]), checked to be in [1, L].
//
// Token pooling, per example b with n = n_b (or L without counts):
//   mean:   y = (1/n) Σ_{t<n} x_t                  dx_t += (1/n) dy            (t < n)
//   max:    y_c = max_{t<n} x_{t,c}                 dx_{a_c, c} += dy_c, a_c = the arg max
//           (the first maximum on ties: a later token wins only when strictly greater)
//   first:  y = x_0                                 dx_0 += dy
//
// Column tokens (TabTransformer, Huang et al. 2020, arXiv 2012.06678), field f of F:
//   concat: t_f = [c_f | e_f]   (c_f: [ℓ], e_f: [d − ℓ])      add: t_f = c_f + e_f   (both [d])
//   backward: dc_f += dt_f[0:ℓ] (summed over examples in order), de_f = dt_f[off : off + d_v],
//   off = d − d_v (ℓ for concat, 0 for add).
//
// Sequence tokens (FieldTokens of models/two_tower_transformer.hpp), example b with ids
// i_1..i_len (oldest first), n = min(len, max_len) kept (the most recent):
//   t_j = E[i_{len−n+j}] + P_j  (j < n),   t_j = 0  (n ≤ j < max_len),   count = max(1, lead + n)
//   backward: dE[i_{len−n+j}] += dt_j,  dP_j += dt_j  (j < n)
// Reference loops for every policy (cpu_simd falls back to them; these are memory moves).
#pragma once
#include <algorithm>
#include <cmath>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/schema.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet {

/// How TokenPooling pools L tokens into one (layers/token_pooling.hpp).
enum class TokenPoolingMode { mean, max, first };

}  // namespace ctrnet

namespace ctrnet::kernels {

/// counts[b] = round(x(b, column)) for every row of x; throws ctrnet::Error
/// "<who>: example b has a valid-token count of v (expected an integer in [1, max_tokens])"
/// when a count is not finite or out of [1, max_tokens].
template <class T>
void read_token_counts(const cpu_scalar& policy, ConstMatrixView<T> x, index_t column, index_t max_tokens, index_t* counts,
                       const char* who) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t L = max_tokens;
  for (index_t b = 0; b < x.rows; ++b) {
    const double v = static_cast<double>(x(b, column));
    CTRNET_CHECK(std::isfinite(v) && std::lround(v) >= 1 && std::lround(v) <= L, who, ": example ", b,
                 " has a valid-token count of ", v, " (expected an integer in [1, ", L, "])");
    counts[b] = static_cast<index_t>(std::lround(v));
  }
}

/// y [B, w] = the pooled tokens of x [B, ≥ tokens·w] (tokens of width w = y.cols).
/// counts: nullptr (every example has `tokens` tokens) or [B] valid-token counts in [1, tokens].
/// argmax: [B, w], written by mode max (the token index of each maximum), else unused (may be null).
template <class T>
void token_pool_forward(const cpu_scalar& policy, TokenPoolingMode mode, index_t tokens, const index_t* counts,
                        ConstMatrixView<T> x, MatrixView<T> y, index_t* argmax) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t B = x.rows, w = y.cols;
  for (index_t b = 0; b < B; ++b) {
    const index_t n = counts ? counts[b] : tokens;
    const T* xr = x.row(b);
    T* yr = y.row(b);
    switch (mode) {
      case TokenPoolingMode::first:
        for (index_t k = 0; k < w; ++k) yr[k] = xr[k];
        break;
      case TokenPoolingMode::mean: {
        for (index_t k = 0; k < w; ++k) yr[k] = T(0);
        for (index_t t = 0; t < n; ++t)
          for (index_t k = 0; k < w; ++k) yr[k] += xr[t * w + k];
        const T inv = T(1) / T(n);
        for (index_t k = 0; k < w; ++k) yr[k] *= inv;
        break;
      }
      case TokenPoolingMode::max: {
        index_t* am = argmax + b * w;
        for (index_t k = 0; k < w; ++k) yr[k] = xr[k], am[k] = 0;
        for (index_t t = 1; t < n; ++t)
          for (index_t k = 0; k < w; ++k)
            if (xr[t * w + k] > yr[k]) yr[k] = xr[t * w + k], am[k] = t;
        break;
      }
    }
  }
}

/// dx [B, ≥ tokens·w] += the gradient of token_pool_forward given dy [B, w] (same mode, tokens,
/// counts; argmax as forward wrote it for mode max).
template <class T>
void token_pool_backward(const cpu_scalar& policy, TokenPoolingMode mode, index_t tokens, const index_t* counts,
                         const index_t* argmax, ConstMatrixView<T> dy, MatrixView<T> dx) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t w = dy.cols;
  for (index_t b = 0; b < dy.rows; ++b) {
    const index_t n = counts ? counts[b] : tokens;
    const T* g = dy.row(b);
    T* d = dx.row(b);
    switch (mode) {
      case TokenPoolingMode::first:
        for (index_t k = 0; k < w; ++k) d[k] += g[k];
        break;
      case TokenPoolingMode::mean: {
        const T inv = T(1) / T(n);
        for (index_t t = 0; t < n; ++t)
          for (index_t k = 0; k < w; ++k) d[t * w + k] += inv * g[k];
        break;
      }
      case TokenPoolingMode::max: {
        const index_t* am = argmax + b * w;
        for (index_t k = 0; k < w; ++k) d[am[k] * w + k] += g[k];
        break;
      }
    }
  }
}

/// tok [B, F·d] = the column tokens of emb [B, F·d_v] and column [F, ℓ] (F = column.rows):
/// add (ℓ = d_v = d): t_f = c_f + e_f; else concat (d = ℓ + d_v): t_f = [c_f | e_f].
template <class T>
void column_tokens_forward(const cpu_scalar& policy, ConstMatrixView<T> emb, ConstMatrixView<T> column, bool add,
                           MatrixView<T> tok) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t F = column.rows, ell = column.cols, dv = emb.cols / F, d = tok.cols / F;
  for (index_t b = 0; b < tok.rows; ++b) {
    const T* e = emb.row(b);
    T* t = tok.row(b);
    for (index_t f = 0; f < F; ++f, e += dv, t += d) {
      const T* cf = column.row(f);
      if (!add) {
        std::copy(cf, cf + ell, t);
        std::copy(e, e + dv, t + ell);
      } else {
        for (index_t k = 0; k < d; ++k) t[k] = e[k] + cf[k];
      }
    }
  }
}

/// The backward of column_tokens_forward given dtok [B, F·d]: dcolumn [F, ℓ] += Σ_b dt_f[0:ℓ]
/// (over b in order), demb [B, F·d_v] = dt_f[d − d_v : d] (OVERWRITTEN). F = dcolumn.rows.
template <class T>
void column_tokens_backward(const cpu_scalar& policy, ConstMatrixView<T> dtok, MatrixView<T> dcolumn, MatrixView<T> demb) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t F = dcolumn.rows, ell = dcolumn.cols, dv = demb.cols / F, d = dtok.cols / F, off = d - dv;
  for (index_t b = 0; b < dtok.rows; ++b) {
    const T* t = dtok.row(b);
    T* e = demb.row(b);
    for (index_t f = 0; f < F; ++f, e += dv, t += d) {
      T* cf = dcolumn.row(f);
      for (index_t k = 0; k < ell; ++k) cf[k] += t[k];
      std::copy(t + off, t + off + dv, e);
    }
  }
}

/// tokens [B, max_len·d] = the sequence tokens of field `ids` (B = tokens.rows): row b's last
/// n = min(len, max_len) ids as E[id] + position[j], then zero padding; count [B, 1] =
/// max(1, lead + n) (`lead`: the tokens before the sequence). position: [max_len, d];
/// table: [vocab, d] (ids mapped by `map`, example b is row first_row + b of the batch).
template <class T>
void sequence_tokens_forward(const cpu_scalar& policy, const Matrix<T>& table, FieldIds ids, const IdMapper& map,
                             index_t first_row, ConstMatrixView<T> position, index_t lead, MatrixView<T> tokens,
                             MatrixView<T> count) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t max_len = position.rows, d = position.cols;
  for (index_t b = 0; b < tokens.rows; ++b) {
    const auto seq = ids.of(b);
    const index_t len = static_cast<index_t>(seq.size()), n = std::min(len, max_len);
    T* row = tokens.row(b);
    for (index_t t = 0; t < max_len; ++t) {
      T* tok = row + t * d;
      if (t < n) {
        const T* e = table.data() + map(seq[static_cast<std::size_t>(len - n + t)], first_row + b) * d;
        for (index_t k = 0; k < d; ++k) tok[k] = e[k] + position(t, k);
      } else {
        std::fill(tok, tok + d, T(0));
      }
    }
    count(b, 0) = T(std::max<index_t>(1, lead + n));
  }
}

/// The backward of sequence_tokens_forward given dtokens [B, max_len·d]: the table gradient
/// rows of the kept ids += their token's gradient, dposition [max_len, d] += the same (padding
/// tokens get nothing). max_len = dposition.rows.
template <class T>
void sequence_tokens_backward(const cpu_scalar& policy, FieldIds ids, const IdMapper& map, index_t first_row,
                              ConstMatrixView<T> dtokens, SparseRows<T>& dtable, MatrixView<T> dposition) {
  CTRNET_KERNEL_SCOPE(policy);
  const index_t max_len = dposition.rows, d = dposition.cols;
  index_t kept = 0;
  for (index_t b = 0; b < dtokens.rows; ++b) kept += std::min(ids.count(b), max_len);
  if (dtokens.rows > 0) dtable.reserve_more(kept);  // sized by the id count, as embedding_bag_backward
  for (index_t b = 0; b < dtokens.rows; ++b) {
    const auto seq = ids.of(b);
    const index_t len = static_cast<index_t>(seq.size()), n = std::min(len, max_len);
    const T* row = dtokens.row(b);
    for (index_t t = 0; t < n; ++t) {
      const T* gt = row + t * d;
      T* de = dtable.row(map(seq[static_cast<std::size_t>(len - n + t)], first_row + b));
      for (index_t k = 0; k < d; ++k) {
        de[k] += gt[k];
        dposition(t, k) += gt[k];
      }
    }
  }
}

}  // namespace ctrnet::kernels
