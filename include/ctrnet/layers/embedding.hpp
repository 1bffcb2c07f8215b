// Embedding of one categorical field: a lookup (one id) or a pooled bag (multi-hot, sum or
// mean) into a table [rows, dim]. The table is named `embedding.<table>` and shared by every
// field that names the same table. Gradients are sparse rows (see kernels/embedding.hpp).
#pragma once
#include <string>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/embedding.hpp"

namespace ctrnet {

/// Default initialiser of embedding tables: N(0, 0.05²).
inline Init default_embedding_init() { return Init::normal(0.05); }

/// \brief Looks up (and pools) the embedding of one categorical field of the batch.
class Embedding {
 public:
  using input_kind = Sparse;
  struct Options {
    std::string field{};
    index_t dim = 0;  ///< 0: the field's embedding_dim, else 16
    Init init = default_embedding_init();
  };
  template <class T>
  struct Cache {
    const BatchView* x = nullptr;  // the batch read in forward (must outlive backward)
  };

  Embedding() = default;
  explicit Embedding(Options o) : opt_(std::move(o)) {}
  explicit Embedding(std::string field, index_t dim = 0) { opt_.field = std::move(field); opt_.dim = dim; }

  index_t build(const Schema& schema, ParamRegistry& reg) {
    const index_t fi = schema.categorical_index(opt_.field);
    CTRNET_CHECK(fi >= 0, "Embedding: schema has no categorical field '", opt_.field, "'");
    field_index_ = fi;
    field_ = schema.categorical(fi);
    dim_ = opt_.dim > 0 ? opt_.dim : (field_.embedding_dim > 0 ? field_.embedding_dim : 16);
    table_ = reg.add_table("embedding." + field_.table_name(), field_.rows(), dim_, opt_.init);
    return dim_;
  }
  index_t out_dim() const { return dim_; }
  TableHandle table() const { return table_; }
  const Field& field() const { return field_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, const BatchView& x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    c.x = &x;
    kernels::embedding_bag_forward(p, w.table(table_), x.fields[static_cast<std::size_t>(field_index_)],
                                   IdMapper(field_), field_.pooling, x.first_row, y);
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>&, Cache<T>& c, ConstMatrixView<T> dy, NoInputGrad,
                const Gradients<T>& g) const {
    const BatchView& x = *c.x;
    kernels::embedding_bag_backward(p, x.fields[static_cast<std::size_t>(field_index_)], IdMapper(field_),
                                    field_.pooling, x.first_row, dy, g.table(table_));
  }

 private:
  Options opt_;
  Field field_;
  index_t field_index_ = -1;
  index_t dim_ = 0;
  TableHandle table_;
};

}  // namespace ctrnet
