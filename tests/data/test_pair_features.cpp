// Pair features (data/pair_features.hpp): hand-computed counts, PMI and conditionals on made-up
// sessions; every pair feature is 0 for pairs that never co-occur and for unknown items;
// per-action features; per-item popularity features; the batched versions.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "ctrnet/data/pair_features.hpp"

using namespace ctrnet;

namespace {
Session make_session(std::int64_t id, std::vector<std::int64_t> items, std::vector<std::int64_t> actions = {}) {
  Session s;
  s.id = id;
  s.items = std::move(items);
  s.times.assign(s.items.size(), static_cast<double>(id));
  s.actions = actions.empty() ? std::vector<std::int64_t>(s.items.size(), 0) : std::move(actions);
  return s;
}
// Window 2, 1/d: X(10,20) = 3, X(10,30) = 1/2, X(20,30) = 1, X(20,40) = 1/2, X(30,40) = 1;
// row sums 10: 3.5, 20: 4.5, 30: 2.5, 40: 1.5; total 12.
CooccurrenceTable small_table() {
  CooccurrenceOptions o;
  o.window = 2;
  return count_cooccurrence({make_session(1, {10, 20, 30, 40}), make_session(2, {20, 10, 20})}, o);
}
std::vector<float> features(const CooccurrenceTable& t, index_t a, index_t b, const PairFeatureOptions& o = {}) {
  std::vector<float> f(static_cast<std::size_t>(pair_feature_count(t, o)), -7.0f);
  pair_features(t, a, b, f, o);
  return f;
}
}  // namespace

TEST_CASE("pair features: hand-computed counts, PMI and conditionals", "[data][pair_features]") {
  const CooccurrenceTable t = small_table();
  REQUIRE(pair_feature_count(t) == 6);  // one action type: no per-action features
  const std::vector<std::string> names = pair_feature_names(t);
  REQUIRE(names == std::vector<std::string>{"cooccurs", "log_count", "log_raw", "pmi", "p_b_given_a", "p_a_given_b"});
  const index_t i10 = t.index_of(10), i20 = t.index_of(20), i40 = t.index_of(40);
  const std::vector<float> f = features(t, i10, i20);
  CHECK(f[0] == 1.0f);
  CHECK(f[1] == Approx(std::log(4.0)));
  CHECK(f[2] == Approx(std::log(4.0)));                           // raw 3
  CHECK(f[3] == Approx(std::log(3.0 * 12.0 / (3.5 * 4.5))));      // PMI
  CHECK(f[4] == Approx(3.0 / 3.5));                               // P(20 | 10)
  CHECK(f[5] == Approx(3.0 / 4.5));                               // P(10 | 20)
  const std::vector<float> g = features(t, i20, i40);             // X = 1/2, raw 1
  CHECK(g[1] == Approx(std::log(1.5)));
  CHECK(g[2] == Approx(std::log(2.0)));
  CHECK(g[3] == Approx(std::log(0.5 * 12.0 / (4.5 * 1.5))));      // negative
  CHECK(g[3] < 0.0f);
  CHECK(g[4] == Approx(0.5 / 4.5));
  CHECK(g[5] == Approx(0.5 / 1.5));
  PairFeatureOptions ppmi;
  ppmi.positive_pmi = true;
  CHECK(features(t, i20, i40, ppmi)[3] == 0.0f);
  CHECK(features(t, i10, i20, ppmi)[3] == f[3]);
}

TEST_CASE("pair features: exactly zero for pairs that never co-occur and unknown items", "[data][pair_features]") {
  const CooccurrenceTable t = small_table();
  const std::vector<float> zero(6, 0.0f);
  CHECK(features(t, t.index_of(10), t.index_of(40)) == zero);
  CHECK(features(t, t.index_of(10), t.index_of(10)) == zero);
  CHECK(features(t, -1, t.index_of(10)) == zero);
  CHECK(features(t, t.index_of(10), -1) == zero);
  std::vector<float> wrong(5);
  CHECK_THROWS_WITH(pair_features(t, 0, 1, wrong), Catch::Contains("expected 6"));
}

TEST_CASE("pair features: per-action counts when the table has several action types", "[data][pair_features]") {
  CooccurrenceOptions o;
  o.window = 0;
  o.distance_weighting = false;
  o.action_weights = {1.0, 3.0};
  const CooccurrenceTable t = count_cooccurrence({make_session(1, {1, 2, 3}, {0, 1, 0})}, o);
  REQUIRE(pair_feature_count(t) == 8);
  CHECK(pair_feature_names(t)[3] == "log_action_0");
  CHECK(pair_feature_names(t)[4] == "log_action_1");
  const std::vector<float> f = features(t, t.index_of(1), t.index_of(2));  // B = 2 was action 1
  CHECK(f[1] == Approx(std::log(4.0)));  // X = 3
  CHECK(f[3] == 0.0f);
  CHECK(f[4] == Approx(std::log(2.0)));
  PairFeatureOptions no_actions;
  no_actions.per_action_counts = false;
  CHECK(pair_feature_count(t, no_actions) == 6);
  CHECK(features(t, 0, 1, no_actions)[3] == f[5]);  // PMI moves up
}

TEST_CASE("pair features: batched rows equal single pairs; per-item popularity", "[data][pair_features]") {
  const CooccurrenceTable t = small_table();
  const std::vector<index_t> a{0, 1, 0, -1, 3}, b{1, 3, 3, 2, 2};
  std::vector<float> out(a.size() * 6);
  pair_features(t, a, b, out);
  Matrix<float> m;
  pair_features(t, a, b, m);
  REQUIRE(m.rows() == 5);
  REQUIRE(m.cols() == 6);
  for (std::size_t r = 0; r < a.size(); ++r) {
    const std::vector<float> f = features(t, a[r], b[r]);
    for (std::size_t c = 0; c < 6; ++c) {
      CHECK(out[r * 6 + c] == f[c]);
      CHECK(m.data()[r * 6 + c] == f[c]);
    }
  }
  CHECK_THROWS_AS(pair_features(t, a, std::vector<index_t>{1}, out), Error);

  REQUIRE(item_feature_count() == 2);
  CHECK(item_feature_names() == std::vector<std::string>{"log_events", "log_sessions"});
  CHECK(item_popularity_feature(t, t.index_of(20)) == Approx(std::log(4.0)));  // 3 events
  std::vector<float> it(2);
  item_features(t, t.index_of(10), it);
  CHECK(it[0] == Approx(std::log(3.0)));  // 2 events
  CHECK(it[1] == Approx(std::log(3.0)));  // 2 sessions
  item_features(t, t.index_of(40), it);
  CHECK(it[0] == Approx(std::log(2.0)));
  item_features(t, -1, it);
  CHECK(it == std::vector<float>{0.0f, 0.0f});
  CHECK(item_popularity_feature(t, -1) == 0.0f);
}
