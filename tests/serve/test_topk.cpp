// Exact top-K: cpu_simd and cpu_scalar against a naive full sort of every score (integer-valued
// vectors make every score exact and create many ties, so the tie-breaking by lower item row is
// exercised), exclusions, K larger than what is left, thread-count independence, scores equal
// to the GEMM's, and the ItemIndex (model encoding, item-to-item).
#include <catch2/catch.hpp>
#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/kernels/gemm.hpp"
#include "ctrnet/serve/item_index.hpp"

using namespace ctrnet;

namespace {
Matrix<float> int_matrix(index_t rows, index_t cols, Rng& rng, int range) {
  Matrix<float> m(rows, cols);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = float(int(rng.below(2 * range + 1)) - range);
  return m;
}
// Naive: all scores (exact for integer data), drop excluded, full stable sort by (score desc, row asc).
std::vector<std::vector<index_t>> naive(const Matrix<float>& q, const Matrix<float>& e, index_t k,
                                        const std::vector<std::vector<index_t>>& excl, const Matrix<float>* scores = nullptr) {
  std::vector<std::vector<index_t>> out;
  for (index_t r = 0; r < q.rows(); ++r) {
    std::vector<std::pair<float, index_t>> all;
    for (index_t i = 0; i < e.rows(); ++i) {
      if (!excl.empty() && std::find(excl[r].begin(), excl[r].end(), i) != excl[r].end()) continue;
      float s = 0;
      if (scores) s = (*scores)(r, i);
      else for (index_t c = 0; c < q.cols(); ++c) s += q(r, c) * e(i, c);
      all.push_back({s, i});
    }
    std::sort(all.begin(), all.end(), [](auto a, auto b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    std::vector<index_t> rows;
    for (index_t j = 0; j < k; ++j) rows.push_back(j < index_t(all.size()) ? all[std::size_t(j)].second : -1);
    out.push_back(rows);
  }
  return out;
}
std::vector<std::vector<index_t>> rows_of(const TopK<float>& t) {
  std::vector<std::vector<index_t>> out;
  for (index_t r = 0; r < t.rows.rows(); ++r) out.emplace_back(t.rows.data() + r * t.k, t.rows.data() + (r + 1) * t.k);
  return out;
}
}  // namespace

TEST_CASE("Top-K is identical to a naive full sort (ties to the lower row), scalar and SIMD", "[topk]") {
  Rng rng(1);
  for (auto [Q, N, d, k] : {std::tuple<index_t, index_t, index_t, index_t>{1, 10, 3, 4}, {7, 1000, 5, 10},
                            {250, 3001, 17, 20}, {13, 5000, 300, 7}, {3, 50, 4, 60}}) {
    const Matrix<float> q = int_matrix(Q, d, rng, 2), e = int_matrix(N, d, rng, 2);
    std::vector<std::vector<index_t>> excl(static_cast<std::size_t>(Q));
    for (auto& l : excl)
      for (int j = 0; j < 5; ++j) l.push_back(index_t(rng.below(std::uint64_t(N))));
    const ItemLists ex(excl);
    const auto want = naive(q, e, k, excl);
    INFO("Q " << Q << " N " << N << " d " << d << " k " << k);
    CHECK(rows_of(exact_topk(cpu_scalar{}, q.cview(), e.cview(), k, ex.view())) == want);
    const TopK<float> fast = exact_topk(cpu_simd{}, q.cview(), e.cview(), k, ex.view());
    CHECK(rows_of(fast) == want);
    for (index_t r = 0; r < Q; ++r)
      for (index_t j = 0; j < k; ++j) {
        const index_t i = fast.rows(r, j);
        if (i < 0) {
          CHECK(fast.scores(r, j) == -std::numeric_limits<float>::infinity());
          continue;
        }
        float s = 0;
        for (index_t c = 0; c < d; ++c) s += q(r, c) * e(i, c);
        CHECK(fast.scores(r, j) == s);
      }
    cpu_simd one;
    one.max_threads = 1;
    CHECK(rows_of(exact_topk(one, q.cview(), e.cview(), k, ex.view())) == want);
  }
}

TEST_CASE("SIMD top-K on real-valued vectors ranks exactly the GEMM's scores", "[topk]") {
  Rng rng(2);
  const index_t Q = 64, N = 20000, d = 64, k = 50;
  Matrix<float> q(Q, d), e(N, d), s(Q, N);
  for (index_t i = 0; i < q.size(); ++i) q.data()[i] = float(rng.normal());
  for (index_t i = 0; i < e.size(); ++i) e.data()[i] = float(rng.normal());
  kernels::gemm(cpu_simd{}, kernels::Trans::no, kernels::Trans::yes, 1.f, q.cview(), e.cview(), 0.f, s.view());
  const TopK<float> t = exact_topk(cpu_simd{}, q.cview(), e.cview(), k);
  CHECK(rows_of(t) == naive(q, e, k, {}, &s));
  for (index_t r = 0; r < Q; ++r)
    for (index_t j = 0; j < k; ++j) CHECK(t.scores(r, j) == s(r, t.rows(r, j)));
}

TEST_CASE("Top-K skips NaN scores and pads short lists", "[topk]") {
  Matrix<float> q(1, 2), e(4, 2);
  q(0, 0) = 1, q(0, 1) = 0;
  const float ev[] = {1, 0, std::numeric_limits<float>::quiet_NaN(), 0, 3, 0, 2, 0};
  std::copy(ev, ev + 8, e.data());
  const ItemLists ex(std::vector<std::vector<index_t>>{{3}});
  for (auto run : {0, 1}) {
    const TopK<float> t = run ? exact_topk(cpu_simd{}, q.cview(), e.cview(), 5, ex.view())
                              : exact_topk(cpu_scalar{}, q.cview(), e.cview(), 5, ex.view());
    CHECK(rows_of(t) == std::vector<std::vector<index_t>>{{2, 0, -1, -1, -1}});
    CHECK(t.scores(0, 0) == 3.f);
  }
  CHECK_THROWS_WITH(exact_topk(cpu_simd{}, q.cview(), e.cview(), 0), Catch::Contains("K must be positive"));
}

TEST_CASE("ItemIndex item-to-item lists exclude the item itself", "[topk][item_index]") {
  // Items on a line: the nearest by dot product to item 2 = [2] are the largest, [3] then [1]...
  Matrix<float> v(4, 1);
  for (int i = 0; i < 4; ++i) v(i, 0) = float(i);
  ItemIndex<float> index(std::move(v));
  const std::vector<index_t> items{2, 0};
  const TopK<float> t = index.similar_items(cpu_simd{}, items, 2);
  CHECK(rows_of(t) == std::vector<std::vector<index_t>>{{3, 1}, {1, 2}});  // item 0 scores 0 with all: ties → lower rows
  CHECK(index.size() == 4);
  CHECK(index.dim() == 1);
}
