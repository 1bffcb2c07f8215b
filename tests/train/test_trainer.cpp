// Tests for ctrnet/train/trainer.hpp: bitwise determinism across thread counts (with dropout),
// seeds, train_step's loss against a hand-computed weighted BCE, more shards than rows, early
// stopping with restore_best, the JSON-lines log, evaluate() against metrics computed from
// predict_rows, Wide & Deep beating logistic regression on data with planted crosses, row groups
// (TrainerOptions::row_group: thread independence, whole groups per shard) and the errors a user
// can trigger.
#include "ctrnet/train/trainer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <tbb/info.h>
#include <vector>

#include "ctrnet/data/synthetic.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/wide_deep.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"
#include "ctrnet/train/metrics.hpp"
#include "../temp_dir.hpp"

using namespace ctrnet;

namespace {

// A small Criteo-like data set: 4 dense fields, 6 categorical fields of `vocab` ids, 3 crosses.
SyntheticOptions small_synthetic(index_t vocab = 50) {
  SyntheticOptions o;
  o.num_dense = 4;
  o.num_categorical = 6;
  o.vocab_size = vocab;
  o.num_crosses = 3;
  o.seed = 11;
  return o;
}

InMemoryDataset make_split(const SyntheticCTR& gen, index_t n, std::uint64_t stream) {
  Batch b;
  gen.generate(n, stream, b);
  return InMemoryDataset(gen.schema(), std::move(b));
}

WideDeepOptions small_wide_deep(double dropout = 0.0) {
  WideDeepOptions o;
  o.embedding_dim = 4;
  o.hidden = {16, 8};
  o.dropout = dropout;
  return o;
}

SparseOptimizerOptions ftrl() {
  SparseOptimizerOptions o;
  o.kind = SparseKind::ftrl;
  o.lr = 0.05;
  o.l2 = 1.0;
  return o;
}

// Adam for the dense buffer, row-wise Adagrad for the embeddings, FTRL for the wide tables.
TrainerOptions base_options() {
  TrainerOptions o;
  o.epochs = 2;
  o.batch_size = 128;
  o.shards = 4;
  o.threads = 1;
  o.seed = 7;
  o.progress = ProgressMode::never;
  o.optimizer.kind = DenseKind::adam;
  o.optimizer.lr = 1e-2;
  o.embedding_optimizer.kind = SparseKind::rowwise_adagrad;
  o.embedding_optimizer.lr = 0.05;
  o.table_rules = {{"wide.", ftrl()}};
  return o;
}

// The name of the first parameter or table whose values differ bitwise; "" when the models are
// bitwise the same (the padding of the flat buffer included).
template <class M>
std::string first_difference(const M& a, const M& b) {
  const auto& pa = a.params();
  const auto& pb = b.params();
  for (const auto& p : a.registry().params()) {
    const auto va = pa.view(p.handle), vb = pb.view(p.handle);
    if (std::memcmp(va.data, vb.data, static_cast<std::size_t>(p.handle.size()) * sizeof(*va.data)) != 0)
      return p.name;
  }
  for (const auto& t : a.registry().tables()) {
    const auto& ma = pa.tables[static_cast<std::size_t>(t.handle.id)];
    const auto& mb = pb.tables[static_cast<std::size_t>(t.handle.id)];
    if (ma.rows() != mb.rows() || ma.cols() != mb.cols() ||
        std::memcmp(ma.data(), mb.data(), static_cast<std::size_t>(ma.size()) * sizeof(*ma.data())) != 0)
      return t.name;
  }
  if (pa.dense.size() != pb.dense.size() ||
      std::memcmp(pa.dense.data(), pb.dense.data(), pa.dense.size() * sizeof(pa.dense[0])) != 0)
    return "<flat buffer padding>";
  return "";
}

template <class M>
bool bitwise_same(const M& a, const M& b) {
  const std::string d = first_difference(a, b);
  INFO("first differing tensor: " << d);
  return d.empty();
}

bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Trains a fresh Wide & Deep (model seed `model_seed`) with `opt` and returns it with the result.
template <class Policy = cpu_simd>
std::pair<WideDeep, TrainResult> train_wide_deep(const Schema& schema, const WideDeepOptions& wo,
                                                 std::uint64_t model_seed, const TrainerOptions& opt,
                                                 const InMemoryDataset& train, const InMemoryDataset* valid) {
  WideDeep m = make_wide_deep(schema, wo, model_seed);
  Trainer<WideDeep, Policy> trainer(m, opt);
  TrainResult r = trainer.fit(train, valid);
  return {std::move(m), std::move(r)};
}

// Weighted mean binary cross-entropy of probabilities: Σ w ℓ / Σ w, in double.
double weighted_bce(const std::vector<float>& p, const BatchView& b) {
  double num = 0.0, den = 0.0;
  for (index_t r = 0; r < b.size; ++r) {
    const double pr = p[static_cast<std::size_t>(r)], y = b.labels[r], w = b.weight(r);
    num += -w * (y * std::log(pr) + (1.0 - y) * std::log1p(-pr));
    den += w;
  }
  return num / den;
}

// Head-0 probabilities of `m` on `v` with the scalar reference policy.
template <class M>
std::vector<float> predict_scalar(const M& m, const BatchView& v) {
  Matrix<float> out(v.size, m.output_width());
  typename M::Cache cache;
  m.predict(cpu_scalar{}, v, out.view(), cache);
  std::vector<float> p(static_cast<std::size_t>(v.size));
  for (index_t r = 0; r < v.size; ++r) p[static_cast<std::size_t>(r)] = out(r, 0);
  return p;
}

using test_util::TempDir;

}  // namespace

