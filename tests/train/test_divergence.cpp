// Diverged training stops (train/divergence.hpp): the finiteness scan (core/finite.hpp) finds the
// first NaN, ±inf or negative value, in any block and in unaligned bytes; Trainer::train_step outside
// fit, the two-tower trainer and the item-to-item loop throw a ctrnet::Error naming the step (and the
// epoch and batch) instead of training on with NaN, and a refused step leaves the parameters as they were.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/train/item_to_item_trainer.hpp"
#include "ctrnet/train/trainer.hpp"
#include "ctrnet/two_tower.hpp"

using namespace ctrnet;

namespace {
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("first_non_finite finds the first NaN, inf or negative value", "[divergence]") {
  std::vector<float> x(5000, 1.0f);
  CHECK(first_non_finite(std::span<const float>(x)) == x.size());
  x[3000] = -0.0f;  // zero, not negative
  x[4000] = -2.0f;
  CHECK(first_non_finite(std::span<const float>(x), true) == 4000);
  CHECK(first_non_finite(std::span<const float>(x)) == x.size());
  x[4999] = kInf;
  x[2500] = kNaN;
  CHECK(first_non_finite(std::span<const float>(x)) == 2500);
  x[7] = -kInf;
  CHECK(first_non_finite(std::span<const float>(x)) == 7);
  CHECK(first_non_finite(std::span<const float>()) == 0);
  std::vector<double> d(1500, -1.0);
  CHECK(first_non_finite(std::span<const double>(d)) == d.size());
  CHECK(first_non_finite(std::span<const double>(d), true) == 0);
  d[1200] = std::numeric_limits<double>::quiet_NaN();
  CHECK(first_non_finite(std::span<const double>(d)) == 1200);
  CHECK(first_non_finite(std::span<const double>(std::vector<double>{std::numeric_limits<double>::max()})) == 1);
  // Raw bytes at an odd address (memory-mapped tensors need not be aligned), and bfloat16 bits.
  std::vector<std::byte> bytes(1 + 4 * 3000);
  for (int i = 0; i < 3000; ++i) {
    const float v = i == 2999 ? kNaN : float(i);
    std::memcpy(bytes.data() + 1 + 4 * i, &v, 4);
  }
  CHECK(first_non_finite_bytes(std::span<const std::byte>(bytes).subspan(1), 4) == 2999);
  const std::uint16_t bf16[] = {0x3f80, 0xbf80, 0x7f80, 0x7fc0};  // 1, -1, inf, NaN
  const auto b16 = std::as_bytes(std::span<const std::uint16_t>(bf16));
  CHECK(first_non_finite_bytes(b16, 2) == 2);
  CHECK(first_non_finite_bytes(b16, 2, true) == 1);
}

TEST_CASE("a NaN loss in Trainer::train_step is an error, and the step is not applied", "[divergence][trainer]") {
  Schema s;
  s.add_dense("x");
  s.add_categorical("c", 4, 2);
  auto m = make_logistic_regression(s, {}, 1);
  TrainerOptions o;
  o.threads = 1;
  o.progress = ProgressMode::never;
  Trainer<LogisticRegression> tr(m, o);
  Batch b(s);
  for (int i = 0; i < 8; ++i) b.add_one_hot(std::vector<float>{float(i)}, std::vector<FeatureId>{i % 4}, float(i % 2));
  tr.train_step(b.view());
  REQUIRE(tr.step() == 1);
  const auto before = m.params();
  b.labels[5] = kNaN;
  CHECK_THAT(error_of([&] { tr.train_step(b.view()); }),
             Catch::Contains("Trainer: the loss of step 2 is nan") && Catch::Contains("the step was not applied"));
  CHECK(tr.step() == 1);
  CHECK(tr.optimizer().step_count() == 1);
  CHECK(std::memcmp(before.dense.data(), m.params().dense.data(), before.dense.size() * sizeof(float)) == 0);
  b.labels[5] = 1.0f;
  b.dense_values[3] = kInf;  // an infinite input: an infinite (or NaN) loss or gradient
  CHECK_THAT(error_of([&] { tr.train_step(b.view(), StepPlace{2, 6, 9}); }),
             Catch::Contains("of step 2 (epoch 2, batch 7 of 9)"));
}

TEST_CASE("the two-tower trainer stops at a NaN input, naming the epoch, batch and step", "[divergence][two_tower]") {
  RetrievalData d;
  Field ux, user, item;
  ux.name = "u_x";
  ux.tower = "query";
  user.name = "user";
  user.kind = FieldKind::categorical;
  user.vocab_size = 6;
  user.tower = "query";
  item = user;
  item.name = "item";
  item.tower = "candidate";
  d.schema.add(ux).add(user).add(item);
  Batch qb(d.schema), ib(d.schema);
  for (int u = 0; u < 6; ++u)
    qb.add_one_hot(std::vector<float>{u == 4 ? kNaN : float(u) / 6}, std::vector<FeatureId>{u, 0}, 1.f);
  for (int i = 0; i < 6; ++i) ib.add_one_hot(std::vector<float>{0.f}, std::vector<FeatureId>{0, i}, 1.f);
  d.queries = InMemoryDataset(d.schema, std::move(qb));
  d.items = InMemoryDataset(d.schema, std::move(ib));
  Interactions train;
  for (int u = 0; u < 6; ++u) train.add(u, (u + 1) % 6);  // user 4 in pair 4: batch 3 of 3 (batches of 2)
  TwoTowerOptions mo;
  mo.embedding_dim = 4;
  mo.query_hidden = {4};
  mo.output_dim = 4;
  auto m = make_two_tower_mlp(d.schema, mo, 1);
  TwoTowerTrainerOptions o;
  o.epochs = 2;
  o.batch_size = 2;
  o.shuffle = false;
  o.threads = 1;
  o.progress = ProgressMode::never;
  TwoTowerTrainer<TwoTowerMLP> tr(m, o);
  CHECK_THAT(error_of([&] { tr.fit(d, train); }),
             Catch::Contains("TwoTowerTrainer: the ") && Catch::Contains("of step 3 (epoch 1, batch 3 of 3)") &&
                 Catch::Contains("nan") && Catch::Contains("lower the learning rate"));
  CHECK(tr.step() == 2);
}

TEST_CASE("item-to-item training with a far too large learning rate stops with an error", "[divergence][item_to_item]") {
  std::vector<Session> sessions;
  Rng rng(3);
  for (int s = 0; s < 200; ++s) {
    Session x;
    x.id = s;
    for (int j = 0; j < 4; ++j) {
      x.items.push_back(100 + static_cast<std::int64_t>(rng.below(20)));
      x.times.push_back(j);
      x.actions.push_back(0);
    }
    sessions.push_back(std::move(x));
  }
  const CooccurrenceTable t = count_cooccurrence(sessions);
  const ItemPairFeaturizer fz(t);
  const auto pos = item_to_item_positives(sessions, t);
  ItemToItemOptions mo;
  mo.embedding_dim = 4;
  mo.output_dim = 4;
  mo.context_hidden = {};
  auto m = make_item_to_item(fz.schema(), mo, 1);
  ItemToItemTrainOptions o;
  o.epochs = 3;
  o.threads = 1;
  o.batch_size = 32;
  o.optimizer.kind = DenseKind::sgd;
  o.optimizer.lr = 1e30;
  o.embedding_optimizer.kind = SparseKind::sgd;
  o.embedding_optimizer.lr = 1e30;
  CHECK_THAT(error_of([&] { train_item_to_item(m, fz, pos, o); }),
             Catch::Contains("training diverged") && Catch::Contains("(epoch ") && Catch::Contains(", batch "));
}
