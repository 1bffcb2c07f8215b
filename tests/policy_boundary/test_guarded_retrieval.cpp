// The backend boundary for the retrieval models (issue 15): every Two-Tower variant (MLP with
// cosine and dot similarity, cross towers, Transformer towers with a sequence field) under each
// retrieval objective, and every item-to-item variant (pointwise and listwise; MLP, cross and
// Transformer towers), trains, encodes, evaluates and saves/loads on testing::cpu_guarded and
// matches cpu_scalar bit for bit. See test_guarded.cpp for the CTR models and the guard's own test.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <vector>

#include "../models/item_to_item_towers_checks.hpp"
#include "../retrieval_fixture.hpp"
#include "ctrnet/io/architecture_item_to_item.hpp"
#include "ctrnet/io/architecture_two_tower.hpp"
#include "ctrnet/item_to_item.hpp"
#include "ctrnet/two_tower.hpp"
#include "guarded_checks.hpp"

using namespace ctrnet;
using namespace ctrnet::guarded_test;

namespace {

/// Three training steps of `make(schema)` under options `o`, then query encodings, a full-ranking
/// evaluation and a save/load, on cpu_scalar and on cpu_guarded: the same bits everywhere.
template <class Make>
void check_two_tower(const char* name, Make make, TwoTowerTrainerOptions o, bool history = false) {
  INFO(name << ", objective " << static_cast<int>(o.objective));
  const RetrievalData d = test_util::retrieval_data(history);
  std::vector<std::vector<index_t>> qs(3), is(3);
  Rng rng(21);
  for (std::size_t b = 0; b < qs.size(); ++b)
    for (int r = 0; r < 24; ++r) {
      qs[b].push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(d.num_queries()))));
      is[b].push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(d.num_items()))));
    }
  std::vector<std::vector<index_t>> relevant(static_cast<std::size_t>(d.num_queries()));
  for (index_t q = 0; q < d.num_queries(); ++q) relevant[static_cast<std::size_t>(q)] = {q % d.num_items()};
  const ItemLists rel(relevant);
  std::vector<std::vector<index_t>> seen_lists(static_cast<std::size_t>(d.num_queries()));
  for (index_t q = 0; q < d.num_queries(); ++q)  // exclusions: staged into the policy's memory by exact_topk
    seen_lists[static_cast<std::size_t>(q)] = {(q + 1) % d.num_items(), (q + 3) % d.num_items()};
  const ItemLists seen(seen_lists);
  std::vector<index_t> all(static_cast<std::size_t>(d.num_queries()));
  for (index_t q = 0; q < d.num_queries(); ++q) all[static_cast<std::size_t>(q)] = q;
  o.shards = 3;
  o.threads = 1;
  o.progress = ProgressMode::never;

  auto ref = make(d.schema);
  using M = decltype(ref);
  std::vector<double> ref_loss;
  TwoTowerTrainer<M, cpu_scalar> rt(ref, o);
  for (std::size_t b = 0; b < qs.size(); ++b) ref_loss.push_back(rt.train_step(d, qs[b], is[b]));
  const Matrix<float> ref_enc = rt.encode_queries(d, all);
  const RankingResult ref_rank = rt.evaluate(d, rel, ItemLists{}, 5);
  const RankingResult ref_rank_seen = rt.evaluate(d, rel, seen, 5);

  GuardedContext ctx;
  const cpu_guarded gp(ctx);
  auto model = [&] {
    const PolicyScope scope(gp);
    return make(d.schema);
  }();
  REQUIRE_FALSE(model.params().dense.space().host_accessible());
  TwoTowerTrainer<M, cpu_guarded> gt(model, o, gp);
  for (std::size_t b = 0; b < qs.size(); ++b) CHECK(same_bits(gt.train_step(d, qs[b], is[b]), ref_loss[b]));
  const auto want = host_params(ref), got = host_params(model);
  REQUIRE(want.size() == got.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(same_bits(want[i], got[i]));

  const Matrix<float> enc = gt.encode_queries(d, all);
  REQUIRE_FALSE(enc.space().host_accessible());
  std::vector<float> enc_host(static_cast<std::size_t>(enc.size()));
  enc.download(enc_host.data());
  CHECK(std::memcmp(enc_host.data(), ref_enc.data(), enc_host.size() * sizeof(float)) == 0);
  const RankingResult rank = gt.evaluate(d, rel, ItemLists{}, 5);
  CHECK(same_bits(rank.recall, ref_rank.recall));
  CHECK(same_bits(rank.ndcg, ref_rank.ndcg));
  CHECK(rank.items_recommended == ref_rank.items_recommended);
  const RankingResult rank_seen = gt.evaluate(d, rel, seen, 5);
  CHECK(same_bits(rank_seen.recall, ref_rank_seen.recall));
  CHECK(same_bits(rank_seen.ndcg, ref_rank_seen.ndcg));
  CHECK(rank_seen.items_recommended == ref_rank_seen.items_recommended);

  Batch b;
  d.queries.gather(std::span<const index_t>(all), b);
  check_save_load(model, gp, b.view());
  CHECK(ctx.arena().kernel_entries() > 100);
}

TwoTowerTrainerOptions objective(RetrievalObjective obj) {
  TwoTowerTrainerOptions o;
  o.objective = obj;
  o.mixed_negatives = 8;
  o.pointwise_negatives = 2;
  return o;
}

