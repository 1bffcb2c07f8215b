// Model<Body, Heads...>: owns the parameters (one flat dense buffer + embedding tables) of a body
// that reads the batch and outputs Σ head widths logit columns, and the heads (losses) that read
// them in order. A training step is three phases, so heads that couple the examples of a batch
// (a softmax over a group of rows) see every row:
//   1. forward_into(...)  body forward per shard, into its rows of the batch's logits (shard-parallel)
//   2. head_loss(...)     loss and d logits over the whole batch; each head writes its loss into a
//                         buffer where the policy keeps its data, copied back once per step
//   3. backward_from(...) body backward per shard from its rows of d logits into its gradients
// The Trainer runs them so (train/trainer.hpp). forward / head_loss / backward on a Cache, and
// forward_backward() (all three), do the same for one set of rows. The Trainer needs only this
// contract (Cache, num_heads, output_width, forward_into, head_loss_into, total_loss, check_batch,
// backward_from, the parameters): RetrievalModel (compose/retrieval_model.hpp) gives it to a
// TwoTower with its retrieval objective as the head.
//
// DESIGN.md sketches Model<Input, Body, Heads...>; here the input layer is simply the first layer
// of the body (e.g. Sequential<FeatureInput, MLP, Linear>), because Wide & Deep's wide part reads
// the raw ids beside the embeddings, which a separate Input slot cannot express.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <tuple>

#include "ctrnet/core/layer.hpp"
#include "ctrnet/heads/head.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/policy/execution.hpp"

namespace ctrnet {

template <class T, class Body, class... Heads>
class BasicModel {
  static_assert(Layer<Body>, "ctrnet::Model: the body must be a ctrnet layer");
  static_assert(SparseLayer<Body>,
                "ctrnet::Model: wrong wiring: the body must read the batch, i.e. start with an input layer such as "
                "FeatureInput, WideLinear or Embedding (input_kind = Sparse)");
  static_assert(sizeof...(Heads) >= 1, "ctrnet::Model needs at least one head");
  // The Head concept (heads/head.hpp) checks only `width()` and a static `name`. What the model
  // also calls, `loss(p, z, batch, normalizer, dz, double* loss)` (ACCUMULATES into dz, WRITES the
  // weighted loss into *loss, one double in the policy's memory)
  // in head_loss() and `predict(p, z, out)` in predict(), is checked only when those are instantiated.
  static_assert((Head<Heads> && ...),
                "ctrnet::Model: every head must be a head (width() and a static name; heads/head.hpp)");

 public:
  using value_type = T;
  using body_type = Body;
  static constexpr std::size_t num_heads = sizeof...(Heads);

  struct Cache {
    typename Body::template Cache<T> body;
    Matrix<T> logits;   // [rows, Σ widths]
    Matrix<T> dlogits;  // [rows, Σ widths]
    Buffer<double> losses;  // [num_heads]: each head's loss, in the policy's memory
  };

  BasicModel() = default;
  explicit BasicModel(Body body, Heads... heads) : body_(std::move(body)), heads_(std::move(heads)...) {}

  /// Declares every parameter for `schema`, allocates and initialises them from `seed`, in the
  /// thread's current memory space (the host unless a MemoryScope says otherwise).
  void build(const Schema& schema, std::uint64_t seed) {
    schema_ = schema;
    registry_ = ParamRegistry{};
    const index_t out = body_.build(schema_, registry_);
    index_t want = 0;
    std::apply([&](const auto&... h) { ((want += h.width()), ...); }, heads_);
    CTRNET_CHECK(out == want, "Model: the body outputs ", out, " columns but the heads read ", want);
    width_ = out;
    params_.initialize(registry_, seed);
    built_ = true;
  }

  /// build() with the parameters in the memory of policy `p` (core/memory.hpp).
  template <class P>
  void build(const P& p, const Schema& schema, std::uint64_t seed) {
    const PolicyScope scope(p);
    build(schema, seed);
  }

  bool built() const { return built_; }
  const Schema& schema() const { return schema_; }
  const ParamRegistry& registry() const { return registry_; }
  ModelParams<T>& params() { return params_; }
  const ModelParams<T>& params() const { return params_; }
  Weights<T> weights() const { return params_.weights(); }
  const Body& body() const { return body_; }
  Body& body() { return body_; }
  index_t output_width() const { return width_; }
  template <std::size_t I>
  const auto& head() const { return std::get<I>(heads_); }

  /// A gradient buffer shaped for this model, in the thread's current memory space.
  ModelGrads<T> make_grads() const {
    ModelGrads<T> g;
    g.allocate(registry_);
    return g;
  }

  /// Visits every dense parameter (name, value view) then every table (name, matrix).
  template <class F>
  void visit_params(F&& f) const {
    for (const auto& p : registry_.params()) f(p.name, params_.view(p.handle));
    for (const auto& t : registry_.tables()) f(t.name, params_.tables[static_cast<std::size_t>(t.handle.id)].cview());
  }

