// Next-item evaluation and list statistics (train/next_item_metrics.hpp), hand-computed on
// made-up sessions and lists: HR@K, MRR@K with unknown queries and targets, coverage, distinct
// share, overlap (all pairs and sampled), popularity percentile; thread-count invariance.
#include <catch2/catch.hpp>

#include <vector>

#include "ctrnet/core/rng.hpp"
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
// Items 1, 2, 3, 4 (indices 0..3) with 4, 3, 2, 1 events.
CooccurrenceTable train_table() {
  return count_cooccurrence({make_session(1, {1, 2, 3, 4}), make_session(2, {1, 2, 3}), make_session(3, {1, 2}),
                             make_session(4, {1})});
}
// K = 2: L0 = [1, 2], L1 = [0, 2], L2 = [3, 0], L3 = [0, 1].
RecommendationLists lists() {
  RecommendationLists l;
  l.k = 2;
  l.items = {1, 2, 0, 2, 3, 0, 0, 1};
  l.scores.assign(8, 1.0f);
  return l;
}
}  // namespace

TEST_CASE("next item: HR@K and MRR@K, unknown queries and targets", "[train][next_item]") {
  const CooccurrenceTable t = train_table();
  // (1→2) rank 1; (2→3) rank 2; (3→4) rank 1; (4→9) unknown target; (9→1) unknown query.
  const std::vector<Session> test{make_session(1, {1, 2, 3}), make_session(2, {3, 4, 9}), make_session(3, {9, 1}),
                                  make_session(4, {2})};
  NextItemOptions o;
  o.k = 2;
  const NextItemResult r = evaluate_next_item(test, t, lists(), o);
  CHECK(r.queries == 5);
  CHECK(r.hits == 3);
  CHECK(r.unknown_queries == 1);
  CHECK(r.unknown_targets == 1);
  CHECK(r.hit_rate == Approx(0.6));
  CHECK(r.mrr == Approx(2.5 / 5.0));
  o.skip_unknown_queries = true;
  const NextItemResult s = evaluate_next_item(test, t, lists(), o);
  CHECK(s.queries == 4);
  CHECK(s.hit_rate == Approx(0.75));
  CHECK(s.mrr == Approx(2.5 / 4.0));
  // K = 1 uses the first slot only.
  o.k = 1;
  const NextItemResult k1 = evaluate_next_item(test, t, lists(), o);
  CHECK(k1.hits == 2);
  CHECK(k1.mrr == Approx(2.0 / 4.0));
  // A callable gives the same as its precomputed lists.
  o.k = 2;
  const RecommendationLists l = lists();
  auto rec = [&](index_t q, index_t k) {
    std::vector<ItemScore> out;
    for (index_t j = 0; j < k; ++j) out.push_back({l.list(q)[static_cast<std::size_t>(j)], 1.0f});
    return out;
  };
  const NextItemResult c = evaluate_next_item(test, t, rec, o);
  CHECK(c.hits == s.hits);
  CHECK(c.mrr == s.mrr);
  o.k = 3;
  CHECK_THROWS_WITH(evaluate_next_item(test, t, lists(), o), Catch::Contains("fewer than K"));
}

TEST_CASE("list statistics: coverage, distinct, overlap, popularity percentile", "[train][next_item]") {
  const CooccurrenceTable t = train_table();
  const std::vector<double> pct = popularity_percentiles(t);
  CHECK(pct == std::vector<double>{1.0, 0.75, 0.5, 0.25});
  NextItemOptions o;
  o.k = 2;
  const ListStats s = list_statistics(lists(), t, o);
  CHECK(s.items_recommended == 4);
  CHECK(s.slots == 8);
  CHECK(s.coverage == 1.0);
  CHECK(s.distinct == 0.5);
  // Pairs: (0,1) 1/2, (0,2) 0, (0,3) 1/2, (1,2) 1/2, (1,3) 1/2, (2,3) 1/2.
  CHECK(s.overlap_pairs == 6);
  CHECK(s.overlap == Approx(2.5 / 6.0));
  CHECK(s.popularity == Approx(5.75 / 8.0));

  // Empty slots and a repeated item: L0 = [1, −1], L1 = [0, −1], L2 = [1, 0], L3 = [1, 0].
  RecommendationLists e;
  e.k = 2;
  e.items = {1, -1, 0, -1, 1, 0, 1, 0};
  e.scores.assign(8, 0.0f);
  const ListStats se = list_statistics(e, t, o);
  CHECK(se.slots == 6);
  CHECK(se.items_recommended == 2);
  CHECK(se.coverage == 0.5);
  CHECK(se.distinct == Approx(2.0 / 6.0));
  CHECK(se.popularity == Approx((0.75 + 1.0 + 2 * (0.75 + 1.0)) / 6.0));
  // (0,1) 0, (0,2) 1/2, (0,3) 1/2, (1,2) 1/2, (1,3) 1/2, (2,3) 1.
  CHECK(se.overlap == Approx(3.0 / 6.0));

  // Ties in popularity share a percentile.
  const CooccurrenceTable tie = count_cooccurrence({make_session(1, {5, 6}), make_session(2, {7})});
  CHECK(popularity_percentiles(tie) == std::vector<double>{1.0, 1.0, 1.0});
}

TEST_CASE("list statistics: sampled overlap is seeded; results do not depend on threads", "[train][next_item]") {
  // 200 items in 400 random sessions; lists = each item's 10 successors modulo n.
  Rng rng(3);
  std::vector<Session> train, test;
  for (int s = 0; s < 400; ++s) {
    std::vector<std::int64_t> it;
    const int len = 2 + static_cast<int>(rng.below(8));
    for (int i = 0; i < len; ++i) it.push_back(static_cast<std::int64_t>(rng.below(200)));
    (s % 4 == 0 ? test : train).push_back(make_session(s, it));
  }
  const CooccurrenceTable t = count_cooccurrence(train);
  const index_t n = t.num_items(), K = 10;
  auto rec = [&](index_t q, index_t k) {
    std::vector<ItemScore> out;
    for (index_t j = 1; j <= k; ++j) out.push_back({(q + j * j) % n, 1.0f});
    return out;
  };
  NextItemOptions o;
  o.k = K;
  o.overlap_pairs = 500;  // fewer than n(n−1)/2: sampled
  o.threads = 1;
  const NextItemReport a = evaluate_item_to_item(test, t, rec, o);
  o.threads = 3;
  const NextItemReport b = evaluate_item_to_item(test, t, rec, o);
  CHECK(a.next.hits == b.next.hits);
  CHECK(a.next.mrr == b.next.mrr);  // bitwise
  CHECK(a.lists.overlap == b.lists.overlap);
  CHECK(a.lists.overlap_pairs == 500);
  // Overlap of the successor lists: L_a ∩ L_b = {a + j² = b + i²}: small but computable exactly
  // over all pairs; the sample mean is close to it.
  o.overlap_pairs = n * (n - 1) / 2;
  const ListStats all = list_statistics(recommend_all(rec, n, K), t, o);
  CHECK(all.overlap_pairs == n * (n - 1) / 2);
  CHECK(a.lists.overlap == Approx(all.overlap).margin(0.02));
  CHECK(all.coverage == 1.0);
  CHECK(all.distinct == Approx(1.0 / static_cast<double>(K)));
  o.seed = 99;
  o.overlap_pairs = 500;
  CHECK(list_statistics(recommend_all(rec, n, K), t, o).overlap != a.lists.overlap);
}
