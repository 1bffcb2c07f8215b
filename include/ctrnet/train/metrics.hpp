// Binary-classification metrics for CTR models: exact ROC AUC (ties get half credit), log loss
// and calibration, each with optional per-example weights, plus an accumulator that is filled
// batch by batch during evaluation (BinaryMetrics).
//
//   AUC         = sum_{p in pos, n in neg} w_p w_n ([s_p > s_n] + 0.5 [s_p == s_n]) / (W_pos W_neg)
//   log loss    = -(1/W) sum_i w_i (y_i ln p_i + (1 - y_i) ln(1 - p_i)),  p_i clipped to [eps, 1-eps]
//   calibration = (sum_i w_i p_i) / (sum_i w_i y_i)   (mean prediction / mean label)
//
// where W = sum_i w_i, W_pos = sum_{y_i = 1} w_i, W_neg = sum_{y_i = 0} w_i, and w_i = 1 when no
// weights are given.
#pragma once
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <iterator>
#include <ranges>
#include <span>
#include <type_traits>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/types.hpp"

namespace ctrnet {

namespace detail {

/// Weighted class totals of a validated (labels, weights) pair.
struct BinaryTotals {
  double weight = 0.0;      ///< W     = sum_i w_i
  double pos_weight = 0.0;  ///< W_pos = sum_i w_i y_i
};

/// \brief Checks the inputs shared by every metric and returns the weighted class totals.
///
/// `scores: [n]` (n > 0), `labels: [n]` with values in {0, 1}, `weights: [n]` or empty (all 1),
/// each weight finite and >= 0. Scores must not be NaN; with `probabilities` they must lie in
/// [0, 1]. A zero total weight is left to the caller (an accumulator may accept such a batch).
template <std::floating_point T>
inline BinaryTotals check_binary_inputs(const char* fn, std::span<const T> scores,
                                        std::span<const float> labels, std::span<const float> weights,
                                        bool probabilities) {
  CTRNET_CHECK(!scores.empty(), fn, ": empty input (no examples)");
  CTRNET_CHECK(scores.size() == labels.size(), fn, ": size mismatch: ", scores.size(), " scores but ",
               labels.size(), " labels");
  CTRNET_CHECK(weights.empty() || weights.size() == labels.size(), fn, ": size mismatch: ", weights.size(),
               " weights but ", labels.size(), " labels (pass no weights for unweighted)");
  BinaryTotals t;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const T s = scores[i];
    CTRNET_CHECK(!std::isnan(s), fn, ": example ", i, ": score is NaN");
    if (probabilities) {
      CTRNET_CHECK(s >= T(0) && s <= T(1), fn, ": example ", i, ": probability ", s,
                   " is outside [0, 1] (pass sigmoid outputs, not logits)");
    }
    const float y = labels[i];
    CTRNET_CHECK(y == 0.0f || y == 1.0f, fn, ": example ", i, " (0-based, of the ", labels.size(),
                 " passed): label ", y, " is not 0 or 1 (binary metrics; read the data with "
                 "ReaderOptions::labels = LabelCheck::binary to find the file and line)");
    const double w = weights.empty() ? 1.0 : static_cast<double>(weights[i]);
    CTRNET_CHECK(std::isfinite(w) && w >= 0.0, fn, ": example ", i, ": weight ", w,
                 " must be finite and >= 0");
    t.weight += w;
    if (y == 1.0f) t.pos_weight += w;
  }
  return t;
}

/// Scalar type of a contiguous range of floating-point scores (`std::vector<double>` -> double).
template <class R>
using score_value_t = std::remove_cv_t<std::ranges::range_value_t<R>>;

/// A contiguous range of float/double scores that is not already a `std::span<const T>`.
template <class R>
concept ScoreRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                     std::floating_point<score_value_t<R>> &&
                     !std::same_as<std::remove_cvref_t<R>, std::span<const score_value_t<R>>>;

template <ScoreRange R>
std::span<const score_value_t<R>> as_score_span(const R& r) {
  return {std::ranges::data(r), static_cast<std::size_t>(std::ranges::size(r))};
}

}  // namespace detail

