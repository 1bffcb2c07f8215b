// Item-to-item baselines (serve/item_cf.hpp): hand-computed popularity, co-occurrence-count and
// cosine lists (self-exclusion, tie order, popularity padding), the cosine of co-occurrence
// rows against a dense reference (undirected and directed), recommend_all; and, with
// CTRNET_DATA_DIR, the published YooChoose-100k item-CF baseline (HR@20 ~0.41, MRR@20 ~0.19).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <vector>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/serve/item_cf.hpp"
#include "ctrnet/train/next_item_metrics.hpp"

using namespace ctrnet;

namespace {
Session make_session(std::int64_t id, std::vector<std::int64_t> items) {
  Session s;
  s.id = id;
  s.items = std::move(items);
  s.times.assign(s.items.size(), static_cast<double>(id));
  s.actions.assign(s.items.size(), 0);
  return s;
}
// Items 10, 20, 30, 40 -> indices 0..3. Window 2, 1/d: X(10,20) = 3, X(10,30) = 1/2,
// X(20,30) = 1, X(20,40) = 1/2, X(30,40) = 1. Events 2, 3, 1, 1; sessions 2, 2, 1, 1.
CooccurrenceTable small_table() {
  CooccurrenceOptions o;
  o.window = 2;
  return count_cooccurrence({make_session(1, {10, 20, 30, 40}), make_session(2, {20, 10, 20})}, o);
}
std::vector<index_t> items_of(const std::vector<ItemScore>& l) {
  std::vector<index_t> r;
  for (const ItemScore& s : l) r.push_back(s.item);
  return r;
}
using V = std::vector<index_t>;
}  // namespace

TEST_CASE("item-CF: popularity list is the same for every item, minus the item", "[serve][item_cf]") {
  const CooccurrenceTable t = small_table();
  const PopularityRecommender p(t);
  CHECK(V(p.popular().begin(), p.popular().end()) == V{1, 0, 2, 3});  // 30 and 40 tie: index order
  CHECK(items_of(p.recommend(0, 2)) == V{1, 2});
  CHECK(items_of(p.recommend(1, 2)) == V{0, 2});
  CHECK(items_of(p.recommend(3, 5)) == V{1, 0, 2});  // only 3 other items
  CHECK(p.recommend(0, 1)[0].score == 3.0f);
  CHECK(items_of(p.recommend(-1, 2)) == V{1, 0});  // unknown query
  CHECK_THROWS_AS(p.recommend(4, 2), Error);
  CHECK_THROWS_AS(p.recommend(0, 0), Error);
}

TEST_CASE("item-CF: co-occurrence counts, tie order and popularity padding", "[serve][item_cf]") {
  const CooccurrenceTable t = small_table();
  const CooccurrenceRecommender r(t);
  const std::vector<ItemScore> l0 = r.recommend(0, 3);  // 20 (3), 30 (1/2), then padding: 40
  CHECK(items_of(l0) == V{1, 2, 3});
  CHECK(l0[0].score == 3.0f);
  CHECK(l0[1].score == 0.5f);
  CHECK(l0[2].score == 0.0f);
  CHECK(items_of(r.recommend(3, 3)) == V{2, 1, 0});  // 30 (1), 20 (1/2), padding 10
  CHECK(items_of(r.recommend(2, 3)) == V{1, 3, 0});  // 20 and 40 tie at 1: 20 is more popular
  CHECK(items_of(r.recommend(0, 1)) == V{1});
  CHECK(items_of(r.recommend(-1, 2)) == V{1, 0});
  const RecommendationLists all = r.recommend_all(3);
  REQUIRE(all.num_items() == 4);
  for (index_t i = 0; i < 4; ++i) {
    const std::vector<ItemScore> l = r.recommend(i, 3);
    CHECK(V(all.list(i).begin(), all.list(i).end()) == items_of(l));
    CHECK(all.list_scores(i)[0] == l[0].score);
  }
  // K larger than the catalogue: empty slots are −1.
  const RecommendationLists big = r.recommend_all(5);
  CHECK(V(big.list(0).begin(), big.list(0).end()) == V{1, 2, 3, -1, -1});
}