TEST_CASE("same seed gives bitwise the same model with 1 and 2 threads", "[trainer][determinism]") {
  const SyntheticCTR gen(small_synthetic());
  const auto train = make_split(gen, 2000, synthetic_train);
  const auto valid = make_split(gen, 500, synthetic_valid);
  const WideDeepOptions wo = small_wide_deep(0.2);  // dropout: its masks must not depend on threads either

  TrainerOptions o1 = base_options();
  o1.threads = 1;
  TrainerOptions o2 = o1;
  o2.threads = 2;
  // Where the machine has the cores, 4 threads too (asking oneTBB for more than it has only warns).
  const bool run_four = tbb::info::default_concurrency() >= 4;
  TrainerOptions o4 = o1;
  o4.threads = 4;

  SECTION("cpu_simd") {
    auto [m1, r1] = train_wide_deep<cpu_simd>(gen.schema(), wo, 5, o1, train, &valid);
    auto [m2, r2] = train_wide_deep<cpu_simd>(gen.schema(), wo, 5, o2, train, &valid);
    REQUIRE(r1.epochs.size() == 2);
    CHECK(bitwise_same(m1, m2));
    CHECK(same_double(r1.final_train_loss, r2.final_train_loss));
    if (run_four) {
      auto [m4, r4] = train_wide_deep<cpu_simd>(gen.schema(), wo, 5, o4, train, &valid);
      CHECK(bitwise_same(m1, m4));
      CHECK(same_double(r1.final_train_loss, r4.final_train_loss));
    }
    REQUIRE(r2.epochs.size() == r1.epochs.size());
    for (std::size_t e = 0; e < r1.epochs.size(); ++e) {
      CHECK(same_double(r1.epochs[e].train_loss, r2.epochs[e].train_loss));
      CHECK(same_double(r1.epochs[e].valid_auc, r2.epochs[e].valid_auc));
      CHECK(same_double(r1.epochs[e].valid_logloss, r2.epochs[e].valid_logloss));
    }
    // The model did train: it moved away from its initialisation.
    const WideDeep init = make_wide_deep(gen.schema(), wo, 5);
    CHECK_FALSE(first_difference(m1, init).empty());
    CHECK(std::isfinite(r1.final_train_loss));
  }
  SECTION("cpu_scalar") {
    auto [m1, r1] = train_wide_deep<cpu_scalar>(gen.schema(), wo, 5, o1, train, &valid);
    auto [m2, r2] = train_wide_deep<cpu_scalar>(gen.schema(), wo, 5, o2, train, &valid);
    CHECK(bitwise_same(m1, m2));
    CHECK(same_double(r1.final_train_loss, r2.final_train_loss));
    REQUIRE(r2.epochs.size() == r1.epochs.size());
    for (std::size_t e = 0; e < r1.epochs.size(); ++e) CHECK(same_double(r1.epochs[e].valid_auc, r2.epochs[e].valid_auc));
  }
}

