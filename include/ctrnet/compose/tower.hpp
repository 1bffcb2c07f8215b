// Tower<Body>: one side of a two-tower model. It reads the fields of ONE group of the schema
// (Field::tower == "query" / "candidate", or an explicit list), turns them into
//   x = [dense values | e_1 | ... | e_F]          (FeatureInput over the group's fields)
//   z = Body(x)                                   (any dense layer: MLP, CrossNet, Sequential, ...)
//   y = z / max(‖z‖₂, ε)  (optional L2 normalisation; otherwise y = z)
// and outputs the embedding y: [batch, out]. A Body that reads the raw batch itself (a sparse
// layer, input_kind = Sparse) is used as is, with no FeatureInput in front of it.
// Parameters are scoped by the tower's name (`query.0.weight` for Tower<MLP> named "query");
// embedding tables are global (`embedding.<table>`), so two towers whose fields name the same
// table (Field::table) share it — ParamRegistry::add_table joins an existing table of that name.
// Normalisation backward: dz_r = (dy_r − y_r ⟨y_r, dy_r⟩) / ‖z_r‖ (kernels/retrieval.hpp).
#pragma once
#include <string>
#include <vector>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/retrieval.hpp"
#include "ctrnet/layers/feature_input.hpp"

namespace ctrnet {

/// \brief A body over one group of fields, producing an (optionally L2-normalised) embedding.
/// \tparam Body a dense layer (fed by a FeatureInput over the tower's fields) or a sparse layer.
template <class Body>
class Tower {
  static_assert(Layer<Body>, "ctrnet::Tower<Body>: Body must be a ctrnet layer (input_kind, Cache<T>, build, "
                             "out_dim, forward, backward)");
  static constexpr bool kDenseBody = DenseLayer<Body>;

 public:
  using input_kind = Sparse;
  using body_type = Body;

  struct Options {
    std::string name{};               ///< parameter scope; also the default field group
    std::string group{};              ///< Field::tower value selecting the fields; empty: `name`
    std::vector<std::string> fields{};  ///< explicit field names instead of the group
    index_t embedding_dim = 16;       ///< for fields without their own Field::embedding_dim
    bool normalize = false;           ///< L2-normalise the output embedding
    double eps = 1e-12;               ///< norm clamp of the normalisation
    Init embedding_init = default_embedding_init();
  };
  template <class T>
  struct Cache {
    FeatureInput::Cache<T> input;
    Matrix<T> x;                       // FeatureInput output (dense bodies)
    typename Body::template Cache<T> body;
    Matrix<T> z;                       // body output before normalisation
    Buffer<T> norms;               // clamped norms of z
    ConstMatrixView<T> y;              // the output (owned by the caller)
    Matrix<T> dz, dx;                  // workspaces of backward
  };

  Tower() = default;
  Tower(Options o, Body body) : opt_(std::move(o)), body_(std::move(body)) {}
  /// A tower named `name` (scope and group) around `body`.
  Tower(std::string name, Body body, bool normalize = false) : body_(std::move(body)) {
    opt_.name = std::move(name);
    opt_.normalize = normalize;
  }

  index_t build(const Schema& schema, ParamRegistry& reg) {
    CTRNET_CHECK(opt_.eps > 0.0, "Tower '", opt_.name, "': eps must be positive, got ", opt_.eps);
    const std::string& group = opt_.group.empty() ? opt_.name : opt_.group;
    fields_ = opt_.fields;
    if (fields_.empty())
      for (const auto& f : schema.fields())
        if (f.tower == group) fields_.push_back(f.name);
    for (const auto& f : fields_)
      CTRNET_CHECK(schema.find(f) >= 0, "Tower '", opt_.name, "': the schema has no field named '", f, "'");
    if constexpr (kDenseBody) {
      CTRNET_CHECK(!fields_.empty(), "Tower '", opt_.name, "': no field of the schema has tower == '", group,
                   "'; set Field::tower on the fields of this tower or list them in Tower::Options::fields");
    }
    auto s = reg.scope(opt_.name);
    if constexpr (kDenseBody) {
      FeatureInput::Options fi;
      fi.embedding_dim = opt_.embedding_dim;
      fi.fields = fields_;
      fi.init = opt_.embedding_init;
      input_ = FeatureInput(fi);
      in_ = input_.build(schema, reg);
      out_ = body_.build(in_, reg);
    } else {
      in_ = 0;
      out_ = body_.build(schema, reg);
    }
    return out_;
  }

  index_t out_dim() const { return out_; }
  /// Width of the concatenated input of a dense body (0 for a sparse body).
  index_t in_dim() const { return in_; }
  const Options& options() const { return opt_; }
  const std::string& name() const { return opt_.name; }
  /// The fields this tower reads (after build).
  const std::vector<std::string>& fields() const { return fields_; }
  const Body& body() const { return body_; }
  Body& body() { return body_; }
  const FeatureInput& input() const { return input_; }

  /// y: [batch, out_dim()].
  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, const BatchView& b, MatrixView<T> y, Cache<T>& c,
               const Context& ctx = {}) const {
    MatrixView<T> z = y;
    if (opt_.normalize) {
      c.z.resize(b.size, out_);
      z = c.z.view();
    }
    if constexpr (kDenseBody) {
      c.x.resize(b.size, in_);
      input_.forward(p, w, b, c.x.view(), c.input, ctx);
      body_.forward(p, w, c.x.cview(), z, c.body, ctx);
    } else {
      body_.forward(p, w, b, z, c.body, ctx);
    }
    if (opt_.normalize) {
      c.norms.resize(static_cast<std::size_t>(b.size));
      kernels::l2_normalize_forward(p, c.z.cview(), y, c.norms.data(), static_cast<T>(opt_.eps));
    }
    c.y = y;
  }

  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, NoInputGrad,
                const Gradients<T>& g) const {
    ConstMatrixView<T> dz = dy;
    if (opt_.normalize) {
      c.dz.resize(dy.rows, dy.cols, T(0));
      kernels::l2_normalize_backward(p, c.y, c.norms.data(), dy, c.dz.view(), static_cast<T>(opt_.eps));
      dz = c.dz.cview();
    }
    if constexpr (kDenseBody) {
      c.dx.resize(dy.rows, in_, T(0));
      body_.backward(p, w, c.body, dz, c.dx.view(), g);
      input_.backward(p, w, c.input, c.dx.cview(), NoInputGrad{}, g);
    } else {
      body_.backward(p, w, c.body, dz, NoInputGrad{}, g);
    }
  }

 private:
  Options opt_;
  Body body_;
  FeatureInput input_;
  std::vector<std::string> fields_;
  index_t in_ = 0, out_ = 0;
};

}  // namespace ctrnet
