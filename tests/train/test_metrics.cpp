// Tests for ctrnet/train/metrics.hpp: ROC AUC (ties, weights, brute force), log loss,
// calibration, the BinaryMetrics accumulator and the errors raised for bad input.
#include "ctrnet/train/metrics.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <span>
#include <vector>

using ctrnet::BinaryMetrics;
using ctrnet::Error;
using ctrnet::index_t;
using FVec = std::vector<float>;
using DVec = std::vector<double>;

namespace {

// O(n^2) reference: sum over (pos, neg) pairs of w_p w_n ([s_p > s_n] + 0.5 [s_p == s_n]) / (W_pos W_neg).
double brute_force_auc(const DVec& s, const FVec& y, const FVec& w) {
  double credit = 0.0, w_pos = 0.0, w_neg = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) (y[i] == 1.0f ? w_pos : w_neg) += w[i];
  for (std::size_t p = 0; p < s.size(); ++p) {
    if (y[p] != 1.0f) continue;
    for (std::size_t n = 0; n < s.size(); ++n) {
      if (y[n] != 0.0f) continue;
      const double pair = double(w[p]) * double(w[n]);
      if (s[p] > s[n]) credit += pair;
      else if (s[p] == s[n]) credit += 0.5 * pair;
    }
  }
  return credit / (w_pos * w_neg);
}

// Random data set with many ties: scores rounded to one decimal, labels ~ Bernoulli(score).
struct Data {
  DVec scores;
  FVec labels;
};
Data random_tied_data(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Data d;
  for (std::size_t i = 0; i < n; ++i) {
    const double s = std::round(u(rng) * 10.0) / 10.0;
    d.scores.push_back(s);
    d.labels.push_back(u(rng) < 0.2 + 0.6 * s ? 1.0f : 0.0f);
  }
  return d;
}

}  // namespace

TEST_CASE("roc_auc of perfect, reversed and all-tied rankings is 1, 0 and 0.5", "[metrics][auc]") {
  const FVec y{0, 0, 1, 0, 1, 1};
  const DVec perfect{0.1, 0.2, 0.7, 0.3, 0.8, 0.9};
  const DVec reversed{0.9, 0.8, 0.3, 0.7, 0.2, 0.1};
  const DVec tied(6, 0.42);
  CHECK(ctrnet::roc_auc(perfect, y) == Approx(1.0).epsilon(1e-15));
  CHECK(ctrnet::roc_auc(reversed, y) == Approx(0.0).margin(1e-15));
  CHECK(ctrnet::roc_auc(tied, y) == Approx(0.5).epsilon(1e-15));
}

TEST_CASE("roc_auc matches hand-worked small cases with and without cross-class ties", "[metrics][auc]") {
  // Positives 0.35, 0.8; negatives 0.1, 0.4.
  // 0.35 beats 0.1 only (1 of 2), 0.8 beats both (2 of 2): (1 + 2) / (2 * 2) = 0.75.
  CHECK(ctrnet::roc_auc(DVec{0.1, 0.4, 0.35, 0.8}, FVec{0, 0, 1, 1}) == Approx(0.75).epsilon(1e-15));

  // Positives 0.5, 0.9; negatives 0.2, 0.5, 0.1.
  // 0.5 vs {0.2, 0.5, 0.1}: 1 + 0.5 (tie) + 1 = 2.5; 0.9 vs all three: 3.
  // AUC = (2.5 + 3) / (2 * 3) = 5.5 / 6 = 11/12.
  const DVec s{0.2, 0.5, 0.5, 0.9, 0.1};
  const FVec y{0, 1, 0, 1, 0};
  CHECK(ctrnet::roc_auc(s, y) == Approx(11.0 / 12.0).epsilon(1e-15));

  // A tie group with one positive and two negatives: positives 0.3, 0.7; negatives 0.3, 0.3.
  // 0.3 vs {0.3, 0.3}: 0.5 + 0.5 = 1; 0.7 vs both: 2. AUC = 3 / 4.
  CHECK(ctrnet::roc_auc(DVec{0.3, 0.3, 0.3, 0.7}, FVec{1, 0, 0, 1}) == Approx(0.75).epsilon(1e-15));

  // Weighted by hand: same scores as the 11/12 case, weights {2, 3, 1, 1, 4}.
  // W_pos = 3 + 1 = 4, W_neg = 2 + 1 + 4 = 7.
  // pos 0.5 (w 3): vs 0.2 (w 2) 3*2 = 6, vs 0.5 (w 1) tie 0.5*3*1 = 1.5, vs 0.1 (w 4) 3*4 = 12 -> 19.5
  // pos 0.9 (w 1): 1 * 7 = 7. AUC = 26.5 / 28.
  const FVec w{2, 3, 1, 1, 4};
  CHECK(ctrnet::roc_auc(s, y, w) == Approx(26.5 / 28.0).epsilon(1e-15));
}

