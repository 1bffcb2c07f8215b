// SyntheticCTR: a Criteo-shaped synthetic click data set with a known "teacher" model, the
// library's built-in default data set. Dense count features I1..I13 and categorical fields
// C1..C26 with Zipf-distributed ids; labels come from a hidden logistic model with planted
// pairwise feature crosses, so every example's TRUE click probability is known.
//
// Features of example i of stream s (all draws from Rng(mix_seed(seed, tag, s, i))):
//   g ~ N(0, 1)                                      one latent shared by the dense features
//   dense j:  z_j = rho g + sqrt(1 - rho^2) e_j,     e_j ~ N(0, 1),  rho = dense_correlation
//             c_j = 0 with probability pi_j, else floor(exp(mu_j + s_j z_j))     (a count)
//             x_j = log1p(c_j)                       (the stored float; finite, >= 0)
//   field f:  rank r_f ~ Zipf(a, V_f):  P(r) = (r + 1)^-a / sum_{k < V_f} (k + 1)^-a,  r in [0, V_f)
//             id_f = (alpha_f r_f + beta_f) mod V_f  (a fixed random bijection: the frequent ids
//                                                     are scattered, not 0, 1, 2, ...)
// Teacher (drawn once from the seed; a function of the stored features only):
//   xt_j  = (x_j - mean_j) / sd_j                    (mean_j, sd_j measured on a calibration sample)
//   logit = b                                                      intercept
//         + sum_f sigma_f n_f(id_f)                                categorical main effects
//         + sum_j w_j xt_j                                         dense, linear
//         + gamma (2 exp(-xt_0^2) + tanh(2 (xt_1 - 0.5)))         dense, nonlinear (I1 bump, I2 step)
//         + sum_c u_c(id_{a_c}, id_{b_c})                          planted crosses on field pairs (a_c, b_c)
//   u_c(i, j) = (kappa / sqrt(R)) <A_c(i) - mA_c, B_c(j) - mB_c>  (cross_rank R > 0: low rank; mA_c, mB_c
//               are the Zipf-weighted means, so E_j u_c(i, j) = E_i u_c(i, j) = 0: a pure interaction
//               with no main effect that logistic regression could pick up)
//   u_c(i, j) = kappa h_c(i, j)                                   (cross_rank = 0: a hashed full-rank table)
//   n_f(id), A_c(id), B_c(id), h_c(i, j) are N(0, 1) values hashed from (seed, field or cross, id), so one
//   field's effects do not change when other fields are added. sigma_f = field_scale * U(0.3, 1.7),
//   w_j ~ N(0, dense_scale^2), gamma = nonlinear_strength, kappa = cross_strength.
//   p = E_eps[sigmoid(logit + noise * eps)], eps ~ N(0, 1)   (exact sigmoid(logit) for noise = 0;
//                                                            32-node Gauss-Hermite quadrature otherwise)
//   y ~ Bernoulli(p);  b is solved so that the mean of p over the calibration sample is base_rate.
//
// With the defaults (seed 1) the click rate is 0.22, the AUC of the true p (Bayes-optimal) 0.81, the
// teacher without its crosses reaches 0.75 and its additive part alone (what logistic regression can
// express exactly) 0.74 (tests/data/test_synthetic.cpp). noise > 0 flattens p and lowers the Bayes AUC.
// Zipf ranks are drawn by inverting the CDF (ZipfTable: the first r with cdf[r] > u, found through a
// guide table). Convention: stream 0 = train, 1 = validation, 2 = test. Memory: 8 V_f bytes per field
// for n_f, 8 R (V_a + V_b) bytes per cross, 16 V bytes per distinct vocabulary size for ZipfTable.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/core/types.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/schema.hpp"

