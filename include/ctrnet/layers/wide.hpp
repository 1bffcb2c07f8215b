// WideLinear: the "wide" part of Wide & Deep (Cheng et al. 2016, arXiv 1606.07792):
//   y = b + Σ_d w_d x_d + Σ_f Σ_{i ∈ bag_f} v_f[i] + Σ_c u_c[φ_c(x)]
// a generalised linear model over the dense values, the sparse ids of each categorical field
// (one-dimensional tables `wide.<field>`) and user-declared cross-product transformations
// φ_c = hash of the ids of the crossed fields into `cross_buckets` rows (`wide.cross.<a>_x_<b>`).
// Sparse tables get sparse gradients, so the wide part can be trained with FTRL.
#pragma once
#include <string>
#include <vector>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/embedding.hpp"
#include "ctrnet/kernels/gemm.hpp"
#include "ctrnet/kernels/hashing.hpp"

namespace ctrnet {

/// \brief Linear model over dense values, sparse ids and hashed cross-product features.
class WideLinear {
 public:
  using input_kind = Sparse;
  struct Options {
    std::vector<std::vector<std::string>> crosses{};  ///< each: names of ≥ 2 one-id categorical fields
    index_t cross_buckets = 1 << 18;
    std::uint64_t cross_seed = 0x5eed;
    bool dense = true;  ///< include the dense fields linearly
  };
  template <class T>
  struct Cache {
    const BatchView* x = nullptr;
    Matrix<T> dense;                                // x's dense values in T
    Matrix<T> tmp;                                  // [rows, 1] per-field partial sums
    std::vector<Buffer<FeatureId>> cross_ids;       // hashed cross ids per cross, one per row (policy memory)
    std::vector<Buffer<index_t>> cross_offsets;
  };

  WideLinear() = default;
  explicit WideLinear(Options o) : opt_(std::move(o)) {}

  index_t build(const Schema& schema, ParamRegistry& reg) {
    auto s = reg.scope("wide");
    fields_.clear();
    tables_.clear();
    crosses_.clear();
    num_dense_ = opt_.dense ? schema.num_dense() : 0;
    if (num_dense_ > 0) dense_w_ = reg.add("dense_weight", 1, num_dense_, Init::zeros());
    bias_ = reg.add("bias", 1, 1, Init::zeros());
    for (index_t i = 0; i < schema.num_categorical(); ++i) {
      const Field& f = schema.categorical(i);
      fields_.push_back(f);
      tables_.push_back(reg.add_table("wide." + f.name, f.rows(), 1, Init::zeros()));
    }
    for (const auto& cr : opt_.crosses) {  // host: build time, names and field indices
      CTRNET_CHECK(cr.size() >= 2, "WideLinear: a cross needs at least two fields");
      Cross c;
      std::string name;
      for (const auto& fname : cr) {
        const index_t fi = schema.categorical_index(fname);
        CTRNET_CHECK(fi >= 0, "WideLinear: cross field '", fname, "' is not a categorical field of the schema");
        CTRNET_CHECK(schema.categorical(fi).kind == FieldKind::categorical, "WideLinear: cross field '", fname,
                     "' must hold one id per example (it is ", to_string(schema.categorical(fi).kind), ")");
        c.fields.push_back(fi);
        name += (name.empty() ? "" : "_x_") + fname;
      }
      c.field.name = "cross." + name;
      c.field.kind = FieldKind::categorical;
      c.field.hash_buckets = opt_.cross_buckets;
      c.field.hash_seed = mix_seed(opt_.cross_seed, fnv1a64(name));
      c.table = reg.add_table("wide." + c.field.name, opt_.cross_buckets, 1, Init::zeros());
      crosses_.push_back(std::move(c));
    }
    return 1;
  }
  index_t out_dim() const { return 1; }
  const Options& options() const { return opt_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, const BatchView& x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    c.x = &x;
    const index_t n = x.size;
    kernels::broadcast_row(p, w[bias_].data, y);
    if (num_dense_ > 0) {
      c.dense.resize(n, num_dense_);
      kernels::convert(p, x.dense, c.dense.view());
      kernels::gemm(p, kernels::Trans::no, kernels::Trans::yes, T(1), c.dense.cview(), w[dense_w_], T(1), y);
    }
    c.tmp.resize(n, 1);
    for (std::size_t f = 0; f < fields_.size(); ++f) {
      kernels::embedding_bag_forward(p, w.table(tables_[f]), x.fields[f], IdMapper(fields_[f]), Pooling::sum,
                                     x.first_row, c.tmp.view());
      kernels::axpy(p, T(1), c.tmp.cview(), y);
    }
    make_cross_ids(p, x, c);
    for (std::size_t k = 0; k < crosses_.size(); ++k) {
      kernels::embedding_bag_forward(p, w.table(crosses_[k].table), cross_field_ids(c, k), IdMapper(crosses_[k].field),
                                     Pooling::sum, x.first_row, c.tmp.view());
      kernels::axpy(p, T(1), c.tmp.cview(), y);
    }
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>&, Cache<T>& c, ConstMatrixView<T> dy, NoInputGrad,
                const Gradients<T>& g) const {
    const BatchView& x = *c.x;
    kernels::bias_backward(p, dy, g[bias_].data);
    if (num_dense_ > 0)
      kernels::gemm(p, kernels::Trans::yes, kernels::Trans::no, T(1), dy, c.dense.cview(), T(1), g[dense_w_]);
    for (std::size_t f = 0; f < fields_.size(); ++f)
      kernels::embedding_bag_backward(p, x.fields[f], IdMapper(fields_[f]), Pooling::sum, x.first_row, dy,
                                      g.table(tables_[f]));
    for (std::size_t k = 0; k < crosses_.size(); ++k)
      kernels::embedding_bag_backward(p, cross_field_ids(c, k), IdMapper(crosses_[k].field), Pooling::sum,
                                      x.first_row, dy, g.table(crosses_[k].table));
  }

 private:
  struct Cross {
    std::vector<index_t> fields;
    Field field;  // hashed pseudo-field
    TableHandle table;
  };

  // The cross id of a row combines the raw ids of its fields (kernels::hash_cross_ids); IdMapper
  // then hashes it. The id and offset arrays live in the Cache (re-used: sized by the batch).
  template <class P, class T>
  void make_cross_ids(const P& p, const BatchView& x, Cache<T>& c) const {
    c.cross_ids.resize(crosses_.size());
    c.cross_offsets.resize(crosses_.size());
    for (std::size_t k = 0; k < crosses_.size(); ++k) {
      auto& ids = c.cross_ids[k];
      auto& off = c.cross_offsets[k];
      ids.resize(x.size);
      off.resize(x.size + 1);
      const std::vector<index_t>& cf = crosses_[k].fields;
      const kernels::CrossIdError e = kernels::hash_cross_ids(p, x.fields.data(), cf.data(),
                                                              static_cast<index_t>(cf.size()), x.size, ids.data(),
                                                              off.data());
      CTRNET_CHECK(e.ok(), "WideLinear: cross field '", fields_[static_cast<std::size_t>(e.field)].name, "' has ",
                   e.count, " ids in example ", x.first_row + e.row, "; expected exactly one");
    }
  }
  template <class T>
  static FieldIds cross_field_ids(const Cache<T>& c, std::size_t k) {
    return {c.cross_ids[k].data(), c.cross_offsets[k].data()};
  }

  Options opt_;
  std::vector<Field> fields_;
  std::vector<TableHandle> tables_;
  std::vector<Cross> crosses_;
  index_t num_dense_ = 0;
  ParamHandle dense_w_, bias_;
};

}  // namespace ctrnet
