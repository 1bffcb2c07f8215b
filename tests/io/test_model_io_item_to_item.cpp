// save_model / load_model of the item-to-item models (io/architecture_item_to_item.hpp): ItemToItem,
// ItemToItemListwise and ItemToItemTransformer round-trip bit for bit (both outputs), with the pair
// body's and both heads' options restored; a file of another variant or tower kind, or with bad
// head options, is an error. Item-to-item training (ItemToItemTrainer) interrupted and resumed from
// a checkpoint, mid-epoch and at an epoch's end, ends with the model of an uninterrupted run.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "../models/item_to_item_towers_checks.hpp"
#include "ctrnet/io/architecture_item_to_item.hpp"
#include "ctrnet/io/checkpoint.hpp"
#include "ctrnet/serve/related_items.hpp"
#include "ctrnet/train/next_item_metrics.hpp"
#include "ctrnet/train/item_to_item_trainer.hpp"
#include "io_test_util.hpp"

using namespace ctrnet;
using namespace ctrnet::io_test;

namespace {

Schema pair_schema() { return item_to_item_schema(5, {"cooccurs", "log_count"}, {"log_pop"}); }

// Made-up rows: pair features, popularities, items A and B, label and count X_AB.
Batch pair_batch(const Schema& s, int n, std::uint64_t seed) {
  Batch b;
  b.reset(s, 1);
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    const double cnt = std::floor(rng.uniform(0.0, 9.0));
    const std::vector<float> d{cnt > 0 ? 1.f : 0.f, static_cast<float>(std::log1p(cnt)),
                               static_cast<float>(rng.uniform(0, 3)), static_cast<float>(rng.uniform(0, 3))};
    const std::vector<FeatureId> ids{FeatureId(rng.below(5)), FeatureId(rng.below(5))};
    b.add_one_hot(d, ids, i % 3 == 0 ? 1.f : 0.f, static_cast<float>(0.5 + rng.uniform()));
    b.targets[0].push_back(static_cast<float>(cnt));
  }
  return b;
}

ItemToItemOptions small_options() {
  ItemToItemOptions o;
  o.embedding_dim = 3;
  o.context_hidden = {5};
  o.item_hidden = {4};
  o.output_dim = 3;
  o.activation = Activation::tanh;
  o.relevance_weight = 0.7;
  o.glove_weight = 0.3;
  o.glove_x_max = 5.0;
  o.glove_alpha = 0.6;
  o.item_bias = true;
  o.context_linear = true;
  return o;
}

template <class M>
nlohmann::json options_json(const M& m) {
  return nlohmann::json(ArchitectureTraits<M>::options(m));
}

template <class M>
void check_round_trip(M m, const std::string& tag, const std::string& arch) {
  INFO(tag);
  TempDir dir;
  randomize(m, 13);
  const std::string path = dir.file(tag + ".safetensors");
  save_model(m, path);
  const M loaded = load_model<M>(path);
  const Batch b = pair_batch(pair_schema(), 11, 2);
  const auto p0 = predict(m, b), p1 = predict(loaded, b);
  REQUIRE(p0.cols() == 2);
  CHECK(bit_identical(p0, p1));
  CHECK(same_dense(m, loaded));
  for (std::size_t t = 0; t < m.params().tables.size(); ++t)
    CHECK(bit_identical(m.params().tables[t], loaded.params().tables[t]));
  CHECK(options_json(loaded) == options_json(m));
  CHECK(loaded.template head<0>().opt.weight == 0.7);
  CHECK(loaded.template head<1>().opt.weight == 0.3);
  CHECK(loaded.template head<1>().opt.target == 1);
  CHECK(loaded.template head<1>().glove.x_max == 5.0);
  CHECK(loaded.template head<1>().glove.alpha == 0.6);
  CHECK(loaded.body().options().item_bias);
  CHECK(loaded.body().context_tower().options().group == "query");
  const SafetensorsFile f(path);
  CHECK(f.metadata("architecture") == arch);
  CHECK(f.find("relevance_bias.item") != nullptr);
  CHECK(f.find("pair.linear") != nullptr);
}

}  // namespace

