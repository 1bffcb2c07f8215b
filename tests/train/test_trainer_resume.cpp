// Trainer::fit interrupted (TrainerOptions::max_steps) and resumed from its checkpoint
// (io/checkpoint.hpp) into a model built from another seed and a fresh trainer ends bit for bit
// like an uninterrupted fit: parameters, optimizer state and the reported epochs. Covered: 1 and 2
// threads (also mixed: interrupted with 1, resumed with 2), dropout on, an interruption in the
// middle of an epoch and one at an epoch boundary, early stopping whose best-epoch copy must come
// back from the checkpoint, periodic checkpoints, and the errors of a mismatched resume. Damaged or
// inconsistent checkpoints (NaN state, negative second moments, positions out of line, another
// dtype) do not resume, and a diverging fit stops, naming the step, with its last good checkpoint.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "ctrnet/data/synthetic.hpp"
#include "ctrnet/io/checkpoint.hpp"
#include "ctrnet/train/trainer.hpp"
#include "../temp_dir.hpp"

using namespace ctrnet;
namespace fs = std::filesystem;

namespace {

using test_util::TempDir;

SyntheticCTR generator() {
  SyntheticOptions o;
  o.num_dense = 3;
  o.num_categorical = 4;
  o.vocab_size = 30;
  o.num_crosses = 2;
  o.seed = 5;
  return SyntheticCTR(o);
}

InMemoryDataset split(index_t n, std::uint64_t stream, bool flip_labels = false) {
  const auto gen = generator();
  Batch b;
  gen.generate(n, stream, b);
  if (flip_labels)
    for (auto& y : b.labels) y = 1.0f - y;
  return InMemoryDataset(gen.schema(), std::move(b));
}

DCNOptions model_options(double dropout = 0.2) {
  DCNOptions o;
  o.embedding_dim = 3;
  o.cross_depth = 2;
  o.rank = 0;
  o.hidden = {8, 4};
  o.dropout = dropout;  // masks keyed by (seed, step): the resumed step count must be right
  return o;
}

// 300 examples in batches of 32: 10 batches per epoch (the last one of 12 rows).
TrainerOptions trainer_options(int threads) {
  TrainerOptions t;
  t.epochs = 3;
  t.batch_size = 32;
  t.shards = 3;
  t.threads = threads;
  t.seed = 9;
  t.optimizer.kind = DenseKind::adam;
  t.optimizer.lr = 1e-2;
  t.embedding_optimizer.kind = SparseKind::lazy_adam;
  t.embedding_optimizer.lr = 1e-2;
  t.table_rules = {{"embedding.C2", SparseOptimizerOptions::named("rowwise_adagrad")}};
  t.schedule.warmup_steps = 7;
  t.progress = ProgressMode::never;
  return t;
}

using Tr = Trainer<DCNv2Stacked>;

std::string first_difference(const DCNv2Stacked& a, const DCNv2Stacked& b) {
  for (const auto& p : a.registry().params())
    if (std::memcmp(a.params().dense.data() + p.handle.offset, b.params().dense.data() + p.handle.offset,
                    static_cast<std::size_t>(p.handle.size()) * sizeof(float)) != 0)
      return p.name;
  for (const auto& t : a.registry().tables()) {
    const auto& ma = a.params().tables[static_cast<std::size_t>(t.handle.id)];
    const auto& mb = b.params().tables[static_cast<std::size_t>(t.handle.id)];
    if (std::memcmp(ma.data(), mb.data(), static_cast<std::size_t>(ma.size()) * sizeof(float)) != 0) return t.name;
  }
  return "";
}

std::string optimizer_difference(Tr& a, Tr& b) {
  auto sa = a.optimizer().state(), sb = b.optimizer().state();
  if (sa.size() != sb.size()) return "<number of state tensors>";
  for (std::size_t i = 0; i < sa.size(); ++i)
    if (sa[i].values.size() != sb[i].values.size() ||
        std::memcmp(sa[i].values.data(), sb[i].values.data(), sa[i].values.size_bytes()) != 0)
      return sa[i].name;
  if (a.optimizer().step_count() != b.optimizer().step_count()) return "<step count>";
  return "";
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Everything fit reports except the timings.
void check_same_result(const TrainResult& a, const TrainResult& b) {
  REQUIRE(a.epochs.size() == b.epochs.size());
  for (std::size_t e = 0; e < a.epochs.size(); ++e) {
    INFO("epoch " << e + 1);
    CHECK(a.epochs[e].epoch == b.epochs[e].epoch);
    CHECK(same_bits(a.epochs[e].train_loss, b.epochs[e].train_loss));
    CHECK(same_bits(a.epochs[e].valid_auc, b.epochs[e].valid_auc));
    CHECK(same_bits(a.epochs[e].valid_logloss, b.epochs[e].valid_logloss));
    CHECK(same_bits(a.epochs[e].lr_factor, b.epochs[e].lr_factor));
  }
  CHECK(a.best_epoch == b.best_epoch);
  CHECK(a.stopped_early == b.stopped_early);
  CHECK(same_bits(a.final_train_loss, b.final_train_loss));
  CHECK(a.position.step == b.position.step);
  CHECK(a.position.epoch == b.position.epoch);
}

struct Run {
  DCNv2Stacked model;
  TrainResult result;
  std::vector<std::pair<std::int64_t, std::int64_t>> checkpoints;  // (epoch, batch) of each on_checkpoint
};

// Trains from scratch (model seed 1) until done or `max_steps`, writing a checkpoint to `path` at
// every on_checkpoint call when `path` is set.
Run train(TrainerOptions o, const InMemoryDataset& data, const InMemoryDataset* valid, const std::string& path,
          std::int64_t max_steps, double dropout = 0.2) {
  Run run{make_dcn_v2_stacked(data.schema(), model_options(dropout), 1), {}, {}};
  Tr* self = nullptr;
  o.max_steps = max_steps;
  if (!path.empty())
    o.on_checkpoint = [&](const TrainingPosition& p) {
      run.checkpoints.emplace_back(p.epoch, p.batch);
      save_checkpoint(path, *self, p);
    };
  Tr tr(run.model, o);
  self = &tr;
  run.result = tr.fit(data, valid);
  // The trainer is destroyed here: the resumed run gets nothing from it but the file.
  return run;
}

// Resumes from `path` into a model initialised from another seed and a fresh trainer.
Run resume(const TrainerOptions& o, const InMemoryDataset& data, const InMemoryDataset* valid, const std::string& path,
           double dropout = 0.2) {
  Run run{make_dcn_v2_stacked(data.schema(), model_options(dropout), 777), {}, {}};
  Tr tr(run.model, o);
  const TrainingPosition pos = load_checkpoint(path, tr);
  REQUIRE(tr.step() == pos.step);
  run.result = tr.fit(data, valid, &pos);
  return run;
}

}  // namespace

TEST_CASE("fit interrupted mid-epoch and resumed ends bit-identical to an uninterrupted fit", "[trainer][resume]") {
  TempDir dir;
  const auto data = split(300, 1), valid = split(200, 2);
  const int threads_full = GENERATE(1, 2);
  const int threads_resumed = GENERATE(1, 2);
  INFO("threads: uninterrupted and interrupted " << threads_full << ", resumed " << threads_resumed);

  const Run full = train(trainer_options(threads_full), data, &valid, "", 0);
  REQUIRE(full.result.position.step == 30);
  REQUIRE_FALSE(full.result.interrupted);

  // Interrupted after 14 steps (epoch 2, batch 4), checkpoints every 4 steps.
  const std::string path = dir.file("run.ckpt.safetensors");
  auto o = trainer_options(threads_full);
  o.checkpoint_every = 4;
  const Run cut = train(o, data, &valid, path, 14);
  CHECK(cut.result.interrupted);
  CHECK(cut.result.position.epoch == 2);
  CHECK(cut.result.position.batch == 4);
  CHECK(cut.result.position.step == 14);
  CHECK(cut.result.epochs.size() == 1);
  // Steps 4 and 8 mid-epoch 1, the end of epoch 1 (step 10), step 12 (epoch 2, batch 2), the stop.
  const std::vector<std::pair<std::int64_t, std::int64_t>> expected{{1, 4}, {1, 8}, {2, 0}, {2, 2}, {2, 4}};
  CHECK(cut.checkpoints == expected);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);  // no temporary left

