// TabTransformer as a model: parameter names and shapes, finite-difference gradient checks of the
// whole body (double, cpu_scalar; concat and added column embeddings, pre- and post-norm),
// cpu_simd against cpu_scalar for a training step, save → load → predict bit for bit, the errors a
// user can hit, and the column-token kernels (kernels/tokens.hpp) on hand-computed cases.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "../io/io_test_util.hpp"
#include "ctrnet/io/architecture_tab_transformer.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/kernels/tokens.hpp"
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
  for (index_t i = 0; i < g0.dense.size(); ++i) {
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

namespace {
template <class P>
void check_column_token_kernels(const P& p) {
  SECTION("concat: t_f = [c_f | e_f], dc_f += dt_f[0:ℓ], de_f = dt_f[ℓ:d]") {
    // F = 2 fields, ℓ = 1, d_v = 2, d = 3
    const Matrix<double> emb = [] {
      Matrix<double> m(1, 4);
      for (index_t k = 0; k < 4; ++k) m(0, k) = double(k + 1);
      return m;
    }();
    Matrix<double> col(2, 1);
    col(0, 0) = 10, col(1, 0) = 20;
    Matrix<double> tok(1, 6, -1.0);
    kernels::column_tokens_forward(p, emb.cview(), col.cview(), false, tok.view());
    const double et[6] = {10, 1, 2, 20, 3, 4};
    for (index_t k = 0; k < 6; ++k) CHECK(tok(0, k) == et[k]);

    Matrix<double> dtok(2, 6);
    for (index_t i = 0; i < 12; ++i) dtok.data()[i] = double(i + 1);  // rows 1..6, 7..12
    Matrix<double> dcol(2, 1);
    dcol(0, 0) = 100, dcol(1, 0) = 200;  // accumulated into
    Matrix<double> demb(2, 4, -1.0);     // overwritten
    kernels::column_tokens_backward(p, dtok.cview(), dcol.view(), demb.view());
    CHECK(dcol(0, 0) == 100 + 1 + 7);
    CHECK(dcol(1, 0) == 200 + 4 + 10);
    const double e0[4] = {2, 3, 5, 6}, e1[4] = {8, 9, 11, 12};
    for (index_t k = 0; k < 4; ++k) {
      CHECK(demb(0, k) == e0[k]);
      CHECK(demb(1, k) == e1[k]);
    }
  }
  SECTION("add: t_f = c_f + e_f, dc_f += dt_f, de_f = dt_f") {
    // F = 2 fields, ℓ = d_v = d = 2
    Matrix<double> emb(1, 4), col(2, 2);
    for (index_t k = 0; k < 4; ++k) emb(0, k) = double(k + 1), col.data()[k] = 10.0 * double(k + 1);
    Matrix<double> tok(1, 4);
    kernels::column_tokens_forward(p, emb.cview(), col.cview(), true, tok.view());
    for (index_t k = 0; k < 4; ++k) CHECK(tok(0, k) == 11.0 * double(k + 1));

    Matrix<double> dtok(1, 4), dcol(2, 2, 0.5), demb(1, 4);
    for (index_t k = 0; k < 4; ++k) dtok(0, k) = double(k + 1);
    kernels::column_tokens_backward(p, dtok.cview(), dcol.view(), demb.view());
    for (index_t k = 0; k < 4; ++k) {
      CHECK(dcol.data()[k] == 0.5 + double(k + 1));
      CHECK(demb(0, k) == double(k + 1));
    }
  }
}
}  // namespace

TEST_CASE("column_tokens_forward / backward on hand-computed cases", "[tab_transformer][kernels]") {
  SECTION("cpu_scalar") { check_column_token_kernels(cpu_scalar{}); }
  SECTION("cpu_simd") { check_column_token_kernels(cpu_simd{}); }
}
