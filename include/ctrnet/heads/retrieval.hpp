// Objectives of two-tower retrieval models, over the similarity scores s_ij = s(u_i, v_j) of a
// batch of B (query, positive item) pairs:
//
// PointwiseBCE — sigmoid of the similarity as the relevance probability, binary cross-entropy on
//   labelled pairs:  ℓ_r = max(s_r, 0) − s_r y_r + log(1 + e^{−|s_r|}),  ∂ℓ_r/∂s_r = σ(s_r) − y_r.
//
// InBatchSoftmax — sampled softmax over the B×B matrix, the other positives of the batch being
//   the negatives, with the logQ correction of Yi et al., "Sampling-Bias-Corrected Neural
//   Modeling for Large Corpus Item Recommendations", RecSys 2019, eq. (3)-(4):
//     s^c_ij = s_ij − log p̂_j,   ℓ_i = −log( e^{s^c_ii} / Σ_{j ∉ M_i} e^{s^c_ij} ),
//   where p̂_j is the streaming estimate of the probability that item j appears in a batch
//   (FrequencyEstimator below, their Algorithm 2) and M_i masks accidental hits: columns j ≠ i
//   holding the same item as row i (they are positives, not negatives).
//
// MixedNegativeSoftmax — mixed negative sampling (Yang et al., "Mixed Negative Sampling for
//   Learning Two-tower Neural Networks in Recommendations", WWW 2020 Companion): the B in-batch
//   candidates plus B′ items drawn uniformly from the corpus of N items, softmax over B×(B+B′).
//   A column's item can come from either source, so the logQ correction uses the mixture: the
//   expected number of times item j is among the columns, p̂_j + B′/N (proportional to the
//   mixture probability (B q_unigram(j) + B′/N)/(B + B′)):  s^c_ij = s_ij − log(p̂_j + B′/N).
//   Accidental hits (a sampled or in-batch item equal to row i's positive) are masked.
//   Options::correct_sampled = false leaves the B′ sampled columns uncorrected (s^c_ij = s_ij for
//   the last B′ columns): the uniform negatives then push rare items down less, which raises catalogue coverage
//   (docs/two_tower.md, MovieLens).
//
// Every loss returns Σ_i scale·w_i·ℓ_i and ACCUMULATES ds += scale·w_i·∂ℓ_i/∂s (scale = 1 / total
// weight of the batch gives the mean); the softmax itself is kernels::sampled_softmax_loss.
//
// RetrievalHead (at the end) is one of these objectives as a Head (heads/head.hpp) of a two-tower
// model: it reads the rows [u | v] a TwoTower writes (compose/two_tower.hpp), scores them with the
// model's similarity over the whole batch and writes d[u | v], so the Trainer's three phases train
// a two-tower model like any other (compose/retrieval_model.hpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/kernels/loss.hpp"
#include "ctrnet/kernels/retrieval.hpp"
#include "ctrnet/policy/execution.hpp"

