// Tests for ctrnet/data/synthetic.hpp: determinism per (seed, stream, example), Criteo shape,
// Zipf ids, click rate, calibration of the true probabilities, the Bayes-optimal AUC and the
// share of it that the planted crosses carry.
#include "ctrnet/data/synthetic.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ctrnet/train/metrics.hpp"

using ctrnet::Batch;
using ctrnet::FeatureId;
using ctrnet::index_t;
using ctrnet::SyntheticCTR;
using ctrnet::SyntheticOptions;

namespace {

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool same_batch(const Batch& a, const Batch& b) {
  if (a.size() != b.size() || !bitwise_equal(a.dense_values, b.dense_values) || !bitwise_equal(a.labels, b.labels))
    return false;
  if (a.ids.size() != b.ids.size()) return false;
  for (std::size_t f = 0; f < a.ids.size(); ++f)
    if (!bitwise_equal(a.ids[f], b.ids[f]) || !bitwise_equal(a.offsets[f], b.offsets[f])) return false;
  return true;
}

double mean(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double mean(const std::vector<float>& v) {
  double s = 0.0;
  for (float x : v) s += x;
  return s / static_cast<double>(v.size());
}

}  // namespace

TEST_CASE("SyntheticCTR schema is Criteo-shaped: I1..I13 dense, C1..C26 categorical", "[data][synthetic]") {
  const SyntheticCTR gen;
  const auto& s = gen.schema();
  REQUIRE(s.num_dense() == 13);
  REQUIRE(s.num_categorical() == 26);
  CHECK(s.dense(0).name == "I1");
  CHECK(s.dense(12).name == "I13");
  CHECK(s.categorical(0).name == "C1");
  CHECK(s.categorical(25).name == "C26");
  for (index_t f = 0; f < 26; ++f) {
    CHECK(s.categorical(f).vocab_size == 1000);
    CHECK(s.categorical(f).hash_buckets == 0);
  }
  CHECK(gen.crosses().size() == 8);
  for (const auto& c : gen.crosses()) CHECK((0 <= c.field_a && c.field_a < c.field_b && c.field_b < 26));

  SyntheticOptions o;
  o.num_dense = 2;
  o.num_categorical = 3;
  o.vocab_sizes = {5, 70, 100000};
  o.num_crosses = 3;
  const SyntheticCTR small(o);
  REQUIRE(small.schema().num_dense() == 2);
  REQUIRE(small.schema().num_categorical() == 3);
  CHECK(small.schema().categorical(0).vocab_size == 5);
  CHECK(small.schema().categorical(2).vocab_size == 100000);
}

TEST_CASE("SyntheticCTR is deterministic per (seed, stream) and streams differ", "[data][synthetic]") {
  const SyntheticCTR gen;
  Batch a, b, c;
  std::vector<double> pa, pb;
  gen.generate(2000, ctrnet::synthetic_train, a, &pa);
  gen.generate(500, ctrnet::synthetic_valid, c);  // generating something else in between changes nothing
  gen.generate(2000, ctrnet::synthetic_train, b, &pb);
  CHECK(same_batch(a, b));
  CHECK(bitwise_equal(pa, pb));

  // A second generator built from the same options gives the same data.
  const SyntheticCTR twin;
  twin.generate(2000, ctrnet::synthetic_train, b);
  CHECK(same_batch(a, b));

  // Other streams and other seeds give other data.
  gen.generate(2000, ctrnet::synthetic_valid, b);
  CHECK_FALSE(bitwise_equal(a.dense_values, b.dense_values));
  CHECK_FALSE(bitwise_equal(a.ids[0], b.ids[0]));
  CHECK_FALSE(bitwise_equal(a.labels, b.labels));
  SyntheticOptions o;
  o.seed = 2;
  const SyntheticCTR other(o);
  other.generate(2000, ctrnet::synthetic_train, b);
  CHECK_FALSE(bitwise_equal(a.dense_values, b.dense_values));
  CHECK_FALSE(bitwise_equal(a.ids[0], b.ids[0]));
  CHECK(other.intercept() != gen.intercept());
}

TEST_CASE("SyntheticCTR chunks of a stream concatenate to one call", "[data][synthetic]") {
  const SyntheticCTR gen;
  Batch whole, part;
  std::vector<double> p_whole, p_part;
  gen.generate(1000, 7, whole, &p_whole);
  for (index_t first : {index_t{0}, index_t{300}, index_t{999}}) {
    const index_t n = std::min<index_t>(300, 1000 - first);
    gen.generate_range(7, first, n, part, &p_part);
    REQUIRE(part.size() == n);
    index_t mismatches = 0;
    for (index_t r = 0; r < n; ++r) {
      const auto w = static_cast<std::size_t>(first + r), q = static_cast<std::size_t>(r);
      mismatches += part.labels[q] != whole.labels[w];
      mismatches += p_part[q] != p_whole[w];
      for (std::size_t f = 0; f < whole.ids.size(); ++f) mismatches += part.ids[f][q] != whole.ids[f][w];
      for (std::size_t j = 0; j < 13; ++j) mismatches += part.dense_values[q * 13 + j] != whole.dense_values[w * 13 + j];
    }
    INFO("examples [" << first << ", " << first + n << ")");
    CHECK(mismatches == 0);
  }
  gen.generate(0, 0, part);
  CHECK(part.size() == 0);
}

TEST_CASE("ZipfTable samples by inverting its CDF exactly like std::upper_bound", "[data][synthetic]") {
  for (double a : {0.0, 0.7, 1.1, 2.5}) {
    for (index_t v : {1, 2, 3, 10, 1000, 4097}) {
      const ctrnet::ZipfTable z(v, a);
      const auto& cdf = z.cdf();
      REQUIRE(cdf.size() == static_cast<std::size_t>(v));
      CHECK(cdf.back() == 1.0);
      CHECK(z.prob(0) == Approx(1.0 / [&] {
              double h = 0.0;
              for (index_t k = 1; k <= v; ++k) h += std::pow(static_cast<double>(k), -a);
              return h;
            }()));
      auto reference = [&](double u) {
        const auto r = static_cast<std::size_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
        return std::min(r, cdf.size() - 1);
      };
      index_t mismatches = 0;
      auto check = [&](double u) {
        if (u >= 0.0 && u < 1.0) mismatches += z.rank(u) != reference(u);
      };
      ctrnet::Rng rng(42);
      for (int i = 0; i < 20000; ++i) check(rng.uniform());
      // The edges: bucket boundaries k / V and the CDF values themselves, and their neighbours.
      for (index_t k = 0; k <= v; ++k) {
        const double t = static_cast<double>(k) / static_cast<double>(v);
        for (double u : {t, std::nextafter(t, 0.0), std::nextafter(t, 2.0)}) check(u);
      }
      for (double c : cdf)
        for (double u : {c, std::nextafter(c, 0.0), std::nextafter(c, 2.0)}) check(u);
      INFO("a = " << a << ", V = " << v);
      CHECK(mismatches == 0);
    }
  }
  CHECK_THROWS_AS(ctrnet::ZipfTable(0, 1.0), ctrnet::Error);
  CHECK_THROWS_AS(ctrnet::ZipfTable(10, -1.0), ctrnet::Error);
}

TEST_CASE("SyntheticCTR ids lie in the vocabulary and are Zipf-skewed", "[data][synthetic]") {
  const SyntheticCTR gen;
  Batch b;
  gen.generate(20000, 0, b);
  const auto v = b.view();
  REQUIRE(v.fields.size() == 26);
  for (std::size_t f = 0; f < 26; ++f) {
    const ctrnet::IdMapper map(gen.schema().categorical(static_cast<index_t>(f)));
    std::vector<index_t> count(1000, 0);
    index_t bad = 0;
    for (index_t r = 0; r < b.size(); ++r) {
      if (v.fields[f].count(r) != 1) {
        ++bad;
        continue;
      }
      const FeatureId id = v.fields[f].of(r)[0];
      if (id < 0 || id >= 1000) {
        ++bad;
        continue;
      }
      ++count[static_cast<std::size_t>(map(id, r))];  // the schema's vocabulary check accepts every id
    }
    CHECK(bad == 0);
    std::sort(count.begin(), count.end());
    const index_t top = count.back();
    const index_t median = std::max<index_t>(count[500], 1);
    INFO("field C" << f + 1 << ": top id " << top << " times, median id " << count[500] << " times");
    CHECK(top > 100 * median);
    CHECK(top > 2000);  // Zipf(1.1) over 1000 ids: the top id has ~18% of the mass
    CHECK(top < 5000);
  }

  // Small and large per-field vocabularies.
  SyntheticOptions o;
  o.num_categorical = 4;
  o.vocab_sizes = {1, 2, 7, 100000};
  o.num_crosses = 2;
  const SyntheticCTR small(o);
  small.generate(5000, 0, b);
  for (std::size_t f = 0; f < 4; ++f) {
    const auto [lo, hi] = std::minmax_element(b.ids[f].begin(), b.ids[f].end());
    CHECK(*lo >= 0);
    CHECK(*hi < o.vocab_sizes[f]);
  }
  CHECK(std::count(b.ids[1].begin(), b.ids[1].end(), FeatureId{0}) > 0);
  CHECK(std::count(b.ids[1].begin(), b.ids[1].end(), FeatureId{1}) > 0);
  CHECK(std::count(b.ids[0].begin(), b.ids[0].end(), FeatureId{0}) == 5000);
}

TEST_CASE("SyntheticCTR dense values are finite log1p counts with zeros", "[data][synthetic]") {
  const SyntheticCTR gen;
  Batch b;
  gen.generate(20000, 0, b);
  REQUIRE(b.dense_values.size() == 20000u * 13u);
  for (std::size_t j = 0; j < 13; ++j) {
    index_t zeros = 0, bad = 0;
    double hi = 0.0;
    for (std::size_t r = 0; r < 20000; ++r) {
      const float x = b.dense_values[r * 13 + j];
      // A finite log1p of an integer count: expm1(x) is an integer up to float rounding.
      const double c = std::expm1(static_cast<double>(x));
      bad += !std::isfinite(x) || x < 0.0f || std::abs(c - std::round(c)) > 1e-6 * std::max(1.0, c) + 1e-4;
      zeros += x == 0.0f;
      hi = std::max(hi, static_cast<double>(x));
    }
    INFO("I" << j + 1 << ": " << zeros << " zeros, max " << hi);
    CHECK(bad == 0);
    CHECK(zeros > 0);
    CHECK(zeros < 20000 * 8 / 10);
    CHECK(hi < 30.0);
  }
}

TEST_CASE("SyntheticCTR click rate is Criteo-like and true probabilities are calibrated", "[data][synthetic]") {
  const SyntheticCTR gen;
  Batch b;
  std::vector<double> p;
  gen.generate(20000, 0, b, &p);
  const double rate20k = mean(b.labels);
  CHECK(rate20k > 0.15);
  CHECK(rate20k < 0.30);

  gen.generate(50000, 1, b, &p);
  const double rate = mean(b.labels), mean_p = mean(p);
  std::printf("SyntheticCTR: click rate %.4f (20k, stream 0), %.4f (50k, stream 1); mean true p %.4f; intercept %.4f\n",
              rate20k, rate, mean_p, gen.intercept());
  CHECK(std::abs(mean_p - rate) < 0.01);
  CHECK(std::abs(mean_p - gen.options().base_rate) < 0.01);
  CHECK(std::all_of(p.begin(), p.end(), [](double q) { return q > 0.0 && q < 1.0; }));

  // Reliability: in each decile of p, the click rate matches the mean p.
  std::vector<std::size_t> order(p.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return p[x] < p[y]; });
  for (std::size_t d = 0; d < 10; ++d) {
    double sp = 0.0, sy = 0.0;
    const std::size_t lo = d * order.size() / 10, hi = (d + 1) * order.size() / 10;
    for (std::size_t k = lo; k < hi; ++k) {
      sp += p[order[k]];
      sy += b.labels[order[k]];
    }
    const double n = static_cast<double>(hi - lo);
    INFO("decile " << d << ": mean p " << sp / n << ", click rate " << sy / n);
    CHECK(std::abs(sp / n - sy / n) < 0.025);
  }
}

