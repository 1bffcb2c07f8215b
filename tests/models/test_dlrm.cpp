// DLRM as a model: parameter names and shapes, the interaction's input in the reference order
// [bottom output; e_1 .. e_F], finite-difference gradient checks of the whole body (double,
// cpu_scalar, tanh MLPs), cpu_simd against cpu_scalar for a training step, save → load → predict
// bit for bit, and the errors a user can hit.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "../io/io_test_util.hpp"
#include "ctrnet/io/architecture_dlrm.hpp"
#include "ctrnet/models/dlrm.hpp"
#include "ctrnet/policy/cpu_simd.hpp"
#include "ctrnet/testing/gradcheck.hpp"
#include "simd_parity_checks.hpp"

using namespace ctrnet;
using namespace ctrnet::io_test;

namespace {

// small_schema() (io_test_util.hpp): dense x0, x1; categorical a (5 ids, embedding_dim 3), b (7 ids),
// hashed h (11 buckets). So d = 3 and n = 1 + 3 vectors.
DLRMOptions small_options(bool self = false) {
  DLRMOptions o;
  o.embedding_dim = 3;
  o.bottom = {4};
  o.top = {5, 4};
  o.activation = Activation::tanh;  // smooth, so central differences are exact enough
  o.self_interaction = self;
  return o;
}

std::vector<std::string> dense_names(const DLRM& m) {
  std::vector<std::string> v;
  for (const auto& p : m.registry().params()) v.push_back(p.name);
  return v;
}

}  // namespace

TEST_CASE("DLRM names its parameters bottom, top and logit, with shapes from the interaction", "[dlrm]") {
  const Schema s = small_schema();
  for (bool self : {false, true}) {
    INFO("self " << self);
    auto m = make_dlrm(s, small_options(self), 1);
    CHECK(dense_names(m) == std::vector<std::string>{"bottom.0.weight", "bottom.0.bias", "bottom.1.weight",
                                                     "bottom.1.bias", "top.0.weight", "top.0.bias", "top.1.weight",
                                                     "top.1.bias", "logit.weight", "logit.bias"});
    REQUIRE(m.registry().tables().size() == 3);
    CHECK(m.registry().tables()[0].name == "embedding.a");
    CHECK(m.registry().find("bottom.0.weight")->handle.cols == 2);  // the two dense fields
    CHECK(m.registry().find("bottom.1.weight")->handle.rows == 3);  // bottom output = d
    // top input = d + pairs of n = 4 vectors: 3 + 6 (strict) or 3 + 10 (with the diagonal)
    CHECK(m.registry().find("top.0.weight")->handle.cols == (self ? 13 : 9));
    CHECK(m.body().get<1>().inner().num_vectors() == 4);
  }
}

TEST_CASE("DLRM interacts [bottom output; e_1 .. e_F] in the reference order", "[dlrm]") {
  // The body's first two layers on cpu_scalar: row b of the interaction input is [x_b | e_a | e_b | e_h];
  // the output's pair (2, 1) is <e_b, e_a> and (3, 0) is <e_h, x_b>, read from the input directly.
  const Schema s = small_schema();
  auto m = make_dlrm(s, small_options(), 1);
  randomize(m, 3);
  const Batch b = small_batch(s, 4, 9);
  DLRM::Cache c;
  m.forward(cpu_scalar{}, b.view(), c);
  const auto& in = c.body.out[0];     // DLRMInput output: [4, 12]
  const auto& inter = c.body.out[1];  // DotInteraction output: [4, 3 + 6]
  REQUIRE(in.cols() == 12);
  REQUIRE(inter.cols() == 9);
  auto dot = [&](index_t r, index_t i, index_t j) {
    double acc = 0;
    for (index_t k = 0; k < 3; ++k) acc += double(in(r, i * 3 + k)) * double(in(r, j * 3 + k));
    return acc;
  };
  for (index_t r = 0; r < 4; ++r) {
    for (index_t k = 0; k < 3; ++k) CHECK(inter(r, k) == in(r, k));  // x_b passed through
    // pairs: (1,0) (2,0) (2,1) (3,0) (3,1) (3,2)
    const index_t pi[] = {1, 2, 2, 3, 3, 3}, pj[] = {0, 0, 1, 0, 1, 2};
    for (int p = 0; p < 6; ++p) CHECK(inter(r, 3 + p) == Approx(dot(r, pi[p], pj[p])).epsilon(1e-5));
  }
}