namespace ctrnet {

/// The objective a two-tower model is trained with.
enum class RetrievalObjective { pointwise, in_batch, mixed };

inline const char* to_string(RetrievalObjective o) {
  switch (o) {
    case RetrievalObjective::pointwise: return "pointwise";
    case RetrievalObjective::in_batch: return "in-batch";
    case RetrievalObjective::mixed: return "mixed";
  }
  return "?";
}
/// "pointwise", "in-batch" (or "in_batch", "inbatch"), "mixed".
inline RetrievalObjective parse_retrieval_objective(std::string_view s) {
  if (s == "pointwise") return RetrievalObjective::pointwise;
  if (s == "in-batch" || s == "in_batch" || s == "inbatch") return RetrievalObjective::in_batch;
  if (s == "mixed") return RetrievalObjective::mixed;
  detail::throw_error("unknown retrieval objective '", s, "'; expected pointwise, in-batch or mixed");
}

struct FrequencyEstimatorOptions {
  index_t buckets = index_t(1) << 20;  ///< H: size of the hashed arrays A and B
  double alpha = 0.05;                 ///< α: learning rate of the moving average of gaps
  std::uint64_t seed = 0;              ///< seed of the bucket hash
};

/// \brief Streaming item-frequency estimation (Yi et al., RecSys 2019, Algorithm 2).
/// Per hashed bucket h: A[h] = the step the item was last seen, B[h] = a moving average of the
/// gaps (in steps) between its occurrences. At step t, for each item y of the batch:
///   B[h(y)] ← (1 − α) B[h(y)] + α (t − A[h(y)]),   A[h(y)] ← t,
/// and p̂(y) = 1 / B[h(y)] estimates the probability that y appears in a batch. The first time a
/// bucket is seen its gap is initialised to the observed one, t + 1 (instead of averaging with an
/// arbitrary initial value). Duplicates within a batch are processed one after another, as in the
/// paper (a gap of 0 pulls B down). Steps count update() calls. The arithmetic is in kernels
/// (kernels::frequency_update, kernels::frequency_log_q); the buckets live in a MemorySpace (the
/// policy's: the trainer passes memory_of(policy)), the host reads them only through copies.
class FrequencyEstimator {
 public:
  FrequencyEstimator() : FrequencyEstimator(FrequencyEstimatorOptions{}) {}
  /// The buckets are allocated in `space` (default: the thread's current memory space).
  explicit FrequencyEstimator(FrequencyEstimatorOptions o, MemorySpace& space = current_memory()) : opt_(o) {
    CTRNET_CHECK(opt_.buckets > 0, "FrequencyEstimator: buckets must be positive, got ", opt_.buckets);
    CTRNET_CHECK(opt_.alpha > 0.0 && opt_.alpha <= 1.0, "FrequencyEstimator: alpha must be in (0, 1], got ",
                 opt_.alpha);
    last_.bind(space);
    gap_.bind(space);
    items_.bind(space);
    last_.assign(opt_.buckets, -1);
    gap_.assign_zero(opt_.buckets);
  }

  /// Records the items of one training step (the next step number). `items` are host ids, copied
  /// into the estimator's memory for the kernel.
  template <class P>
  void update(const P& p, std::span<const FeatureId> items) {
    const auto n = static_cast<index_t>(items.size());
    items_.upload(items.data(), n);
    kernels::frequency_update(p, items_.data(), n, step_, opt_.alpha, opt_.seed, opt_.buckets, last_.data(),
                              gap_.data());
    ++step_;
  }
  void update(std::span<const FeatureId> items) { update(cpu_scalar{}, items); }
  /// p̂(y) = 1 / B[h(y)] (capped at 1), 0 for an item never seen. One bucket copied back, for
  /// inspection; the losses read the buckets through kernels::frequency_log_q.
  double probability(FeatureId y) const {
    const auto h = static_cast<index_t>(kernels::frequency_bucket(opt_.seed, opt_.buckets, y));
    return kernels::frequency_probability(read_element(last_.space(), last_.data(), h),
                                          read_element(gap_.space(), gap_.data(), h));
  }
  /// The buckets (in the estimator's memory), for kernels::frequency_log_q.
  kernels::FrequencyBuckets buckets() const { return {last_.data(), gap_.data(), opt_.buckets, opt_.seed}; }
  std::int64_t steps() const { return step_; }
  const FrequencyEstimatorOptions& options() const { return opt_; }
  /// The state copied back to the host, for checkpoints (io/two_tower_checkpoint.hpp): A (the step
  /// each bucket was last seen, -1: never), B (the moving average of its gaps) and the step count.
  std::vector<std::int64_t> last_seen() const { return last_.to_host(); }
  std::vector<double> gaps() const { return gap_.to_host(); }
  /// Restores a state saved from last_seen(), gaps() and steps() of an estimator with the same
  /// options. Checked before anything is written: `buckets` values each, steps >= 0, every A in
  /// [-1, steps), every B finite and >= 0, and B = 0 for a bucket never seen.
  void restore(std::span<const std::int64_t> last, std::span<const double> gap, std::int64_t steps) {
    CTRNET_CHECK(static_cast<index_t>(last.size()) == opt_.buckets && static_cast<index_t>(gap.size()) == opt_.buckets,
                 "FrequencyEstimator::restore: ", last.size(), " last-seen steps and ", gap.size(), " gaps for ",
                 opt_.buckets, " buckets");
    CTRNET_CHECK(steps >= 0, "FrequencyEstimator::restore: negative step count ", steps);
    // host: a one-off validation of restored state (a checkpoint load), not a training-step loop
    for (std::size_t h = 0; h < last.size(); ++h) {
      CTRNET_CHECK(last[h] >= -1 && last[h] < steps, "FrequencyEstimator::restore: bucket ", h, " was last seen at step ",
                   last[h], ", outside [-1, ", steps, ")");
      CTRNET_CHECK(std::isfinite(gap[h]) && gap[h] >= 0.0 && (last[h] >= 0 || gap[h] == 0.0),
                   "FrequencyEstimator::restore: bucket ", h, " has gap ", gap[h], " (last seen at step ", last[h],
                   "); expected a finite value >= 0, and 0 for a bucket never seen");
    }
    last_.upload(last.data(), opt_.buckets);
    gap_.upload(gap.data(), opt_.buckets);
    step_ = steps;
  }