namespace ctrnet {

/// Conventional stream numbers for SyntheticCTR::generate.
enum SyntheticStream : std::uint64_t { synthetic_train = 0, synthetic_valid = 1, synthetic_test = 2 };

/// \brief Options of the synthetic CTR data set (see the formulas at the top of synthetic.hpp).
struct SyntheticOptions {
  index_t num_dense = 13;         ///< dense fields I1..I<num_dense>
  index_t num_categorical = 26;   ///< categorical fields C1..C<num_categorical>
  index_t vocab_size = 1000;      ///< ids per categorical field, in [0, vocab_size)
  std::vector<index_t> vocab_sizes{};  ///< per-field vocabulary sizes; empty: every field uses vocab_size
  double zipf_exponent = 1.1;     ///< a in P(rank r) ~ (r + 1)^-a; 0 gives uniform ids
  double field_scale = 0.18;      ///< scale of the per-id categorical effects
  double dense_scale = 0.1;       ///< standard deviation of the dense weights w_j
  double dense_correlation = 0.3; ///< rho: correlation of the dense latents through g
  double nonlinear_strength = 0.4;  ///< gamma: weight of the I1 bump and the I2 step
  index_t num_crosses = 8;        ///< planted pairwise crosses between distinct random field pairs
  index_t cross_rank = 4;         ///< R: rank of each cross; 0: a hashed full-rank table u[(i, j)]
  double cross_strength = 0.32;   ///< kappa: standard deviation of one cross's contribution
  double base_rate = 0.22;        ///< target mean click probability (Criteo: ~0.22-0.26)
  double noise = 0.0;             ///< sd of an unobserved logit term, integrated out of p (flattens p: lower AUC)
  std::uint64_t seed = 1;
};

/// \brief Zipf law over ranks [0, V): P(r) = (r + 1)^-a / sum_{k < V} (k + 1)^-a, sampled by
/// inverting its CDF: `rank(u)` is the first r with cdf[r] > u (what std::upper_bound returns), found
/// through a guide table (Chen & Asau 1974; guide[k] = rank(k / V)) in O(1) expected steps.
class ZipfTable {
 public:
  ZipfTable(index_t v, double a) : cdf_(checked_size(v, a)), guide_(cdf_.size()) {
    double acc = 0.0;
    for (std::size_t r = 0; r < cdf_.size(); ++r) cdf_[r] = acc += std::pow(static_cast<double>(r + 1), -a);
    for (double& c : cdf_) c /= acc;
    cdf_.back() = 1.0;
    std::size_t r = 0;
    for (std::size_t k = 0; k < guide_.size(); ++k) {
      const double t = static_cast<double>(k) / static_cast<double>(v);
      while (r + 1 < cdf_.size() && cdf_[r] <= t) ++r;
      guide_[k] = static_cast<index_t>(r);
    }
  }
  index_t size() const { return static_cast<index_t>(cdf_.size()); }
  /// P(rank r).
  double prob(index_t r) const {
    const auto ur = static_cast<std::size_t>(r);
    return ur == 0 ? cdf_[0] : cdf_[ur] - cdf_[ur - 1];
  }
  /// The rank of u in [0, 1): the first r with cdf[r] > u, clamped to V - 1.
  std::size_t rank(double u) const {
    const std::size_t v = cdf_.size();
    auto k = static_cast<std::size_t>(u * static_cast<double>(v));
    if (k >= v) k = v - 1;
    auto r = static_cast<std::size_t>(guide_[k]);
    while (r > 0 && cdf_[r - 1] > u) --r;  // only when u V rounds up across a bucket edge
    while (r + 1 < v && cdf_[r] <= u) ++r;
    return r;
  }
  const std::vector<double>& cdf() const { return cdf_; }

 private:
  static std::size_t checked_size(index_t v, double a) {
    CTRNET_CHECK(v >= 1, "ZipfTable: need at least one rank, got ", v);
    CTRNET_CHECK(std::isfinite(a) && a >= 0, "ZipfTable: the exponent must be finite and >= 0, got ", a);
    return static_cast<std::size_t>(v);
  }
  std::vector<double> cdf_;     // normalised; the last entry is exactly 1
  std::vector<index_t> guide_;
};

/// \brief Criteo-shaped synthetic click data with a known teacher. Immutable after construction:
/// `generate` is const and may run on many threads at once (different rows or streams).
class SyntheticCTR {
 public:
  /// The teacher's logit of one example, split into its terms.
  struct LogitParts {
    double intercept = 0.0;
    double categorical = 0.0;  ///< sum_f sigma_f n_f(id_f)
    double dense = 0.0;        ///< sum_j w_j xt_j
    double nonlinear = 0.0;    ///< gamma (2 exp(-xt_0^2) + tanh(2 (xt_1 - 0.5)))
    double crosses = 0.0;      ///< sum_c u_c(id_a, id_b)
    double total() const { return intercept + categorical + dense + nonlinear + crosses; }
    double without_crosses() const { return intercept + categorical + dense + nonlinear; }
  };
  /// A planted cross between categorical fields `field_a` < `field_b` (indices among the categorical fields).
  struct Cross {
    index_t field_a = 0;
    index_t field_b = 0;
  };

