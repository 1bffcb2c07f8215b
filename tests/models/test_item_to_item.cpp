// The item-to-item two-tower model (models/item_to_item.hpp): finite-difference gradients of the
// body and of the whole two-head loss (double, cpu_scalar, every dense parameter and table row),
// cpu_simd-vs-cpu_scalar parity, training positives from sessions, the exact retrieval trick of
// serve/related_items.hpp against brute-force scoring of every pair, the list writers, and a
// small training run on made-up sessions that beats the popularity list (pointwise BCE and the
// listwise GroupSoftmaxHead), the GroupSoftmaxHead's loss and gradient, the featurizer without
// pair features, and the Trainer's row groups: a softmax group never cut by a shard, every
// positive trained, whatever the batch size and shard count.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <vector>

#include "../loss_value.hpp"
#include "ctrnet/train/next_item_metrics.hpp"
#include "item_to_item_towers_checks.hpp"

using namespace ctrnet;
using namespace ctrnet::i2i_test;  // tiny_options / tiny_schema / tiny_batch, walk_sessions, check_simd_parity

TEST_CASE("Item-pair body backward matches finite differences", "[item_to_item][gradcheck]") {
  const Schema s = tiny_schema();
  const Batch b = tiny_batch(s, 6, 3);
  const ItemToItem m = item_to_item_model(tiny_options());
  auto rep = testing::check_gradients(m.body(), s, b.view());
  INFO(rep.summary());
  CHECK(rep.ok());
}

TEST_CASE("Item-to-item two-head loss gradient matches finite differences (double)", "[item_to_item][gradcheck]") {
  const Schema s = tiny_schema();
  Batch b = tiny_batch(s, 7, 4);
  const ItemToItemOptions o = tiny_options();
  const ItemToItem proto = item_to_item_model(o);
  BasicModel<double, ItemToItemBody, BinaryHead, GloveHead> m(proto.body(), proto.head<0>(), proto.head<1>());
  m.build(s, 11);
  testing::randomize_params(m, 5);
  const auto check = testing::check_model_loss_gradient(m, b.view());
  CHECK(check.loss_recomputed == Approx(check.loss).epsilon(1e-14));
  INFO("relative error " << check.error);
  CHECK(check.error < 1e-6);
  CHECK(check.norm > 1e-6);
  // Parameter names: the shared item table, both bias tables, the wide term and the bias.
  std::vector<std::string> names;
  m.visit_params([&](const std::string& n, auto) { names.push_back(n); });
  for (const char* want : {"embedding.item", "glove_bias.context", "glove_bias.item", "pair.bias", "pair.linear", "relevance_bias.item"})
    CHECK(std::find(names.begin(), names.end(), want) != names.end());
}

TEST_CASE("Item-to-item model: cpu_simd matches cpu_scalar", "[item_to_item][simd]") {
  ItemToItemOptions o = tiny_options();
  o.activation = Activation::relu;
  check_simd_parity(make_item_to_item(tiny_schema(), o, 3));
}

TEST_CASE("Training positives: next-click pairs within the window, weighted 1/d, plus reverse", "[item_to_item]") {
  std::vector<Session> ss{{1, {10, 11, 11, 12}, {0, 1, 2, 3}, {0, 0, 0, 0}}};
  const CooccurrenceTable t = count_cooccurrence(ss);
  ItemToItemPositiveOptions o;
  o.window = 2;
  o.reverse_weight = 0.5;
  const auto p = item_to_item_positives(ss, t, o);
  // (10,11) d1, (10,11) d2, (11,12) d2 [11 at 1], (11,12) d1 [11 at 2]; 11→11 skipped.
  REQUIRE(p.size() == 8);
  CHECK(p[0].a == t.index_of(10));
  CHECK(p[0].b == t.index_of(11));
  CHECK(p[0].weight == 1.0f);
  CHECK(p[1].a == t.index_of(11));
  CHECK(p[1].weight == 0.5f);
  CHECK(p[2].weight == 0.5f);  // 10 → 11 at distance 2
  CHECK(p[3].weight == 0.25f);
  CHECK_THROWS_WITH(item_to_item_positives(ss, t, ItemToItemPositiveOptions{0, 0.5}), Catch::Contains("window"));
}