 private:
  FrequencyEstimatorOptions opt_;
  Buffer<std::int64_t> last_;  // [buckets]: A
  Buffer<double> gap_;         // [buckets]: B
  Buffer<FeatureId> items_;    // the step's items, copied in for the kernel
  std::int64_t step_ = 0;
};

/// \brief Masks of accidental hits for a softmax over `cols` columns with item ids `ids[0..cols)`
/// whose row i (< rows) has its positive in column i: row i masks every column j ≠ i with
/// ids[j] == ids[i]. Sorting once makes it O(cols log cols + hits). Built by the two passes
/// kernels::accidental_hit_offsets / accidental_hit_columns; the arrays are integer metadata of
/// the batch that kernels::sampled_softmax_loss applies to the scores. `ids` and the arrays are in
/// the policy's memory (the arrays are allocated in the thread's current space).
struct AccidentalHitMask {
  Buffer<index_t> offsets;  ///< [rows + 1]
  Buffer<index_t> cols;     ///< sorted per row
  // Workspaces, re-used: no allocation once they have seen the batch size.
  Buffer<index_t> order;
  Buffer<index_t> group_of;   // start of row i's group of equal ids in `order`, or -1
  Buffer<index_t> group_end;

  template <class P>
  void build(const P& p, std::span<const FeatureId> ids, index_t rows) {
    const index_t n = static_cast<index_t>(ids.size());
    CTRNET_CHECK(rows <= n, "accidental-hit mask: ", rows, " rows but only ", n, " columns");
    order.resize(n);
    group_of.resize(rows);
    group_end.resize(rows);
    offsets.resize(rows + 1);
    const index_t hits = kernels::accidental_hit_offsets(p, ids.data(), n, rows, order.data(), group_of.data(),
                                                         group_end.data(), offsets.data());
    // Grown geometrically, as push_back would: a batch with a few more hits than any before
    // does not reallocate each time.
    if (hits > cols.capacity()) cols.reserve(std::max(hits, 2 * cols.capacity()));
    cols.resize(hits);
    kernels::accidental_hit_columns(p, order.data(), group_of.data(), group_end.data(), offsets.data(), rows,
                                    cols.data());
  }
  void build(std::span<const FeatureId> ids, index_t rows) { build(cpu_scalar{}, ids, rows); }
  kernels::SoftmaxMask view() const { return {offsets.data(), cols.data()}; }
};

/// \brief Pointwise objective: σ(s) is the relevance probability of a labelled pair, trained
/// with binary cross-entropy. s, ds: [rows, 1]; labels in {0, 1}.
struct PointwiseBCE {
  static constexpr const char* name = "pointwise";
  template <class P, class T>
  void loss(const P& p, ConstMatrixView<T> s, const float* labels, const float* weights, double scale,
            MatrixView<T> ds, double* loss) const {
    CTRNET_CHECK(s.cols == 1, "PointwiseBCE: expected one score per pair, got ", s.cols, " columns");
    kernels::bce_with_logits(p, s, labels, weights, scale, ds, loss);
  }
};

/// \brief In-batch sampled softmax with logQ correction and accidental-hit masking.
class InBatchSoftmax {
 public:
  static constexpr const char* name = "in-batch";
  struct Options {
    bool logq_correction = true;
    bool mask_accidental_hits = true;
  };
  template <class T>
  struct Workspace {
    AccidentalHitMask mask;
    Buffer<T> log_q;
  };

