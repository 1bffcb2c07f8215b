// The item-to-item model with Transformer towers (models/item_to_item.hpp, ItemToItemTransformer;
// tokens e_A and one dense token W_d x_A + b_d of the pair features, models/two_tower_transformer.hpp):
// finite-difference gradients of FieldTokens with dense fields, of the body (both outputs) and of
// the whole two-head loss (double, cpu_scalar), cpu_simd-vs-cpu_scalar parity, and the exact
// related_items lists against brute force. Cross towers: test_item_to_item_towers.cpp.
#include <catch2/catch.hpp>

#include "item_to_item_towers_checks.hpp"

using namespace ctrnet;
using namespace ctrnet::i2i_test;

namespace {
ItemToItemOptions tf_options() {
  ItemToItemOptions o = tiny_options();
  o.transformer.blocks = 1;
  o.transformer.heads = 2;
  o.transformer.ff_hidden = 6;
  return o;
}
}  // namespace

TEST_CASE("FieldTokens: dense fields become one projected token", "[transformer][item_to_item][gradcheck]") {
  const Schema s = tiny_schema();
  const Batch b = tiny_batch(s, 5, 7);
  FieldTokens::Options fo;
  fo.group = "query";  // cooccurs, log_count, a_log_pop (dense) and item_a
  fo.embedding_dim = 4;
  FieldTokens ft(fo);
  ParamRegistry reg;
  CHECK(ft.build(s, reg) == 2 * 4);
  CHECK(ft.tokens() == 2);
  CHECK(ft.num_dense() == 3);
  CHECK_FALSE(ft.masked());
  auto rep = testing::check_gradients(FieldTokens(fo), s, b.view());
  INFO(rep.summary());
  CHECK(rep.ok());
  // The dense token is W_d x + b_d of the row's dense context fields (columns 0, 1, 2).
  ModelParams<double> params;
  params.initialize(reg, 3);
  Rng rng(2);
  for (auto& v : params.dense) v = rng.uniform(-0.5, 0.5);
  const Weights<double> w = params.weights();
  FieldTokens::Cache<double> c;
  Matrix<double> y(b.size(), ft.out_dim());
  ft.forward(cpu_scalar{}, w, b.view(), y.view(), c);
  REQUIRE(reg.find("dense.weight") != nullptr);
  REQUIRE(reg.find("dense.bias") != nullptr);
  const ParamHandle wd = reg.find("dense.weight")->handle, bd = reg.find("dense.bias")->handle;
  const BatchView v = b.view();
  for (index_t r = 0; r < b.size(); ++r)
    for (index_t k = 0; k < 4; ++k) {
      double want = w[bd](0, k);
      for (index_t j = 0; j < 3; ++j) want += w[wd](k, j) * static_cast<double>(v.dense(r, j));
      CHECK(y(r, 4 + k) == Approx(want).margin(1e-12));
    }
}

TEST_CASE("Item-pair body with Transformer towers: backward matches finite differences",
          "[item_to_item][transformer][gradcheck]") {
  const Schema s = tiny_schema();
  const Batch b = tiny_batch(s, 6, 3);
  for (const TokenPoolingMode pool : {TokenPoolingMode::mean, TokenPoolingMode::first}) {
    ItemToItemOptions o = tf_options();
    o.transformer.pooling = pool;
    const ItemToItemTransformer m = item_to_item_model<ItemToItemTransformer>(o);
    auto rep = testing::check_gradients(m.body(), s, b.view());
    INFO(to_string(pool) << ": " << rep.summary());
    CHECK(rep.ok());
  }
}

TEST_CASE("Item-to-item with Transformer towers: two-head loss gradient matches finite differences (double)",
          "[item_to_item][transformer][gradcheck]") {
  const ItemToItemTransformer proto = item_to_item_model<ItemToItemTransformer>(tf_options());
  const double rel = loss_gradient_error(proto);
  INFO("relative error " << rel);
  CHECK(rel < 1e-6);
}