TEST_CASE("roc_auc depends only on the order: logits, infinities and float scores agree", "[metrics][auc]") {
  const Data d = random_tied_data(300, 7);
  const double auc = ctrnet::roc_auc(d.scores, d.labels);
  DVec logits;
  FVec as_float;
  for (double s : d.scores) {
    logits.push_back(s <= 0.0 ? -std::numeric_limits<double>::infinity()
                     : s >= 1.0 ? std::numeric_limits<double>::infinity()
                                : std::log(s / (1.0 - s)));
    as_float.push_back(static_cast<float>(s));
  }
  CHECK(ctrnet::roc_auc(logits, d.labels) == Approx(auc).epsilon(1e-14));
  CHECK(ctrnet::roc_auc(std::span<const float>(as_float), d.labels) == Approx(auc).epsilon(1e-14));
  CHECK(ctrnet::roc_auc(as_float, d.labels) == Approx(auc).epsilon(1e-14));
}

TEST_CASE("roc_auc agrees with an O(n^2) pair count on 500 examples with many ties", "[metrics][auc]") {
  for (unsigned seed : {1u, 2u, 3u}) {
    const Data d = random_tied_data(500, seed);
    const FVec ones(d.scores.size(), 1.0f);
    CHECK(ctrnet::roc_auc(d.scores, d.labels) == Approx(brute_force_auc(d.scores, d.labels, ones)).epsilon(1e-12));

    // Non-integer weights, some of them 0.
    std::mt19937 rng(seed + 100);
    std::uniform_real_distribution<float> u(0.0f, 2.0f);
    FVec w;
    for (std::size_t i = 0; i < d.scores.size(); ++i) w.push_back(i % 17 == 0 ? 0.0f : u(rng));
    CHECK(ctrnet::roc_auc(d.scores, d.labels, w) ==
          Approx(brute_force_auc(d.scores, d.labels, w)).epsilon(1e-12));
  }
}

TEST_CASE("weighted roc_auc equals the AUC of the data set duplicated by integer weights", "[metrics][auc]") {
  const Data d = random_tied_data(200, 11);
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> k(0, 3);
  FVec w;
  DVec dup_s;
  FVec dup_y;
  for (std::size_t i = 0; i < d.scores.size(); ++i) {
    const int c = k(rng);
    w.push_back(static_cast<float>(c));
    for (int j = 0; j < c; ++j) {
      dup_s.push_back(d.scores[i]);
      dup_y.push_back(d.labels[i]);
    }
  }
  CHECK(ctrnet::roc_auc(d.scores, d.labels, w) == Approx(ctrnet::roc_auc(dup_s, dup_y)).epsilon(1e-13));
  // Unit weights are the same as no weights.
  const FVec ones(d.scores.size(), 1.0f);
  CHECK(ctrnet::roc_auc(d.scores, d.labels, ones) == Approx(ctrnet::roc_auc(d.scores, d.labels)).epsilon(1e-15));
}

TEST_CASE("log_loss matches hand-computed values and stays finite at 0 and 1", "[metrics][logloss]") {
  // p = 0.8, y = 1 -> -ln 0.8; p = 0.3, y = 0 -> -ln 0.7.
  const double expected = (-std::log(0.8) - std::log(0.7)) / 2.0;
  CHECK(ctrnet::log_loss(DVec{0.8, 0.3}, FVec{1, 0}) == Approx(expected).epsilon(1e-14));
  // Float probabilities: 0.8f, 0.3f differ from 0.8, 0.3 by ~1e-8 relative.
  CHECK(ctrnet::log_loss(FVec{0.8f, 0.3f}, FVec{1, 0}) == Approx(expected).epsilon(1e-6));

  // Weighted: weights {3, 1} -> (3 (-ln 0.8) + 1 (-ln 0.7)) / 4.
  CHECK(ctrnet::log_loss(DVec{0.8, 0.3}, FVec{1, 0}, FVec{3, 1}) ==
        Approx((-3.0 * std::log(0.8) - std::log(0.7)) / 4.0).epsilon(1e-14));

  // Clipping: a confident wrong prediction costs -ln(eps), a confident right one ~eps.
  const double eps = 1e-7;
  const double wrong = ctrnet::log_loss(DVec{0.0, 1.0}, FVec{1, 0});
  CHECK(std::isfinite(wrong));
  CHECK(wrong == Approx(-std::log(eps)).epsilon(1e-8));
  const double right = ctrnet::log_loss(DVec{1.0, 0.0}, FVec{1, 0});
  CHECK(std::isfinite(right));
  CHECK(right == Approx(eps).epsilon(1e-6));
  // A custom eps.
  CHECK(ctrnet::log_loss(DVec{0.0}, FVec{1}, {}, 1e-3) == Approx(-std::log(1e-3)).epsilon(1e-12));
}