  InBatchSoftmax() = default;
  explicit InBatchSoftmax(Options o) : opt_(o) {}
  const Options& options() const { return opt_; }

  /// s: [B, B], s(i, j) = s(u_i, v_j); ids: [B] item ids of the positives (in the policy's memory); freq: the estimator,
  /// already updated with this batch (required when logq_correction is on); ds: [B, B] (+=); the loss is written
  /// into *loss (the policy's memory).
  template <class P, class T>
  void loss(const P& p, ConstMatrixView<T> s, std::span<const FeatureId> ids, const FrequencyEstimator* freq,
            const float* weights, double scale, MatrixView<T> ds, Workspace<T>& ws, double* loss) const {
    CTRNET_CHECK(s.rows == s.cols && static_cast<index_t>(ids.size()) == s.cols, "InBatchSoftmax: expected a [B, B] "
                 "score matrix and B item ids, got [", s.rows, ", ", s.cols, "] and ", ids.size(), " ids");
    const T* lq = nullptr;
    if (opt_.logq_correction) {
      CTRNET_CHECK(freq != nullptr, "InBatchSoftmax: logQ correction needs a FrequencyEstimator");
      ws.log_q.resize(static_cast<index_t>(ids.size()));
      const index_t cols = static_cast<index_t>(ids.size());
      const index_t bad = kernels::frequency_log_q(p, freq->buckets(), ids.data(), cols, cols, 0.0, ws.log_q.data());
      CTRNET_CHECK(bad < 0, "InBatchSoftmax: item ", read_element(memory_of(p), ids.data(), bad), " has no frequency estimate; "
                   "update the estimator with the batch's items before computing the loss");
      lq = ws.log_q.data();
    }
    kernels::SoftmaxMask m;
    if (opt_.mask_accidental_hits) {
      ws.mask.build(p, ids, s.rows);
      m = ws.mask.view();
    }
    kernels::sampled_softmax_loss(p, s, lq, m, weights, scale, ds, loss);
  }

 private:
  Options opt_;
};

/// \brief Mixed negative sampling: in-batch negatives plus B′ uniformly sampled corpus items.
class MixedNegativeSoftmax {
 public:
  static constexpr const char* name = "mixed";
  struct Options {
    index_t negatives = 512;  ///< B′: corpus items drawn uniformly per batch
    bool logq_correction = true;
    bool mask_accidental_hits = true;
    /// logQ of the B′ sampled columns too (the mixture, Yang et al.); false: only the in-batch
    /// columns are corrected (by the same mixture q_j), the sampled ones keep their raw score.
    bool correct_sampled = true;
  };
  template <class T>
  using Workspace = InBatchSoftmax::Workspace<T>;

  MixedNegativeSoftmax() = default;
  explicit MixedNegativeSoftmax(Options o) : opt_(o) {
    CTRNET_CHECK(opt_.negatives >= 0, "MixedNegativeSoftmax: negatives (B') must be >= 0, got ", opt_.negatives);
  }
  const Options& options() const { return opt_; }

  /// B′ item rows drawn uniformly (with replacement) from a corpus of `corpus_size` items.
  void sample(Rng& rng, index_t corpus_size, std::vector<index_t>& out) const {
    CTRNET_CHECK(corpus_size > 0, "MixedNegativeSoftmax: the corpus is empty");
    out.resize(static_cast<std::size_t>(opt_.negatives));
    for (auto& r : out) r = static_cast<index_t>(rng.below(static_cast<std::uint64_t>(corpus_size)));
  }