TEST_CASE("row groups: bitwise the same model with 1 and 2 threads, and whole groups per shard",
          "[trainer][determinism][row_group]") {
  const SyntheticCTR gen(small_synthetic());
  const auto train = make_split(gen, 1998, synthetic_train);  // 666 groups of 3 rows
  const WideDeepOptions wo = small_wide_deep(0.2);
  TrainerOptions o1 = base_options();
  o1.row_group = 3;
  o1.batch_size = 129;  // 43 groups: 4 shards of 10, 11, 11 and 11 groups
  TrainerOptions o2 = o1;
  o2.threads = 2;
  auto [m1, r1] = train_wide_deep<cpu_simd>(gen.schema(), wo, 5, o1, train, nullptr);
  auto [m2, r2] = train_wide_deep<cpu_simd>(gen.schema(), wo, 5, o2, train, nullptr);
  CHECK(bitwise_same(m1, m2));
  CHECK(same_double(r1.final_train_loss, r2.final_train_loss));
  CHECK_FALSE(first_difference(m1, make_wide_deep(gen.schema(), wo, 5)).empty());

  // Without shuffling, row_group changes only where the shards are cut: pointwise heads give the
  // same model up to the order of the shard sums.
  TrainerOptions oa = o1, ob = o1;
  oa.shuffle = ob.shuffle = false;
  ob.row_group = 1;
  auto [ma, ra] = train_wide_deep<cpu_simd>(gen.schema(), small_wide_deep(0.0), 5, oa, train, nullptr);
  auto [mb, rb] = train_wide_deep<cpu_simd>(gen.schema(), small_wide_deep(0.0), 5, ob, train, nullptr);
  CHECK(ra.final_train_loss == Approx(rb.final_train_loss).epsilon(1e-4));

  // predict_rows: whole groups per shard, a last partial group in the last shard.
  Trainer<WideDeep> trainer(m1, o1);
  Batch b;
  gen.generate(11, synthetic_valid, b);
  Matrix<float> out(11, 1);
  trainer.predict_rows(b.view(), out.view());
  const auto ref = predict_scalar(m1, b.view());
  for (index_t r = 0; r < 11; ++r) CHECK(out(r, 0) == Approx(ref[static_cast<std::size_t>(r)]).epsilon(1e-5));
}

TEST_CASE("different seeds give different models", "[trainer][determinism]") {
  const SyntheticCTR gen(small_synthetic());
  const auto train = make_split(gen, 1000, synthetic_train);
  const WideDeepOptions wo = small_wide_deep(0.2);
  TrainerOptions o = base_options();
  o.epochs = 1;
  auto [ma, ra] = train_wide_deep(gen.schema(), wo, 5, o, train, nullptr);

  SECTION("another trainer seed (shuffling and dropout), same initialisation") {
    TrainerOptions ob = o;
    ob.seed = o.seed + 1;
    auto [mb, rb] = train_wide_deep(gen.schema(), wo, 5, ob, train, nullptr);
    CHECK_FALSE(first_difference(ma, mb).empty());
    CHECK_FALSE(same_double(ra.final_train_loss, rb.final_train_loss));
  }
  SECTION("another model seed (initialisation), same trainer seed") {
    auto [mb, rb] = train_wide_deep(gen.schema(), wo, 6, o, train, nullptr);
    CHECK_FALSE(first_difference(ma, mb).empty());
  }
  SECTION("dropout alone: a seed change without shuffling still changes the model") {
    TrainerOptions oa = o, ob = o;
    oa.shuffle = ob.shuffle = false;
    ob.seed = o.seed + 1;
    auto [m1, r1] = train_wide_deep(gen.schema(), wo, 5, oa, train, nullptr);
    auto [m2, r2] = train_wide_deep(gen.schema(), wo, 5, ob, train, nullptr);
    CHECK_FALSE(first_difference(m1, m2).empty());
    // ... and without dropout and shuffling the trainer seed has no effect at all.
    const WideDeepOptions no_dropout = small_wide_deep(0.0);
    auto [m3, r3] = train_wide_deep(gen.schema(), no_dropout, 5, oa, train, nullptr);
    auto [m4, r4] = train_wide_deep(gen.schema(), no_dropout, 5, ob, train, nullptr);
    CHECK(bitwise_same(m3, m4));
  }
}

TEST_CASE("train_step returns the weighted mean BCE of the model before the step and reduces it",
          "[trainer][train_step]") {
  const SyntheticCTR gen(small_synthetic());
  Batch b;
  gen.generate(64, synthetic_train, b);
  b.weights.resize(64);
  for (std::size_t i = 0; i < b.weights.size(); ++i) b.weights[i] = 0.25f + 0.5f * static_cast<float>(i % 4);
  const BatchView v = b.view();

  WideDeep m = make_wide_deep(gen.schema(), small_wide_deep(0.0), 3);
  TrainerOptions o = base_options();
  o.threads = 2;
  Trainer<WideDeep, cpu_scalar> trainer(m, o);

  std::vector<double> losses;
  for (int step = 0; step < 30; ++step) {
    const double expected = weighted_bce(predict_scalar(m, v), v);
    const double loss = trainer.train_step(v);
    INFO("step " << step);
    REQUIRE(std::isfinite(loss));
    CHECK(loss == Approx(expected).epsilon(1e-5));
    losses.push_back(loss);
  }
  CHECK(trainer.step() == 30);
  CHECK(losses.back() < 0.8 * losses.front());
}