  /// Phase 1: body forward up to the logits (c.logits).
  template <class P>
  void forward(const P& p, const BatchView& b, Cache& c, const Context& ctx = {}) const {
    const PolicyScope scope(p);  // caches are allocated in the policy's memory
    c.logits.resize(b.size, width_);
    forward_into(p, b, c.logits.view(), c, ctx);
  }
  /// Phase 1 into the caller's `logits` ([b.size, output_width()], e.g. this shard's rows of a
  /// whole batch's logits). The view must stay alive until backward: the body's cache may keep it.
  template <class P>
  void forward_into(const P& p, const BatchView& b, MatrixView<T> logits, Cache& c, const Context& ctx = {}) const {
    check_built();
    const PolicyScope scope(p);
    CTRNET_CHECK(logits.rows == b.size && logits.cols == width_, "Model: logits view is [", logits.rows, ", ",
                 logits.cols, "], expected [", b.size, ", ", width_, "]");
    Context local = ctx;
    local.first_row = b.first_row;
    body_.forward(p, weights(), b, logits, c.body, local);
  }

  /// Phase 2: the heads' losses (into c.losses) and c.dlogits. Returns their sum copied back to the
  /// host, Σ_heads weight · Σ_r w_r ℓ_r / normalizer.
  template <class P>
  double head_loss(const P& p, const BatchView& b, Cache& c, double normalizer) const {
    const PolicyScope scope(p);
    c.dlogits.resize(b.size, width_);
    c.losses.resize(static_cast<index_t>(num_heads));
    head_loss_into(p, b, c.logits.cview(), c.dlogits.view(), normalizer, c.losses.data());
    return total_loss(c.losses);
  }
  /// Phase 2 over any rows, e.g. a whole batch whose shards wrote their logits into one matrix (so
  /// heads that couple rows see every row): dlogits (same shape as logits) is OVERWRITTEN, and head
  /// k writes its loss into losses[k] ([num_heads] doubles in the policy's memory). Nothing is read
  /// back: the caller copies the losses when it needs them (total_loss).
  template <class P>
  void head_loss_into(const P& p, const BatchView& b, ConstMatrixView<T> logits, MatrixView<T> dlogits,
                      double normalizer, double* losses) const {
    const PolicyScope scope(p);
    kernels::fill(p, T(0), dlogits);
    index_t col = 0;
    std::size_t k = 0;
    std::apply(
        [&](const auto&... h) {
          ((h.loss(p, logits.col_block(col, h.width()), b, normalizer, dlogits.col_block(col, h.width()), losses + k),
            col += h.width(), ++k),
           ...);
        },
        heads_);
  }
  /// The explicit copy back of the heads' losses (a [num_heads] buffer written by head_loss_into),
  /// summed in head order: the training loss.
  static double total_loss(const Buffer<double>& losses) {
    CTRNET_CHECK(losses.size() == static_cast<index_t>(num_heads), "Model::total_loss: ", losses.size(),
                 " losses for ", num_heads, " heads");
    std::array<double, num_heads> host{};
    losses.download(host.data());
    double total = 0.0;
    for (double l : host) total += l;  // host: the copied-back losses, one per head
    return total;
  }

  /// Checks on the host what the heads' loss kernels would check (GloVe counts, group weights) for a
  /// batch about to be staged into the memory of policy `p`: nothing for a host-accessible memory,
  /// where the CPU kernels check as they go, else each head's check_batch(host), so bad input is a
  /// ctrnet::Error before any kernel runs (like data/staging.hpp's validate_ids for the ids).
  template <class P>
  void check_batch(const P& p, const BatchView& host) const {
    if (memory_of(p).host_accessible()) return;
    std::apply(
        [&](const auto&... h) {
          (
              [&] {
                if constexpr (requires { h.check_batch(host); }) h.check_batch(host);
              }(),
              ...);
        },
        heads_);
  }

  /// Phase 3: body backward from c.dlogits; ACCUMULATES into `g`.
  template <class P>
  void backward(const P& p, Cache& c, ModelGrads<T>& g) const {
    backward_from(p, c, c.dlogits.cview(), g);
  }
  /// Phase 3 from the caller's d logits (this cache's rows); ACCUMULATES into `g`.
  template <class P>
  void backward_from(const P& p, Cache& c, ConstMatrixView<T> dlogits, ModelGrads<T>& g) const {
    const PolicyScope scope(p);
    body_.backward(p, weights(), c.body, dlogits, NoInputGrad{}, g.gradients());
  }

  /// All three phases for rows of `b`; `normalizer` is the total weight of the whole batch.
  template <class P>
  double forward_backward(const P& p, const BatchView& b, Cache& c, ModelGrads<T>& g, const Context& ctx,
                          double normalizer) const {
    forward(p, b, c, ctx);
    const double loss = head_loss(p, b, c, normalizer);
    backward(p, c, g);
    return loss;
  }

  /// Inference: every head's prediction (probability for BinaryHead), out: [rows, Σ widths].
  template <class P>
  void predict(const P& p, const BatchView& b, MatrixView<T> out, Cache& c) const {
    forward(p, b, c, Context{});
    index_t col = 0;
    std::apply(
        [&](const auto&... h) {
          ((h.predict(p, c.logits.cview().col_block(col, h.width()), out.col_block(col, h.width())),
            col += h.width()),
           ...);
        },
        heads_);
  }

 private:
  void check_built() const { CTRNET_CHECK(built_, "Model: call build(schema, seed) before using the model"); }

  Body body_;
  std::tuple<Heads...> heads_;
  Schema schema_;
  ParamRegistry registry_;
  ModelParams<T> params_;
  index_t width_ = 0;
  bool built_ = false;
};

/// A model with float parameters (the common case).
template <class Body, class... Heads>
using Model = BasicModel<float, Body, Heads...>;

}  // namespace ctrnet