TEST_CASE("item-to-item models: save -> load -> predict is bit-identical", "[io][model][item_to_item]") {
  check_round_trip(make_item_to_item(pair_schema(), small_options(), 3), "item_to_item", "item_to_item");
  auto listwise = make_item_to_item_listwise(pair_schema(), small_options(), 1.25, 4);
  check_round_trip(listwise, "item_to_item_listwise", "item_to_item_listwise");
  // Other towers (here Transformer towers with the dense token) use the same traits.
  auto tf = small_options();
  tf.embedding_dim = 4;
  tf.transformer.heads = 2;
  tf.transformer.ff_hidden = 6;
  tf.transformer.pooling = TokenPoolingMode::max;
  check_round_trip(make_item_to_item_transformer(pair_schema(), tf, 5), "item_to_item_transformer", "item_to_item");
  TempDir dir;
  save_model(listwise, dir.file("l.safetensors"));
  const auto o = nlohmann::json::parse(SafetensorsFile(dir.file("l.safetensors")).metadata("options"));
  CHECK(o.at("relevance") ==
        nlohmann::json({{"kind", "group_softmax"}, {"weight", 0.7}, {"target", 0}, {"log_correction", 1.25}}));
  CHECK(o.at("context").at("kind") == "mlp");
  CHECK(load_model<ItemToItemListwise>(dir.file("l.safetensors")).head<0>().log_correction == 1.25);
}

TEST_CASE("item-to-item loading names the mismatch", "[io][model][item_to_item]") {
  TempDir dir;
  const auto m = make_item_to_item(pair_schema(), small_options(), 3);
  save_model(m, dir.file("m.safetensors"));
  CHECK_THROWS_WITH(load_model<ItemToItemListwise>(dir.file("m.safetensors")),
                    Catch::Contains("holds a 'item_to_item' model, expected 'item_to_item_listwise'"));
  auto tf = small_options();
  tf.embedding_dim = 4;
  save_model(make_item_to_item_transformer(pair_schema(), tf, 1), dir.file("tf.safetensors"));
  CHECK_THROWS_WITH(load_model<ItemToItem>(dir.file("tf.safetensors")),
                    Catch::Contains("'context': the file holds a 'transformer' tower, the model type has a 'mlp' tower"));
  detail::StagedTensors scratch;
  const auto tensors = detail::model_tensors(m, false, scratch);
  auto md = detail::model_metadata(m, {}, "ctrnet.model");
  auto o = nlohmann::json::parse(md.at("options"));
  o["glove"]["x_max"] = -1.0;
  md["options"] = o.dump();
  write_safetensors(dir.file("bad.safetensors"), tensors, md);
  CHECK_THROWS_WITH(load_model<ItemToItem>(dir.file("bad.safetensors")), Catch::Contains("x_max must be positive"));
  o["glove"]["x_max"] = 5.0;
  o["relevance"]["kind"] = "group_softmax";
  md["options"] = o.dump();
  write_safetensors(dir.file("kind.safetensors"), tensors, md);
  CHECK_THROWS_WITH(load_model<ItemToItem>(dir.file("kind.safetensors")),
                    Catch::Contains("the file holds a 'group_softmax' head, the model type has a 'binary' head"));
}

