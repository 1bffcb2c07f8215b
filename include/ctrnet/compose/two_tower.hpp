// TwoTower<QueryTower, CandidateTower, Similarity>: the dual-encoder retrieval model
// (Covington et al. 2016; Yi et al., RecSys 2019):
//   u = QueryTower(query fields),  v = CandidateTower(candidate fields),  s(u, v) = Similarity(u, v)
// It owns the parameters of both towers (one flat dense buffer; embedding tables, shared between
// the towers when their fields name the same table) and the similarity. The two towers run on
// the same BatchView, each reading only its own fields, so one row holds one (query, item) pair;
// a catalogue batch only needs the candidate fields filled.
//
// Training: a TwoTower is the body of a RetrievalModel (compose/retrieval_model.hpp), whose head is
// the retrieval objective (heads/retrieval.hpp: RetrievalHead), and the ordinary Trainer runs its
// three phases (train/trainer.hpp): forward_into per shard writes each row's [u | v] (2·dim()
// columns; u = 0 on a batch's item-only rows, BatchView::items_only), the head scores and couples
// the whole batch, backward_from per shard. TwoTowerTrainer (train/two_tower_trainer.hpp) feeds it
// pairs and negatives. Serving: encode_queries / encode_candidates give vectors whose dot product
// is the model's similarity (serve/item_index.hpp).
#pragma once
#include <cstdint>
#include <string>

#include "ctrnet/compose/tower.hpp"
#include "ctrnet/core/layer.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/layers/similarity.hpp"
#include "ctrnet/policy/execution.hpp"

namespace ctrnet {

/// \brief Query tower + candidate tower + similarity, with their parameters.
/// \tparam T parameter type (float; double for gradient checks).
template <class QueryTower, class CandidateTower, class Sim = DotSimilarity, class T = float>
class TwoTower {
  static_assert(SparseLayer<QueryTower>, "ctrnet::TwoTower: the query tower must read the batch (e.g. Tower<MLP>)");
  static_assert(SparseLayer<CandidateTower>,
                "ctrnet::TwoTower: the candidate tower must read the batch (e.g. Tower<MLP>)");
  static_assert(Similarity<Sim>, "ctrnet::TwoTower: Sim must be a similarity (DotSimilarity, CosineSimilarity)");

 public:
  using value_type = T;
  using query_tower_type = QueryTower;
  using candidate_tower_type = CandidateTower;
  using similarity_type = Sim;
  using QueryCache = typename QueryTower::template Cache<T>;
  using CandidateCache = typename CandidateTower::template Cache<T>;
  using SimilarityCache = typename Sim::template Cache<T>;
  /// The caches of one shard's rows in training (forward_into / backward_from).
  struct Cache {
    QueryCache query;
    CandidateCache candidate;
    BatchView query_rows;  // the rows with a query (BatchView::query_rows)
  };

  TwoTower() = default;
  TwoTower(QueryTower q, CandidateTower c, Sim s = {}) : query_(std::move(q)), candidate_(std::move(c)), sim_(std::move(s)) {}

