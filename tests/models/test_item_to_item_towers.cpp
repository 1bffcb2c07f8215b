// The item-to-item model with DCN-V2 cross towers (models/item_to_item.hpp, ItemToItemCross):
// finite-difference gradients of the body (both outputs) and of the whole two-head loss (double,
// cpu_scalar, every dense parameter and table row), cpu_simd-vs-cpu_scalar parity, and the exact
// retrieval of serve/related_items.hpp against brute-force scoring of every pair. The Transformer
// towers are tested in test_item_to_item_towers_tf.cpp (one model type per file keeps the
// compile light).
#include <catch2/catch.hpp>

#include "item_to_item_towers_checks.hpp"

using namespace ctrnet;
using namespace ctrnet::i2i_test;

namespace {
ItemToItemOptions cross_options() {
  ItemToItemOptions o = tiny_options();
  o.cross.depth = 2;
  o.cross.rank = 0;
  o.cross.self_interaction = true;  // the ‖e‖² term (the only pair with one item field per tower)
  return o;
}
}  // namespace

TEST_CASE("Item-pair body with cross towers: backward matches finite differences", "[item_to_item][cross][gradcheck]") {
  const Schema s = tiny_schema();
  const Batch b = tiny_batch(s, 6, 3);
  for (index_t rank : {0, 2}) {
    ItemToItemOptions o = cross_options();
    o.cross.rank = rank;
    o.cross.self_interaction = rank == 0;
    const ItemToItemCross m = item_to_item_model<ItemToItemCross>(o);
    auto rep = testing::check_gradients(m.body(), s, b.view());
    INFO("rank " << rank << ": " << rep.summary());
    CHECK(rep.ok());
  }
}

TEST_CASE("Item-to-item with cross towers: two-head loss gradient matches finite differences (double)",
          "[item_to_item][cross][gradcheck]") {
  const ItemToItemCross proto = item_to_item_model<ItemToItemCross>(cross_options());
  const double rel = loss_gradient_error(proto);
  INFO("relative error " << rel);
  CHECK(rel < 1e-6);
}

TEST_CASE("Item-to-item with cross towers: parameter names", "[item_to_item][cross]") {
  const ItemToItemCross m = make_item_to_item_cross(tiny_schema(), cross_options(), 2);
  std::vector<std::string> names;
  m.visit_params([&](const std::string& n, auto) { names.push_back(n); });
  for (const char* want : {"embedding.item", "context.cross.0.weight", "context.cross.1.bias", "context.deep.0.weight",
                           "item.cross.0.weight", "item.deep.0.weight", "glove_bias.context", "pair.linear"})
    CHECK(std::find(names.begin(), names.end(), want) != names.end());
  // The context tower reads the 3 dense context fields, e_A (4 wide) and ‖e_A‖²: h0 is 8 wide.
  CHECK(m.body().context_tower().body().get<0>().inner().out_dim() == 2 + 1 + 4 + 1);
}

TEST_CASE("Item-to-item with cross towers: cpu_simd matches cpu_scalar", "[item_to_item][cross][simd]") {
  ItemToItemOptions o = cross_options();
  o.activation = Activation::relu;
  o.cross.rank = 2;
  check_simd_parity(make_item_to_item_cross(tiny_schema(), o, 3));
}

TEST_CASE("Related items with cross towers: the exact retrieval trick equals brute-force scoring",
          "[item_to_item][cross][serve]") {
  ItemToItemOptions o;
  o.embedding_dim = 6;
  o.output_dim = 6;
  o.context_hidden = {8};
  o.cross.depth = 2;
  check_related_items_exact<ItemToItemCross>(o);
}