/// \brief Exact (weighted) ROC AUC, O(n log n) by sorting; ties get half credit.
///
///   AUC = sum_{p: y=1} sum_{n: y=0} w_p w_n ([s_p > s_n] + 0.5 [s_p == s_n]) / (W_pos W_neg)
///
/// Unweighted this is the Mann-Whitney U statistic over n_pos n_neg (tied scores get their
/// average rank). Computed by sorting the scores ascending and walking groups of equal score:
/// a group with positive weight P_g and negative weight N_g adds P_g * (negative weight strictly
/// below the group) + 0.5 * P_g * N_g.
///
/// \tparam T score type (float or double); only the order of scores matters (logits work too).
/// \param scores  `[n]`, not NaN (+-inf allowed).
/// \param labels  `[n]`, each 0 or 1.
/// \param weights `[n]` finite, >= 0, or empty for unit weights.
/// \throws ctrnet::Error on empty input, size mismatch, NaN score, bad label or weight, or when
///         there are no positives or no negatives (with weight > 0): AUC is then undefined.
template <std::floating_point T>
double roc_auc(std::span<const T> scores, std::span<const float> labels,
               std::span<const float> weights = {}) {
  const detail::BinaryTotals t = detail::check_binary_inputs("roc_auc", scores, labels, weights, false);
  const double w_pos = t.pos_weight;
  const double w_neg = t.weight - t.pos_weight;
  CTRNET_CHECK(w_pos > 0.0, "roc_auc: no positive examples (label 1 with weight > 0); "
               "AUC is undefined with a single class");
  CTRNET_CHECK(w_neg > 0.0, "roc_auc: no negative examples (label 0 with weight > 0); "
               "AUC is undefined with a single class");

  struct Item {
    T score;
    float label;
    float weight;
  };
  std::vector<Item> items(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i)
    items[i] = {scores[i], labels[i], weights.empty() ? 1.0f : weights[i]};
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.score < b.score; });

  double credit = 0.0;     // sum over pairs of w_p w_n ([s_p > s_n] + 0.5 [tie])
  double neg_below = 0.0;  // negative weight with score strictly below the current group
  for (std::size_t g = 0; g < items.size();) {
    double pos_g = 0.0, neg_g = 0.0;
    std::size_t e = g;
    for (; e < items.size() && !(items[g].score < items[e].score); ++e) {
      if (items[e].label == 1.0f)
        pos_g += items[e].weight;
      else
        neg_g += items[e].weight;
    }
    credit += pos_g * (neg_below + 0.5 * neg_g);
    neg_below += neg_g;
    g = e;
  }
  return credit / (w_pos * w_neg);
}

/// Convenience overload for any contiguous range of float/double (e.g. `std::vector<double>`).
template <detail::ScoreRange R>
double roc_auc(const R& scores, std::span<const float> labels, std::span<const float> weights = {}) {
  return roc_auc(detail::as_score_span(scores), labels, weights);
}

/// \brief Mean (weighted) binary cross-entropy of predicted probabilities.
///
///   log loss = -(1/W) sum_i w_i (y_i ln p_i + (1 - y_i) ln(1 - p_i)),  p_i = clip(prob_i, eps, 1 - eps)
///
/// The clipping keeps the loss finite for predictions of exactly 0 or 1.
/// \tparam T probability type (float or double).
/// \param probs `[n]` in [0, 1] (sigmoid outputs, not logits). \param labels `[n]`, each 0 or 1.
/// \param weights `[n]` finite, >= 0, or empty. \param eps clipping bound, in (0, 0.5).
/// \throws ctrnet::Error on empty input, size mismatch, NaN or out-of-range probability, bad
///         label or weight, zero total weight, or bad eps.
template <std::floating_point T>
double log_loss(std::span<const T> probs, std::span<const float> labels, std::span<const float> weights = {},
                double eps = 1e-7) {
  CTRNET_CHECK(eps > 0.0 && eps < 0.5, "log_loss: eps ", eps, " must be in (0, 0.5)");
  const detail::BinaryTotals t = detail::check_binary_inputs("log_loss", probs, labels, weights, true);
  CTRNET_CHECK(t.weight > 0.0, "log_loss: total weight is 0 (every example has weight 0)");
  double sum = 0.0;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    const double p = std::clamp(static_cast<double>(probs[i]), eps, 1.0 - eps);
    const double w = weights.empty() ? 1.0 : static_cast<double>(weights[i]);
    sum -= w * (labels[i] == 1.0f ? std::log(p) : std::log1p(-p));
  }
  return sum / t.weight;
}

/// Convenience overload for any contiguous range of float/double (e.g. `std::vector<double>`).
template <detail::ScoreRange R>
double log_loss(const R& probs, std::span<const float> labels, std::span<const float> weights = {},
                double eps = 1e-7) {
  return log_loss(detail::as_score_span(probs), labels, weights, eps);
}

/// \brief Calibration: mean (weighted) prediction over mean (weighted) label.
///
///   calibration = (sum_i w_i p_i / W) / (sum_i w_i y_i / W) = sum_i w_i p_i / sum_i w_i y_i
///
/// 1 means the model predicts the observed click rate on average; > 1 over-predicts.
/// \param probs `[n]` in [0, 1]. \param labels `[n]`, each 0 or 1. \param weights `[n]` or empty.
/// \throws ctrnet::Error on bad input (as log_loss) or when the mean label is 0 (no positives).
template <std::floating_point T>
double calibration(std::span<const T> probs, std::span<const float> labels,
                   std::span<const float> weights = {}) {
  const detail::BinaryTotals t = detail::check_binary_inputs("calibration", probs, labels, weights, true);
  CTRNET_CHECK(t.pos_weight > 0.0, "calibration: mean label is 0 (no positive examples with weight > 0); "
               "calibration is undefined");
  double sum_wp = 0.0;
  for (std::size_t i = 0; i < probs.size(); ++i)
    sum_wp += (weights.empty() ? 1.0 : static_cast<double>(weights[i])) * static_cast<double>(probs[i]);
  return sum_wp / t.pos_weight;
}