TEST_CASE("train_step works with more shards than batch rows", "[trainer][train_step]") {
  const SyntheticCTR gen(small_synthetic());
  Batch b;
  gen.generate(3, synthetic_train, b);
  b.weights = {1.0f, 2.0f, 0.5f};
  const BatchView v = b.view();
  const WideDeepOptions wo = small_wide_deep(0.2);

  WideDeep m8 = make_wide_deep(gen.schema(), wo, 3);
  WideDeep m3 = make_wide_deep(gen.schema(), wo, 3);
  TrainerOptions o8 = base_options();
  o8.shards = 8;
  o8.threads = 2;
  TrainerOptions o3 = o8;
  o3.shards = 3;  // min(shards, rows): one row per shard in both trainers
  Trainer<WideDeep> t8(m8, o8);
  Trainer<WideDeep> t3(m3, o3);
  for (int step = 0; step < 3; ++step) {
    const double l8 = t8.train_step(v);
    const double l3 = t3.train_step(v);
    CHECK(std::isfinite(l8));
    CHECK(same_double(l8, l3));
  }
  CHECK(bitwise_same(m8, m3));
  CHECK_FALSE(first_difference(m8, make_wide_deep(gen.schema(), wo, 3)).empty());

  // Inference through the trainer's shards also works with 3 rows and 8 shards.
  Matrix<float> out(3, 1);
  t8.predict_rows(v, out.view());
  const auto ref = predict_scalar(m8, v);
  for (index_t r = 0; r < 3; ++r) CHECK(out(r, 0) == Approx(ref[static_cast<std::size_t>(r)]).epsilon(1e-5));

  // A single row.
  const BatchView one = v.rows(1, 1);
  CHECK(std::isfinite(t8.train_step(one)));
}

TEST_CASE("shards = 0 (the default) uses one shard per 256 rows, at most 8, whole groups", "[trainer][shards]") {
  CHECK(TrainerOptions{}.shards == 0);
  // shard_count(shards, rows, groups)
  CHECK(shard_count(0, 1, 1) == 1);
  CHECK(shard_count(0, 511, 511) == 1);
  CHECK(shard_count(0, 512, 512) == 2);
  CHECK(shard_count(0, 1280, 256) == 5);  // item-to-item: 256 groups of 5 rows
  CHECK(shard_count(0, 2048, 2048) == 8);
  CHECK(shard_count(0, 1 << 20, 1 << 20) == 8);
  CHECK(shard_count(0, 4096, 3) == 3);    // never more shards than groups
  CHECK(shard_count(8, 512, 512) == 8);   // a fixed count is kept
  CHECK(shard_count(8, 3, 3) == 3);
  CHECK(shard_count(0, 0, 0) == 1);
  CHECK(max_shard_count(0) == 8);
  CHECK(max_shard_count(3) == 3);

  // The default trains batch 600 with 2 shards: bitwise the model of shards = 2, on 1 or 2 threads.
  const SyntheticCTR gen(small_synthetic());
  Batch b;
  gen.generate(600, synthetic_train, b);
  const BatchView v = b.view();
  const WideDeepOptions wo = small_wide_deep(0.2);
  auto train = [&](index_t shards, int threads) {
    WideDeep m = make_wide_deep(gen.schema(), wo, 3);
    TrainerOptions o = base_options();
    o.shards = shards;
    o.threads = threads;
    Trainer<WideDeep> t(m, o);
    for (int step = 0; step < 2; ++step) t.train_step(v);
    return m;
  };
  const WideDeep auto1 = train(0, 1), auto2 = train(0, 2), two = train(2, 1), three = train(3, 1);
  CHECK(bitwise_same(auto1, two));
  CHECK(bitwise_same(auto2, two));
  CHECK_FALSE(first_difference(auto1, three).empty());  // 3 shards add up in another order
}

