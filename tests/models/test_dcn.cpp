// DCN, DCN-V2 stacked and DCN-V2 parallel as models: parameter names and gradient checks of the
// whole bodies (double, cpu_scalar, tanh MLP). Training quality: test_dcn_quality.cpp.
#include <catch2/catch.hpp>
#include <span>
#include <string>
#include <vector>

#include "ctrnet/dcn_v2.hpp"
#include "ctrnet/testing/gradcheck.hpp"

using namespace ctrnet;

namespace {
Schema small_schema() {
  Schema s;
  s.add_dense("x0").add_dense("x1");
  s.add_categorical("a", 4, 3);
  s.add_categorical("b", 5, 3);
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
