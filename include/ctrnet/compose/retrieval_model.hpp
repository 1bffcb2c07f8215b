// RetrievalModel<TwoTowerModel>: a TwoTower (compose/two_tower.hpp) as the body and its retrieval
// objective (heads/retrieval.hpp: RetrievalHead) as the one head, i.e. the Model contract of
// compose/model.hpp that the Trainer runs (train/trainer.hpp):
//   1. forward_into per shard:   row r → [u_r | v_r] (u = 0 on the batch's item-only rows)
//   2. head_loss_into, whole batch: S = sim(U, V), the objective, d[U | V]
//   3. backward_from per shard:  both towers backward into the shard's gradients
// It refers to the TwoTower, which keeps the parameters (so checkpoints, serving and model files
// stay those of the TwoTower), and owns the head. TwoTowerTrainer builds one.
#pragma once
#include <array>
#include <cstddef>

#include "ctrnet/compose/two_tower.hpp"
#include "ctrnet/heads/retrieval.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/policy/execution.hpp"

namespace ctrnet {

template <class TwoTowerModel>
class RetrievalModel {
 public:
  using value_type = typename TwoTowerModel::value_type;
  using T = value_type;
  using head_type = RetrievalHead<typename TwoTowerModel::similarity_type, T>;
  using Cache = typename TwoTowerModel::Cache;
  static constexpr std::size_t num_heads = 1;

  /// `model` must be built and outlive this object; `freq`: the estimator of the logQ correction.
  RetrievalModel(TwoTowerModel& model, typename head_type::Options o, const FrequencyEstimator* freq)
      : model_(&model), head_(model.similarity(), checked_dim(model), o, freq) {}

  TwoTowerModel& two_tower() { return *model_; }
  const TwoTowerModel& two_tower() const { return *model_; }
  head_type& head() { return head_; }
  const head_type& head() const { return head_; }

  bool built() const { return model_->built(); }
  const Schema& schema() const { return model_->schema(); }
  const ParamRegistry& registry() const { return model_->registry(); }
  ModelParams<T>& params() { return model_->params(); }
  const ModelParams<T>& params() const { return model_->params(); }
  Weights<T> weights() const { return model_->weights(); }
  ModelGrads<T> make_grads() const { return model_->make_grads(); }
  index_t output_width() const { return model_->output_width(); }

  /// Phase 1 (compose/model.hpp): [u | v] of the rows of `b`.
  template <class P>
  void forward_into(const P& p, const BatchView& b, MatrixView<T> out, Cache& c, const Context& ctx = {}) const {
    model_->forward_into(p, b, out, c, ctx);
  }
  /// Phase 2 over the whole batch: dlogits is OVERWRITTEN, the loss written into losses[0].
  template <class P>
  void head_loss_into(const P& p, const BatchView& b, ConstMatrixView<T> logits, MatrixView<T> dlogits,
                      double normalizer, double* losses) const {
    const PolicyScope scope(p);
    kernels::fill(p, T(0), dlogits);
    head_.loss(p, logits, b, normalizer, dlogits, losses);
  }
  /// The explicit copy back of the loss written by head_loss_into.
  static double total_loss(const Buffer<double>& losses) {
    CTRNET_CHECK(losses.size() == 1, "RetrievalModel::total_loss: ", losses.size(), " losses for one head");
    std::array<double, 1> host{};
    losses.download(host.data());
    return host[0];
  }
  /// The head's checks, on the host, of a batch about to be staged into a device memory.
  template <class P>
  void check_batch(const P& p, const BatchView& host) const {
    if (memory_of(p).host_accessible()) return;  // the head checks the batch as it reads it
    head_.check_batch(host);
  }
  /// Phase 3: both towers backward; ACCUMULATES into g.
  template <class P>
  void backward_from(const P& p, Cache& c, ConstMatrixView<T> dlogits, ModelGrads<T>& g) const {
    model_->backward_from(p, c, dlogits, g);
  }

 private:
  static index_t checked_dim(const TwoTowerModel& m) {
    CTRNET_CHECK(m.built(), "RetrievalModel: build the two-tower model first");
    return m.dim();
  }

  TwoTowerModel* model_;
  head_type head_;
};

}  // namespace ctrnet