namespace {
// 60 walk sessions over 20 items, their co-occurrences and positives, and a small model.
struct WalkRun {
  std::vector<Session> sessions = i2i_test::walk_sessions(60, 20, 5, 7);
  CooccurrenceTable table = count_cooccurrence(sessions);
  ItemPairFeaturizer fz{table};
  std::vector<ItemPairExample> positives = item_to_item_positives(sessions, table);
  ItemToItemOptions mo = [] {
    ItemToItemOptions o;
    o.embedding_dim = 4;
    o.output_dim = 4;
    o.context_hidden = {6};
    return o;
  }();
};

// Trains M on walk sessions: uninterrupted, then interrupted at `stop` steps (checkpoint written
// there) and resumed in a fresh process-like setting (a new model and trainer, load_checkpoint).
template <class M>
void check_resume(std::int64_t stop, std::int64_t checkpoint_every) {
  WalkRun w;
  const ItemPairFeaturizer& fz = w.fz;
  const auto& positives = w.positives;
  ItemToItemOptions mo = w.mo;
  mo.glove_weight = 0.3;
  ItemToItemTrainOptions to;
  to.epochs = 3;
  to.batch_size = 7;  // not a multiple of the shards: whole groups all the same
  to.negatives = 3;
  to.shards = 4;
  to.threads = 2;
  to.pair_dropout = 0.3;
  to.seed = 11;
  to.schedule.decay = DecayKind::linear;
  to.schedule.decay_steps = 3 * ((static_cast<std::int64_t>(positives.size()) + 6) / 7);
  to.checkpoint_every = checkpoint_every;

  M full = make_item_to_item_as<M>(fz.schema(), mo, 0.0, 3);
  ItemToItemTrainer<M> a(full, fz, to);
  const ItemToItemResult ra = a.fit(positives);
  REQUIRE_FALSE(ra.interrupted);

  TempDir dir;
  const std::string path = dir.file("i2i.ckpt");
  M first = make_item_to_item_as<M>(fz.schema(), mo, 0.0, 3);
  ItemToItemTrainOptions cut = to;
  cut.max_steps = stop;
  ItemToItemTrainer<M> b(first, fz, cut);
  int written = 0;
  const ItemToItemResult rb = b.fit(positives, nullptr, [&](const TrainingPosition& p) {
    save_checkpoint(path, b.trainer(), p);
    ++written;
  });
  REQUIRE(rb.interrupted);
  CHECK(rb.position.step == stop);
  CHECK(written >= 1);

  M resumed = make_item_to_item_as<M>(fz.schema(), mo, 0.0, 99);  // another seed: everything comes from the file
  ItemToItemTrainer<M> c(resumed, fz, to);
  const TrainingPosition pos = load_checkpoint(path, c.trainer());
  CHECK(pos.step == stop);
  {  // Resumed with max_steps already reached: stops at once and hands back the very same position.
    M again = make_item_to_item_as<M>(fz.schema(), mo, 0.0, 5);
    ItemToItemTrainer<M> d(again, fz, cut);
    const TrainingPosition p2 = load_checkpoint(path, d.trainer());
    const ItemToItemResult rd = d.fit(positives, &p2);
    CHECK(rd.interrupted);
    CHECK(rd.position.step == pos.step);
    CHECK(rd.position.rng_state == pos.rng_state);
  }
  const ItemToItemResult rc = c.fit(positives, &pos);
  CHECK_FALSE(rc.interrupted);
  CHECK(same_dense(full, resumed));
  for (std::size_t t = 0; t < full.params().tables.size(); ++t)
    CHECK(bit_identical(full.params().tables[t], resumed.params().tables[t]));
  CHECK(rc.loss == ra.loss);
  REQUIRE(rc.position.fit->epochs.size() == 3);
  for (std::size_t e = 0; e < 3; ++e)
    CHECK(rc.position.fit->epochs[e].train_loss == ra.position.fit->epochs[e].train_loss);
}
}  // namespace

TEST_CASE("item-to-item training resumes from a checkpoint bit for bit", "[io][checkpoint][item_to_item]") {
  // 60 walk sessions: a few dozen steps of 7 positives per epoch, 3 epochs.
  SECTION("listwise, mid-epoch (checkpoint every 5 steps)") { check_resume<ItemToItemListwise>(47, 5); }
  SECTION("pointwise, mid-epoch (checkpoint only where it stops)") { check_resume<ItemToItem>(50, 0); }
  SECTION("listwise, stopped at a checkpoint of every step") { check_resume<ItemToItemListwise>(13, 1); }
}