  explicit SyntheticCTR(SyntheticOptions options = {}) : opt_(std::move(options)) {
    check_options();
    build_schema();
    build_teacher();
    calibrate();
  }

  const SyntheticOptions& options() const { return opt_; }
  /// Dense fields I1..I<num_dense>, then categorical fields C1..C<num_categorical> (vocabulary-checked).
  const Schema& schema() const { return schema_; }
  /// The solved intercept b.
  double intercept() const { return intercept_; }
  const std::vector<Cross>& crosses() const { return crosses_; }

  /// \brief Fills `out` (reset to schema()) with examples [0, n) of `stream`; see generate_range.
  void generate(index_t n, std::uint64_t stream, Batch& out, std::vector<double>* true_prob = nullptr) const {
    generate_range(stream, 0, n, out, true_prob);
  }

  /// \brief Fills `out` (reset to schema()) with examples [first, first + n) of `stream`.
  /// Example i of stream s depends only on (seed, s, i): chunks of a stream concatenate to the
  /// same data as one call. Weights are left empty (all 1). `true_prob`, when given, receives each
  /// example's true click probability p (its label was drawn as Bernoulli(p)).
  void generate_range(std::uint64_t stream, index_t first, index_t n, Batch& out,
                      std::vector<double>* true_prob = nullptr) const {
    CTRNET_CHECK(n >= 0 && first >= 0, "SyntheticCTR::generate: need n >= 0 and first >= 0 (got n = ", n,
                 ", first = ", first, ")");
    const auto nd = static_cast<std::size_t>(opt_.num_dense);
    const auto nc = static_cast<std::size_t>(opt_.num_categorical);
    const auto un = static_cast<std::size_t>(n);
    out.reset(schema_);
    out.dense_values.resize(un * nd);
    out.labels.resize(un);
    for (std::size_t f = 0; f < nc; ++f) {
      out.ids[f].resize(un);
      out.offsets[f].resize(un + 1);
      for (std::size_t r = 0; r <= un; ++r) out.offsets[f][r] = static_cast<index_t>(r);
    }
    if (true_prob) true_prob->resize(un);
    std::vector<FeatureId> ids(nc);
    for (std::size_t r = 0; r < un; ++r) {
      Rng rng(mix_seed(opt_.seed, kTagExample, stream, static_cast<std::uint64_t>(first) + r));
      float* dense = out.dense_values.data() + r * nd;
      draw_features(rng, dense, ids.data());
      for (std::size_t f = 0; f < nc; ++f) out.ids[f][r] = ids[f];
      const double p = probability(parts_raw(dense, ids.data()).total());
      out.labels[r] = rng.uniform() < p ? 1.0f : 0.0f;
      if (true_prob) (*true_prob)[r] = p;
    }
    out.set_size(n);
  }