TEST_CASE("calibration is mean prediction over mean label", "[metrics][calibration]") {
  // Mean prediction (0.2 + 0.4 + 0.6) / 3 = 0.4, mean label 1/3 -> 1.2.
  CHECK(ctrnet::calibration(DVec{0.2, 0.4, 0.6}, FVec{0, 1, 0}) == Approx(1.2).epsilon(1e-14));
  // Weights {1, 2, 1}: sum w p = 0.2 + 0.8 + 0.6 = 1.6, sum w y = 2 -> 0.8.
  CHECK(ctrnet::calibration(DVec{0.2, 0.4, 0.6}, FVec{0, 1, 0}, FVec{1, 2, 1}) == Approx(0.8).epsilon(1e-14));
  CHECK(ctrnet::calibration(FVec{0.5f, 0.5f}, FVec{1, 0}) == Approx(1.0).epsilon(1e-15));
}

TEST_CASE("metrics reject bad input with ctrnet::Error", "[metrics][errors]") {
  const DVec empty_s;
  const FVec empty_y;
  CHECK_THROWS_AS(ctrnet::roc_auc(empty_s, empty_y), Error);
  CHECK_THROWS_AS(ctrnet::log_loss(empty_s, empty_y), Error);
  CHECK_THROWS_AS(ctrnet::calibration(empty_s, empty_y), Error);
  CHECK_THROWS_WITH(ctrnet::roc_auc(empty_s, empty_y), Catch::Contains("empty"));

  // Size mismatch: scores vs labels, weights vs labels.
  CHECK_THROWS_WITH(ctrnet::roc_auc(DVec{0.1, 0.2}, FVec{0, 1, 1}), Catch::Contains("size mismatch"));
  CHECK_THROWS_WITH(ctrnet::roc_auc(DVec{0.1, 0.2}, FVec{0, 1}, FVec{1}), Catch::Contains("size mismatch"));
  CHECK_THROWS_AS(ctrnet::log_loss(DVec{0.1, 0.2}, FVec{0}), Error);
  CHECK_THROWS_AS(ctrnet::calibration(DVec{0.1}, FVec{1}, FVec{1, 1}), Error);

  // Single class: the message says which class is missing.
  CHECK_THROWS_WITH(ctrnet::roc_auc(DVec{0.1, 0.2}, FVec{0, 0}), Catch::Contains("no positive"));
  CHECK_THROWS_WITH(ctrnet::roc_auc(DVec{0.1, 0.2}, FVec{1, 1}), Catch::Contains("no negative"));
  // A class present only with weight 0 counts as missing.
  CHECK_THROWS_WITH(ctrnet::roc_auc(DVec{0.1, 0.2}, FVec{0, 1}, FVec{1, 0}), Catch::Contains("no positive"));

  // NaN scores.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(ctrnet::roc_auc(DVec{0.1, nan}, FVec{0, 1}), Catch::Contains("NaN"));
  CHECK_THROWS_AS(ctrnet::roc_auc(FVec{0.1f, std::numeric_limits<float>::quiet_NaN()}, FVec{0, 1}), Error);
  CHECK_THROWS_AS(ctrnet::log_loss(DVec{nan}, FVec{1}), Error);
  CHECK_THROWS_AS(ctrnet::calibration(DVec{nan}, FVec{1}), Error);

  // Labels outside {0, 1}.
  CHECK_THROWS_WITH(ctrnet::roc_auc(DVec{0.1, 0.2}, FVec{0, 2}), Catch::Contains("label 2"));
  CHECK_THROWS_AS(ctrnet::log_loss(DVec{0.1, 0.2}, FVec{0, 0.5f}), Error);
  CHECK_THROWS_AS(ctrnet::calibration(DVec{0.1, 0.2}, FVec{-1, 1}), Error);

  // Bad weights, probabilities outside [0, 1], bad eps, zero mean label.
  CHECK_THROWS_AS(ctrnet::roc_auc(DVec{0.1, 0.2}, FVec{0, 1}, FVec{1, -1}), Error);
  CHECK_THROWS_AS(ctrnet::roc_auc(DVec{0.1, 0.2}, FVec{0, 1}, FVec{1, std::numeric_limits<float>::infinity()}),
                  Error);
  CHECK_THROWS_AS(ctrnet::log_loss(DVec{0.1, 0.2}, FVec{0, 1}, FVec{0, 0}), Error);
  CHECK_THROWS_WITH(ctrnet::log_loss(DVec{1.5}, FVec{1}), Catch::Contains("[0, 1]"));
  CHECK_THROWS_AS(ctrnet::log_loss(DVec{-0.1}, FVec{0}), Error);
  CHECK_THROWS_AS(ctrnet::log_loss(DVec{0.5}, FVec{0}, {}, 0.0), Error);
  CHECK_THROWS_WITH(ctrnet::calibration(DVec{0.1, 0.2}, FVec{0, 0}), Catch::Contains("mean label is 0"));
}