TEST_CASE("item-to-item resume refuses a position of another run", "[io][checkpoint][item_to_item][errors]") {
  const auto sessions = i2i_test::walk_sessions(40, 15, 5, 7);
  const CooccurrenceTable table = count_cooccurrence(sessions);
  const ItemPairFeaturizer fz(table);
  const auto positives = item_to_item_positives(sessions, table);
  ItemToItemOptions mo;
  mo.embedding_dim = 3;
  mo.output_dim = 3;
  ItemToItemTrainOptions to;
  to.epochs = 2;
  to.batch_size = 8;
  to.negatives = 2;
  to.max_steps = 3;
  ItemToItem m = make_item_to_item(fz.schema(), mo, 1);
  ItemToItemTrainer<ItemToItem> t(m, fz, to);
  const TrainingPosition pos = t.fit(positives).position;
  REQUIRE(pos.step == 3);
  auto fails = [&](ItemToItemTrainOptions o, TrainingPosition p, const std::string& what) {
    ItemToItem m2 = make_item_to_item(fz.schema(), mo, 1);
    ItemToItemTrainer<ItemToItem> t2(m2, fz, o);
    t2.trainer().set_step(3);
    CHECK_THROWS_WITH(t2.fit(positives, &p), Catch::Contains(what));
  };
  ItemToItemTrainOptions other = to;
  other.batch_size = 9;
  fails(other, pos, "batch size 8");
  TrainingPosition no_rng = pos;
  no_rng.rng_state.reset();
  fails(to, no_rng, "Rng state");
  const std::vector<ItemPairExample> fewer(positives.begin(), positives.end() - 1);
  ItemToItem m3 = make_item_to_item(fz.schema(), mo, 1);
  ItemToItemTrainer<ItemToItem> t3(m3, fz, to);
  t3.trainer().set_step(3);
  CHECK_THROWS_WITH(t3.fit(fewer, &pos), Catch::Contains("same sessions"));
}

namespace {
// Next-item HR@5 and MRR@5 of `m`'s related-item lists on held-out walk sessions.
template <class M>
std::function<std::vector<std::pair<std::string, double>>()> next_item_validation(const M& m, const ItemPairFeaturizer& fz,
                                                                                  const std::vector<Session>& held_out) {
  return [&m, &fz, &held_out] {
    RelatedItemsOptions ro;
    ro.k = 5;
    NextItemOptions eo;
    eo.k = 5;
    eo.threads = 2;
    const NextItemResult r = evaluate_next_item(held_out, fz.table(), related_items(cpu_simd{}, m, fz, ro), eo);
    return std::vector<std::pair<std::string, double>>{{"mrr@5", r.mrr}, {"hr@5", r.hit_rate}};
  };
}
}  // namespace