  /// s: [B, B + B′] (the B in-batch columns first, then the B′ sampled ones); ids: [B + B′] the
  /// columns' item ids (in the policy's memory); freq: updated with the batch's positives (when logq_correction is on);
  /// corpus_size: N, the number of items the B′ were drawn from. ds: [B, B + B′] (+=); the loss is
  /// written into *loss (the policy's memory).
  template <class P, class T>
  void loss(const P& p, ConstMatrixView<T> s, std::span<const FeatureId> ids, const FrequencyEstimator* freq,
            index_t corpus_size, const float* weights, double scale, MatrixView<T> ds, Workspace<T>& ws,
            double* loss) const {
    CTRNET_CHECK(s.cols >= s.rows && static_cast<index_t>(ids.size()) == s.cols, "MixedNegativeSoftmax: expected a "
                 "[B, B + B'] score matrix and B + B' item ids, got [", s.rows, ", ", s.cols, "] and ", ids.size(),
                 " ids");
    CTRNET_CHECK(corpus_size > 0, "MixedNegativeSoftmax: corpus_size must be positive");
    const T* lq = nullptr;
    if (opt_.logq_correction) {
      CTRNET_CHECK(freq != nullptr, "MixedNegativeSoftmax: logQ correction needs a FrequencyEstimator");
      const double uniform = static_cast<double>(s.cols - s.rows) / static_cast<double>(corpus_size);
      ws.log_q.resize(static_cast<index_t>(ids.size()));
      // Without correct_sampled the B′ sampled columns keep their raw score (log_q = 0).
      const index_t corrected = opt_.correct_sampled ? s.cols : s.rows;
      const index_t bad = kernels::frequency_log_q(p, freq->buckets(), ids.data(), s.cols, corrected, uniform,
                                                   ws.log_q.data());
      CTRNET_CHECK(bad < 0, "MixedNegativeSoftmax: item ", read_element(memory_of(p), ids.data(), bad),
                   " has no frequency estimate and B' = 0");
      lq = ws.log_q.data();
    }
    kernels::SoftmaxMask m;
    if (opt_.mask_accidental_hits) {
      ws.mask.build(p, ids, s.rows);
      m = ws.mask.view();
    }
    kernels::sampled_softmax_loss(p, s, lq, m, weights, scale, ds, loss);
  }

 private:
  Options opt_;
};

/// \brief A retrieval objective as the Head of a two-tower model (see the header comment).
/// Input z: [rows, 2d], row r = [u_r | v_r]; rows [0, n) have a query (n = b.query_rows()), the
/// last m = b.items_only rows are item-only columns (the mixed objective's sampled items, u = 0).
///   pointwise: s_r = sim(u_r, v_r), BCE on b.labels;
///   in-batch:  S = sim(U, V): [n, n], InBatchSoftmax over the columns' items b.items;
///   mixed:     S = sim(U, V): [n, n + m], MixedNegativeSoftmax (corpus_size: set_corpus_size).
/// dz[:, 0, d) = dL/du (0 on item-only rows), dz[:, d, 2d) = dL/dv. The frequency estimator
/// (logQ) is the trainer's, updated with the batch's positives before the step.
template <class Sim, class T>
class RetrievalHead {
 public:
  static constexpr const char* name = "retrieval";
  struct Options {
    RetrievalObjective objective = RetrievalObjective::in_batch;
    InBatchSoftmax::Options in_batch{};
    MixedNegativeSoftmax::Options mixed{};
  };

  RetrievalHead() = default;
  /// `sim`: the model's similarity (kept by pointer: it must outlive the head); `dim`: the
  /// towers' output width d; `freq`: the estimator for logQ (may be null without logQ correction).
  RetrievalHead(const Sim& sim, index_t dim, Options o, const FrequencyEstimator* freq)
      : sim_(&sim), dim_(dim), opt_(o), freq_(freq), in_batch_(o.in_batch), mixed_(o.mixed) {
    CTRNET_CHECK(dim > 0, "RetrievalHead: the towers' width must be positive, got ", dim);
  }

  index_t width() const { return 2 * dim_; }
  index_t dim() const { return dim_; }
  const Options& options() const { return opt_; }
  /// N, the number of catalogue items the mixed objective's sampled items come from (its logQ).
  void set_corpus_size(index_t n) {
    CTRNET_CHECK(n > 0, "RetrievalHead: the corpus size must be positive, got ", n);
    corpus_size_ = n;
  }

