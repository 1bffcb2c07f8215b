// Multiple outputs as a general mechanism: DCN-V2 (stacked) with a 2-unit logit layer and two
// heads, Model<Body, BinaryHead, GloveHead> (relevance + GloVe co-occurrence fit), built from the
// unchanged DCN-V2 parts. It trains with the ordinary Trainer on a data set with an extra target
// column (BatchView::targets) and both losses fall; the two-head loss gradient matches finite
// differences in double, for dense parameters and embedding rows.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "../loss_value.hpp"
#include "ctrnet/heads/glove.hpp"
#include "ctrnet/models/dcn.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"
#include "ctrnet/testing/model_gradcheck.hpp"
#include "ctrnet/train/trainer.hpp"

using namespace ctrnet;

namespace {
Schema small_schema() {
  Schema s;
  s.add_dense("x0").add_dense("x1");
  s.add_categorical("a", 6, 3);
  s.add_categorical("b", 5, 3);
  return s;
}
// Label: a noisy rule; count target: exp(0.8·x0 + 0.3·a) rounded, 0 for a third of the rows.
Batch make_batch(const Schema& s, int n, std::uint64_t seed) {
  Batch b;
  b.reset(s, 1);
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    const float x0 = static_cast<float>(rng.normal()), x1 = static_cast<float>(rng.normal());
    const FeatureId a = static_cast<FeatureId>(rng.below(6)), c = static_cast<FeatureId>(rng.below(5));
    const std::vector<float> d{x0, x1};
    const std::vector<FeatureId> ids{a, c};
    const bool pos = (x0 + (a % 2 == 0 ? 1.0 : -1.0) + 0.3 * rng.normal()) > 0.0;
    b.add_one_hot(d, ids, pos ? 1.f : 0.f, static_cast<float>(0.5 + rng.uniform()));
    const double cnt = i % 3 == 0 ? 0.0 : std::round(std::exp(0.8 * x0 + 0.3 * static_cast<double>(a)) + 1.0);
    b.targets[0].push_back(static_cast<float>(cnt));
  }
  return b;
}
template <class T>
DCNv2StackedBody two_output_dcn_v2(const DCNOptions& o) {
  Linear::Options lo;
  lo.units = 2;  // one logit column per head
  return DCNv2StackedBody(detail::dcn_input(o), detail::dcn_v2_cross(o), detail::dcn_deep(o),
                          Named<Linear>("logit", Linear(lo)));
}
}  // namespace

TEST_CASE("DCN-V2 with a second (GloVe) output trains with the unchanged Trainer", "[model][multi_output]") {
  const Schema s = small_schema();
  DCNOptions o;
  o.hidden = {16};
  o.cross_depth = 2;
  o.embedding_dim = 3;
  using M = Model<DCNv2StackedBody, BinaryHead, GloveHead>;
  M m(two_output_dcn_v2<float>(o), BinaryHead(HeadOptions{1.0, 0}), GloveHead(HeadOptions{0.5, 1}));
  m.build(s, 3);
  CHECK(m.output_width() == 2);

  const InMemoryDataset data(s, make_batch(s, 512, 9));
  REQUIRE(data.num_targets() == 1);
  auto head_losses = [&] {
    M::Cache c;
    Batch all;
    std::vector<index_t> rows(static_cast<std::size_t>(data.size()));
    for (index_t i = 0; i < data.size(); ++i) rows[static_cast<std::size_t>(i)] = i;
    data.gather(rows, all);
    const BatchView v = all.view();
    m.forward(cpu_simd{}, v, c);
    double norm = 0.0;
    for (float w : all.weights) norm += w;
    Matrix<float> dz(v.size, 1, 0.0f);
    const double bce = test_util::loss_value([&](double* out_) { m.head<0>().loss(cpu_simd{}, c.logits.cview().col_block(0, 1), v, norm, dz.view(), out_); });
    const double glove = test_util::loss_value([&](double* out_) { m.head<1>().loss(cpu_simd{}, c.logits.cview().col_block(1, 1), v, norm, dz.view(), out_); });
    return std::pair{bce, glove};
  };
  const auto before = head_losses();
  TrainerOptions to;
  to.epochs = 8;
  to.batch_size = 64;
  to.threads = 1;
  to.optimizer.lr = 0.01;
  to.embedding_optimizer.lr = 0.05;
  to.progress = ProgressMode::never;
  Trainer<M> trainer(m, to);
  trainer.fit(data);
  const auto after = head_losses();
  INFO("bce " << before.first << " -> " << after.first << ", glove " << before.second << " -> " << after.second);
  CHECK(after.first < 0.8 * before.first);
  CHECK(after.second < 0.5 * before.second);
  // The probabilities come from head 0, the log-count estimates from head 1.
  const BinaryMetrics bm = trainer.evaluate(data);
  CHECK(bm.auc() > 0.8);
}

TEST_CASE("Two-head model loss gradient matches finite differences (double)", "[model][multi_output][gradcheck]") {
  const Schema s = small_schema();
  Batch b = make_batch(s, 7, 4);
  DCNOptions o;
  o.hidden = {4};
  o.cross_depth = 1;
  o.embedding_dim = 3;
  o.activation = Activation::tanh;
  BasicModel<double, DCNv2StackedBody, BinaryHead, GloveHead> m(
      two_output_dcn_v2<double>(o), BinaryHead(HeadOptions{0.7, 0}), GloveHead(HeadOptions{1.3, 1}, GloveOptions{5.0, 0.75}));
  m.build(s, 11);
  testing::randomize_params(m, 5);
  const auto check = testing::check_model_loss_gradient(m, b.view());
  CHECK(std::isfinite(check.loss));
  CHECK(check.loss_recomputed == Approx(check.loss).epsilon(1e-14));
  INFO("relative error " << check.error);
  CHECK(check.error < 1e-6);
  CHECK(check.norm > 1e-6);  // the check saw non-zero gradients
}