  /// The teacher's logit terms for one example given its stored features:
  /// `dense: [num_dense]`, `ids: [num_categorical]` (one id per field, in [0, vocab)).
  LogitParts logit_parts(std::span<const float> dense, std::span<const FeatureId> ids) const {
    CTRNET_CHECK(static_cast<index_t>(dense.size()) == opt_.num_dense, "SyntheticCTR::logit_parts: expected ",
                 opt_.num_dense, " dense values, got ", dense.size());
    CTRNET_CHECK(static_cast<index_t>(ids.size()) == opt_.num_categorical, "SyntheticCTR::logit_parts: expected ",
                 opt_.num_categorical, " ids, got ", ids.size());
    for (std::size_t f = 0; f < ids.size(); ++f)
      CTRNET_CHECK(ids[f] >= 0 && ids[f] < vocab_[f], "SyntheticCTR::logit_parts: field C", f + 1, ": id ", ids[f],
                   " is outside [0, ", vocab_[f], ")");
    return parts_raw(dense.data(), ids.data());
  }
  /// The teacher's logit terms for row `r` of a batch of this schema (one id per categorical field).
  LogitParts logit_parts(const BatchView& batch, index_t r) const {
    CTRNET_CHECK(r >= 0 && r < batch.size, "SyntheticCTR::logit_parts: row ", r, " is outside a batch of ",
                 batch.size);
    CTRNET_CHECK(batch.dense.cols == opt_.num_dense &&
                     static_cast<index_t>(batch.fields.size()) == opt_.num_categorical,
                 "SyntheticCTR::logit_parts: the batch has ", batch.dense.cols, " dense and ", batch.fields.size(),
                 " categorical fields; the schema has ", opt_.num_dense, " and ", opt_.num_categorical);
    std::vector<FeatureId> ids(static_cast<std::size_t>(opt_.num_categorical));
    for (std::size_t f = 0; f < ids.size(); ++f) {
      CTRNET_CHECK(batch.fields[f].count(r) == 1, "SyntheticCTR::logit_parts: field C", f + 1, " of row ", r,
                   " has ", batch.fields[f].count(r), " ids, expected 1");
      ids[f] = batch.fields[f].of(r)[0];
    }
    std::vector<float> dense(static_cast<std::size_t>(opt_.num_dense));
    for (std::size_t j = 0; j < dense.size(); ++j) dense[j] = batch.dense(r, static_cast<index_t>(j));
    return logit_parts(dense, ids);
  }

  /// p = E_eps[sigmoid(logit + noise eps)]: the click probability of a teacher logit.
  double probability(double logit) const {
    if (gh_x_.empty()) return sigmoid(logit);
    double p = 0.0;
    for (std::size_t k = 0; k < gh_x_.size(); ++k) p += gh_w_[k] * sigmoid(logit + gh_x_[k]);
    return p;
  }

 private:
  static constexpr std::uint64_t kTagExample = 0xE8A3'01D5'0000'0001ull;
  static constexpr std::uint64_t kTagCalibration = 0xE8A3'01D5'0000'0002ull;
  static constexpr std::uint64_t kTagField = 0xE8A3'01D5'0000'0003ull;
  static constexpr std::uint64_t kTagEffect = 0xE8A3'01D5'0000'0004ull;
  static constexpr std::uint64_t kTagDense = 0xE8A3'01D5'0000'0005ull;
  static constexpr std::uint64_t kTagPairs = 0xE8A3'01D5'0000'0006ull;
  static constexpr std::uint64_t kTagCross = 0xE8A3'01D5'0000'0007ull;
  static constexpr std::uint64_t kTagCrossHash = 0xE8A3'01D5'0000'0008ull;
  static constexpr index_t kCalibrationExamples = 16384;
  static constexpr int kHermiteNodes = 32;

  struct DenseParams {
    double mu = 0, s = 1, pi_zero = 0;  // count model
    double mean = 0, inv_sd = 1;        // standardisation of x = log1p(count)
    double weight = 0;
  };
  struct CrossTables {
    std::vector<double> a, b;  // [V_a, R] and [V_b, R], centred and scaled; empty for cross_rank = 0
  };

  static double sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
    const double e = std::exp(z);
    return e / (1.0 + e);
  }
  // A N(0, 1) value determined by a hash of its key (the same value every time it is asked for).
  template <class... Ints>
  double hashed_normal(Ints... key) const {
    Rng r(mix_seed(opt_.seed, key...));
    return r.normal();
  }