TEST_CASE("a warm-up from factor 0 leaves the model unchanged by the first step", "[trainer][schedule]") {
  // Every learning rate (Adam, row-wise Adagrad, FTRL) is scaled by the schedule's factor.
  const SyntheticCTR gen(small_synthetic());
  Batch b;
  gen.generate(64, synthetic_train, b);
  const WideDeepOptions wo = small_wide_deep(0.2);
  WideDeep m = make_wide_deep(gen.schema(), wo, 3);
  const WideDeep init = make_wide_deep(gen.schema(), wo, 3);
  TrainerOptions o = base_options();
  o.schedule.warmup_steps = 4;
  o.schedule.warmup_start_factor = 0.0;
  Trainer<WideDeep> trainer(m, o);
  CHECK(std::isfinite(trainer.train_step(b.view())));
  CHECK(bitwise_same(m, init));
  for (int i = 0; i < 5; ++i) CHECK(std::isfinite(trainer.train_step(b.view())));
  CHECK_FALSE(first_difference(m, init).empty());
  bool finite = true;
  m.visit_params([&](const std::string&, auto v) {
    for (index_t r = 0; r < v.rows; ++r)
      for (index_t c = 0; c < v.cols; ++c) finite = finite && std::isfinite(v(r, c));
  });
  CHECK(finite);
}

TEST_CASE("an epoch's train_loss is the weighted mean loss of its examples", "[trainer][weights]") {
  // With learning rates so small that no parameter moves, every batch sees the initial model, so
  // the epoch's loss must be Σ_r w_r ℓ_r / Σ_r w_r over the whole epoch, the same definition as
  // train_step's loss and the weighted validation log loss. Two batches: weights 1, then 9.
  const SyntheticCTR gen(small_synthetic());
  Batch b;
  gen.generate(512, synthetic_train, b);
  b.weights.assign(512, 1.0f);
  std::fill(b.weights.begin() + 256, b.weights.end(), 9.0f);
  const InMemoryDataset train(gen.schema(), b);
  const WideDeepOptions wo = small_wide_deep(0.0);
  WideDeep m = make_wide_deep(gen.schema(), wo, 3);
  const double expected = weighted_bce(predict_scalar(m, b.view()), b.view());

  TrainerOptions o = base_options();
  o.epochs = 1;
  o.batch_size = 256;
  o.shuffle = false;
  o.table_rules.clear();
  o.optimizer.kind = DenseKind::sgd;
  o.optimizer.lr = 1e-30;
  o.embedding_optimizer.kind = SparseKind::sgd;
  o.embedding_optimizer.lr = 1e-30;
  Trainer<WideDeep> trainer(m, o);
  const TrainResult r = trainer.fit(train);
  REQUIRE(r.epochs.size() == 1);
  // The per-batch losses, for the message: the unweighted mean of the two differs from `expected`.
  const double first = weighted_bce(predict_scalar(m, b.view().rows(0, 256)), b.view().rows(0, 256));
  const double second = weighted_bce(predict_scalar(m, b.view().rows(256, 256)), b.view().rows(256, 256));
  INFO("batch losses " << first << " and " << second << "; weighted mean " << expected << "; row-weighted mean "
                       << (first + second) / 2);
  CHECK(r.final_train_loss == Approx(second).epsilon(1e-5));
  CHECK(r.epochs[0].train_loss == Approx(expected).epsilon(1e-5));
}

TEST_CASE("early stopping stops when the validation metric stops improving and restores the best epoch",
          "[trainer][early_stopping]") {
  const SyntheticCTR gen(small_synthetic());
  const auto train = make_split(gen, 1000, synthetic_train);
  // Validation: one example twice, once clicked and once not. Every model scores both rows the
  // same, so the validation AUC is exactly 0.5 after every epoch and can never improve.
  Batch vb;
  train.gather(std::vector<index_t>{0, 0}, vb);
  vb.labels = {1.0f, 0.0f};
  const InMemoryDataset valid(gen.schema(), vb);
  const WideDeepOptions wo = small_wide_deep(0.2);

  TrainerOptions o = base_options();
  o.epochs = 5;
  o.patience = 1;
  o.restore_best = true;

  SECTION("patience 1, restore_best") {
    auto [m, r] = train_wide_deep(gen.schema(), wo, 5, o, train, &valid);
    CHECK(r.stopped_early);
    REQUIRE(r.epochs.size() == 2);
    CHECK(static_cast<int>(r.epochs.size()) < o.epochs);
    CHECK(r.best_epoch == 1);
    for (const auto& e : r.epochs) CHECK(e.valid_auc == 0.5);

    // The restored model equals a model trained for best_epoch epochs with the same options ...
    TrainerOptions ref = o;
    ref.epochs = r.best_epoch;
    ref.patience = 0;
    auto [m_best, r_best] = train_wide_deep(gen.schema(), wo, 5, ref, train, nullptr);
    CHECK(bitwise_same(m, m_best));
    // ... and not the one after the last epoch that ran.
    ref.epochs = static_cast<int>(r.epochs.size());
    auto [m_last, r_last] = train_wide_deep(gen.schema(), wo, 5, ref, train, nullptr);
    CHECK_FALSE(first_difference(m, m_last).empty());
  }
  SECTION("patience 2 runs one more epoch") {
    o.patience = 2;
    auto [m, r] = train_wide_deep(gen.schema(), wo, 5, o, train, &valid);
    CHECK(r.stopped_early);
    CHECK(r.epochs.size() == 3);
    CHECK(r.best_epoch == 1);
  }
  SECTION("restore_best = false keeps the last epoch's model") {
    o.restore_best = false;
    auto [m, r] = train_wide_deep(gen.schema(), wo, 5, o, train, &valid);
    CHECK(r.stopped_early);
    REQUIRE(r.epochs.size() == 2);
    TrainerOptions ref = o;
    ref.epochs = 2;
    ref.patience = 0;
    auto [m_last, r_last] = train_wide_deep(gen.schema(), wo, 5, ref, train, nullptr);
    CHECK(bitwise_same(m, m_last));
  }
  SECTION("without patience every epoch runs") {
    o.patience = 0;
    auto [m, r] = train_wide_deep(gen.schema(), wo, 5, o, train, &valid);
    CHECK_FALSE(r.stopped_early);
    CHECK(r.epochs.size() == 5);
  }
}