TEST_CASE("Item-to-item with Transformer towers: parameters and option checks", "[item_to_item][transformer]") {
  const ItemToItemTransformer m = make_item_to_item_transformer(tiny_schema(), tf_options(), 2);
  std::vector<std::string> names;
  m.visit_params([&](const std::string& n, auto) { names.push_back(n); });
  for (const char* want : {"embedding.item", "context.dense.weight", "context.proj.weight", "item.dense.weight",
                           "item.proj.bias", "relevance_bias.item", "pair.bias"})
    CHECK(std::find(names.begin(), names.end(), want) != names.end());
  ItemToItemOptions bad = tf_options();
  bad.transformer.heads = 3;  // 4 is not a multiple of 3
  CHECK_THROWS_WITH(make_item_to_item_transformer(tiny_schema(), bad), Catch::Contains("multiple of transformer.heads"));
}

TEST_CASE("Item-to-item with Transformer towers: cpu_simd matches cpu_scalar", "[item_to_item][transformer][simd]") {
  check_simd_parity(make_item_to_item_transformer(tiny_schema(), tf_options(), 3));
}

TEST_CASE("Related items with Transformer towers: the exact retrieval trick equals brute-force scoring",
          "[item_to_item][transformer][serve]") {
  ItemToItemOptions o;
  o.embedding_dim = 8;
  o.output_dim = 6;
  o.transformer.heads = 2;
  o.transformer.ff_hidden = 16;
  check_related_items_exact<ItemToItemTransformer>(o);
}

TEST_CASE("FieldTokens: the dense token sits before the sequence tokens and counts as valid",
          "[transformer][gradcheck]") {
  // query: a dense field, a user id and a history of item ids (max_len 3); made-up rows.
  Schema s;
  Field dense;
  dense.name = "age";
  dense.tower = "query";
  s.add(dense);
  Field user;
  user.name = "user";
  user.kind = FieldKind::categorical;
  user.vocab_size = 4;
  user.tower = "query";
  s.add(user);
  Field hist;
  hist.name = "history";
  hist.kind = FieldKind::sequence;
  hist.vocab_size = 7;
  hist.tower = "query";
  s.add(hist);
  Batch b(s);
  const std::vector<std::vector<FeatureId>> hs{{}, {2}, {1, 4, 6}, {0, 1, 2, 3, 5}};
  for (int r = 0; r < 4; ++r) {
    const std::vector<FeatureId> u{r};
    const std::vector<float> x{0.25f * static_cast<float>(r) - 0.3f};
    b.add(x, std::vector<std::span<const FeatureId>>{u, hs[static_cast<std::size_t>(r)]}, 1.f);
  }
  FieldTokens::Options fo;
  fo.group = "query";
  fo.embedding_dim = 2;
  fo.max_len = 3;
  FieldTokens ft(fo);
  ParamRegistry reg;
  CHECK(ft.build(s, reg) == 5 * 2 + 1);  // user, dense, 3 history tokens, the count
  CHECK(ft.masked());
  ModelParams<double> params;
  params.initialize(reg, 1);
  FieldTokens::Cache<double> c;
  Matrix<double> y(b.size(), ft.out_dim());
  ft.forward(cpu_scalar{}, params.weights(), b.view(), y.view(), c);
  for (int r = 0; r < 4; ++r)  // 1 + 1 + min(len, 3), at least 1
    CHECK(y(r, 10) == 2.0 + static_cast<double>(std::min<std::size_t>(hs[static_cast<std::size_t>(r)].size(), 3)));
  CHECK(y(0, 4) == 0.0);  // the empty history: its first token is padding
  auto rep = testing::check_gradients(FieldTokens(fo), s, b.view());
  INFO(rep.summary());
  CHECK(rep.ok());
  TransformerTowerBody::Options bo;
  bo.tokens = fo;
  bo.heads = 1;
  bo.output_dim = 3;
  auto rb = testing::check_gradients(TransformerTower("query", TransformerTowerBody(bo)), s,
                                     b.view());
  INFO(rb.summary());
  CHECK(rb.ok());
}