TEST_CASE("item-CF: cosine of co-occurrence rows and incidence cosine, hand-computed", "[serve][item_cf]") {
  const CooccurrenceTable t = small_table();
  // Rows: 10 = (0, 3, .5, 0), 20 = (3, 0, 1, .5), 30 = (.5, 1, 0, 1), 40 = (0, .5, 1, 0).
  const double n10 = std::sqrt(9.25), n20 = std::sqrt(10.25), n30 = 1.5, n40 = std::sqrt(1.25);
  const CosineRecommender c(t);
  const std::vector<ItemScore> l = c.recommend(0, 3);
  REQUIRE(items_of(l) == V{2, 3, 1});
  CHECK(l[0].score == Approx(3.0 / (n10 * n30)));
  CHECK(l[1].score == Approx(2.0 / (n10 * n40)));
  CHECK(l[2].score == Approx(0.5 / (n10 * n20)));
  const std::vector<ItemScore> l3 = c.recommend(3, 3);  // 40·10 = 2, 40·30 = .5, 40·20 = 1
  REQUIRE(items_of(l3) == V{0, 2, 1});
  CHECK(l3[0].score == Approx(2.0 / (n40 * n10)));
  CHECK(l3[1].score == Approx(0.5 / (n40 * n30)));
  CHECK(l3[2].score == Approx(1.0 / (n40 * n20)));

  const CosineRecommender inc(t, CosineKind::incidence);
  const std::vector<ItemScore> li = inc.recommend(0, 3);  // 20: 3/sqrt(2·2), 30: .5/sqrt(2·1), pad 40
  REQUIRE(items_of(li) == V{1, 2, 3});
  CHECK(li[0].score == Approx(1.5));
  CHECK(li[1].score == Approx(0.5 / std::sqrt(2.0)));
  CHECK(li[2].score == 0.0f);
}