TEST_CASE("early stopping on logloss minimises it", "[trainer][early_stopping]") {
  // Logistic regression with a small learning rate on its own training data: the log loss falls
  // every epoch, so a minimised metric never triggers the stop (a maximised one would at epoch 2).
  const SyntheticCTR gen(small_synthetic());
  const auto train = make_split(gen, 1000, synthetic_train);
  auto m = make_logistic_regression(gen.schema(), {}, 1);
  TrainerOptions o = base_options();
  o.table_rules.clear();
  o.optimizer.lr = 1e-3;
  o.embedding_optimizer.kind = SparseKind::adagrad;
  o.embedding_optimizer.lr = 0.01;
  o.epochs = 3;
  o.patience = 1;
  o.early_stopping_metric = "logloss";
  Trainer<LogisticRegression> trainer(m, o);
  const TrainResult r = trainer.fit(train, &train);
  REQUIRE(r.epochs.size() == 3);
  CHECK_FALSE(r.stopped_early);
  CHECK(r.best_epoch == 3);
  CHECK(r.epochs[1].valid_logloss < r.epochs[0].valid_logloss);
  CHECK(r.epochs[2].valid_logloss < r.epochs[1].valid_logloss);
}

TEST_CASE("fit writes one JSON object per epoch to log_path", "[trainer][log]") {
  const SyntheticCTR gen(small_synthetic());
  const auto train = make_split(gen, 600, synthetic_train);
  const auto valid = make_split(gen, 300, synthetic_valid);
  TempDir dir;
  const std::string path = (dir.path / "metrics.jsonl").string();

  TrainerOptions o = base_options();
  o.epochs = 3;
  o.log_path = path;
  WideDeep m = make_wide_deep(gen.schema(), small_wide_deep(), 2);
  Trainer<WideDeep> trainer(m, o);
  const TrainResult r = trainer.fit(train, &valid);
  REQUIRE(r.epochs.size() == 3);

  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) {
    INFO("line: " << line);
    REQUIRE_NOTHROW(lines.push_back(nlohmann::json::parse(line)));
  }
  REQUIRE(lines.size() == 3);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& j = lines[i];
    INFO("epoch line " << i << ": " << j.dump());
    REQUIRE(j.is_object());
    for (const char* key : {"epoch", "train_loss", "valid_auc", "valid_logloss", "samples_per_second"})
      CHECK(j.contains(key));
    CHECK(j.at("epoch").get<int>() == static_cast<int>(i) + 1);
    CHECK(j.at("train_loss").get<double>() == r.epochs[i].train_loss);
    CHECK(j.at("valid_auc").get<double>() == r.epochs[i].valid_auc);
    CHECK(j.at("valid_logloss").get<double>() == r.epochs[i].valid_logloss);
    CHECK(j.at("samples_per_second").get<double>() > 0.0);
    CHECK(j.at("valid_auc").get<double>() > 0.0);
    CHECK(j.at("valid_auc").get<double>() < 1.0);
  }

  SECTION("without a validation set the log has no validation keys") {
    const std::string path2 = (dir.path / "no_valid.jsonl").string();
    TrainerOptions o2 = o;
    o2.epochs = 2;
    o2.log_path = path2;
    WideDeep m2 = make_wide_deep(gen.schema(), small_wide_deep(), 2);
    Trainer<WideDeep> t2(m2, o2);
    t2.fit(train);
    std::ifstream in2(path2);
    int count = 0;
    for (std::string line; std::getline(in2, line); ++count) {
      const auto j = nlohmann::json::parse(line);
      CHECK(j.contains("epoch"));
      CHECK(j.contains("train_loss"));
      CHECK_FALSE(j.contains("valid_auc"));
    }
    CHECK(count == 2);
  }
}

