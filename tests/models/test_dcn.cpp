// DCN, DCN-V2 stacked and DCN-V2 parallel as models: parameter names and gradient checks of the
// whole bodies (double, cpu_scalar, tanh MLP); cpu_simd against cpu_scalar for a training step of
// every alias (dense and table gradients, predictions); concurrent inference on one const model.
// Training quality: test_dcn_quality.cpp.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "concurrent_inference_checks.hpp"
#include "ctrnet/dcn_v2.hpp"
#include "ctrnet/testing/gradcheck.hpp"
#include "ctrnet/testing/model_gradcheck.hpp"
#include "simd_parity_checks.hpp"

using namespace ctrnet;

namespace {
Schema small_schema(index_t dim = 3) {
  Schema s;
  s.add_dense("x0").add_dense("x1");
  s.add_categorical("a", 4, dim);
  s.add_categorical("b", 5, dim);
  return s;
}
Batch small_batch(const Schema& s, int n, std::uint64_t seed) {
  Batch b(s);
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    std::vector<float> d{float(rng.normal()), float(rng.normal())};
    std::vector<FeatureId> ids{FeatureId(rng.below(4)), FeatureId(rng.below(5))};
    b.add_one_hot(d, ids, rng.bernoulli(0.4) ? 1.f : 0.f, float(0.5 + rng.uniform()));
  }
  return b;
}
DCNOptions small_options(index_t rank = 0) {
  DCNOptions o;
  o.embedding_dim = 3;
  o.cross_depth = 2;
  o.rank = rank;
  o.hidden = {5, 4};
  o.activation = Activation::tanh;  // smooth, so central differences are exact enough
  return o;
}

// Predicts `b` on one const model from 8 threads at once, against a serial run
// (concurrent_inference_checks.hpp): the number of outputs that differ bitwise.
template <class M>
int concurrent_predict_mismatches(const M& m, const Batch& b, const cpu_simd& policy) {
  return concurrency_test::concurrent_mismatches<typename M::Cache>(
      b.view(), m.output_width(),
      [&](const BatchView& v, MatrixView<float> out, typename M::Cache& c) { m.predict(policy, v, out, c); });
}

template <class M>
std::vector<std::string> dense_names(const M& m) {
  std::vector<std::string> v;
  for (const auto& p : m.registry().params()) v.push_back(p.name);
  return v;
}
template <class M>
std::vector<std::string> table_names(const M& m) {
  std::vector<std::string> v;
  for (const auto& t : m.registry().tables()) v.push_back(t.name);
  return v;
}
}  // namespace

TEST_CASE("DCN models name their parameters like their papers' parts", "[dcn]") {
  const Schema s = small_schema();
  const std::vector<std::string> deep_logit{"deep.0.weight", "deep.0.bias", "deep.1.weight", "deep.1.bias",
                                            "logit.weight", "logit.bias"};
  auto with = [&](std::vector<std::string> cross) {
    cross.insert(cross.end(), deep_logit.begin(), deep_logit.end());
    return cross;
  };
  const std::vector<std::string> tables{"embedding.a", "embedding.b"};

  auto dcn = make_dcn(s, small_options(), 1);
  CHECK(dense_names(dcn) == with({"cross.0.weight", "cross.0.bias", "cross.1.weight", "cross.1.bias"}));
  CHECK(table_names(dcn) == tables);
  // x0 = 2 dense + 2 × 3 embedding = 8; DCN's cross weights are vectors, its logit reads [8 | 4].
  CHECK(dcn.params().view(dcn.registry().params()[0].handle).cols == 8);
  CHECK(dcn.registry().params()[0].handle.rows == 1);
  CHECK(dcn.registry().params()[8].handle.cols == 12);

  auto stacked = make_dcn_v2_stacked(s, small_options(), 1);
  CHECK(dense_names(stacked) == with({"cross.0.weight", "cross.0.bias", "cross.1.weight", "cross.1.bias"}));
  CHECK(table_names(stacked) == tables);
  CHECK(stacked.registry().params()[0].handle.rows == 8);
  CHECK(stacked.registry().params()[8].handle.cols == 4);  // logit after the MLP

  auto parallel = make_dcn_v2_parallel(s, small_options(2), 1);
  CHECK(dense_names(parallel) ==
        with({"cross.0.u", "cross.0.v", "cross.0.bias", "cross.1.u", "cross.1.v", "cross.1.bias"}));
  CHECK(parallel.registry().params()[0].handle.rows == 8);
  CHECK(parallel.registry().params()[0].handle.cols == 2);
  CHECK(parallel.registry().params()[10].handle.cols == 12);  // logit over [cross | deep]
}