TEST_CASE("item-CF: vector cosine matches a dense reference, undirected and directed", "[serve][item_cf]") {
  Rng rng(11);
  std::vector<Session> s;
  for (int k = 0; k < 300; ++k) {
    std::vector<std::int64_t> it;
    const int len = 2 + static_cast<int>(rng.below(6));
    for (int i = 0; i < len; ++i) it.push_back(static_cast<std::int64_t>(rng.below(60)));
    s.push_back(make_session(k, it));
  }
  for (const bool directed : {false, true}) {
    CooccurrenceOptions o;
    o.window = 3;
    o.directed = directed;
    const CooccurrenceTable t = count_cooccurrence(s, o);
    const index_t n = t.num_items();
    std::vector<double> dense(static_cast<std::size_t>(n * n), 0.0);
    for (index_t a = 0; a < n; ++a)
      for (const CooccurrencePair& p : t.neighbors(a)) dense[static_cast<std::size_t>(a * n + p.item)] = p.count;
    auto cosine = [&](index_t a, index_t b) {
      double d = 0, na = 0, nb = 0;
      for (index_t c = 0; c < n; ++c) {
        const double x = dense[static_cast<std::size_t>(a * n + c)], y = dense[static_cast<std::size_t>(b * n + c)];
        d += x * y;
        na += x * x;
        nb += y * y;
      }
      return na > 0 && nb > 0 ? d / std::sqrt(na * nb) : 0.0;
    };
    const CosineRecommender c(t);
    const index_t K = 10;
    const RecommendationLists all = c.recommend_all(K, 2);
    const RecommendationLists one = c.recommend_all(K, 1);
    CHECK(all.items == one.items);
    CHECK(all.scores == one.scores);
    int bad = 0;
    for (index_t a = 0; a < n; ++a) {
      const auto l = all.list(a);
      const auto sc = all.list_scores(a);
      std::set<index_t> uniq(l.begin(), l.end());
      bad += static_cast<int>(uniq.size()) != K || uniq.count(a) > 0;  // full, distinct, never itself
      for (index_t j = 0; j < K; ++j) {
        const double ref = cosine(a, l[static_cast<std::size_t>(j)]);
        bad += std::abs(sc[static_cast<std::size_t>(j)] - ref) > 1e-5;
        if (j > 0) bad += sc[static_cast<std::size_t>(j)] > sc[static_cast<std::size_t>(j - 1)];
      }
      // Nothing left out scores higher than the last kept (positive) score.
      const float last = sc[static_cast<std::size_t>(K - 1)];
      for (index_t b = 0; b < n; ++b)
        if (b != a && !uniq.count(b)) bad += cosine(a, b) > static_cast<double>(last) + 1e-5;
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("item-CF on YooChoose-100k reproduces the published co-occurrence baseline", "[serve][item_cf][data]") {
  const char* dir = std::getenv("CTRNET_DATA_DIR");
  const std::filesystem::path d = dir ? std::filesystem::path(dir) / "yoochoose-100k" : std::filesystem::path();
  if (dir == nullptr || *dir == '\0' || !std::filesystem::exists(d)) {
    WARN("SKIPPED: CTRNET_DATA_DIR unset or without yoochoose-100k");
    return;
  }
  const std::vector<Session> train = read_session_log((d / "yoochoose-clicks-100k_train_full.txt").string()).sessions();
  const std::vector<Session> test = read_session_log((d / "yoochoose-clicks-100k_test.txt").string()).sessions();
  CooccurrenceOptions o;  // window 5, 1/d weights, undirected
  const CooccurrenceTable t = count_cooccurrence(train, o);
  CHECK(t.num_items() == 2933);
  const NextItemOptions e;  // K = 20
  const CooccurrenceRecommender count(t);
  const CosineRecommender cosine(t);
  const CosineRecommender incidence(t, CosineKind::incidence);
  const PopularityRecommender pop(t);
  const auto rc = evaluate_item_to_item(test, t, [&](index_t i, index_t k) { return count.recommend(i, k); }, e);
  const auto rs = evaluate_item_to_item(test, t, [&](index_t i, index_t k) { return cosine.recommend(i, k); }, e);
  const auto ri = evaluate_item_to_item(test, t, [&](index_t i, index_t k) { return incidence.recommend(i, k); }, e);
  const auto rp = evaluate_item_to_item(test, t, [&](index_t i, index_t k) { return pop.recommend(i, k); }, e);
  for (const auto& [name, r] : {std::pair{"itemcf-count", rc}, std::pair{"itemcf-cosine", rs},
                                std::pair{"itemcf-incidence", ri}, std::pair{"popularity", rp}})
    std::cout << name << " HR@20=" << r.next.hit_rate << " MRR@20=" << r.next.mrr << " coverage=" << r.lists.coverage
              << " distinct=" << r.lists.distinct << " overlap=" << r.lists.overlap
              << " popularity=" << r.lists.popularity << " (queries " << r.next.queries << ")\n";
  index_t positions = 0;  // every (previous, next) pair of a test session is a query
  for (const Session& x : test) positions += static_cast<index_t>(x.items.size()) - 1;
  CHECK(rc.next.queries == positions);
  CHECK(rc.next.unknown_queries == 0);
  CHECK(rc.next.hit_rate >= 0.38);
  CHECK(rc.next.mrr >= 0.17);
  // Item-CF lists are item-specific; popularity gives one list (overlap (K−1)/K or 1).
  CHECK(rc.next.hit_rate > rp.next.hit_rate + 0.2);
  CHECK(rp.lists.overlap > 0.9);
  CHECK(rc.lists.overlap < 0.2);
  CHECK(rc.lists.coverage > 0.9);
  CHECK(rp.lists.coverage < 0.01);
  CHECK(rs.next.hit_rate > rp.next.hit_rate);
  CHECK(ri.next.hit_rate > rp.next.hit_rate);
}