TEST_CASE("BinaryMetrics filled batch by batch matches the one-shot metrics", "[metrics][accumulator]") {
  const Data d = random_tied_data(500, 21);
  FVec p(d.scores.begin(), d.scores.end());
  for (float& x : p) x = 0.05f + 0.9f * x;  // keep probabilities off 0 and 1
  std::mt19937 rng(22);
  std::uniform_real_distribution<float> u(0.1f, 3.0f);
  FVec w;
  for (std::size_t i = 0; i < p.size(); ++i) w.push_back(u(rng));

  SECTION("unweighted") {
    BinaryMetrics m;
    for (std::size_t b = 0; b < p.size(); b += 64) {
      const std::size_t n = std::min<std::size_t>(64, p.size() - b);
      m.add(std::span<const float>(p).subspan(b, n), std::span<const float>(d.labels).subspan(b, n));
    }
    CHECK(m.count() == static_cast<index_t>(p.size()));
    CHECK(m.auc() == Approx(ctrnet::roc_auc(p, d.labels)).epsilon(1e-14));
    CHECK(m.log_loss() == Approx(ctrnet::log_loss(p, d.labels)).epsilon(1e-12));
    CHECK(m.calibration() == Approx(ctrnet::calibration(p, d.labels)).epsilon(1e-12));
    double sy = 0.0, sp = 0.0;
    for (std::size_t i = 0; i < p.size(); ++i) {
      sy += d.labels[i];
      sp += p[i];
    }
    CHECK(m.mean_label() == Approx(sy / double(p.size())).epsilon(1e-12));
    CHECK(m.mean_prediction() == Approx(sp / double(p.size())).epsilon(1e-12));
  }

  SECTION("weighted, with an unweighted first batch backfilled with unit weights") {
    // The first batch has no weights: equivalent to weights of 1 for those examples.
    FVec w_eff = w;
    for (std::size_t i = 0; i < 100; ++i) w_eff[i] = 1.0f;
    BinaryMetrics m;
    const std::span<const float> ps(p), ys(d.labels), ws(w);
    m.add(ps.subspan(0, 100), ys.subspan(0, 100));
    m.add(ps.subspan(100, 250), ys.subspan(100, 250), ws.subspan(100, 250));
    m.add(ps.subspan(350), ys.subspan(350), ws.subspan(350));
    CHECK(m.count() == 500);
    CHECK(m.auc() == Approx(ctrnet::roc_auc(p, d.labels, w_eff)).epsilon(1e-14));
    CHECK(m.log_loss() == Approx(ctrnet::log_loss(p, d.labels, w_eff)).epsilon(1e-12));
    CHECK(m.calibration() == Approx(ctrnet::calibration(p, d.labels, w_eff)).epsilon(1e-12));
    double sw = 0.0, swy = 0.0, swp = 0.0;
    for (std::size_t i = 0; i < p.size(); ++i) {
      sw += w_eff[i];
      swy += double(w_eff[i]) * d.labels[i];
      swp += double(w_eff[i]) * p[i];
    }
    CHECK(m.mean_label() == Approx(swy / sw).epsilon(1e-12));
    CHECK(m.mean_prediction() == Approx(swp / sw).epsilon(1e-12));
  }

  SECTION("clear forgets everything, and a rejected batch changes nothing") {
    BinaryMetrics m;
    m.add(FVec{0.9f, 0.2f}, FVec{1, 0});
    CHECK(m.auc() == Approx(1.0));
    CHECK_THROWS_AS(m.add(FVec{0.1f, 0.5f}, FVec{0, 2}), Error);
    CHECK_THROWS_AS(m.add(FVec{0.1f, 0.5f}, FVec{0}), Error);
    CHECK(m.count() == 2);
    CHECK(m.auc() == Approx(1.0));
    m.clear();
    CHECK(m.count() == 0);
    CHECK_THROWS_AS(m.auc(), Error);
    CHECK_THROWS_AS(m.log_loss(), Error);
    CHECK_THROWS_AS(m.calibration(), Error);
    CHECK_THROWS_AS(m.mean_label(), Error);
    CHECK_THROWS_AS(m.mean_prediction(), Error);
    m.add(FVec{0.3f, 0.8f}, FVec{1, 0});
    CHECK(m.auc() == Approx(0.0).margin(1e-15));
    CHECK(m.mean_label() == Approx(0.5));
  }
}