  void check_options() {
    CTRNET_CHECK(opt_.num_dense >= 0 && opt_.num_categorical >= 0,
                 "SyntheticOptions: num_dense and num_categorical must be >= 0 (got ", opt_.num_dense, ", ",
                 opt_.num_categorical, ")");
    CTRNET_CHECK(opt_.vocab_sizes.empty() || static_cast<index_t>(opt_.vocab_sizes.size()) == opt_.num_categorical,
                 "SyntheticOptions: vocab_sizes has ", opt_.vocab_sizes.size(), " entries but num_categorical is ",
                 opt_.num_categorical, " (leave it empty to use vocab_size for every field)");
    vocab_.assign(static_cast<std::size_t>(opt_.num_categorical), opt_.vocab_size);
    if (!opt_.vocab_sizes.empty()) vocab_ = opt_.vocab_sizes;
    for (std::size_t f = 0; f < vocab_.size(); ++f)
      CTRNET_CHECK(vocab_[f] >= 1 && vocab_[f] <= (index_t{1} << 31), "SyntheticOptions: field C", f + 1,
                   ": vocabulary size ", vocab_[f], " must be in [1, 2^31]");
    CTRNET_CHECK(std::isfinite(opt_.zipf_exponent) && opt_.zipf_exponent >= 0,
                 "SyntheticOptions: zipf_exponent must be finite and >= 0 (got ", opt_.zipf_exponent, ")");
    const index_t pairs = opt_.num_categorical * (opt_.num_categorical - 1) / 2;
    CTRNET_CHECK(opt_.num_crosses >= 0 && opt_.num_crosses <= pairs, "SyntheticOptions: num_crosses = ",
                 opt_.num_crosses, " but ", opt_.num_categorical, " categorical fields give only ", pairs,
                 " distinct field pairs");
    CTRNET_CHECK(opt_.cross_rank >= 0, "SyntheticOptions: cross_rank must be >= 0 (0: hashed table), got ",
                 opt_.cross_rank);
    CTRNET_CHECK(opt_.base_rate > 0 && opt_.base_rate < 1, "SyntheticOptions: base_rate must be in (0, 1), got ",
                 opt_.base_rate);
    CTRNET_CHECK(opt_.dense_correlation >= 0 && opt_.dense_correlation <= 1,
                 "SyntheticOptions: dense_correlation must be in [0, 1], got ", opt_.dense_correlation);
    for (double v : {opt_.field_scale, opt_.dense_scale, opt_.nonlinear_strength, opt_.cross_strength, opt_.noise})
      CTRNET_CHECK(std::isfinite(v) && v >= 0, "SyntheticOptions: field_scale, dense_scale, nonlinear_strength, "
                   "cross_strength and noise must be finite and >= 0 (got ", v, ")");
  }

  void build_schema() {
    // std::string(1, c).append(...) rather than "I" + std::to_string(...): g++ 12 at -O3 warns
    // (-Wrestrict, a false positive) about the inlined operator+(const char*, string&&).
    auto name = [](char prefix, index_t i) { return std::string(1, prefix).append(std::to_string(i + 1)); };
    for (index_t j = 0; j < opt_.num_dense; ++j) schema_.add_dense(name('I', j));
    for (index_t f = 0; f < opt_.num_categorical; ++f)
      schema_.add_categorical(name('C', f), vocab_[static_cast<std::size_t>(f)]);
  }

  const ZipfTable& zipf(std::size_t f) const { return zipfs_[static_cast<std::size_t>(field_zipf_[f])]; }
  FeatureId id_of_rank(std::size_t f, std::uint64_t r) const {
    // a, b, r < V <= 2^31, so a r + b < 2^63 does not overflow.
    return static_cast<FeatureId>((perm_a_[f] * r + perm_b_[f]) % static_cast<std::uint64_t>(vocab_[f]));
  }