constexpr RetrievalObjective kObjectives[] = {RetrievalObjective::in_batch, RetrievalObjective::mixed,
                                               RetrievalObjective::pointwise};

}  // namespace

TEST_CASE("Two-tower MLP models (cosine and dot) run on cpu_guarded and match cpu_scalar bit for bit",
          "[guarded][two_tower]") {
  TwoTowerOptions mo;
  mo.embedding_dim = 4;
  mo.query_hidden = {8};
  mo.candidate_hidden = {8};
  mo.output_dim = 4;
  for (RetrievalObjective obj : kObjectives) {
    check_two_tower("TwoTowerMLP", [&](const Schema& s) { return make_two_tower_mlp(s, mo); }, objective(obj));
    check_two_tower("TwoTowerDotMLP", [&](const Schema& s) { return make_two_tower_dot_mlp(s, mo); }, objective(obj));
  }
}

TEST_CASE("Two-tower cross and Transformer models run on cpu_guarded and match cpu_scalar bit for bit",
          "[guarded][two_tower]") {
  TwoTowerCrossOptions co;
  co.embedding_dim = 4;
  co.cross_depth = 2;
  co.rank = 2;
  co.query_hidden = {8};
  co.candidate_hidden = {8};
  co.output_dim = 4;
  check_two_tower("TwoTowerCross", [&](const Schema& s) { return make_two_tower_cross(s, co); },
                  objective(RetrievalObjective::in_batch));
  check_two_tower("TwoTowerCrossCosine", [&](const Schema& s) { return make_two_tower_cross_cosine(s, co); },
                  objective(RetrievalObjective::mixed));
  TwoTowerTransformerOptions to;
  to.embedding_dim = 4;
  to.max_len = 4;
  to.heads = 2;
  to.output_dim = 4;
  to.dropout = 0.1;
  for (RetrievalObjective obj : kObjectives)
    check_two_tower("TwoTowerTransformer", [&](const Schema& s) { return make_two_tower_transformer(s, to); },
                    objective(obj), true);
}

namespace {

/// train_item_to_item (the fit loop with sampled negatives) of `make(schema)` on cpu_scalar and
/// on cpu_guarded: the same loss and parameters; then predictions and a save/load.
template <class Make>
void check_item_to_item(const char* name, Make make, bool listwise) {
  INFO(name);
  const auto sessions = i2i_test::walk_sessions(30, 12, 3, 5);
  const CooccurrenceTable t = count_cooccurrence(sessions);
  const ItemPairFeaturizer fz(t);
  const auto pos = item_to_item_positives(sessions, t);
  ItemToItemTrainOptions to;
  to.epochs = 1;
  to.batch_size = 16;
  to.negatives = 3;
  to.threads = 1;
  to.shards = 3;
  static_cast<void>(listwise);

  auto ref = make(fz.schema());
  using M = decltype(ref);
  const double ref_loss = train_item_to_item(ref, fz, pos, to, cpu_scalar{});

  GuardedContext ctx;
  const cpu_guarded gp(ctx);
  auto model = [&] {
    const PolicyScope scope(gp);
    return make(fz.schema());
  }();
  REQUIRE_FALSE(model.params().dense.space().host_accessible());
  CHECK(same_bits(train_item_to_item(model, fz, pos, to, gp), ref_loss));
  const auto want = host_params(ref), got = host_params(model);
  REQUIRE(want.size() == got.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(same_bits(want[i], got[i]));

  Batch b = fz.make_batch();
  for (std::size_t i = 0; i < 12 && i < pos.size(); ++i) fz.add(b, pos[i].a, pos[i].b, 1.0f, pos[i].weight);
  b.set_size(static_cast<index_t>(b.labels.size()));
  const BatchView v = b.view();
  Matrix<float> p_ref(v.size, ref.output_width()), p_got(v.size, model.output_width());
  typename M::Cache c_ref, c_got;
  ref.predict(cpu_scalar{}, v, p_ref.view(), c_ref);
  model.predict(gp, v, p_got.view(), c_got);
  CHECK(std::memcmp(p_ref.data(), p_got.data(), static_cast<std::size_t>(p_ref.size()) * sizeof(float)) == 0);
  check_save_load(model, gp, v);
  CHECK(ctx.arena().kernel_entries() > 100);
}

}  // namespace

TEST_CASE("Every item-to-item variant runs on cpu_guarded and matches cpu_scalar bit for bit",
          "[guarded][item_to_item]") {
  const ItemToItemOptions o = i2i_test::tiny_options();
  const double log_q = std::log(12.0 / 3.0);
  check_item_to_item("ItemToItem", [&](const Schema& s) { return make_item_to_item(s, o, 3); }, false);
  check_item_to_item("ItemToItemListwise", [&](const Schema& s) { return make_item_to_item_listwise(s, o, log_q, 3); },
                     true);
  check_item_to_item("ItemToItemCross", [&](const Schema& s) { return make_item_to_item_cross(s, o, 3); }, false);
  check_item_to_item("ItemToItemCrossListwise",
                     [&](const Schema& s) { return make_item_to_item_cross_listwise(s, o, log_q, 3); }, true);
  check_item_to_item("ItemToItemTransformer", [&](const Schema& s) { return make_item_to_item_transformer(s, o, 3); },
                     false);
  check_item_to_item("ItemToItemTransformerListwise",
                     [&](const Schema& s) { return make_item_to_item_transformer_listwise(s, o, log_q, 3); }, true);
}
