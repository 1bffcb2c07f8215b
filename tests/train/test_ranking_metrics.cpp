// Ranking metrics on hand-computed lists (Recall, NDCG, HitRate, MRR at K, coverage), the
// accumulator, and full-ranking evaluation through an ItemIndex with exclusions.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "ctrnet/train/ranking_metrics.hpp"

using namespace ctrnet;

TEST_CASE("Ranking metrics of one list match hand-computed values", "[ranking_metrics]") {
  // ranked = [5, 3, 9, 1, 7], relevant = {1, 3, 8}, K = 4: hits at ranks 2 and 4.
  const std::vector<index_t> ranked{5, 3, 9, 1, 7}, rel{1, 3, 8};
  CHECK(recall_at_k(ranked, rel, 4) == Approx(2.0 / 3));
  // DCG = 1/log2(3) + 1/log2(5) = 0.6309298 + 0.4306766; IDCG = 1 + 1/log2(3) + 1/log2(4) = 2.1309298
  CHECK(ndcg_at_k(ranked, rel, 4) == Approx((0.6309298 + 0.4306766) / 2.1309298).epsilon(1e-6));
  CHECK(hit_at_k(ranked, rel, 4) == 1.0);
  CHECK(reciprocal_rank_at_k(ranked, rel, 4) == 0.5);
  CHECK(recall_at_k(ranked, rel, 1) == 0.0);
  CHECK(hit_at_k(ranked, rel, 1) == 0.0);
  CHECK(reciprocal_rank_at_k(ranked, rel, 1) == 0.0);
  // K larger than |G|: IDCG over min(|G|, K) = 3 positions.
  const std::vector<index_t> perfect{8, 1, 3, -1, -1};
  CHECK(ndcg_at_k(perfect, rel, 5) == Approx(1.0));
  CHECK(recall_at_k(perfect, rel, 5) == 1.0);
  CHECK_THROWS_WITH(recall_at_k(ranked, std::vector<index_t>{3, 1}, 4), Catch::Contains("sorted"));
}

TEST_CASE("RankingMetrics averages over queries with relevant items and counts coverage", "[ranking_metrics]") {
  RankingMetrics m(2, 10);
  m.add(std::vector<index_t>{0, 1}, std::vector<index_t>{1});     // recall 1, ndcg 1/log2(3), mrr 0.5
  m.add(std::vector<index_t>{2, 3}, std::vector<index_t>{4, 5});  // nothing
  m.add(std::vector<index_t>{3, 9}, std::vector<index_t>{});      // no relevant items: coverage only
  const RankingResult r = m.result();
  CHECK(r.queries == 2);
  CHECK(r.recall == Approx(0.5));
  CHECK(r.ndcg == Approx(0.5 / std::log2(3.0)));
  CHECK(r.hit_rate == Approx(0.5));
  CHECK(r.mrr == Approx(0.25));
  CHECK(r.items_recommended == 5);  // {0, 1, 2, 3, 9}
  CHECK(r.coverage == Approx(0.5));
}

TEST_CASE("Full-ranking evaluation excludes seen items before taking the top K", "[ranking_metrics]") {
  // One dimension: item i has vector i, the query 1 → ranking 4, 3, 2, 1, 0.
  Matrix<float> v(5, 1);
  for (int i = 0; i < 5; ++i) v(i, 0) = float(i);
  ItemIndex<float> index(std::move(v));
  Matrix<float> q(2, 1, 1.f);
  const ItemLists relevant(std::vector<std::vector<index_t>>{{2}, {0}});
  const ItemLists seen(std::vector<std::vector<index_t>>{{4, 3}, {}});
  const RankingResult r = evaluate_full_ranking(cpu_simd{}, index, q.cview(), relevant, seen, 1);
  // query 0: 4 and 3 excluded → top-1 = 2: a hit; query 1: top-1 = 4: a miss.
  CHECK(r.recall == Approx(0.5));
  CHECK(r.mrr == Approx(0.5));
  CHECK(r.items_recommended == 2);
  CHECK(r.coverage == Approx(0.4));
}