  void build_teacher() {
    const auto nc = static_cast<std::size_t>(opt_.num_categorical);
    // Categorical fields: Zipf CDF, id bijection, per-id effects.
    field_zipf_.resize(nc);
    perm_a_.resize(nc);
    perm_b_.resize(nc);
    effects_.resize(nc);
    for (std::size_t f = 0; f < nc; ++f) {
      const index_t v = vocab_[f];
      field_zipf_[f] = -1;
      for (std::size_t k = 0; k < zipfs_.size(); ++k)
        if (zipfs_[k].size() == v) field_zipf_[f] = static_cast<index_t>(k);  // shared by fields of one size
      if (field_zipf_[f] < 0) {
        zipfs_.emplace_back(v, opt_.zipf_exponent);
        field_zipf_[f] = static_cast<index_t>(zipfs_.size() - 1);
      }
      Rng rng(mix_seed(opt_.seed, kTagField, f));
      const auto uv = static_cast<std::uint64_t>(v);
      std::uint64_t a = 1;
      if (uv > 1) do a = 1 + rng.below(uv - 1); while (std::gcd(a, uv) != 1);
      perm_a_[f] = a;
      perm_b_[f] = rng.below(uv);
      const double sigma = opt_.field_scale * rng.uniform(0.3, 1.7);
      effects_[f].resize(static_cast<std::size_t>(v));
      for (index_t id = 0; id < v; ++id)
        effects_[f][static_cast<std::size_t>(id)] = sigma * hashed_normal(kTagEffect, f, id);
    }
    // Dense fields: count model and weight (standardisation comes from the calibration sample).
    dense_.resize(static_cast<std::size_t>(opt_.num_dense));
    for (std::size_t j = 0; j < dense_.size(); ++j) {
      Rng rng(mix_seed(opt_.seed, kTagDense, j));
      dense_[j].mu = rng.uniform(0.5, 4.0);
      dense_[j].s = rng.uniform(0.5, 1.5);
      dense_[j].pi_zero = rng.uniform(0.0, 0.4);
      dense_[j].weight = opt_.dense_scale * rng.normal();
    }
    // Crosses: the first num_crosses pairs of a seeded shuffle of all field pairs.
    std::vector<Cross> pairs;
    for (index_t a = 0; a < opt_.num_categorical; ++a)
      for (index_t b = a + 1; b < opt_.num_categorical; ++b) pairs.push_back({a, b});
    Rng prng(mix_seed(opt_.seed, kTagPairs));
    for (std::size_t k = 0; k < static_cast<std::size_t>(opt_.num_crosses); ++k) {
      const std::size_t pick = k + static_cast<std::size_t>(prng.below(pairs.size() - k));
      std::swap(pairs[k], pairs[pick]);
    }
    crosses_.assign(pairs.begin(), pairs.begin() + opt_.num_crosses);
    cross_tables_.resize(crosses_.size());
    if (opt_.cross_rank > 0) {
      const double scale = std::sqrt(opt_.cross_strength / std::sqrt(static_cast<double>(opt_.cross_rank)));
      for (std::size_t c = 0; c < crosses_.size(); ++c) {
        cross_tables_[c].a = cross_factor(c, 0, static_cast<std::size_t>(crosses_[c].field_a), scale);
        cross_tables_[c].b = cross_factor(c, 1, static_cast<std::size_t>(crosses_[c].field_b), scale);
      }
    }
    // Gauss-Hermite nodes for E[sigmoid(z + noise eps)].
    if (opt_.noise > 0) {
      gauss_hermite(kHermiteNodes, gh_x_, gh_w_);
      for (std::size_t k = 0; k < gh_x_.size(); ++k) {
        gh_x_[k] *= std::sqrt(2.0) * opt_.noise;
        gh_w_[k] /= std::sqrt(std::numbers::pi);
      }
    }
  }

  // scale * (F(id) - sum_r P(r) F(id_of_rank(r))): [V_f, R], centred under the field's Zipf law.
  std::vector<double> cross_factor(std::size_t c, int side, std::size_t f, double scale) const {
    const auto rank = static_cast<std::size_t>(opt_.cross_rank);
    const index_t v = vocab_[f];
    std::vector<double> t(static_cast<std::size_t>(v) * rank);
    for (index_t id = 0; id < v; ++id) {
      Rng r(mix_seed(opt_.seed, kTagCross, c, side, id));
      for (std::size_t k = 0; k < rank; ++k) t[static_cast<std::size_t>(id) * rank + k] = r.normal();
    }
    std::vector<double> mean(rank, 0.0);
    for (index_t r = 0; r < v; ++r) {
      const double p = zipf(f).prob(r);
      const auto id = static_cast<std::size_t>(id_of_rank(f, static_cast<std::uint64_t>(r)));
      for (std::size_t k = 0; k < rank; ++k) mean[k] += p * t[id * rank + k];
    }
    for (std::size_t id = 0; id < static_cast<std::size_t>(v); ++id)
      for (std::size_t k = 0; k < rank; ++k) t[id * rank + k] = scale * (t[id * rank + k] - mean[k]);
    return t;
  }