TEST_CASE("item-to-item fit validates every epoch, logs JSON lines, stops early and resumes with its best epoch",
          "[io][checkpoint][item_to_item][early_stopping]") {
  const WalkRun w;
  const auto held_out = i2i_test::walk_sessions(30, 20, 6, 7);  // the same walk graph, other sessions
  const ItemPairFeaturizer& fz = w.fz;
  const auto& positives = w.positives;
  const ItemToItemOptions& mo = w.mo;
  ItemToItemTrainOptions to;
  to.epochs = 10;
  to.batch_size = 7;
  to.negatives = 3;
  to.shards = 4;
  to.threads = 2;
  to.seed = 11;
  to.patience = 2;
  to.early_stopping_metric = "mrr@5";
  to.optimizer.lr = 0.02;
  TempDir dir;

  ItemToItemListwise full = make_item_to_item_as<ItemToItemListwise>(fz.schema(), mo, 0.0, 3);
  ItemToItemTrainOptions fo = to;
  fo.validate = next_item_validation(full, fz, held_out);
  fo.log_path = dir.file("full.jsonl");
  ItemToItemTrainer<ItemToItemListwise> a(full, fz, fo);
  const ItemToItemResult ra = a.fit(positives);
  REQUIRE_FALSE(ra.interrupted);
  REQUIRE_FALSE(ra.epochs.empty());
  std::size_t best = 0;
  for (std::size_t e = 0; e < ra.epochs.size(); ++e) {
    REQUIRE(ra.epochs[e].valid_metrics.size() == 2);
    if (ra.epochs[e].valid_metric("mrr@5") > ra.epochs[best].valid_metric("mrr@5")) best = e;
  }
  INFO("epochs " << ra.epochs.size() << ", best " << ra.best_epoch << ", stopped early " << ra.stopped_early);
  CHECK(ra.best_epoch == static_cast<int>(best) + 1);
  if (ra.stopped_early) CHECK(ra.epochs.size() == best + 1 + 2);
  else CHECK(ra.epochs.size() == 10);
  CHECK(fo.validate()[0].second == ra.epochs[best].valid_metric("mrr@5"));  // the best epoch's model is kept
  {
    std::ifstream in(dir.file("full.jsonl"));
    std::size_t lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
      const auto j = nlohmann::json::parse(line);
      CHECK(j.at("epoch") == static_cast<int>(lines) + 1);
      CHECK(j.at("valid_mrr@5").get<double>() == ra.epochs[lines].valid_metric("mrr@5"));
    }
    CHECK(lines == ra.epochs.size());
  }

  // Interrupted inside epoch 3 (a best copy is held), resumed in a fresh model and trainer.
  const std::int64_t per_epoch = (static_cast<std::int64_t>(positives.size()) + 6) / 7;
  const std::string path = dir.file("i2i.ckpt");
  ItemToItemListwise first = make_item_to_item_as<ItemToItemListwise>(fz.schema(), mo, 0.0, 3);
  ItemToItemTrainOptions cut = to;
  cut.validate = next_item_validation(first, fz, held_out);
  cut.log_path = dir.file("cut.jsonl");
  cut.max_steps = 2 * per_epoch + 3;
  cut.checkpoint_every = 4;
  ItemToItemTrainer<ItemToItemListwise> b(first, fz, cut);
  const ItemToItemResult rb = b.fit(positives, nullptr, [&](const TrainingPosition& p) { save_checkpoint(path, b.trainer(), p); });
  REQUIRE(rb.interrupted);

  ItemToItemListwise resumed = make_item_to_item_as<ItemToItemListwise>(fz.schema(), mo, 0.0, 99);
  ItemToItemTrainOptions again = to;
  again.validate = next_item_validation(resumed, fz, held_out);
  again.log_path = dir.file("cut.jsonl");
  again.threads = 1;
  ItemToItemTrainer<ItemToItemListwise> c(resumed, fz, again);
  const TrainingPosition pos = load_checkpoint(path, c.trainer());
  CHECK(c.trainer().best_params().has_value() == pos.fit->has_best_params);
  const ItemToItemResult rc = c.fit(positives, &pos);
  CHECK_FALSE(rc.interrupted);
  CHECK(rc.best_epoch == ra.best_epoch);
  CHECK(rc.stopped_early == ra.stopped_early);
  REQUIRE(rc.epochs.size() == ra.epochs.size());
  for (std::size_t e = 0; e < ra.epochs.size(); ++e) {
    CHECK(rc.epochs[e].train_loss == ra.epochs[e].train_loss);
    CHECK(rc.epochs[e].valid_metrics == ra.epochs[e].valid_metrics);
  }
  CHECK(same_dense(full, resumed));
  for (std::size_t t = 0; t < full.params().tables.size(); ++t)
    CHECK(bit_identical(full.params().tables[t], resumed.params().tables[t]));
}