TEST_CASE("SyntheticCTR Bayes-optimal AUC leaves room, and the planted crosses carry part of it",
          "[data][synthetic]") {
  const SyntheticCTR gen;
  Batch b;
  std::vector<double> p;
  gen.generate(50000, 2, b, &p);
  const auto v = b.view();
  std::vector<double> full(p.size()), no_cross(p.size()), additive(p.size());
  index_t differs = 0;
  for (index_t r = 0; r < b.size(); ++r) {
    const auto parts = gen.logit_parts(v, r);
    const auto i = static_cast<std::size_t>(r);
    differs += gen.probability(parts.total()) != p[i];
    full[i] = parts.total();
    no_cross[i] = parts.without_crosses();
    additive[i] = parts.intercept + parts.categorical + parts.dense;  // what logistic regression can express
  }
  CHECK(differs == 0);  // the true probability is a function of the stored features alone
  const double auc_p = ctrnet::roc_auc(p, b.labels);
  const double auc_logit = ctrnet::roc_auc(full, b.labels);
  const double auc_no_cross = ctrnet::roc_auc(no_cross, b.labels);
  const double auc_additive = ctrnet::roc_auc(additive, b.labels);
  std::printf("SyntheticCTR: AUC of true p (Bayes-optimal) %.4f; teacher without crosses %.4f; "
              "additive part only (no crosses, no nonlinearity) %.4f\n",
              auc_p, auc_no_cross, auc_additive);
  CHECK(auc_logit == Approx(auc_p).margin(1e-12));
  CHECK(auc_p > 0.75);
  CHECK(auc_p < 0.87);
  CHECK(auc_no_cross < auc_p - 0.03);
  CHECK(auc_additive < auc_no_cross);
}