TEST_CASE("DCN bodies backward match finite differences", "[dcn][gradcheck]") {
  const Schema s = small_schema();
  const Batch b = small_batch(s, 5, 1);
  {
    auto rep = ctrnet::testing::check_gradients(make_dcn_body(small_options()), s, b.view());
    INFO("DCN\n" << rep.summary());
    CHECK(rep.ok());
  }
  for (index_t rank : {0, 2}) {
    auto rep = ctrnet::testing::check_gradients(make_dcn_v2_stacked_body(small_options(rank)), s, b.view());
    INFO("DCNv2Stacked rank " << rank << "\n" << rep.summary());
    CHECK(rep.ok());
    auto rep2 = ctrnet::testing::check_gradients(make_dcn_v2_parallel_body(small_options(rank)), s, b.view());
    INFO("DCNv2Parallel rank " << rank << "\n" << rep2.summary());
    CHECK(rep2.ok());
  }
  {
    DCNOptions o = small_options(2);
    o.experts = 3;
    o.expert_activation = Activation::tanh;
    auto rep = ctrnet::testing::check_gradients(make_dcn_mix_body(o), s, b.view());
    INFO("DCNMix\n" << rep.summary());
    CHECK(rep.ok());
  }
}

TEST_CASE("DCN models' training step: cpu_simd matches cpu_scalar", "[dcn][simd]") {
  // Embeddings 8 wide (x0: 2 + 2 × 8 = 18 columns) and 37 rows: full SIMD registers and tails.
  const Schema s = small_schema(8);
  const Batch b = small_batch(s, 37, 3);
  auto options = [](index_t rank) {
    DCNOptions o = small_options(rank);
    o.embedding_dim = 8;
    o.hidden = {16, 7};
    o.activation = Activation::relu;
    return o;
  };
  {
    INFO("DCN");
    parity_test::check_model_simd_parity(make_dcn(s, options(0), 2), b.view());
  }
  for (index_t rank : {0, 3}) {
    INFO("rank " << rank);
    {
      INFO("DCNv2Stacked");
      parity_test::check_model_simd_parity(make_dcn_v2_stacked(s, options(rank), 2), b.view());
    }
    {
      INFO("DCNv2Parallel");
      parity_test::check_model_simd_parity(make_dcn_v2_parallel(s, options(rank), 2), b.view());
    }
  }
  {
    DCNOptions o = options(3);
    o.experts = 3;
    INFO("DCNMix");
    parity_test::check_model_simd_parity(make_dcn_mix(s, o, 2), b.view());
  }
}

TEST_CASE("DCN-Mix builds with experts of the requested rank and named gates", "[dcn]") {
  DCNOptions o = small_options(2);
  o.experts = 3;
  auto m = make_dcn_mix(small_schema(), o, 5);
  bool has_gate = false, has_u = false;
  for (const auto& p : m.registry().params()) {
    if (p.name == "cross.0.gate") has_gate = true;
    if (p.name == "cross.0.u") has_u = true;
  }
  CHECK(has_gate);
  CHECK(has_u);
  CHECK(m.registry().find("deep.0.weight") != nullptr);
  CHECK(m.registry().find("logit.weight") != nullptr);
}

TEST_CASE("8 threads predicting on one const DCN model match a serial run bitwise", "[dcn][threads]") {
  const Schema s = small_schema();
  const Batch b = small_batch(s, 64, 9);
  DCNOptions o = small_options();
  o.embedding_dim = 8;
  o.cross_depth = 3;
  o.hidden = {32, 16};
  o.activation = Activation::relu;
  cpu_simd one_thread;
  one_thread.max_threads = 1;
  const cpu_simd tbb_threads;  // max_threads = 0: each call may also use oneTBB workers
  {
    DCNv2Stacked built = make_dcn_v2_stacked(s, o, 3);
    testing::randomize_params(built, 17);
    const DCNv2Stacked& m = built;
    CHECK(concurrent_predict_mismatches(m, b, one_thread) == 0);
    CHECK(concurrent_predict_mismatches(m, b, tbb_threads) == 0);
  }
  {
    DCNOptions mix = o;
    mix.rank = 4;
    mix.experts = 3;
    DCNMix built = make_dcn_mix(s, mix, 4);
    testing::randomize_params(built, 18);
    const DCNMix& m = built;
    CHECK(concurrent_predict_mismatches(m, b, one_thread) == 0);
    CHECK(concurrent_predict_mismatches(m, b, tbb_threads) == 0);
  }
}
