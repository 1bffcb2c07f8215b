// FeatureInput: the batch → x0 = [dense values | e_1 | e_2 | ... | e_F], the concatenated input
// of every CTR model (dense fields as they come, then one embedding per categorical field, in
// schema order). A subset of fields can be selected by name (a tower's fields).
#pragma once
#include <string>
#include <vector>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/layers/embedding.hpp"

namespace ctrnet {

/// \brief Dense fields plus one embedding per categorical field, concatenated.
class FeatureInput {
 public:
  using input_kind = Sparse;
  struct Options {
    index_t embedding_dim = 16;        ///< default for fields without their own embedding_dim
    std::vector<std::string> fields{};  ///< empty: every field of the schema
    Init init = default_embedding_init();
  };
  template <class T>
  struct Cache {
    std::vector<Embedding::Cache<T>> emb;
  };

  FeatureInput() = default;
  explicit FeatureInput(Options o) : opt_(std::move(o)) {}

  index_t build(const Schema& schema, ParamRegistry& reg) {
    dense_cols_.clear();
    embeddings_.clear();
    auto selected = [&](const std::string& name) {
      if (opt_.fields.empty()) return true;
      for (const auto& f : opt_.fields)
        if (f == name) return true;
      return false;
    };
    for (const auto& f : opt_.fields)
      CTRNET_CHECK(schema.find(f) >= 0, "FeatureInput: schema has no field named '", f, "'");
    for (index_t i = 0; i < schema.num_dense(); ++i)
      if (selected(schema.dense(i).name)) dense_cols_.push_back(i);
    index_t d = static_cast<index_t>(dense_cols_.size());
    for (index_t i = 0; i < schema.num_categorical(); ++i) {
      const Field& f = schema.categorical(i);
      if (!selected(f.name)) continue;
      CTRNET_CHECK(f.kind != FieldKind::sequence, "FeatureInput: field '", f.name,
                   "' is a sequence; sequences need an attention layer, not FeatureInput");
      Embedding::Options eo;
      eo.field = f.name;
      eo.dim = f.embedding_dim > 0 ? f.embedding_dim : opt_.embedding_dim;
      eo.init = opt_.init;
      embeddings_.emplace_back(eo);
      d += embeddings_.back().build(schema, reg);
    }
    CTRNET_CHECK(d > 0, "FeatureInput: no fields selected");
    return out_ = d;
  }
  index_t out_dim() const { return out_; }
  const Options& options() const { return opt_; }
  index_t num_dense() const { return static_cast<index_t>(dense_cols_.size()); }
  const std::vector<Embedding>& embeddings() const { return embeddings_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, const BatchView& x, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    const index_t nd = num_dense();
    if (nd == x.dense.cols) {
      if (nd > 0) kernels::convert(p, x.dense, y.col_block(0, nd));
    } else {
      for (index_t j = 0; j < nd; ++j)
        kernels::convert(p, x.dense.col_block(dense_cols_[static_cast<std::size_t>(j)], 1), y.col_block(j, 1));
    }
    c.emb.resize(embeddings_.size());
    index_t col = nd;
    // host: column offsets of the embeddings' outputs; each embedding runs its kernels
    for (std::size_t e = 0; e < embeddings_.size(); ++e) {
      embeddings_[e].forward(p, w, x, y.col_block(col, embeddings_[e].out_dim()), c.emb[e], ctx);
      col += embeddings_[e].out_dim();
    }
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, NoInputGrad,
                const Gradients<T>& g) const {
    index_t col = num_dense();
    // host: column offsets, as in forward
    for (std::size_t e = 0; e < embeddings_.size(); ++e) {
      embeddings_[e].backward(p, w, c.emb[e], dy.col_block(col, embeddings_[e].out_dim()), NoInputGrad{}, g);
      col += embeddings_[e].out_dim();
    }
  }

 private:
  Options opt_;
  std::vector<index_t> dense_cols_;
  std::vector<Embedding> embeddings_;
  index_t out_ = 0;
};

}  // namespace ctrnet