TEST_CASE("SyntheticCTR crosses are pure interactions: no main effect on any frequent id", "[data][synthetic]") {
  const SyntheticCTR gen;
  Batch b;
  gen.generate(50000, 0, b);
  const auto v = b.view();
  std::vector<double> cross(static_cast<std::size_t>(b.size()));
  double s2 = 0.0;
  for (index_t r = 0; r < b.size(); ++r) {
    cross[static_cast<std::size_t>(r)] = gen.logit_parts(v, r).crosses;
    s2 += cross[static_cast<std::size_t>(r)] * cross[static_cast<std::size_t>(r)];
  }
  const double sd = std::sqrt(s2 / static_cast<double>(b.size()));
  CHECK(sd > 0.5);
  CHECK(std::abs(mean(cross)) < 0.02);
  for (const auto& c : gen.crosses()) {
    for (index_t field : {c.field_a, c.field_b}) {
      const auto& ids = b.ids[static_cast<std::size_t>(field)];
      // The most frequent id of the field.
      std::vector<index_t> count(1000, 0);
      for (FeatureId id : ids) ++count[static_cast<std::size_t>(id)];
      const auto top = static_cast<FeatureId>(std::max_element(count.begin(), count.end()) - count.begin());
      double s = 0.0;
      index_t n = 0;
      for (std::size_t r = 0; r < ids.size(); ++r)
        if (ids[r] == top) s += cross[r], ++n;
      INFO("field C" << field + 1 << ", id " << top << " (" << n << " examples): mean cross term " << s / n
                     << ", sd of the cross term " << sd);
      CHECK(std::abs(s / static_cast<double>(n)) < 0.1 * sd);
    }
  }
}