TEST_CASE("evaluate() matches roc_auc and log_loss of predict_rows", "[trainer][evaluate]") {
  const SyntheticCTR gen(small_synthetic());
  const auto train = make_split(gen, 1000, synthetic_train);
  const auto valid = make_split(gen, 1000, synthetic_valid);
  TrainerOptions o = base_options();
  o.epochs = 1;
  o.threads = 2;
  o.eval_batch_size = 97;  // several chunks, the last one partial
  WideDeep m = make_wide_deep(gen.schema(), small_wide_deep(0.2), 4);
  Trainer<WideDeep> trainer(m, o);
  trainer.fit(train);

  const BinaryMetrics got = trainer.evaluate(valid);
  const BatchView all = valid.data().view();
  Matrix<float> out(all.size, 1);
  trainer.predict_rows(all, out.view());
  std::vector<float> probs(static_cast<std::size_t>(all.size));
  for (index_t r = 0; r < all.size; ++r) probs[static_cast<std::size_t>(r)] = out(r, 0);
  const std::span<const float> labels(valid.data().labels);
  CHECK(got.auc() == Approx(roc_auc(probs, labels)).margin(1e-12));
  CHECK(got.log_loss() == Approx(log_loss(probs, labels)).epsilon(1e-9));

  // predict_rows is inference: it agrees with Model::predict on the scalar reference.
  const auto ref = predict_scalar(m, all);
  for (index_t r = 0; r < all.size; r += 37) CHECK(out(r, 0) == Approx(ref[static_cast<std::size_t>(r)]).epsilon(1e-4));
}

TEST_CASE("Wide & Deep beats logistic regression on synthetic data with crosses", "[trainer][quality]") {
  // Few fields with small vocabularies and strong planted crosses. The crosses have no main
  // effect (E_j u(i, j) = 0), so logistic regression cannot express them, while the deep part can.
  SyntheticOptions so;
  so.num_dense = 4;
  so.num_categorical = 6;
  so.vocab_size = 30;
  so.num_crosses = 4;
  so.cross_strength = 1.0;
  so.seed = 3;
  const SyntheticCTR gen(so);
  const auto train = make_split(gen, 30000, synthetic_train);
  const auto valid = make_split(gen, 10000, synthetic_valid);
  const std::span<const float> labels(valid.data().labels);
  // The AUC of the teacher without its crosses: the best any model without crosses can reach.
  std::vector<double> no_crosses(static_cast<std::size_t>(valid.size()));
  for (index_t r = 0; r < valid.size(); ++r)
    no_crosses[static_cast<std::size_t>(r)] = gen.logit_parts(valid.data().view(), r).without_crosses();
  const double no_cross_auc = roc_auc(no_crosses, labels);

  // Both models: Adam on the dense buffer, Adagrad on every table (the best setting found for
  // logistic regression here; FTRL with these few steps is far behind).
  TrainerOptions o = base_options();
  o.epochs = 2;
  o.batch_size = 256;
  o.threads = 2;
  o.table_rules.clear();
  o.embedding_optimizer.kind = SparseKind::adagrad;
  o.embedding_optimizer.lr = 0.1;

  auto lr = make_logistic_regression(gen.schema(), {}, 1);
  Trainer<LogisticRegression> lr_trainer(lr, o);
  const double lr_auc = lr_trainer.fit(train, &valid).epochs.back().valid_auc;

  WideDeepOptions wo;
  wo.embedding_dim = 8;
  wo.hidden = {32, 16};
  auto wd = make_wide_deep(gen.schema(), wo, 1);
  Trainer<WideDeep> wd_trainer(wd, o);
  const double wd_auc = wd_trainer.fit(train, &valid).epochs.back().valid_auc;

  INFO("logistic regression AUC " << lr_auc << ", wide & deep AUC " << wd_auc << ", teacher without crosses AUC "
                                  << no_cross_auc);
  CHECK(lr_auc > 0.55);
  CHECK(lr_auc < no_cross_auc + 0.01);  // sanity: logistic regression cannot use the crosses
  CHECK(wd_auc > lr_auc + 0.03);
  CHECK(wd_auc > no_cross_auc + 0.03);  // Wide & Deep did learn the crosses
}

