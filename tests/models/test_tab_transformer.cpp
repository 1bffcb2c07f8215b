// TabTransformer as a model: parameter names and shapes, finite-difference gradient checks of the
// whole body (double, cpu_scalar; concat and added column embeddings, pre- and post-norm),
// cpu_simd against cpu_scalar for a training step, save → load → predict bit for bit, and the
// errors a user can hit.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "../io/io_test_util.hpp"
#include "ctrnet/io/architecture_tab_transformer.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/models/tab_transformer.hpp"
#include "ctrnet/policy/cpu_simd.hpp"
#include "ctrnet/testing/gradcheck.hpp"
#include "simd_parity_checks.hpp"

using namespace ctrnet;
using namespace ctrnet::io_test;

namespace {
// small_schema() (io_test_util.hpp): dense x0, x1; categorical a (5 ids, embedding_dim 3), b, h.
// Every value embedding must be 3 wide: d = 4 with ℓ = 1 (concat) or d = 3 (add).
TabTransformerOptions small_options(ColumnEmbedding mode, bool norm_first = false) {
  TabTransformerOptions o;
  o.column_mode = mode;
  o.embedding_dim = mode == ColumnEmbedding::concat ? 4 : 3;
  o.column_dim = 1;
  o.blocks = 2;
  o.heads = mode == ColumnEmbedding::concat ? 2 : 1;
  o.ff_hidden = 5;
  o.norm_first = norm_first;
  o.hidden = {5};
  o.activation = Activation::tanh;  // smooth, so central differences are exact enough
  return o;
}
}  // namespace

TEST_CASE("TabTransformer names its parameters and sizes the MLP input", "[tab_transformer]") {
  auto m = make_tab_transformer(small_schema(), small_options(ColumnEmbedding::concat), 1);
  const auto& reg = m.registry();
  REQUIRE(reg.find("column") != nullptr);
  CHECK(reg.find("column")->handle.rows == 3);
  CHECK(reg.find("column")->handle.cols == 1);
  CHECK(reg.find("blocks.0.attn.qkv.weight")->handle.rows == 12);
  CHECK(reg.find("blocks.1.norm2.bias") != nullptr);
  CHECK(reg.find("dense_norm.weight")->handle.cols == 2);
  CHECK(reg.find("deep.0.weight")->handle.cols == 2 + 3 * 4);  // [LN(dense) | 3 tokens of 4]
  CHECK(reg.find("logit.weight") != nullptr);
  REQUIRE(reg.tables().size() == 3);
  CHECK(reg.tables()[1].name == "embedding.b");
  CHECK(reg.tables()[1].handle.dim == 3);

  auto added = make_tab_transformer(small_schema(), small_options(ColumnEmbedding::add), 1);
  CHECK(added.registry().find("column")->handle.cols == 3);
}

TEST_CASE("TabTransformer body backward matches finite differences", "[tab_transformer][gradcheck]") {
  const Schema s = small_schema();
  const Batch b = small_batch(s, 4, 3);
  for (ColumnEmbedding mode : {ColumnEmbedding::concat, ColumnEmbedding::add})
    for (bool norm_first : {false, true}) {
      TabTransformerOptions o = small_options(mode, norm_first);
      o.dense_norm = !norm_first;  // both dense paths
      auto rep = ctrnet::testing::check_gradients(make_tab_transformer_body(o), s, b.view());
      INFO(to_string(mode) << ", norm_first " << norm_first << "\n" << rep.summary());
      CHECK(rep.ok());
    }
}

TEST_CASE("TabTransformer training step: cpu_simd matches cpu_scalar", "[tab_transformer][simd]") {
  const Schema s = small_schema();
  TabTransformerOptions o = small_options(ColumnEmbedding::concat, true);
  o.attention_dropout = 0.2;
  o.dropout = 0.1;
  auto m = make_tab_transformer(s, o, 4);
  const Batch b = small_batch(s, 37, 6);
  auto step = [&](const auto& p, ModelGrads<float>& g) {
    TabTransformer::Cache c;
    g.zero();
    Context ctx;
    ctx.training = true;
    ctx.seed = 8;
    return m.forward_backward(p, b.view(), c, g, ctx, double(b.size()));
  };
  ModelGrads<float> g0 = m.make_grads(), g1 = m.make_grads();
  const double l0 = step(cpu_scalar{}, g0), l1 = step(cpu_simd{}, g1);
  CHECK(l1 == Approx(l0).epsilon(1e-5));
  REQUIRE(g0.dense.size() == g1.dense.size());
  for (std::size_t i = 0; i < g0.dense.size(); ++i) {
    INFO("dense gradient " << i);
    CHECK(std::abs(g1.dense[i] - g0.dense[i]) <= 2e-5 + 2e-4 * std::abs(g0.dense[i]));
  }
  parity_test::check_table_grads_match(m.registry(), g0, g1);  // and the embedding-table gradients
}

TEST_CASE("TabTransformer save -> load -> predict is bit-identical", "[tab_transformer][io]") {
  const Schema s = small_schema();
  TempDir dir;
  for (ColumnEmbedding mode : {ColumnEmbedding::concat, ColumnEmbedding::add}) {
    INFO(to_string(mode));
    TabTransformerOptions o = small_options(mode, mode == ColumnEmbedding::add);
    o.attention_dropout = 0.125;
    o.dropout = 0.25;
    o.dense_norm = mode == ColumnEmbedding::concat;
    auto m = make_tab_transformer(s, o, 1);
    randomize(m, 7);
    const std::string path = dir.file(std::string(to_string(mode)) + ".safetensors");
    ModelSaveOptions so;
    so.seed = 3;
    save_model(m, path, so);
    const TabTransformer loaded = load_model<TabTransformer>(path);
    const Batch b = small_batch(s, 9, 5);
    CHECK(bit_identical(predict(m, b), predict(loaded, b)));
    CHECK(same_dense(m, loaded));
    const SafetensorsFile f(path);
    CHECK(f.metadata("architecture") == "tab_transformer");
    const TabTransformerOptions back = ArchitectureTraits<TabTransformerBody>::options(loaded.body());
    CHECK(back.embedding_dim == o.embedding_dim);
    CHECK(back.column_mode == mode);
    CHECK(back.blocks == 2);
    CHECK(back.heads == o.heads);
    CHECK(back.norm_first == o.norm_first);
    CHECK(back.dense_norm == o.dense_norm);
    CHECK((loaded.registry().find("dense_norm.weight") != nullptr) == o.dense_norm);
    CHECK(back.attention_dropout == 0.125);
    CHECK(back.dropout == 0.25);
    CHECK(back.hidden == o.hidden);
  }
}

TEST_CASE("TabTransformer reports wrong options clearly", "[tab_transformer]") {
  const Schema s = small_schema();
  TabTransformerOptions o = small_options(ColumnEmbedding::concat);
  o.embedding_dim = 6;  // value embeddings 5 wide, but field a asks for 3
  CHECK_THROWS_WITH(make_tab_transformer(s, o, 1), Catch::Contains("field 'a'"));
  o = small_options(ColumnEmbedding::concat);
  o.heads = 3;  // token width 4
  CHECK_THROWS_WITH(make_tab_transformer(s, o, 1), Catch::Contains("multiple of heads"));
  Schema dense_only;
  dense_only.add_dense("x");
  CHECK_THROWS_WITH(make_tab_transformer(dense_only, small_options(ColumnEmbedding::add), 1),
                    Catch::Contains("no categorical field"));
}