TEST_CASE("SyntheticCTR hashed full-rank crosses (cross_rank = 0) also matter", "[data][synthetic]") {
  SyntheticOptions o;
  o.cross_rank = 0;
  const SyntheticCTR gen(o);
  Batch b;
  std::vector<double> p;
  gen.generate(30000, 0, b, &p);
  const auto v = b.view();
  std::vector<double> no_cross(p.size());
  for (index_t r = 0; r < b.size(); ++r) no_cross[static_cast<std::size_t>(r)] = gen.logit_parts(v, r).without_crosses();
  const double auc_p = ctrnet::roc_auc(p, b.labels), auc_nc = ctrnet::roc_auc(no_cross, b.labels);
  std::printf("SyntheticCTR (cross_rank 0): click rate %.4f, AUC of true p %.4f, without crosses %.4f\n",
              mean(b.labels), auc_p, auc_nc);
  CHECK(std::abs(mean(p) - mean(b.labels)) < 0.01);
  CHECK(auc_nc < auc_p - 0.03);
}

TEST_CASE("SyntheticCTR noise integrates an unobserved logit term exactly and stays calibrated", "[data][synthetic]") {
  SyntheticOptions o;
  o.noise = 1.0;
  const SyntheticCTR gen(o);
  // Reference: trapezoid rule for E[sigmoid(z + eps)], eps ~ N(0, 1), on [-12, 12].
  for (double z : {-4.0, -1.3, 0.0, 0.7, 2.5}) {
    double ref = 0.0;
    const double h = 1e-3;
    for (int k = -12000; k <= 12000; ++k) {
      const double e = k * h;
      const double w = (k == -12000 || k == 12000) ? 0.5 : 1.0;
      ref += w * h * std::exp(-0.5 * e * e) / std::sqrt(2.0 * 3.14159265358979323846) / (1.0 + std::exp(-(z + e)));
    }
    CHECK(gen.probability(z) == Approx(ref).margin(1e-9));
  }
  CHECK(gen.probability(0.0) == Approx(0.5).margin(1e-12));

  Batch b;
  std::vector<double> p;
  gen.generate(50000, 0, b, &p);
  CHECK(std::abs(mean(p) - mean(b.labels)) < 0.01);
  CHECK(std::abs(mean(p) - o.base_rate) < 0.01);
  const SyntheticCTR clean;
  Batch bc;
  std::vector<double> pc;
  clean.generate(50000, 0, bc, &pc);
  const double auc_noisy = ctrnet::roc_auc(p, b.labels), auc_clean = ctrnet::roc_auc(pc, bc.labels);
  std::printf("SyntheticCTR (noise 1): AUC of true p %.4f (noise 0: %.4f)\n", auc_noisy, auc_clean);
  CHECK(auc_noisy < auc_clean);
}