  // Nodes and weights of the n-point Gauss-Hermite rule for int exp(-x^2) f(x) dx (Numerical Recipes
  // 3rd ed., 4.6: Newton's method on the orthonormal Hermite recurrence).
  static void gauss_hermite(int n, std::vector<double>& x, std::vector<double>& w) {
    x.assign(static_cast<std::size_t>(n), 0.0);
    w.assign(static_cast<std::size_t>(n), 0.0);
    const double pim4 = 0.7511255444649425;  // pi^(-1/4)
    const int m = (n + 1) / 2;
    double z = 0.0, pp = 0.0;
    for (int i = 0; i < m; ++i) {
      if (i == 0) z = std::sqrt(2.0 * n + 1) - 1.85575 * std::pow(2.0 * n + 1, -0.16667);
      else if (i == 1) z -= 1.14 * std::pow(static_cast<double>(n), 0.426) / z;
      else if (i == 2) z = 1.86 * z - 0.86 * x[0];
      else if (i == 3) z = 1.91 * z - 0.91 * x[1];
      else z = 2.0 * z - x[static_cast<std::size_t>(i - 2)];
      for (int it = 0; it < 100; ++it) {
        double p1 = pim4, p2 = 0.0;
        for (int j = 0; j < n; ++j) {
          const double p3 = p2;
          p2 = p1;
          p1 = z * std::sqrt(2.0 / (j + 1)) * p2 - std::sqrt(static_cast<double>(j) / (j + 1)) * p3;
        }
        pp = std::sqrt(2.0 * n) * p2;
        const double z1 = z;
        z = z1 - p1 / pp;
        if (std::abs(z - z1) <= 1e-14) break;
      }
      x[static_cast<std::size_t>(i)] = z;
      x[static_cast<std::size_t>(n - 1 - i)] = -z;
      w[static_cast<std::size_t>(i)] = w[static_cast<std::size_t>(n - 1 - i)] = 2.0 / (pp * pp);
    }
  }

  // Draws the stored features of one example: dense: [num_dense] floats, ids: [num_categorical].
  void draw_features(Rng& rng, float* dense, FeatureId* ids) const {
    const double rho = opt_.dense_correlation;
    const double rho_c = std::sqrt(1.0 - rho * rho);
    const double g = rng.normal();
    for (std::size_t j = 0; j < dense_.size(); ++j) {
      const DenseParams& d = dense_[j];
      const bool zero = rng.uniform() < d.pi_zero;
      const double y = d.mu + d.s * (rho * g + rho_c * rng.normal());
      const double count = zero ? 0.0 : std::floor(std::exp(std::min(y, 40.0)));
      dense[j] = static_cast<float>(std::log1p(count));
    }
    for (std::size_t f = 0; f < vocab_.size(); ++f) ids[f] = id_of_rank(f, zipf(f).rank(rng.uniform()));
  }

  LogitParts parts_raw(const float* dense, const FeatureId* ids) const {
    LogitParts p;
    p.intercept = intercept_;
    for (std::size_t f = 0; f < effects_.size(); ++f) p.categorical += effects_[f][static_cast<std::size_t>(ids[f])];
    const std::size_t nd = dense_.size();
    double xt0 = 0.0, xt1 = 0.0;
    for (std::size_t j = 0; j < nd; ++j) {
      const double xt = (static_cast<double>(dense[j]) - dense_[j].mean) * dense_[j].inv_sd;
      p.dense += dense_[j].weight * xt;
      if (j == 0) xt0 = xt;
      if (j == 1) xt1 = xt;
    }
    if (nd >= 1) p.nonlinear += 2.0 * std::exp(-xt0 * xt0);
    if (nd >= 2) p.nonlinear += std::tanh(2.0 * (xt1 - 0.5));
    p.nonlinear *= opt_.nonlinear_strength;
    const auto rank = static_cast<std::size_t>(opt_.cross_rank);
    for (std::size_t c = 0; c < crosses_.size(); ++c) {
      const auto ia = static_cast<std::uint64_t>(ids[crosses_[c].field_a]);
      const auto ib = static_cast<std::uint64_t>(ids[crosses_[c].field_b]);
      if (rank == 0) {
        p.crosses += opt_.cross_strength * hashed_normal(kTagCrossHash, c, ia, ib);
      } else {
        const double* a = cross_tables_[c].a.data() + ia * rank;
        const double* b = cross_tables_[c].b.data() + ib * rank;
        double dot = 0.0;
        for (std::size_t k = 0; k < rank; ++k) dot += a[k] * b[k];
        p.crosses += dot;
      }
    }
    return p;
  }

