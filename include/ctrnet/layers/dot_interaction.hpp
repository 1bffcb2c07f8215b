// DotInteraction: DLRM's feature interaction (Naumov et al. 2019, arXiv 1906.00091, §2.1; the
// reference dlrm_s_pytorch.py interact_features "dot"). The input row holds n vectors of width d,
// x = [t_0 | t_1 | ... | t_{n-1}] (in DLRM: the bottom MLP's output, then e_1 .. e_F), and
//   y = [t_0 | z],   z = the lower triangle of T Tᵀ, z_p = <t_i, t_j>, in the reference's row-major
//       pair order (1,0), (2,0), (2,1), (3,0), ... (strict, P = n (n − 1) / 2), or with the
//       diagonal (0,0), (1,0), (1,1), (2,0), ... (self_interaction, P = n (n + 1) / 2).
// `keep_first = false` drops t_0 from the output (y = z), e.g. for a tower's interaction features.
// Backward: dT += (dZ + dZᵀ) T (dZ the triangle scattered back), plus dt_0 += dy[:, :d] when
// t_0 is kept. No parameters. Kernels: kernels/interaction.hpp (one batched pass per batch).
#pragma once
#include "ctrnet/core/error.hpp"
#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/interaction.hpp"

namespace ctrnet {

/// \brief y = [t_0 | pairwise dot products <t_i, t_j>, j < i (or j ≤ i)] of the n width-d vectors of a row.
class DotInteraction {
 public:
  using input_kind = Dense;
  struct Options {
    index_t dim = 0;                ///< d, the width of each vector (the input width is n d)
    bool self_interaction = false;  ///< include the diagonal <t_i, t_i>
    bool keep_first = true;         ///< output t_0 before the interactions (DLRM: the bottom MLP output)
  };
  template <class T>
  struct Cache {
    ConstMatrixView<T> x;  // the input (owned by the caller)
  };

  DotInteraction() = default;
  explicit DotInteraction(Options o) : opt_(o) {}

  index_t build(index_t in, ParamRegistry& reg) {
    CTRNET_CHECK(opt_.dim > 0, "DotInteraction '", reg.full_name(""), "': dim (the vector width) must be positive, got ",
                 opt_.dim);
    CTRNET_CHECK(in > 0 && in % opt_.dim == 0, "DotInteraction '", reg.full_name(""), "': input width ", in,
                 " is not a positive multiple of the vector width ", opt_.dim);
    n_ = in / opt_.dim;
    CTRNET_CHECK(n_ >= 2 || (opt_.self_interaction && n_ >= 1), "DotInteraction '", reg.full_name(""), "': ", n_,
                 " vector(s) of width ", opt_.dim, " have no pairs to interact");
    pairs_ = kernels::interaction_pairs(n_, opt_.self_interaction);
    return out_ = (opt_.keep_first ? opt_.dim : 0) + pairs_;
  }
  index_t out_dim() const { return out_; }
  index_t num_vectors() const { return n_; }
  index_t num_pairs() const { return pairs_; }
  const Options& options() const { return opt_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>&, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    const index_t first = opt_.keep_first ? opt_.dim : 0;
    if (opt_.keep_first) kernels::copy(p, x.col_block(0, opt_.dim), y.col_block(0, opt_.dim));
    kernels::dot_interaction_forward(p, x, n_, opt_.self_interaction, y.col_block(first, pairs_));
    c.x = x;
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>&, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>&) const {
    if (dx.empty()) return;
    const index_t first = opt_.keep_first ? opt_.dim : 0;
    if (opt_.keep_first) kernels::axpy(p, T(1), dy.col_block(0, opt_.dim), dx.col_block(0, opt_.dim));
    kernels::dot_interaction_backward_data(p, c.x, n_, opt_.self_interaction, dy.col_block(first, pairs_), dx);
  }

 private:
  Options opt_;
  index_t n_ = 0, pairs_ = 0, out_ = 0;
};

}  // namespace ctrnet