TEST_CASE("Related items: the exact retrieval trick equals brute-force scoring", "[item_to_item][serve]") {
  const auto sessions = walk_sessions(120, 30, 2, 9);
  const CooccurrenceTable t = count_cooccurrence(sessions);
  const ItemPairFeaturizer fz(t);
  const index_t N = t.num_items();
  ItemToItemOptions o;
  o.embedding_dim = 6;
  o.output_dim = 6;
  o.context_hidden = {8};
  ItemToItem m = make_item_to_item(fz.schema(), o, 4);
  Rng rng(3);
  for (auto& v : m.params().dense) v = static_cast<float>(rng.uniform(-0.5, 0.5));
  for (auto& tab : m.params().tables)
    for (index_t i = 0; i < tab.size(); ++i) tab.data()[i] = static_cast<float>(rng.uniform(-0.5, 0.5));
  const index_t K = 7;
  for (int variant = 0; variant < 3; ++variant) {  // relevance, GloVe, relevance + 0.7 · GloVe
    const ScoreOutput out = variant == 1 ? ScoreOutput::glove : ScoreOutput::relevance;
    const float mix = variant == 2 ? 0.7f : 0.0f;
    RelatedItemsOptions ro;
    ro.k = K;
    ro.output = out;
    ro.glove_mix = mix;
    ro.block = 8;  // several blocks
    const RecommendationLists l = related_items(cpu_simd{}, m, fz, ro);
    REQUIRE(l.num_items() == N);
    // Brute force: every (A, B ≠ A) through the model with its real pair features.
    Batch all = fz.make_batch();
    for (index_t a = 0; a < N; ++a)
      for (index_t b = 0; b < N; ++b)
        if (a != b) fz.add(all, a, b, 0.0f, 1.0f);
    all.set_size(static_cast<index_t>(all.labels.size()));
    ItemToItem::Cache c;
    m.forward(cpu_scalar{}, all.view(), c);
    const index_t col = out == ScoreOutput::glove ? 1 : 0;
    index_t mismatches = 0;
    for (index_t a = 0; a < N; ++a) {
      std::vector<ItemScore> s;
      for (index_t b = 0, row = a * (N - 1); b < N; ++b)
        if (b != a) {
          s.push_back({b, c.logits(row, col) + (mix != 0.0f ? mix * c.logits(row, 1) : 0.0f)});
          ++row;
        }
      std::sort(s.begin(), s.end(), [](auto& x, auto& y) { return x.score != y.score ? x.score > y.score : x.item < y.item; });
      for (index_t j = 0; j < K; ++j) {
        if (l.list(a)[static_cast<std::size_t>(j)] != s[static_cast<std::size_t>(j)].item) ++mismatches;
        CHECK(l.list_scores(a)[static_cast<std::size_t>(j)] == Approx(s[static_cast<std::size_t>(j)].score).margin(1e-4));
        CHECK(l.list(a)[static_cast<std::size_t>(j)] != a);
      }
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("Related items are written as CSV and JSON lines with raw ids", "[item_to_item][serve]") {
  std::vector<Session> ss{{1, {7, 8, 9}, {0, 1, 2}, {0, 0, 0}}};
  const CooccurrenceTable t = count_cooccurrence(ss);
  RecommendationLists l;
  l.k = 2;
  l.items = {1, 2, 0, -1, 1, 0};
  l.scores = {0.5f, 0.25f, 1.0f, 0.0f, 2.0f, 1.5f};
  const auto dir = std::filesystem::temp_directory_path();
  const std::string csv = (dir / "ctrnet_test_related.csv").string(), js = (dir / "ctrnet_test_related.jsonl").string();
  write_related_items(csv, l, t);
  write_related_items(js, l, t);
  std::ifstream fc(csv), fj(js);
  std::stringstream sc, sj;
  sc << fc.rdbuf();
  sj << fj.rdbuf();
  CHECK(sc.str() == "item,rank,related,score\n7,1,8,0.5\n7,2,9,0.25\n8,1,7,1\n9,1,8,2\n9,2,7,1.5\n");
  CHECK(sj.str() ==
        "{\"item\":7,\"related\":[8,9],\"scores\":[0.5,0.25]}\n{\"item\":8,\"related\":[7],\"scores\":[1]}\n"
        "{\"item\":9,\"related\":[8,7],\"scores\":[2,1.5]}\n");
  std::filesystem::remove(csv);
  std::filesystem::remove(js);
  CHECK_THROWS_WITH(write_related_items("/nonexistent-dir/x.csv", l, t), Catch::Contains("cannot open"));
}

TEST_CASE("A trained item-to-item model predicts next items far better than popularity", "[item_to_item][quality]") {
  const auto train = walk_sessions(3000, 60, 21, 77);
  const auto test = walk_sessions(400, 60, 22, 77);
  const CooccurrenceTable t = count_cooccurrence(train);
  const ItemPairFeaturizer fz(t);
  ItemToItemOptions o;
  o.embedding_dim = 16;
  o.output_dim = 16;
  o.context_hidden = {16};
  ItemToItem m = make_item_to_item(fz.schema(), o, 1);
  ItemToItemTrainOptions to;
  to.epochs = 2;
  to.threads = 1;
  const auto pos = item_to_item_positives(train, t);
  const double loss = train_item_to_item(m, fz, pos, to);
  CHECK(std::isfinite(loss));
  RelatedItemsOptions ro;
  ro.k = 5;
  NextItemOptions eo;
  eo.k = 5;
  eo.threads = 1;
  const auto model = evaluate_next_item(test, t, related_items(cpu_simd{}, m, fz, ro), eo);
  const auto pop = evaluate_next_item(test, t, PopularityRecommender(t).recommend_all(5, 1), eo);
  INFO("model HR@5 " << model.hit_rate << ", popularity " << pop.hit_rate);
  CHECK(model.hit_rate > pop.hit_rate + 0.2);
}

TEST_CASE("GroupSoftmaxHead: sampled softmax per positive with the log-Q correction", "[item_to_item][heads]") {
  // Two groups (rows 1-3 and 4-5) after a leading negative that is ignored; made-up numbers.
  const std::vector<float> labels{0, 1, 0, 0, 1, 0};
  const std::vector<float> weights{1.0f, 2.0f, 1.0f, 4.0f, 0.5f, 0.25f};
  BatchView b;
  b.size = 6;
  b.labels = labels.data();
  b.weights = weights.data();
  GroupSoftmaxHead h{HeadOptions{1.5, 0}, 0.3};
  Matrix<double> z(6, 1, 0.0), dz(6, 1, 0.0);
  const double zs[6] = {0.9, 0.2, -0.4, 0.7, 1.1, -0.3};
  for (index_t r = 0; r < 6; ++r) z(r, 0) = zs[r];
  const double norm = 2.0;
  const double loss = test_util::loss_value([&](double* out_) { h.loss(cpu_scalar{}, z.cview(), b, norm, dz.view(), out_); });
  // By hand: group 1: z' = (0.2, −0.4 + log(1/2) + 0.3, 0.7 + log(4/2) + 0.3), weight 2;
  // group 2: z' = (1.1, −0.3 + log(0.25/0.5) + 0.3), weight 0.5.
  auto lse = [](std::vector<double> v) {
    double s = 0.0;
    for (double x : v) s += std::exp(x);
    return std::log(s);
  };
  const std::vector<double> g1{0.2, -0.4 + std::log(0.5) + 0.3, 0.7 + std::log(2.0) + 0.3};
  const std::vector<double> g2{1.1, -0.3 + std::log(0.5) + 0.3};
  const double want = 1.5 / norm * (2.0 * (lse(g1) - g1[0]) + 0.5 * (lse(g2) - g2[0]));
  CHECK(loss == Approx(want).epsilon(1e-12));
  CHECK(dz(0, 0) == 0.0);
  // Finite differences on every logit.
  for (index_t r = 0; r < 6; ++r) {
    Matrix<double> zp = z, zm = z, none;
    zp(r, 0) += 1e-6;
    zm(r, 0) -= 1e-6;
    const double num = (test_util::loss_value([&](double* out_) { h.loss(cpu_scalar{}, zp.cview(), b, norm, none.view(), out_); }) -
                        test_util::loss_value([&](double* out_) { h.loss(cpu_scalar{}, zm.cview(), b, norm, none.view(), out_); })) / 2e-6;
    CHECK(dz(r, 0) == Approx(num).margin(1e-8));
  }
  // Each group's gradient sums to 0 (softmax minus one-hot).
  CHECK(dz(1, 0) + dz(2, 0) + dz(3, 0) == Approx(0.0).margin(1e-12));
  CHECK(dz(4, 0) + dz(5, 0) == Approx(0.0).margin(1e-12));
}

TEST_CASE("The listwise item-to-item model trains and beats popularity", "[item_to_item][quality]") {
  const auto train = walk_sessions(3000, 60, 21, 77);
  const auto test = walk_sessions(400, 60, 22, 77);
  const CooccurrenceTable t = count_cooccurrence(train);
  const ItemPairFeaturizer fz(t);
  ItemToItemOptions o;
  o.embedding_dim = 16;
  o.output_dim = 16;
  o.context_hidden = {};
  ItemToItemTrainOptions to;
  to.epochs = 2;
  to.threads = 1;
  to.negatives = 4;
  to.batch_size = 64;
  ItemToItemListwise m = make_item_to_item_listwise(fz.schema(), o, std::log(60.0 / 4.0), 1);
  const auto pos = item_to_item_positives(train, t);
  const double loss = train_item_to_item(m, fz, pos, to);
  CHECK(std::isfinite(loss));
  CHECK(loss > 0.0);
  RelatedItemsOptions ro;
  ro.k = 5;
  NextItemOptions eo;
  eo.k = 5;
  eo.threads = 1;
  const auto model = evaluate_next_item(test, t, related_items(cpu_simd{}, m, fz, ro), eo);
  const auto pop = evaluate_next_item(test, t, PopularityRecommender(t).recommend_all(5, 1), eo);
  INFO("listwise model HR@5 " << model.hit_rate << ", popularity " << pop.hit_rate);
  CHECK(model.hit_rate > pop.hit_rate + 0.2);
}

TEST_CASE("ItemPairFeaturizer without pair features, and add_without_pair_features", "[item_to_item]") {
  const auto sessions = walk_sessions(200, 20, 5, 9);
  const CooccurrenceTable t = count_cooccurrence(sessions);
  const ItemPairFeaturizer with(t), without(t, PairFeatureOptions{}, false);
  CHECK(without.uses_pair_features() == false);
  CHECK(without.schema().size() == with.schema().size());
  REQUIRE(!t.neighbors(0).empty());
  const index_t b = t.neighbors(0)[0].item;
  const index_t F = with.num_pair_features();
  Batch x = with.make_batch();
  with.add(x, 0, b, 1.0f, 0.5f);
  double sum_with = 0.0;
  for (index_t j = 0; j < F; ++j) sum_with += std::abs(x.dense_values[static_cast<std::size_t>(j)]);
  CHECK(sum_with > 0.0);
  // Pair features 0, item features equal; `without` writes X_AB as the target (its rows still
  // train GloVe), and so does add_without_pair_features (the rows of a dropped group).
  auto check_row = [&](const Batch& y) {
    for (index_t j = 0; j < F; ++j) CHECK(y.dense_values[static_cast<std::size_t>(j)] == 0.0f);
    for (index_t j = F; j < with.num_dense(); ++j)
      CHECK(y.dense_values[static_cast<std::size_t>(j)] == x.dense_values[static_cast<std::size_t>(j)]);
    CHECK(y.targets[0][0] == x.targets[0][0]);
    CHECK(y.targets[0][0] == static_cast<float>(t.count(0, b)));
    CHECK(y.ids[0][0] == 0);
    CHECK(y.ids[1][0] == b);
    CHECK(y.labels[0] == 1.0f);
    CHECK(y.weights[0] == 0.5f);
  };
  Batch y = without.make_batch(), z = with.make_batch();
  without.add(y, 0, b, 1.0f, 0.5f);
  with.add_without_pair_features(z, 0, b, 1.0f, 0.5f);
  check_row(y);
  check_row(z);
  CHECK(x.targets[0][0] > 0.0f);
}

TEST_CASE("Pair-feature dropout trains the ids-only ranking (the lists' fill-in)", "[item_to_item][quality]") {
  // The ranking of items B that never co-occur with A goes through the context row u(A, 0). Scored
  // with every pair feature 0 (a featurizer without pair features), a model trained with
  // pair_dropout must still predict next items far better than popularity; without it, that
  // ranking is only ever trained on negatives and is much worse.
  const auto train = walk_sessions(3000, 60, 21, 77);
  const auto test = walk_sessions(400, 60, 22, 77);
  const CooccurrenceTable t = count_cooccurrence(train);
  const ItemPairFeaturizer fz(t), ids_only(t, PairFeatureOptions{}, false);
  ItemToItemOptions o;
  o.embedding_dim = 16;
  o.output_dim = 16;
  o.context_hidden = {};
  o.glove_weight = 0.3;
  const auto pos = item_to_item_positives(train, t);
  RelatedItemsOptions ro;
  ro.k = 5;
  NextItemOptions eo;
  eo.k = 5;
  eo.threads = 1;
  auto hit_rates = [&](double dropout) {
    ItemToItemTrainOptions to;
    to.epochs = 4;
    to.threads = 1;
    to.negatives = 4;
    to.batch_size = 64;
    to.optimizer.lr = 1e-2;
    to.embedding_optimizer.lr = 0.5;
    to.pair_dropout = dropout;
    ItemToItemListwise m = make_item_to_item_listwise(fz.schema(), o, std::log(60.0 / 4.0), 1);
    CHECK(std::isfinite(train_item_to_item(m, fz, pos, to)));
    return std::pair{evaluate_next_item(test, t, related_items(cpu_simd{}, m, fz, ro), eo).hit_rate,
                     evaluate_next_item(test, t, related_items(cpu_simd{}, m, ids_only, ro), eo).hit_rate};
  };
  const auto [with_full, with_ids] = hit_rates(0.7);
  const auto [without_full, without_ids] = hit_rates(0.0);
  const double pop = evaluate_next_item(test, t, PopularityRecommender(t).recommend_all(5, 1), eo).hit_rate;
  INFO("HR@5 with dropout: full " << with_full << ", ids only " << with_ids << "; without: full " << without_full
                                  << ", ids only " << without_ids << "; popularity " << pop);
  CHECK(with_full > pop + 0.2);
  CHECK(with_ids > pop + 0.3);  // measured 0.62 vs 0.14
  CHECK(with_ids > without_ids + 0.3);  // measured 0.62 vs 0.15
  CHECK_THROWS_AS(
      [&] {
        ItemToItemTrainOptions bad;
        bad.pair_dropout = 1.0;
        ItemToItemListwise m = make_item_to_item_listwise(fz.schema(), o, 0.0, 1);
        train_item_to_item(m, fz, pos, bad);
      }(),
      Error);
}

namespace {

// The listwise model in double on cpu_scalar: shard sums then differ from one shard's only in the
// order of the floating-point additions.
using ListwiseDouble = BasicModel<double, ItemToItemBody, GroupSoftmaxHead, GloveHead>;

// max |a − b| over every dense parameter and table entry, relative to max |b|. Runs that differ
// only in the order of their sums measured ≤ 5e-11 after a few Adam / row-wise Adagrad steps (both
// divide by the gradient's size, which magnifies rounding in near-zero gradients); a cut group or
// a skipped positive ≥ 5e-2. The tests allow 1e-9.
double relative_param_difference(const ListwiseDouble& a, const ListwiseDouble& b) {
  double diff = 0.0, scale = 0.0;
  const auto& pa = a.params();
  const auto& pb = b.params();
  REQUIRE(pa.dense.size() == pb.dense.size());
  for (index_t i = 0; i < pa.dense.size(); ++i) {
    diff = std::max(diff, std::abs(pa.dense[i] - pb.dense[i]));
    scale = std::max(scale, std::abs(pb.dense[i]));
  }
  REQUIRE(pa.tables.size() == pb.tables.size());
  for (std::size_t t = 0; t < pa.tables.size(); ++t) {
    REQUIRE(pa.tables[t].size() == pb.tables[t].size());
    for (index_t i = 0; i < pa.tables[t].size(); ++i) {
      diff = std::max(diff, std::abs(pa.tables[t].data()[i] - pb.tables[t].data()[i]));
      scale = std::max(scale, std::abs(pb.tables[t].data()[i]));
    }
  }
  const double rel = diff / std::max(scale, 1e-300);
  UNSCOPED_INFO("relative parameter difference " << rel);
  return rel;
}

}  // namespace

TEST_CASE("train_item_to_item (listwise): any shard count trains the groups of one shard, every positive included",
          "[item_to_item][shards]") {
  // Softmax groups (a positive and its negatives) must never be cut by the Trainer's shards, and
  // no positive may be skipped: training with 4 shards must give the model of 1 shard (up to the
  // order of the floating-point sums), whatever the batch size.
  const auto sessions = walk_sessions(40, 15, 3, 5);
  const CooccurrenceTable t = count_cooccurrence(sessions);
  const ItemPairFeaturizer fz(t);
  const auto pos = item_to_item_positives(sessions, t);
  ItemToItemTrainOptions to;
  to.epochs = 2;
  to.threads = 2;
  to.negatives = 3;
  ItemToItemOptions o = tiny_options();
  const double log_q = std::log(15.0 / 3.0);
  auto train = [&](index_t batch_size, index_t shards) {
    ItemToItemTrainOptions x = to;
    x.batch_size = batch_size;
    x.shards = shards;
    ListwiseDouble m = make_item_to_item_as<ListwiseDouble>(fz.schema(), o, log_q, 3);
    const double loss = train_item_to_item(m, fz, pos, x, cpu_scalar{});
    CHECK(std::isfinite(loss));
    return std::pair{std::move(m), loss};
  };
  const ListwiseDouble init = make_item_to_item_as<ListwiseDouble>(fz.schema(), o, log_q, 3);
  SECTION("batch size not a multiple of the shards: groups would straddle shard boundaries") {
    REQUIRE(pos.size() % 7 != 0);
    const auto [m4, l4] = train(7, 4);
    const auto [m1, l1] = train(7, 1);
    CHECK(l4 == Approx(l1).epsilon(1e-12));
    CHECK(relative_param_difference(m4, m1) < 1e-9);
    CHECK(relative_param_difference(m1, init) > 1e-3);  // it did train
  }
  SECTION("batch size a multiple of the shards: the last, partial batch trains all its positives") {
    INFO(pos.size() << " positives");
    REQUIRE(pos.size() % 8 % 4 != 0);  // the last batch's positives are not a multiple of the 4 shards
    const auto [m4, l4] = train(8, 4);
    const auto [m1, l1] = train(8, 1);
    CHECK(l4 == Approx(l1).epsilon(1e-12));
    CHECK(relative_param_difference(m4, m1) < 1e-9);
  }
}

namespace {

// `groups` softmax groups: positive (A, B) of pos[g] with label 1, then k negatives (A, B′) of
// made-up items and weights, labelled 0.
Batch listwise_groups(const ItemPairFeaturizer& fz, const std::vector<ItemPairExample>& pos, index_t groups, index_t k,
                      std::uint64_t seed) {
  Batch b = fz.make_batch();
  Rng rng(seed);
  for (index_t g = 0; g < groups; ++g) {
    const ItemPairExample& e = pos[static_cast<std::size_t>(g) % pos.size()];
    fz.add(b, e.a, e.b, 1.0f, e.weight);
    for (index_t j = 0; j < k; ++j)
      fz.add(b, e.a, static_cast<index_t>(rng.below(static_cast<std::uint64_t>(fz.num_items()))), 0.0f,
             static_cast<float>(e.weight * (0.5 + rng.uniform())));
  }
  b.set_size(static_cast<index_t>(b.labels.size()));
  return b;
}

}  // namespace

TEST_CASE("Trainer: no shard cuts a softmax group; row_group keeps groups whole in fit", "[item_to_item][shards]") {
  const auto sessions = walk_sessions(40, 15, 3, 5);
  const CooccurrenceTable t = count_cooccurrence(sessions);
  const ItemPairFeaturizer fz(t);
  const auto pos = item_to_item_positives(sessions, t);
  const index_t k = 3, G = 1 + k;
  const Batch batch = listwise_groups(fz, pos, 7, k, 11);  // 28 rows: 7 rows per shard of 4 would cut groups
  const BatchView v = batch.view();
  const ItemToItemOptions o = tiny_options();
  auto options = [&](index_t shards, index_t row_group, int threads) {
    TrainerOptions x;
    x.batch_size = 7 * G;
    x.shards = shards;
    x.row_group = row_group;
    x.threads = threads;
    x.progress = ProgressMode::never;
    x.optimizer.kind = DenseKind::adam;
    x.optimizer.lr = 1e-2;
    return x;
  };
  auto model = [&] { return make_item_to_item_as<ListwiseDouble>(fz.schema(), o, std::log(15.0 / 3.0), 3); };

  SECTION("4 shards of whole groups give the loss and the model of 1 shard") {
    ListwiseDouble m4 = model(), m1 = model();
    Trainer<ListwiseDouble, cpu_scalar> t4(m4, options(4, G, 2)), t1(m1, options(1, G, 1));
    for (int step = 0; step < 3; ++step) {
      const double l4 = t4.train_step(v), l1 = t1.train_step(v);
      INFO("step " << step);
      CHECK(l4 == Approx(l1).epsilon(1e-12));
    }
    CHECK(relative_param_difference(m4, m1) < 1e-9);
    CHECK(relative_param_difference(m1, model()) > 1e-4);  // it did train
  }
  SECTION("shards that cut groups (no row groups) still give the loss and the model of 1 shard") {
    // 4 shards of 7 rows cut groups at rows 7, 14 and 21; the heads run over the whole batch
    // (three phases: train/trainer.hpp), so every softmax still sees its whole group.
    ListwiseDouble mc = model(), mr = model();
    Trainer<ListwiseDouble, cpu_scalar> cut(mc, options(4, 1, 1)), ref(mr, options(1, 1, 1));
    for (int step = 0; step < 3; ++step) {
      const double lc = cut.train_step(v), lr = ref.train_step(v);
      INFO("step " << step);
      CHECK(lc == Approx(lr).epsilon(1e-12));
    }
    CHECK(relative_param_difference(mc, mr) < 1e-9);
    CHECK(relative_param_difference(mr, model()) > 1e-4);  // it did train
  }
  SECTION("threads 1 and 2: bitwise the same model with row groups") {
    ListwiseDouble ma = model(), mb = model();
    Trainer<ListwiseDouble, cpu_scalar> ta(ma, options(3, G, 1)), tb(mb, options(3, G, 2));
    for (int step = 0; step < 3; ++step) {
      const double la = ta.train_step(v), lb = tb.train_step(v);
      CHECK(std::memcmp(&la, &lb, sizeof la) == 0);
    }
    REQUIRE(ma.params().dense.size() == mb.params().dense.size());
    CHECK(std::memcmp(ma.params().dense.data(), mb.params().dense.data(), ma.params().dense.size() * sizeof(double)) == 0);
    for (std::size_t i = 0; i < ma.params().tables.size(); ++i)
      CHECK(std::memcmp(ma.params().tables[i].data(), mb.params().tables[i].data(),
                        static_cast<std::size_t>(ma.params().tables[i].size()) * sizeof(double)) == 0);
  }
  SECTION("fit shuffles whole groups") {
    // One step over all 7 groups, shuffled: the loss of the groups in their original order (a row
    // shuffle would mix positives and negatives of different groups).
    const InMemoryDataset data(fz.schema(), batch);
    ListwiseDouble mf = model(), ms = model();
    TrainerOptions fo = options(2, G, 2);
    fo.shuffle = true;
    Trainer<ListwiseDouble, cpu_scalar> tf(mf, fo), ts(ms, options(1, G, 1));
    const TrainResult r = tf.fit(data);
    REQUIRE(r.epochs.size() == 1);
    CHECK(r.epochs[0].train_loss == Approx(ts.train_step(v)).epsilon(1e-12));
    CHECK(relative_param_difference(mf, ms) < 1e-9);
  }
  SECTION("a batch or training set that is not whole groups is a ctrnet::Error") {
    ListwiseDouble m = model();
    Trainer<ListwiseDouble, cpu_scalar> tr(m, options(4, G, 1));
    CHECK_THROWS_AS(tr.train_step(v.rows(0, 26)), Error);
    CHECK_THROWS_WITH(tr.train_step(v.rows(0, 26)), Catch::Contains("26 rows") && Catch::Contains("row_group = 4"));
    CHECK(tr.step() == 0);
    const InMemoryDataset all(fz.schema(), batch);
    std::vector<index_t> rows(27);
    std::iota(rows.begin(), rows.end(), index_t(0));
    Batch b27;
    all.gather(rows, b27);
    CHECK_THROWS_WITH(tr.fit(InMemoryDataset(fz.schema(), b27)),
                      Catch::Contains("27 rows") && Catch::Contains("row_group = 4"));
    CHECK(tr.step() == 0);
    using ScalarTrainer = Trainer<ListwiseDouble, cpu_scalar>;
    const auto construct = [&](const TrainerOptions& x) { ScalarTrainer t3(m, x); };
    CHECK_THROWS_WITH(construct(options(4, 3, 1)),  // 28-row batches, groups of 3
                      Catch::Contains("batch_size (28 rows)") && Catch::Contains("multiple of row_group (3"));
    CHECK_THROWS_WITH(construct(options(4, 0, 1)), Catch::Contains("row_group must be positive"));
  }
}

TEST_CASE("kernels::group_softmax_loss: hand-computed groups, ignored lead rows, errors", "[item_to_item][kernels]") {
  // Row 0: a negative before any positive (ignored, its weight 0 never checked). Group rows 1-3:
  // w_p = 2, negatives' weights 1 and 4 (ratios 1/2, 2); log_correction = log 2, so with
  // z = (0, log 2, −log 2) the corrected logits are z' = (0, log 2, log 2): Σ exp = 5,
  // ℓ = s·w_p·log 5, dz = s·w_p·(1/5 − 1, 2/5, 2/5). Row 4: a group of one (ℓ = 0, dz = 0).
  const std::vector<float> labels{0, 1, 0, 0, 1};
  const std::vector<float> weights{0.0f, 2.0f, 1.0f, 4.0f, 3.0f};
  Matrix<double> z(5, 1), dz(5, 1, 1.0);  // pre-filled: accumulates
  const double zs[5] = {7.0, 0.0, std::log(2.0), -std::log(2.0), -1.0};
  for (index_t r = 0; r < 5; ++r) z(r, 0) = zs[r];
  const double s = 0.25;
  const double loss = test_util::loss_value([&](double* out_) { kernels::group_softmax_loss(cpu_scalar{}, z.cview(), labels.data(), weights.data(), s,
                                                  std::log(2.0), 0, dz.view(), out_); });
  CHECK(loss == Approx(s * 2.0 * std::log(5.0)).epsilon(1e-14));
  CHECK(dz(0, 0) == 1.0);
  CHECK(dz(1, 0) == Approx(1.0 + 0.5 * (0.2 - 1.0)).epsilon(1e-14));
  CHECK(dz(2, 0) == Approx(1.0 + 0.5 * 0.4).epsilon(1e-14));
  CHECK(dz(3, 0) == Approx(1.0 + 0.5 * 0.4).epsilon(1e-14));
  CHECK(dz(4, 0) == 1.0);
  // Null weights (= 1), float logits, cpu_simd (the scalar kernel) gives the same bits.
  Matrix<float> zf(5, 1), d1(5, 1, 0.0f), d2(5, 1, 0.0f);
  for (index_t r = 0; r < 5; ++r) zf(r, 0) = static_cast<float>(zs[r]);
  const double l1 =
      test_util::loss_value([&](double* out_) { kernels::group_softmax_loss(cpu_scalar{}, zf.cview(), labels.data(), nullptr, 1.0, 0.0, 0, d1.view(), out_); });
  const double l2 =
      test_util::loss_value([&](double* out_) { kernels::group_softmax_loss(cpu_simd{}, zf.cview(), labels.data(), nullptr, 1.0, 0.0, 0, d2.view(), out_); });
  CHECK(l1 == l2);
  CHECK(std::memcmp(d1.data(), d2.data(), 5 * sizeof(float)) == 0);
  // Weights 1: z' = z, lse of (0, log 2, −log 2) = log 3.5.
  CHECK(l1 == Approx(std::log(3.5)).epsilon(1e-6));
  CHECK(d1(1, 0) == Approx(1.0 / 3.5 - 1.0).epsilon(1e-6));
  CHECK(d1(2, 0) == Approx(2.0 / 3.5).epsilon(1e-6));
  // A negative with weight 0 inside a group: named by its batch row, first_row + i.
  const std::vector<float> w0{1.0f, 0.0f};
  const std::vector<float> l0{1, 0};
  CHECK_THROWS_WITH(test_util::loss_value([&](double* out_) { kernels::group_softmax_loss(cpu_scalar{}, z.cview().row_block(0, 2), l0.data(), w0.data(), 1.0, 0.0,
                                                10, MatrixView<double>{}, out_); }),
                    Catch::Contains("GroupSoftmaxHead: row 11 has weight 0; negatives need a positive weight"));
  // The same check on the host, for a batch staged into a device memory (Model::check_batch).
  BatchView hv;
  hv.size = 2;
  hv.first_row = 10;
  hv.labels = l0.data();
  hv.weights = w0.data();
  CHECK_THROWS_WITH(GroupSoftmaxHead{}.check_batch(hv),
                    "GroupSoftmaxHead: row 11 has weight 0; negatives need a positive weight");
  const std::vector<float> w1{1.0f, 0.5f};
  hv.weights = w1.data();
  CHECK_NOTHROW(GroupSoftmaxHead{}.check_batch(hv));
}

TEST_CASE("kernels::item_pair_forward / item_pair_backward: hand-computed outputs and gradients",
          "[item_to_item][kernels]") {
  // Two rows; dense x = [[1, 2, 3], [4, 5, 6]], the linear term on columns (2, 0) with w = (2, −1),
  // c = 0.5: o = (0.5 + 6 − 1, 0.5 + 12 − 4) = (5.5, 8.5).
  const std::vector<float> xv{1, 2, 3, 4, 5, 6};
  const ConstMatrixView<float> x(xv.data(), 2, 3);
  const index_t cols[2] = {2, 0};
  const float w[2] = {2.0f, -1.0f};
  const float c = 0.5f;
  Matrix<float> dot(2, 1), d(2, 1), ba(2, 1), bb(2, 1), y(2, 2, 0.0f);
  dot(0, 0) = 1.0f, dot(1, 0) = -2.0f;
  d(0, 0) = 0.25f, d(1, 0) = -0.25f;
  ba(0, 0) = 0.5f, ba(1, 0) = 1.0f;
  bb(0, 0) = -1.0f, bb(1, 0) = 2.0f;
  kernels::item_pair_forward(cpu_scalar{}, dot.cview(), &c, w, x, cols, 2, d.cview(), ba.cview(), bb.cview(), y.view());
  CHECK(y(0, 0) == 6.75f);  // 1 + 5.5 + 0.25
  CHECK(y(1, 0) == 6.25f);  // −2 + 8.5 − 0.25
  CHECK(y(0, 1) == 0.5f);   // 1 + 0.5 − 1
  CHECK(y(1, 1) == 1.0f);   // −2 + 1 + 2
  CHECK(kernels::detail::item_pair_offset(&c, w, x.row(1), cols, 2) == 8.5f);
  // Nothing but the dot product: y = [s, s].
  const float* none = nullptr;
  kernels::item_pair_forward(cpu_simd{}, dot.cview(), none, none, ConstMatrixView<float>{}, nullptr, 0,
                             ConstMatrixView<float>{}, ConstMatrixView<float>{}, ConstMatrixView<float>{}, y.view());
  CHECK(y(0, 0) == 1.0f);
  CHECK(y(0, 1) == 1.0f);
  CHECK(y(1, 0) == -2.0f);
  CHECK(y(1, 1) == -2.0f);

  // dy = [[1, 2], [−0.5, 3]]: g = (3, 2.5), dc += 0.5, dw += (1·3 − 0.5·6, 1·1 − 0.5·4) = (0, −1).
  Matrix<float> dy(2, 2), g(2, 1, 9.0f);
  dy(0, 0) = 1.0f, dy(0, 1) = 2.0f, dy(1, 0) = -0.5f, dy(1, 1) = 3.0f;
  float dc = 1.0f, dw[2] = {10.0f, 20.0f};
  kernels::item_pair_backward(cpu_scalar{}, dy.cview(), x, cols, 2, g.view(), &dc, dw);
  CHECK(g(0, 0) == 3.0f);  // overwritten, not accumulated
  CHECK(g(1, 0) == 2.5f);
  CHECK(dc == 1.5f);
  CHECK(dw[0] == 10.0f);
  CHECK(dw[1] == 19.0f);
  // No bias, no linear term: only g.
  kernels::item_pair_backward(cpu_simd{}, dy.cview(), ConstMatrixView<float>{}, nullptr, 0, g.view(),
                              static_cast<float*>(nullptr), static_cast<float*>(nullptr));
  CHECK(g(1, 0) == 2.5f);
  CHECK(dc == 1.5f);
}