  /// Declares both towers' parameters for `schema`, allocates and initialises them from `seed`.
  void build(const Schema& schema, std::uint64_t seed) {
    schema_ = schema;
    registry_ = ParamRegistry{};
    const index_t dq = query_.build(schema_, registry_);
    const index_t dc = candidate_.build(schema_, registry_);
    CTRNET_CHECK(dq == dc, "TwoTower: the query tower outputs ", dq, " columns but the candidate tower outputs ", dc,
                 "; both embeddings must have the same width");
    dim_ = dq;
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
  index_t dim() const { return dim_; }
  const Schema& schema() const { return schema_; }
  const ParamRegistry& registry() const { return registry_; }
  ModelParams<T>& params() { return params_; }
  const ModelParams<T>& params() const { return params_; }
  Weights<T> weights() const { return params_.weights(); }
  const QueryTower& query_tower() const { return query_; }
  const CandidateTower& candidate_tower() const { return candidate_; }
  const Sim& similarity() const { return sim_; }
  Sim& similarity() { return sim_; }

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

  /// u = QueryTower(b).  out: [b.size, dim()].
  template <class P>
  void forward_query(const P& p, const BatchView& b, MatrixView<T> out, QueryCache& c, const Context& ctx = {}) const {
    const PolicyScope scope(p);  // caches live in the policy's memory
    check_out(b, out);
    query_.forward(p, weights(), b, out, c, local(ctx, b));
  }
  /// Accumulates the query tower's gradients from du: [rows, dim()] into g.
  template <class P>
  void backward_query(const P& p, QueryCache& c, ConstMatrixView<T> du, ModelGrads<T>& g) const {
    const PolicyScope scope(p);  // caches live in the policy's memory
    query_.backward(p, weights(), c, du, NoInputGrad{}, g.gradients());
  }
  /// v = CandidateTower(b).  out: [b.size, dim()].
  template <class P>
  void forward_candidate(const P& p, const BatchView& b, MatrixView<T> out, CandidateCache& c,
                         const Context& ctx = {}) const {
    const PolicyScope scope(p);  // caches live in the policy's memory
    check_out(b, out);
    candidate_.forward(p, weights(), b, out, c, local(ctx, b));
  }
  template <class P>
  void backward_candidate(const P& p, CandidateCache& c, ConstMatrixView<T> dv, ModelGrads<T>& g) const {
    const PolicyScope scope(p);  // caches live in the policy's memory
    candidate_.backward(p, weights(), c, dv, NoInputGrad{}, g.gradients());
  }

  /// The width of a training row's output [u | v]: 2 · dim().
  index_t output_width() const { return 2 * dim_; }
  /// Training forward over rows of `b`: out[:, 0, d) = u = QueryTower(b) on the rows with a query
  /// and 0 on the item-only rows (b.items_only), out[:, d, 2d) = v = CandidateTower(b) on every row.
  /// out: [b.size, output_width()]; it must stay alive until backward_from (the caches keep it).
  template <class P>
  void forward_into(const P& p, const BatchView& b, MatrixView<T> out, Cache& c, const Context& ctx = {}) const {
    const PolicyScope scope(p);  // caches live in the policy's memory
    CTRNET_CHECK(built_, "TwoTower: call build(schema, seed) before using the model");
    CTRNET_CHECK(out.rows == b.size && out.cols == 2 * dim_, "TwoTower: output view is [", out.rows, ", ", out.cols,
                 "], expected [", b.size, ", ", 2 * dim_, "]");
    const index_t nq = b.query_rows();
    b.rows(0, nq, c.query_rows);
    if (nq > 0) forward_query(p, c.query_rows, out.col_block(0, dim_).row_block(0, nq), c.query, ctx);
    if (b.items_only > 0) kernels::fill(p, T(0), out.col_block(0, dim_).row_block(nq, b.items_only));
    forward_candidate(p, b, out.col_block(dim_, dim_), c.candidate, ctx);
  }
  /// Training backward from d[u | v] (the rows of the cache's forward_into); ACCUMULATES into g.
  template <class P>
  void backward_from(const P& p, Cache& c, ConstMatrixView<T> dout, ModelGrads<T>& g) const {
    const index_t nq = c.query_rows.size;
    if (nq > 0) backward_query(p, c.query, dout.col_block(0, dim_).row_block(0, nq), g);
    backward_candidate(p, c.candidate, dout.col_block(dim_, dim_), g);
  }

  /// Serving vectors of queries: their dot product with encode_candidates' is the similarity.
  template <class P>
  void encode_queries(const P& p, const BatchView& b, MatrixView<T> out, QueryCache& c) const {
    forward_query(p, b, out, c);
    sim_.encode_query(p, ConstMatrixView<T>(out), out);
  }
  template <class P>
  void encode_candidates(const P& p, const BatchView& b, MatrixView<T> out, CandidateCache& c) const {
    forward_candidate(p, b, out, c);
    sim_.encode_candidate(p, ConstMatrixView<T>(out), out);
  }

 private:
  void check_out(const BatchView& b, MatrixView<T> out) const {
    CTRNET_CHECK(built_, "TwoTower: call build(schema, seed) before using the model");
    CTRNET_CHECK(out.rows == b.size && out.cols == dim_, "TwoTower: output view is [", out.rows, ", ", out.cols,
                 "], expected [", b.size, ", ", dim_, "]");
  }
  static Context local(const Context& ctx, const BatchView& b) {
    Context l = ctx;
    l.first_row = b.first_row;
    return l;
  }

  QueryTower query_;
  CandidateTower candidate_;
  Sim sim_;
  Schema schema_;
  ParamRegistry registry_;
  ModelParams<T> params_;
  index_t dim_ = 0;
  bool built_ = false;
};

}  // namespace ctrnet
