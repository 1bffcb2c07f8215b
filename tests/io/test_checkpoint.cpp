// Checkpoints: a run interrupted mid-epoch and resumed from its checkpoint (into a model built from
// another seed and a fresh trainer) ends bit-identical to an uninterrupted run; without the
// optimizer state it would not; mismatched optimizers and positions are named errors.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "ctrnet/data/dataset.hpp"
#include "ctrnet/io/checkpoint.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"
#include "ctrnet/train/trainer.hpp"
#include "../temp_dir.hpp"

using namespace ctrnet;
namespace fs = std::filesystem;

namespace {

using test_util::TempDir;

Schema schema() {
  Schema s;
  s.add_dense("x0").add_dense("x1");
  s.add_categorical("a", 6, 3);
  s.add_hashed("h", 9, 5);
  return s;
}

InMemoryDataset dataset(int n) {
  const Schema s = schema();
  Batch b(s);
  Rng rng(11);
  for (int i = 0; i < n; ++i) {
    const double x0 = rng.normal(), x1 = rng.normal();
    const auto a = FeatureId(rng.below(6)), h = FeatureId(rng.next_u64() >> 2);
    const double logit = x0 - 0.5 * x1 + (a % 2 ? 1.0 : -1.0);
    const std::vector<float> d{float(x0), float(x1)};
    const std::vector<FeatureId> ids{a, h};
    b.add_one_hot(d, ids, rng.bernoulli(1.0 / (1.0 + std::exp(-logit))) ? 1.f : 0.f, float(0.5 + rng.uniform()));
  }
  return InMemoryDataset(s, std::move(b));
}

DCNOptions options() {
  DCNOptions o;
  o.embedding_dim = 3;
  o.cross_depth = 2;
  o.rank = 2;
  o.hidden = {8, 4};
  o.dropout = 0.2;  // dropout masks depend on the step: the resumed step count must be right
  return o;
}

TrainerOptions trainer_options() {
  TrainerOptions t;
  t.batch_size = 16;
  t.shards = 3;
  t.threads = 1;
  t.seed = 5;
  t.optimizer.kind = DenseKind::adam;
  t.optimizer.lr = 1e-2;
  t.embedding_optimizer.kind = SparseKind::lazy_adam;
  t.table_rules = {{"embedding.h", SparseOptimizerOptions::named("rowwise_adagrad")}};
  t.schedule.warmup_steps = 5;
  t.progress = ProgressMode::never;
  return t;
}

using Tr = Trainer<DCNv2Stacked, cpu_scalar>;

/// A training loop with a caller-owned Rng that shuffles each epoch. Runs from `pos` until
/// `epochs` are done or `stop_at_step` steps have been taken; returns where it stopped. The
/// position's rng_state is the Rng as it was at the start of the current epoch, so the epoch's
/// order can be drawn again on resume.
TrainingPosition train(Tr& tr, const InMemoryDataset& data, TrainingPosition pos, int epochs, std::int64_t stop_at_step) {
  Rng rng;
  REQUIRE(pos.rng_state.has_value());
  rng.set_state(pos.rng_state->data());
  Batch batch;
  const index_t bs = trainer_options().batch_size;
  for (; pos.epoch <= epochs; ++pos.epoch, pos.batch = 0) {
    pos.rng_state = rng_state(rng);
    std::vector<index_t> order(static_cast<std::size_t>(data.size()));
    for (index_t i = 0; i < data.size(); ++i) order[static_cast<std::size_t>(i)] = i;
    for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
    const std::int64_t batches = (data.size() + bs - 1) / bs;
    for (; pos.batch < batches; ++pos.batch) {
      if (tr.step() == stop_at_step) return pos;
      const index_t begin = pos.batch * bs, cnt = std::min<index_t>(bs, data.size() - begin);
      data.gather(std::span<const index_t>(order.data() + begin, static_cast<std::size_t>(cnt)), batch);
      tr.train_step(batch.view());
      pos.step = tr.step();
    }
  }
  return pos;
}

TrainingPosition start() {
  TrainingPosition p;
  p.rng_state = rng_state(Rng(99));
  return p;
}

bool same_params(const DCNv2Stacked& a, const DCNv2Stacked& b) {
  for (const auto& p : a.registry().params())
    if (std::memcmp(a.params().dense.data() + p.handle.offset, b.params().dense.data() + p.handle.offset,
                    static_cast<std::size_t>(p.handle.size()) * sizeof(float)) != 0)
      return false;
  for (std::size_t t = 0; t < a.params().tables.size(); ++t)
    if (std::memcmp(a.params().tables[t].data(), b.params().tables[t].data(),
                    static_cast<std::size_t>(a.params().tables[t].size()) * sizeof(float)) != 0)
      return false;
  return true;
}

}  // namespace