TEST_CASE("DLRM body backward matches finite differences", "[dlrm][gradcheck]") {
  const Schema s = small_schema();
  const Batch b = small_batch(s, 5, 1);
  for (bool self : {false, true}) {
    auto rep = ctrnet::testing::check_gradients(make_dlrm_body(small_options(self)), s, b.view());
    INFO("self " << self << "\n" << rep.summary());
    CHECK(rep.ok());
  }
  DLRMOptions no_hidden = small_options();
  no_hidden.bottom = {};  // bottom MLP of one layer: dense → d
  auto rep = ctrnet::testing::check_gradients(make_dlrm_body(no_hidden), s, b.view());
  INFO("no bottom hidden layer\n" << rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("DLRM training step: cpu_simd matches cpu_scalar", "[dlrm][simd]") {
  const Schema s = small_schema();
  DLRMOptions o = small_options(true);
  o.activation = Activation::relu;
  o.embedding_dim = 3;
  auto m = make_dlrm(s, o, 2);
  randomize(m, 4);
  const Batch b = small_batch(s, 37, 2);
  auto step = [&](const auto& p, ModelGrads<float>& g) {
    DLRM::Cache c;
    g.zero();
    return m.forward_backward(p, b.view(), c, g, Context{}, double(b.size()));
  };
  ModelGrads<float> g0 = m.make_grads(), g1 = m.make_grads();
  const double l0 = step(cpu_scalar{}, g0), l1 = step(cpu_simd{}, g1);
  CHECK(l1 == Approx(l0).epsilon(1e-5));
  REQUIRE(g0.dense.size() == g1.dense.size());
  for (index_t i = 0; i < g0.dense.size(); ++i) {
    INFO("dense gradient " << i);
    CHECK(std::abs(g1.dense[i] - g0.dense[i]) <= 1e-5 + 1e-4 * std::abs(g0.dense[i]));
  }
  parity_test::check_table_grads_match(m.registry(), g0, g1);  // and the embedding-table gradients
}

TEST_CASE("DLRM save -> load -> predict is bit-identical", "[dlrm][io]") {
  const Schema s = small_schema();
  TempDir dir;
  for (bool self : {false, true}) {
    INFO("self " << self);
    DLRMOptions o = small_options(self);
    o.activation = Activation::relu;
    o.dropout = 0.25;
    auto m = make_dlrm(s, o, 1);
    randomize(m, 7);
    const std::string path = dir.file(self ? "self.safetensors" : "dlrm.safetensors");
    ModelSaveOptions so;
    so.seed = 3;
    save_model(m, path, so);
    const DLRM loaded = load_model<DLRM>(path);
    const Batch b = small_batch(s, 9, 5);
    CHECK(bit_identical(predict(m, b), predict(loaded, b)));
    CHECK(same_dense(m, loaded));
    const SafetensorsFile f(path);
    CHECK(f.metadata("architecture") == "dlrm");
    const DLRMOptions back = ArchitectureTraits<DLRMBody>::options(loaded.body());
    CHECK(back.embedding_dim == 3);
    CHECK(back.bottom == o.bottom);
    CHECK(back.top == o.top);
    CHECK(back.activation == Activation::relu);
    CHECK(back.self_interaction == self);
    CHECK(back.dropout == 0.25);
    // Saving the loaded model again reproduces the file's tensors.
    save_model(loaded, dir.file("again.safetensors"), so);
    const SafetensorsFile g(dir.file("again.safetensors"));
    CHECK(g.metadata() == f.metadata());
    for (const auto& t : f.tensors()) {
      const auto a = f.bytes(t), c = g.bytes(g.at(t.name));
      CHECK((a.size() == c.size() && std::memcmp(a.data(), c.data(), a.size()) == 0));
    }
  }
}

TEST_CASE("DLRM explains what it cannot build", "[dlrm]") {
  Schema no_dense;
  no_dense.add_categorical("a", 5).add_categorical("b", 4);
  CHECK_THROWS_WITH(make_dlrm(no_dense, small_options(), 1), Catch::Contains("no dense field"));
  Schema other_dim;
  other_dim.add_dense("x").add_categorical("a", 5, 8).add_categorical("b", 4);
  CHECK_THROWS_WITH(make_dlrm(other_dim, small_options(), 1), Catch::Contains("declares embedding_dim 8"));
  DLRMOptions no_top = small_options();
  no_top.top = {};
  CHECK_THROWS_WITH(make_dlrm(small_schema(), no_top, 1), Catch::Contains("top MLP"));
}