TEST_CASE("Trainer reports bad options and inputs as ctrnet::Error", "[trainer][errors]") {
  const SyntheticCTR gen(small_synthetic());
  const auto train = make_split(gen, 100, synthetic_train);
  WideDeep built = make_wide_deep(gen.schema(), small_wide_deep(), 1);
  TrainerOptions o = base_options();
  // A function, so that `Trainer<M>(model, o)` is not parsed as a declaration.
  const auto construct = [&o](WideDeep& model) { Trainer<WideDeep> t(model, o); };

  SECTION("an unbuilt model") {
    WideDeep unbuilt{make_wide_deep_body(small_wide_deep()), BinaryHead{}};
    CHECK_THROWS_AS(construct(unbuilt), Error);
    CHECK_THROWS_WITH(construct(unbuilt), Catch::Contains("build the model"));
  }
  SECTION("batch_size 0") {
    o.batch_size = 0;
    CHECK_THROWS_AS(construct(built), Error);
    CHECK_THROWS_WITH(construct(built), Catch::Contains("batch_size must be positive"));
  }
  SECTION("shards -1") {
    o.shards = -1;
    CHECK_THROWS_WITH(construct(built), Catch::Contains("shards must be >= 0"));
  }
  SECTION("row_group 0, or a batch_size that is not a multiple of row_group") {
    o.row_group = 0;
    CHECK_THROWS_WITH(construct(built), Catch::Contains("row_group must be positive"));
    o.row_group = 3;  // batch_size 128
    CHECK_THROWS_AS(construct(built), Error);
    CHECK_THROWS_WITH(construct(built), Catch::Contains("batch_size (128 rows)") &&
                                            Catch::Contains("multiple of row_group (3 rows"));
  }
  SECTION("row_group: a batch or a training set that is not whole groups") {
    o.row_group = 4;
    Trainer<WideDeep> trainer(built, o);
    Batch b;
    gen.generate(10, synthetic_train, b);
    CHECK_THROWS_WITH(trainer.train_step(b.view()), Catch::Contains("10 rows") && Catch::Contains("row_group = 4"));
    CHECK_THROWS_WITH(trainer.fit(train.size() % 4 != 0 ? train : make_split(gen, 101, synthetic_train)),
                      Catch::Contains("training set has") && Catch::Contains("row_group = 4"));
    CHECK(trainer.step() == 0);
  }
  SECTION("negative threads") {
    o.threads = -1;
    CHECK_THROWS_WITH(construct(built), Catch::Contains("threads must be >= 0"));
  }
  SECTION("epochs 0") {
    o.epochs = 0;
    CHECK_THROWS_WITH(construct(built), Catch::Contains("epochs must be at least 1"));
  }
  SECTION("unknown early_stopping_metric") {
    o.early_stopping_metric = "accuracy";
    CHECK_THROWS_AS(construct(built), Error);
    CHECK_THROWS_WITH(construct(built), Catch::Contains("early_stopping_metric") &&
                                                       Catch::Contains("'accuracy'"));
  }
  SECTION("log_path in a directory that does not exist") {
    TempDir dir;
    o.log_path = (dir.path / "no" / "such" / "dir" / "log.jsonl").string();
    Trainer<WideDeep> trainer(built, o);
    CHECK_THROWS_AS(trainer.fit(train), Error);
    CHECK_THROWS_WITH(trainer.fit(train), Catch::Contains("cannot open log file") && Catch::Contains("log.jsonl"));
    CHECK(trainer.step() == 0);  // nothing was trained
  }
  SECTION("log_path on a full device: the write error is reported (io/output_file.hpp)") {
    if (!std::filesystem::exists("/dev/full")) return;
    o.log_path = "/dev/full";
    Trainer<WideDeep> trainer(built, o);
    CHECK_THROWS_WITH(trainer.fit(train), Catch::Contains("/dev/full") && Catch::Contains("No space left on device"));
  }
  SECTION("a table rule naming an optimizer with a bad learning rate") {
    o.table_rules = {{"wide.", SparseOptimizerOptions{}}};
    o.table_rules[0].options.lr = -1.0;
    CHECK_THROWS_AS(construct(built), Error);
  }
  SECTION("an empty batch or a batch whose weights sum to zero") {
    Trainer<WideDeep> trainer(built, o);
    Batch b;
    gen.generate(4, synthetic_train, b);
    CHECK_THROWS_WITH(trainer.train_step(b.view().rows(0, 0)), Catch::Contains("empty batch"));
    b.weights = {0.f, 0.f, 0.f, 0.f};
    CHECK_THROWS_WITH(trainer.train_step(b.view()), Catch::Contains("weights sum to"));
    CHECK(trainer.step() == 0);
  }
}
