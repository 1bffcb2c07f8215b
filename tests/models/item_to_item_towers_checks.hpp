// Shared checks of the item-to-item models (tests/models/test_item_to_item*.cpp):
// made-up rows over a 5-item schema, the finite-difference check of the whole two-head loss, the
// cpu_simd-vs-cpu_scalar parity and the exact related_items lists against brute force, each a
// template over the model type.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ctrnet/serve/related_items.hpp"
#include "ctrnet/testing/gradcheck.hpp"
#include "ctrnet/testing/model_gradcheck.hpp"
#include "simd_parity_checks.hpp"

namespace ctrnet::i2i_test {

inline ItemToItemOptions tiny_options() {
  ItemToItemOptions o;
  o.embedding_dim = 4;
  o.output_dim = 3;
  o.context_hidden = {4};
  o.item_hidden = {};
  o.activation = Activation::tanh;
  o.glove_weight = 0.8;
  o.glove_x_max = 5.0;
  return o;
}
inline Schema tiny_schema() { return item_to_item_schema(5, {"cooccurs", "log_count"}, {"log_pop"}); }

// Rows (pair features, pops, a, b, label, count) of tiny_schema(), made up.
inline Batch tiny_batch(const Schema& s, int n, std::uint64_t seed) {
  Batch b;
  b.reset(s, 1);
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    const bool co = i % 3 != 0;
    const double cnt = co ? 1.0 + std::floor(rng.uniform(0.0, 9.0)) : 0.0;
    const std::vector<float> d{co ? 1.0f : 0.0f, static_cast<float>(std::log1p(cnt)),
                               static_cast<float>(rng.uniform(0, 3)), static_cast<float>(rng.uniform(0, 3))};
    const std::vector<FeatureId> ids{static_cast<FeatureId>(rng.below(5)), static_cast<FeatureId>(rng.below(5))};
    b.add_one_hot(d, ids, co && rng.bernoulli(0.7) ? 1.f : 0.f, static_cast<float>(0.5 + rng.uniform()));
    b.targets[0].push_back(static_cast<float>(cnt));
  }
  b.set_size(n);
  return b;
}

/// Relative error ‖g − g_num‖ / ‖g + g_num‖ of the gradient of the whole two-head loss of a
/// double copy of `proto` (every dense parameter and every table entry, central differences).
template <class Body, class... Heads>
double loss_gradient_error(const BasicModel<float, Body, Heads...>& proto) {
  const Schema s = tiny_schema();
  const Batch b = tiny_batch(s, 7, 4);
  BasicModel<double, Body, Heads...> m(proto.body(), proto.template head<0>(), proto.template head<1>());
  m.build(s, 11);
  testing::randomize_params(m, 5);
  const auto check = testing::check_model_loss_gradient(m, b.view());
  CHECK(check.loss_recomputed == Approx(check.loss).epsilon(1e-12));
  CHECK(check.norm > 1e-6);
  return check.error;
}

/// Loss, both outputs, every dense gradient and every embedding-table gradient row agree between
/// cpu_simd and cpu_scalar, and so do the predictions (simd_parity_checks.hpp).
template <class M>
void check_simd_parity(M m) {
  const Schema s = tiny_schema();
  const Batch b = tiny_batch(s, 37, 8);
  Rng rng(1);
  for (auto& v : m.params().dense) v = static_cast<float>(rng.uniform(-0.5, 0.5));
  parity_test::check_model_simd_parity(m, b.view());
}

// Made-up sessions over `items` items: walks on a fixed random graph, raw ids 500 + i.
inline std::vector<Session> walk_sessions(int sessions, int items, std::uint64_t seed, std::uint64_t graph_seed) {
  Rng g(graph_seed), rng(seed);
  std::vector<std::vector<int>> next(static_cast<std::size_t>(items));
  for (auto& v : next)
    for (int k = 0; k < 3; ++k) v.push_back(static_cast<int>(g.below(static_cast<std::uint64_t>(items))));
  std::vector<Session> out;
  for (int s = 0; s < sessions; ++s) {
    Session x;
    x.id = s;
    int cur = static_cast<int>(rng.below(static_cast<std::uint64_t>(items)));
    const int len = 2 + static_cast<int>(rng.below(5));
    for (int j = 0; j < len; ++j) {
      x.items.push_back(500 + cur);
      x.times.push_back(j);
      x.actions.push_back(0);
      cur = rng.uniform() < 0.85 ? next[static_cast<std::size_t>(cur)][rng.below(3)]
                                 : static_cast<int>(rng.below(static_cast<std::uint64_t>(items)));
    }
    out.push_back(std::move(x));
  }
  return out;
}

/// related_items (the exact retrieval trick, several query blocks) equals scoring every pair
/// (A, B ≠ A) through the model with its real pair features; relevance output, with and
/// without the GloVe mix.
template <class M>
void check_related_items_exact(const ItemToItemOptions& o) {
  const auto sessions = walk_sessions(120, 30, 2, 9);
  const CooccurrenceTable t = count_cooccurrence(sessions);
  const ItemPairFeaturizer fz(t);
  const index_t N = t.num_items();
  M m = make_item_to_item_as<M>(fz.schema(), o, 0.0, 4);
  Rng rng(3);
  for (auto& v : m.params().dense) v = static_cast<float>(rng.uniform(-0.5, 0.5));
  for (auto& tab : m.params().tables)
    for (index_t i = 0; i < tab.size(); ++i) tab.data()[i] = static_cast<float>(rng.uniform(-0.5, 0.5));
  Batch all = fz.make_batch();
  for (index_t a = 0; a < N; ++a)
    for (index_t b = 0; b < N; ++b)
      if (a != b) fz.add(all, a, b, 0.0f, 1.0f);
  all.set_size(static_cast<index_t>(all.labels.size()));
  typename M::Cache c;
  m.forward(cpu_scalar{}, all.view(), c);
  const index_t K = 7;
  for (const float mix : {0.0f, 0.7f}) {
    RelatedItemsOptions ro;
    ro.k = K;
    ro.glove_mix = mix;
    ro.block = 8;
    const RecommendationLists l = related_items(cpu_simd{}, m, fz, ro);
    REQUIRE(l.num_items() == N);
    index_t mismatches = 0;
    for (index_t a = 0; a < N; ++a) {
      std::vector<ItemScore> s;
      for (index_t b = 0, row = a * (N - 1); b < N; ++b)
        if (b != a) {
          s.push_back({b, c.logits(row, 0) + mix * c.logits(row, 1)});
          ++row;
        }
      std::sort(s.begin(), s.end(), [](auto& x, auto& y) { return x.score != y.score ? x.score > y.score : x.item < y.item; });
      for (index_t j = 0; j < K; ++j) {
        if (l.list(a)[static_cast<std::size_t>(j)] != s[static_cast<std::size_t>(j)].item) ++mismatches;
        CHECK(l.list_scores(a)[static_cast<std::size_t>(j)] == Approx(s[static_cast<std::size_t>(j)].score).margin(1e-4));
      }
    }
    INFO("glove_mix " << mix);
    CHECK(mismatches == 0);
  }
}

}  // namespace ctrnet::i2i_test