TEST_CASE("SyntheticCTR rejects bad options and bad inputs with ctrnet::Error", "[data][synthetic]") {
  auto with = [](auto edit) {
    SyntheticOptions o;
    edit(o);
    return o;
  };
  CHECK_THROWS_AS(SyntheticCTR(with([](SyntheticOptions& o) { o.vocab_sizes = {10, 10}; })), ctrnet::Error);
  CHECK_THROWS_AS(SyntheticCTR(with([](SyntheticOptions& o) { o.vocab_size = 0; })), ctrnet::Error);
  CHECK_THROWS_AS(SyntheticCTR(with([](SyntheticOptions& o) { o.num_crosses = 326; })), ctrnet::Error);
  CHECK_THROWS_AS(SyntheticCTR(with([](SyntheticOptions& o) { o.base_rate = 1.0; })), ctrnet::Error);
  CHECK_THROWS_AS(SyntheticCTR(with([](SyntheticOptions& o) { o.noise = -1.0; })), ctrnet::Error);
  CHECK_THROWS_AS(SyntheticCTR(with([](SyntheticOptions& o) { o.zipf_exponent = -0.5; })), ctrnet::Error);
  CHECK_THROWS_AS(SyntheticCTR(with([](SyntheticOptions& o) { o.num_categorical = 1; })), ctrnet::Error);
  CHECK_NOTHROW(SyntheticCTR(with([](SyntheticOptions& o) { o.num_crosses = 325; })));

  const SyntheticCTR gen;
  Batch b;
  CHECK_THROWS_AS(gen.generate(-1, 0, b), ctrnet::Error);
  std::vector<float> dense(13, 0.0f);
  std::vector<FeatureId> ids(26, 0);
  CHECK_NOTHROW(gen.logit_parts(dense, ids));
  ids[3] = 1000;
  CHECK_THROWS_AS(gen.logit_parts(dense, ids), ctrnet::Error);
  ids.pop_back();
  CHECK_THROWS_AS(gen.logit_parts(dense, ids), ctrnet::Error);
}

TEST_CASE("SyntheticCTR generation speed (printed, not asserted)", "[data][synthetic][speed]") {
  const auto t0 = std::chrono::steady_clock::now();
  const SyntheticCTR gen;
  const auto t1 = std::chrono::steady_clock::now();
  Batch b;
  std::vector<double> p;
  gen.generate(100000, 0, b, &p);
  const auto t2 = std::chrono::steady_clock::now();
  const double build_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double gen_s = std::chrono::duration<double>(t2 - t1).count();
  std::printf("SyntheticCTR: construction %.1f ms; 100k examples in %.1f ms (%.2f M examples/s, one thread)\n",
              build_ms, 1e3 * gen_s, 1e-6 * 100000 / gen_s);
  CHECK(b.size() == 100000);
}