  /// Host-side checks of a batch before it is staged into a device memory (Model::check_batch).
  void check_batch(const BatchView& host) const { check_shape(host); }

  /// Writes the objective's value (scale 1 / normalizer) into *loss and ACCUMULATES dz.
  template <class P>
  void loss(const P& p, ConstMatrixView<T> z, const BatchView& b, double normalizer, MatrixView<T> dz,
            double* loss) const {
    const PolicyScope scope(p);  // the workspaces live in the policy's memory
    check_shape(b);
    CTRNET_CHECK(z.rows == b.size && z.cols == 2 * dim_ && dz.rows == z.rows && dz.cols == z.cols,
                 "RetrievalHead: expected [", b.size, ", ", 2 * dim_, "] rows [u | v], got [", z.rows, ", ", z.cols, "]");
    const index_t n = b.query_rows(), m = b.items_only, d = dim_;
    const ConstMatrixView<T> u = z.col_block(0, d).row_block(0, n), v = z.col_block(d, d);
    const MatrixView<T> du = dz.col_block(0, d).row_block(0, n), dv = dz.col_block(d, d);
    const double scale = 1.0 / normalizer;
    if (opt_.objective == RetrievalObjective::pointwise) {
      s_.resize(n, 1);
      ds_.resize(n, 1, T(0));
      sim_->forward_pairs(p, u, v.row_block(0, n), s_.view(), sim_cache_);
      PointwiseBCE{}.loss(p, s_.cview(), b.labels, b.weights, scale, ds_.view(), loss);
      sim_->backward_pairs(p, sim_cache_, ds_.cview(), du, dv.row_block(0, n));
      return;
    }
    s_.resize(n, n + m);
    ds_.resize(n, n + m, T(0));
    const std::span<const FeatureId> ids(b.items, static_cast<std::size_t>(n + m));
    sim_->forward(p, u, v, s_.view(), sim_cache_);
    if (opt_.objective == RetrievalObjective::in_batch)
      in_batch_.loss(p, s_.cview(), ids, freq_, b.weights, scale, ds_.view(), ws_, loss);
    else
      mixed_.loss(p, s_.cview(), ids, freq_, corpus_size_, b.weights, scale, ds_.view(), ws_, loss);
    sim_->backward(p, sim_cache_, ds_.cview(), du, dv);
  }

 private:
  void check_shape(const BatchView& b) const {
    CTRNET_CHECK(sim_ != nullptr, "RetrievalHead: not attached to a model's similarity");
    CTRNET_CHECK(b.query_rows() > 0, "RetrievalHead: a batch of ", b.size, " rows without a query (",
                 b.items_only, " item-only rows)");
    if (opt_.objective == RetrievalObjective::pointwise) {
      CTRNET_CHECK(b.labels != nullptr, "RetrievalHead: the pointwise objective needs labelled pairs");
      CTRNET_CHECK(b.items_only == 0, "RetrievalHead: the pointwise objective scores pairs; the batch has ",
                   b.items_only, " item-only rows");
    } else {
      CTRNET_CHECK(b.items != nullptr, "RetrievalHead: the ", to_string(opt_.objective),
                   " objective needs the item id of every row (BatchView::items)");
      CTRNET_CHECK(b.items_only == 0 || opt_.objective == RetrievalObjective::mixed, "RetrievalHead: only the mixed ",
                   "objective takes item-only rows; the batch has ", b.items_only);
    }
  }

  const Sim* sim_ = nullptr;
  index_t dim_ = 0;
  Options opt_{};
  const FrequencyEstimator* freq_ = nullptr;
  InBatchSoftmax in_batch_{};
  MixedNegativeSoftmax mixed_{};
  index_t corpus_size_ = 1;
  // Workspaces of the step (the head runs once per step, over the whole batch).
  mutable Matrix<T> s_, ds_;
  mutable typename Sim::template Cache<T> sim_cache_{};
  mutable typename InBatchSoftmax::template Workspace<T> ws_{};
};

}  // namespace ctrnet