  Run res = resume(trainer_options(threads_resumed), data, &valid, path);
  CHECK_FALSE(res.result.interrupted);
  CHECK(first_difference(full.model, res.model) == "");
  check_same_result(full.result, res.result);
}

TEST_CASE("resumed runs continue the optimizer state, the epoch loss and the log", "[trainer][resume]") {
  TempDir dir;
  const auto data = split(300, 1);
  auto o = trainer_options(2);
  o.log_path = dir.file("full.jsonl");
  Run full{make_dcn_v2_stacked(data.schema(), model_options(), 1), {}, {}};
  Tr full_tr(full.model, o);
  full.result = full_tr.fit(data);

  // Interrupted exactly at an epoch boundary (step 20 = end of epoch 2): the epoch-end checkpoint
  // is the last one, written once.
  const std::string path = dir.file("b.safetensors");
  o.log_path = dir.file("resumed.jsonl");
  const Run cut = train(o, data, nullptr, path, 20);
  CHECK(cut.result.interrupted);
  CHECK(cut.checkpoints == std::vector<std::pair<std::int64_t, std::int64_t>>{{2, 0}, {3, 0}});
  Run res{make_dcn_v2_stacked(data.schema(), model_options(), 3), {}, {}};
  Tr tr(res.model, o);
  const TrainingPosition pos = load_checkpoint(path, tr);
  CHECK(pos.epoch == 3);
  CHECK(pos.batch == 0);
  REQUIRE(pos.fit.has_value());
  CHECK(pos.fit->epochs.size() == 2);
  CHECK(std::isnan(pos.fit->epochs[0].valid_auc));  // no validation: NaN survives the JSON as null
  res.result = tr.fit(data, nullptr, &pos);
  CHECK(first_difference(full.model, res.model) == "");
  CHECK(optimizer_difference(full_tr, tr) == "");
  check_same_result(full.result, res.result);
  // The log of the interrupted run was appended to by the resumed one: one line per epoch.
  std::ifstream log(dir.file("resumed.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(log, line);) ++lines;
  CHECK(lines == 3);

  // Resuming the final checkpoint of a finished run does nothing more.
  const std::string done = dir.file("done.safetensors");
  auto od = trainer_options(1);
  const Run finished = train(od, data, nullptr, done, 0);
  CHECK(finished.checkpoints.back() == std::pair<std::int64_t, std::int64_t>(4, 0));
  Run again = resume(od, data, nullptr, done);
  CHECK(first_difference(finished.model, again.model) == "");
  check_same_result(finished.result, again.result);

  // Control: the same checkpoint without its optimizer state does not reproduce the run, so the
  // comparisons above can fail.
  auto params_only = load_model<DCNv2Stacked>(path);
  Tr fresh(params_only, trainer_options(2));
  fresh.set_step(pos.step);
  TrainingPosition bare = pos;
  fresh.fit(data, nullptr, &bare);
  CHECK(first_difference(full.model, params_only) != "");
}

TEST_CASE("early stopping resumes with its best epoch's parameters from the checkpoint", "[trainer][resume]") {
  TempDir dir;
  // Validation on the training rows with their labels flipped: the better the model fits, the
  // worse its validation log loss, so an early epoch stays the best, patience 2 stops the run and
  // the best epoch's parameters are restored.
  const auto data = split(300, 1), valid = split(300, 1, true);
  auto o = trainer_options(2);
  o.epochs = 6;
  o.patience = 2;
  o.early_stopping_metric = "logloss";
  const Run full = train(o, data, &valid, "", 0);
  REQUIRE(full.result.stopped_early);
  const int best = full.result.best_epoch;
  REQUIRE(full.result.epochs.size() == static_cast<std::size_t>(best + 2));

  // Interrupted in the middle of the epoch after the best one: the best copy is in the checkpoint.
  const std::string path = dir.file("es.safetensors");
  const Run cut = train(o, data, &valid, path, best * 10 + 5);
  REQUIRE(cut.result.interrupted);
  CHECK(first_difference(full.model, cut.model) != "");  // the best copy is not the current model
  {
    const SafetensorsFile f(path);
    CHECK(f.find("trainer.best.cross.0.weight") != nullptr);
    CHECK(f.find("trainer.best.embedding.C1") != nullptr);
  }
  Run res = resume(o, data, &valid, path);
  CHECK(first_difference(full.model, res.model) == "");
  check_same_result(full.result, res.result);
  // A checkpoint is still a model file.
  const auto m = load_model<DCNv2Stacked>(path);
  CHECK(first_difference(cut.model, m) == "");
}

TEST_CASE("a mismatched resume is a clear error", "[trainer][resume]") {
  TempDir dir;
  const auto data = split(300, 1);
  const std::string path = dir.file("m.safetensors");
  const Run cut = train(trainer_options(1), data, nullptr, path, 6);
  REQUIRE(cut.result.interrupted);

  // Another training set.
  {
    auto m = make_dcn_v2_stacked(data.schema(), model_options(), 1);
    Tr tr(m, trainer_options(1));
    const auto pos = load_checkpoint(path, tr);
    const auto other = split(250, 1);
    CHECK_THROWS_WITH(tr.fit(other, nullptr, &pos),
                      Catch::Contains("trained on 300 examples, this training set has 250"));
  }
  // Another batch size.
  {
    auto m = make_dcn_v2_stacked(data.schema(), model_options(), 1);
    auto o = trainer_options(1);
    o.batch_size = 16;
    Tr tr(m, o);
    const auto pos = load_checkpoint(path, tr);
    CHECK_THROWS_WITH(tr.fit(data, nullptr, &pos), Catch::Contains("used batch size 32, this trainer 16"));
  }
  // The position without the trainer's state.
  {
    auto m = make_dcn_v2_stacked(data.schema(), model_options(), 1);
    Tr tr(m, trainer_options(1));
    TrainingPosition pos = cut.result.position;
    CHECK_THROWS_WITH(tr.fit(data, nullptr, &pos), Catch::Contains("the position is at step 6 but the trainer at step 0"));
  }
  // Another model: other options (dropout is no shape, the options say it).
  {
    auto m = make_dcn_v2_stacked(data.schema(), model_options(0.0), 1);
    Tr tr(m, trainer_options(1));
    CHECK_THROWS_WITH(load_checkpoint(path, tr), Catch::Contains("the checkpoint's model options") &&
                                                     Catch::Contains("differ from the model's"));
  }
  // A model file is not a checkpoint.
  {
    save_model(cut.model, dir.file("model.safetensors"));
    auto m = make_dcn_v2_stacked(data.schema(), model_options(), 1);
    Tr tr(m, trainer_options(1));
    CHECK_THROWS_WITH(load_checkpoint(dir.file("model.safetensors"), tr), Catch::Contains("not a checkpoint"));
  }
}

namespace {

// Writes a copy of the checkpoint `in` to `out` after `edit` changed its metadata or the values of
// its (F32) tensors.
void rewrite(const std::string& in, const std::string& out,
             const std::function<void(SafetensorsMetadata&, std::map<std::string, std::vector<float>>&)>& edit) {
  SafetensorsMetadata md;
  std::map<std::string, std::vector<float>> values;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> order;
  {
    const SafetensorsFile f(in);
    md = f.metadata();
    for (const auto& t : f.tensors()) {
      auto& v = values[t.name];
      v.resize(static_cast<std::size_t>(t.numel()));
      f.read(t.name, std::span<float>(v));
      order.emplace_back(t.name, t.shape);
    }
  }
  edit(md, values);
  std::vector<TensorToWrite> tensors;
  for (const auto& [name, shape] : order)
    tensors.push_back({name, Dtype::F32, shape, std::as_bytes(std::span<const float>(values.at(name)))});
  write_safetensors(out, tensors, md);
}

// Edits the JSON of metadata entry `key`.
std::function<void(SafetensorsMetadata&, std::map<std::string, std::vector<float>>&)> edit_json(
    const std::string& key, std::function<void(nlohmann::json&)> change) {
  return [key, change](SafetensorsMetadata& md, std::map<std::string, std::vector<float>>&) {
    auto j = nlohmann::json::parse(md.at(key));
    change(j);
    md[key] = j.dump();
  };
}

std::function<void(SafetensorsMetadata&, std::map<std::string, std::vector<float>>&)> set_value(const std::string& name,
                                                                                               std::size_t i, float v) {
  return [name, i, v](SafetensorsMetadata&, std::map<std::string, std::vector<float>>& t) { t.at(name).at(i) = v; };
}

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("a damaged or inconsistent checkpoint does not resume", "[trainer][resume]") {
  TempDir dir;
  const auto data = split(300, 1);
  const std::string path = dir.file("c.safetensors");
  const Run cut = train(trainer_options(1), data, nullptr, path, 6);  // epoch 1, batch 6, step 6
  REQUIRE(cut.result.interrupted);
  const std::string bad = dir.file("bad.safetensors");
  // Loads `file` into a fresh trainer; on an error, the trainer's model must be untouched.
  auto load = [&](const std::string& file) {
    auto m = make_dcn_v2_stacked(data.schema(), model_options(), 1);
    const auto before = m.params();
    Tr tr(m, trainer_options(1));
    try {
      load_checkpoint(file, tr);
    } catch (const Error&) {
      CHECK(std::memcmp(before.dense.data(), m.params().dense.data(), before.dense.size() * sizeof(float)) == 0);
      throw;
    }
  };
  REQUIRE_NOTHROW(load(path));
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();

  // Non-finite optimizer state and parameters.
  rewrite(path, bad, set_value("optimizer.dense.exp_avg", 5, nan));
  CHECK_THROWS_WITH(load(bad), Catch::Contains(bad + ": tensor 'optimizer.dense.exp_avg' holds nan at index 5"));
  rewrite(path, bad, set_value("optimizer.embedding.C1.exp_avg_sq", 4, inf));
  CHECK_THROWS_WITH(load(bad), Catch::Contains("tensor 'optimizer.embedding.C1.exp_avg_sq' holds inf at index 4 "
                                               "(row 1, column 1)"));
  rewrite(path, bad, set_value("cross.1.weight", 0, -inf));
  CHECK_THROWS_WITH(load(bad), Catch::Contains("tensor 'cross.1.weight' holds -inf at index 0"));
  // Second moments and accumulators are >= 0; first moments may be negative.
  rewrite(path, bad, set_value("optimizer.dense.exp_avg_sq", 3, -1.0f));
  CHECK_THROWS_WITH(load(bad), Catch::Contains("tensor 'optimizer.dense.exp_avg_sq' holds -1 at index 3; expected "
                                               "finite values >= 0"));
  rewrite(path, bad, set_value("optimizer.embedding.C2.sum", 1, -0.5f));
  CHECK_THROWS_WITH(load(bad), Catch::Contains("tensor 'optimizer.embedding.C2.sum' holds -0.5 at index 1"));
  rewrite(path, bad, set_value("optimizer.dense.exp_avg", 3, -1.0f));
  CHECK_NOTHROW(load(bad));

  // The position: epochs, batches and steps must agree with each other and the optimizer.
  rewrite(path, bad, edit_json("position", [](nlohmann::json& j) { j["epoch"] = 99; }));
  CHECK_THROWS_WITH(load(bad), Catch::Contains("epoch 99 does not follow the 0 finished epoch(s) the checkpoint "
                                               "records; expected epoch 1"));
  rewrite(path, bad, edit_json("position", [](nlohmann::json& j) { j["batch"] = 11; }));
  CHECK_THROWS_WITH(load(bad), Catch::Contains("batch 11 is beyond the 10 batches of an epoch (300 examples in "
                                               "batches of 32)"));
  rewrite(path, bad, edit_json("position", [](nlohmann::json& j) { j["step"] = 7; }));
  CHECK_THROWS_WITH(load(bad), Catch::Contains(bad + ": the optimizer has taken 6 steps, the position says step 7"));
  rewrite(path, bad, edit_json("optimizer", [](nlohmann::json& j) { j["dense"]["step"] = 5; }));
  CHECK_THROWS_WITH(load(bad), Catch::Contains("the dense optimizer's step 5 differs from the step 6"));
  rewrite(path, bad, edit_json("optimizer", [](nlohmann::json& j) { j["tables"]["embedding.C2"]["step"] = 4; }));
  CHECK_THROWS_WITH(load(bad), Catch::Contains("table 'embedding.C2''s optimizer step 4 differs from the step 6"));
  rewrite(path, bad, [](SafetensorsMetadata& md, std::map<std::string, std::vector<float>>&) {
    auto p = nlohmann::json::parse(md.at("position"));
    auto o = nlohmann::json::parse(md.at("optimizer"));
    p["step"] = o["step"] = o["dense"]["step"] = 3;
    for (auto& t : o["tables"]) t["step"] = 3;
    md["position"] = p.dump();
    md["optimizer"] = o.dump();
  });
  CHECK_THROWS_WITH(load(bad), Catch::Contains("step 3 is fewer than the 6 batches done by epoch 1, batch 6"));
  // The dtype of the metadata (the tensors stay F32).
  rewrite(path, bad, [](SafetensorsMetadata& md, std::map<std::string, std::vector<float>>&) { md["dtype"] = "F64"; });
  CHECK_THROWS_WITH(load(bad), Catch::Contains(bad + ": __metadata__ 'dtype' is 'F64', expected 'F32'"));
  // A position beyond the epochs of the resuming run.
  {
    const std::string done = dir.file("done.safetensors");
    auto o = trainer_options(1);
    o.epochs = 2;
    train(o, data, nullptr, done, 0);
    auto m = make_dcn_v2_stacked(data.schema(), model_options(), 1);
    o.epochs = 1;
    Tr tr(m, o);
    const auto pos = load_checkpoint(done, tr);
    CHECK_THROWS_WITH(tr.fit(data, nullptr, &pos),
                      Catch::Contains("has finished 2 epochs, more than the 1 this trainer runs"));
  }
}

TEST_CASE("a diverging fit stops with an error naming the step and keeps the last good checkpoint", "[trainer][resume]") {
  TempDir dir;
  const std::string path = dir.file("d.safetensors");
  // Trains with checkpoints after every step; returns the error and the bytes of the last checkpoint written.
  auto run = [&](const TrainerOptions& base, const InMemoryDataset& data, std::vector<char>& last_written,
                 std::int64_t& last_step) {
    auto m = make_dcn_v2_stacked(data.schema(), model_options(), 1);
    auto o = base;
    o.checkpoint_every = 1;
    Tr* self = nullptr;
    o.on_checkpoint = [&](const TrainingPosition& p) {
      save_checkpoint(path, *self, p);
      last_written = file_bytes(path);
      last_step = p.step;
    };
    Tr tr(m, o);
    self = &tr;
    try {
      tr.fit(data);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };

  // Row 100 poisoned: batch 4 of epoch 1 (no shuffling), step 4. A NaN label makes the loss NaN; a
  // NaN input the loss need not show (a ReLU maps NaN to 0) makes the gradient NaN.
  const auto gen = generator();
  for (const bool label : {true, false}) {
    INFO((label ? "NaN label" : "NaN input"));
    Batch b;
    gen.generate(300, 1, b);
    if (label)
      b.labels[100] = std::numeric_limits<float>::quiet_NaN();
    else
      b.dense_values[static_cast<std::size_t>(100 * gen.schema().num_dense() + 1)] =
          std::numeric_limits<float>::quiet_NaN();
    const InMemoryDataset poisoned(gen.schema(), std::move(b));
    auto o = trainer_options(1);
    o.shuffle = false;
    std::vector<char> last;
    std::int64_t last_step = -1;
    const std::string what = run(o, poisoned, last, last_step);
    CHECK_THAT(what, Catch::Contains(label ? "Trainer: the loss of step 4 (epoch 1, batch 4 of 10) is nan"
                                           : "Trainer: the gradient of step 4 (epoch 1, batch 4 of 10) holds nan") &&
                         Catch::Contains("the step was not applied") && Catch::Contains("lower the learning rate"));
    CHECK(last_step == 3);
    CHECK(file_bytes(path) == last);  // the last good checkpoint is the one on disk
    auto m = make_dcn_v2_stacked(poisoned.schema(), model_options(), 1);
    Tr tr(m, trainer_options(1));
    CHECK(load_checkpoint(path, tr).step == 3);
  }
  // A learning rate far too large: the loss or the parameters stop being finite.
  {
    const auto data = split(300, 1);
    auto o = trainer_options(1);
    o.optimizer.kind = DenseKind::sgd;
    o.optimizer.lr = 1e30;
    o.schedule.warmup_steps = 0;
    std::vector<char> last;
    std::int64_t last_step = -1;
    const std::string what = run(o, data, last, last_step);
    CHECK_THAT(what, Catch::Contains("training diverged") && Catch::Contains("step "));
    REQUIRE(last_step >= 0);
    CHECK(file_bytes(path) == last);
    auto m = make_dcn_v2_stacked(data.schema(), model_options(), 1);
    Tr tr(m, o);
    CHECK_NOTHROW(load_checkpoint(path, tr));  // every value in it is finite
  }
}

TEST_CASE("a continued log drops the lines of the epochs the resumed run writes again", "[trainer][resume][log]") {
  TempDir dir;
  const std::string path = dir.file("epochs.jsonl");
  {
    std::ofstream out(path);
    // Epochs 1 and 2 logged, then the interrupted run logged epoch 3 after its last checkpoint
    // (which is at epoch 3's start): the resumed run starts at epoch 3 and logs it again.
    out << R"({"epoch":1,"train_loss":0.5})" << "\n" << "a line that is not an epoch's\n"
        << R"({"epoch":2,"train_loss":0.4})" << "\n" << R"({"epoch":3,"train_loss":0.3})" << "\n";
  }
  fit_loop::EpochLog log(path, /*resume=*/true, "test", /*first_epoch=*/3);
  EpochStats st;
  st.epoch = 3;
  st.train_loss = 0.25;
  log.append(st, 30);
  log.commit();
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == R"({"epoch":1,"train_loss":0.5})");
  CHECK(lines[1] == "a line that is not an epoch's");
  CHECK(lines[2] == R"({"epoch":2,"train_loss":0.4})");
  const auto j = nlohmann::json::parse(lines[3]);
  CHECK(j.at("epoch") == 3);
  CHECK(j.at("train_loss") == 0.25);
  CHECK(j.at("step") == 30);
  // A fresh (not continued) log starts empty whatever the file held.
  fit_loop::EpochLog fresh(path, /*resume=*/false, "test");
  fresh.commit();
  std::ifstream again(path);
  std::string first;
  CHECK_FALSE(std::getline(again, first));
}