  // Measures the dense means / standard deviations on a calibration sample, then solves the
  // intercept b so that the mean of p over that sample is base_rate (Newton's method, bracketed).
  void calibrate() {
    const auto nd = static_cast<std::size_t>(opt_.num_dense);
    const auto nc = static_cast<std::size_t>(opt_.num_categorical);
    const auto m = static_cast<std::size_t>(kCalibrationExamples);
    std::vector<float> dense(m * nd);
    std::vector<FeatureId> ids(m * nc);
    for (std::size_t i = 0; i < m; ++i) {
      Rng rng(mix_seed(opt_.seed, kTagCalibration, i));
      draw_features(rng, dense.data() + i * nd, ids.data() + i * nc);
    }
    for (std::size_t j = 0; j < nd; ++j) {
      double s1 = 0.0, s2 = 0.0;
      for (std::size_t i = 0; i < m; ++i) s1 += dense[i * nd + j];
      const double mean = s1 / static_cast<double>(m);
      for (std::size_t i = 0; i < m; ++i) {
        const double d = dense[i * nd + j] - mean;
        s2 += d * d;
      }
      const double sd = std::sqrt(s2 / static_cast<double>(m));
      dense_[j].mean = mean;
      dense_[j].inv_sd = sd > 0 ? 1.0 / sd : 0.0;
    }
    intercept_ = 0.0;
    std::vector<double> z(m);
    double zmean = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
      z[i] = parts_raw(dense.data() + i * nd, ids.data() + i * nc).total();
      zmean += z[i];
    }
    zmean /= static_cast<double>(m);
    const double target = opt_.base_rate;
    double lo = -60.0, hi = 60.0;
    double b = std::log(target / (1 - target)) - zmean;
    for (int it = 0; it < 100; ++it) {
      double mean_p = 0.0, slope = 0.0;
      for (double zi : z) {
        const double p = probability(zi + b);
        mean_p += p;
        // d/db of E[sigmoid(z + b + noise eps)], evaluated at noise 0's slope as a Newton step size.
        const double s = sigmoid(zi + b);
        slope += s * (1 - s);
      }
      mean_p /= static_cast<double>(m);
      slope /= static_cast<double>(m);
      const double err = mean_p - target;
      if (std::abs(err) < 1e-12) break;
      (err > 0 ? hi : lo) = b;
      double next = b - err / std::max(slope, 1e-12);
      if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
      if (hi - lo < 1e-13) break;
      b = next;
    }
    intercept_ = b;
  }

  SyntheticOptions opt_;
  Schema schema_;
  std::vector<index_t> vocab_;
  std::vector<ZipfTable> zipfs_;              // one per distinct vocabulary size
  std::vector<index_t> field_zipf_;           // per field: index into zipfs_
  std::vector<std::uint64_t> perm_a_, perm_b_;  // id = (a rank + b) mod V
  std::vector<std::vector<double>> effects_;  // per field: sigma_f n_f(id), [V_f]
  std::vector<DenseParams> dense_;
  std::vector<Cross> crosses_;
  std::vector<CrossTables> cross_tables_;
  std::vector<double> gh_x_, gh_w_;  // scaled Gauss-Hermite nodes (noise sqrt(2) x) and weights (w / sqrt(pi))
  double intercept_ = 0.0;
};

}  // namespace ctrnet