/// Convenience overload for any contiguous range of float/double (e.g. `std::vector<double>`).
template <detail::ScoreRange R>
double calibration(const R& probs, std::span<const float> labels, std::span<const float> weights = {}) {
  return calibration(detail::as_score_span(probs), labels, weights);
}

/// \brief Accumulates predictions batch by batch and reports AUC, log loss and calibration.
///
/// Keeps every (probability, label, weight) so that auc() is exact; log loss and the means are
/// kept as running weighted sums. Each add() validates its whole batch before storing any of it,
/// so a rejected batch leaves the accumulator unchanged. Weights are optional per batch
/// (a batch without weights counts each example with weight 1).
class BinaryMetrics {
 public:
  /// \param eps clipping bound of log_loss(), in (0, 0.5).
  explicit BinaryMetrics(double eps = 1e-7) : eps_(eps) {
    CTRNET_CHECK(eps > 0.0 && eps < 0.5, "BinaryMetrics: eps ", eps, " must be in (0, 0.5)");
  }

  /// Appends one batch. `probs: [b]` in [0, 1], `labels: [b]` in {0, 1}, `weights: [b]` or empty.
  void add(std::span<const float> probs, std::span<const float> labels, std::span<const float> weights = {}) {
    const detail::BinaryTotals t = detail::check_binary_inputs("BinaryMetrics::add", probs, labels, weights, true);
    if (!weights.empty() && weights_.empty()) weights_.assign(probs_.size(), 1.0f);  // backfill unit weights
    double wp = 0.0, ll = 0.0;
    for (std::size_t i = 0; i < probs.size(); ++i) {
      const double w = weights.empty() ? 1.0 : static_cast<double>(weights[i]);
      const double p = static_cast<double>(probs[i]);
      const double pc = std::clamp(p, eps_, 1.0 - eps_);
      wp += w * p;
      ll -= w * (labels[i] == 1.0f ? std::log(pc) : std::log1p(-pc));
    }
    probs_.insert(probs_.end(), probs.begin(), probs.end());
    labels_.insert(labels_.end(), labels.begin(), labels.end());
    if (!weights.empty())
      weights_.insert(weights_.end(), weights.begin(), weights.end());
    else if (!weights_.empty())
      weights_.insert(weights_.end(), probs.size(), 1.0f);
    sum_w_ += t.weight;
    sum_wy_ += t.pos_weight;
    sum_wp_ += wp;
    sum_wll_ += ll;
  }

  /// Forgets every example (keeps eps and the allocated memory).
  void clear() {
    probs_.clear();
    labels_.clear();
    weights_.clear();
    sum_w_ = sum_wy_ = sum_wp_ = sum_wll_ = 0.0;
  }

  /// Number of examples added since construction or the last clear().
  index_t count() const { return static_cast<index_t>(probs_.size()); }

  /// Exact weighted ROC AUC of everything added (see roc_auc()).
  double auc() const { return roc_auc(std::span<const float>(probs_), labels_, weights_); }

  /// Mean weighted log loss with probabilities clipped to [eps, 1 - eps] (see ctrnet::log_loss()).
  double log_loss() const { return sum_wll_ / total_weight("log_loss"); }

  /// Mean weighted prediction over mean weighted label (see ctrnet::calibration()).
  double calibration() const {
    total_weight("calibration");
    CTRNET_CHECK(sum_wy_ > 0.0, "BinaryMetrics::calibration: mean label is 0 (no positive examples "
                 "with weight > 0); calibration is undefined");
    return sum_wp_ / sum_wy_;
  }

  /// Weighted mean label (the observed click rate): sum_i w_i y_i / W.
  double mean_label() const { return sum_wy_ / total_weight("mean_label"); }

  /// Weighted mean prediction: sum_i w_i p_i / W.
  double mean_prediction() const { return sum_wp_ / total_weight("mean_prediction"); }

 private:
  double total_weight(const char* fn) const {
    CTRNET_CHECK(!probs_.empty(), "BinaryMetrics::", fn, ": no examples added");
    CTRNET_CHECK(sum_w_ > 0.0, "BinaryMetrics::", fn, ": total weight is 0");
    return sum_w_;
  }

  double eps_;
  std::vector<float> probs_;
  std::vector<float> labels_;
  std::vector<float> weights_;  // empty while every batch so far was unweighted
  double sum_w_ = 0.0, sum_wy_ = 0.0, sum_wp_ = 0.0, sum_wll_ = 0.0;
};

}  // namespace ctrnet