TEST_CASE("an interrupted and resumed training run ends bit-identical to an uninterrupted one", "[io][checkpoint]") {
  TempDir dir;
  const auto data = dataset(100);  // 7 batches per epoch
  const int epochs = 3;

  auto full = make_dcn_v2_stacked(schema(), options(), 1);
  Tr full_tr(full, trainer_options());
  const auto end = train(full_tr, data, start(), epochs, -1);
  REQUIRE(end.step == 21);

  // Interrupted in the middle of epoch 2, after 10 steps; checkpoint; everything destroyed.
  const std::string path = dir.file("run.ckpt.safetensors");
  {
    auto m = make_dcn_v2_stacked(schema(), options(), 1);
    Tr tr(m, trainer_options());
    const auto pos = train(tr, data, start(), epochs, 10);
    REQUIRE(pos.epoch == 2);
    REQUIRE(pos.batch == 3);
    REQUIRE(pos.step == 10);
    save_checkpoint(path, m, tr.optimizer(), pos);
    // A second save replaces the first atomically.
    save_checkpoint(path, m, tr.optimizer(), pos);
  }
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);

  // Resume into a model initialised from another seed and a fresh trainer.
  auto resumed = make_dcn_v2_stacked(schema(), options(), 12345);
  Tr tr(resumed, trainer_options());
  const TrainingPosition pos = load_checkpoint(path, resumed, tr.optimizer());
  CHECK(pos.epoch == 2);
  CHECK(pos.batch == 3);
  CHECK(pos.step == 10);
  CHECK(tr.optimizer().step_count() == 10);
  tr.set_step(pos.step);
  const auto resumed_end = train(tr, data, pos, epochs, -1);
  CHECK(resumed_end.step == end.step);
  CHECK(same_params(full, resumed));
  // The optimizer states agree too.
  auto s_full = full_tr.optimizer().state(), s_res = tr.optimizer().state();
  REQUIRE(s_full.size() == s_res.size());
  for (std::size_t i = 0; i < s_full.size(); ++i) {
    INFO(s_full[i].name);
    CHECK(std::memcmp(s_full[i].values.data(), s_res[i].values.data(), s_full[i].values.size_bytes()) == 0);
  }

  // Control: resuming the parameters without the optimizer state does NOT reproduce the run, so
  // the comparison above can fail.
  auto params_only = load_model<DCNv2Stacked>(path);
  Tr fresh(params_only, trainer_options());
  fresh.set_step(pos.step);
  train(fresh, data, pos, epochs, -1);
  CHECK_FALSE(same_params(full, params_only));
}

TEST_CASE("a checkpoint is a model file, and its optimizer must match", "[io][checkpoint]") {
  TempDir dir;
  auto m = make_dcn_v2_stacked(schema(), options(), 1);
  Tr tr(m, trainer_options());
  const auto data = dataset(40);
  auto p = start();
  p = train(tr, data, p, 1, 2);
  const std::string path = dir.file("c.safetensors");
  ModelSaveOptions so;
  so.seed = 1;
  so.metadata["run"] = "x";
  save_checkpoint(path, m, tr.optimizer(), p, so);
  {
    const SafetensorsFile f(path);
    CHECK(f.metadata("format") == "ctrnet.checkpoint");
    CHECK(f.at("optimizer.dense.exp_avg").dtype == Dtype::F32);
    CHECK(f.find("optimizer.embedding.a.exp_avg") != nullptr);
    CHECK(f.at("optimizer.embedding.h.sum").shape == std::vector<std::int64_t>{9});
    CHECK(f.metadata("run") == "x");
  }
  // The model part loads like any model file.
  const auto loaded = load_model<DCNv2Stacked>(path);
  CHECK(same_params(m, loaded));
  // Model files are not checkpoints.
  save_model(m, dir.file("m.safetensors"));
  CHECK_THROWS_WITH(load_checkpoint(dir.file("m.safetensors"), m, tr.optimizer()), Catch::Contains("not a checkpoint"));
  // A different dense optimizer kind.
  auto o = trainer_options();
  o.optimizer.kind = DenseKind::sgd;
  auto m2 = make_dcn_v2_stacked(schema(), options(), 1);
  Tr tr2(m2, o);
  CHECK_THROWS_WITH(load_checkpoint(path, m2, tr2.optimizer()),
                    Catch::Contains("the checkpoint's dense optimizer is adam, the current one is sgd"));
  // A different table optimizer.
  o = trainer_options();
  o.table_rules.clear();
  Tr tr3(m2, o);
  CHECK_THROWS_WITH(load_checkpoint(path, m2, tr3.optimizer()),
                    Catch::Contains("table 'embedding.h' was optimised with rowwise_adagrad, the current optimizer is lazy_adam"));
  ModelSaveOptions bf16;
  bf16.bf16_tables = true;
  CHECK_THROWS_WITH(save_checkpoint(path, m, tr.optimizer(), p, bf16), Catch::Contains("BF16"));
}
