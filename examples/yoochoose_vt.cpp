// "Viewed together" item-to-item lists on yoochoose-100k: the two-output item-item two-tower
// model (relevance + GloVe, models/item_to_item.hpp), the same model with the GloVe weight 0
// (one-output), and the library's baselines (popularity, item-CF by counts, item-CF by cosine),
// evaluated by next-item prediction on the test sessions (HR@20, MRR@20) and list statistics
// (coverage, distinct share, mean overlap of two items' lists, mean popularity percentile).
// Data: $CTRNET_DATA_DIR/yoochoose-100k (or --data DIR): train on train_full, evaluate on test.
// Without it, synthetic sessions (a random item graph with popularity skew) are generated.
// A sixth line, `pointwise`, is the same item-pair model without the pair features (only the two
// ids and the items' popularity), trained with pointwise BCE on sampled negatives: a typical
// pointwise CTR model. `--split valid` trains on train_tr and evaluates on train_valid (the last
// day of train_full) for choosing settings; the defaults were chosen there.
//   yoochoose_vt [--data DIR] [--split test|valid] [--loss softmax|bce] [--epochs N] [--dim D] ...
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ctrnet/data/cooccurrence.hpp"
#include "ctrnet/data/readers/sessions.hpp"
#include "ctrnet/models/item_to_item.hpp"
#include "ctrnet/optim/schedule.hpp"
#include "ctrnet/serve/item_cf.hpp"
#include "ctrnet/serve/related_items.hpp"
#include "ctrnet/train/item_to_item_trainer.hpp"
#include "ctrnet/train/next_item_metrics.hpp"

using namespace ctrnet;

namespace {

// Synthetic sessions: items 0..n−1 with Zipf-like popularity; each item has a few "related"
// items; a session walks mostly along related items, sometimes jumps to a popular one.
// The item graph depends on graph_seed only, so train and test sessions share it.
std::vector<Session> synthetic_sessions(index_t sessions, index_t items, std::uint64_t seed, std::int64_t first_id,
                                        std::uint64_t graph_seed = 99) {
  Rng graph(graph_seed), rng(seed);
  std::vector<std::vector<index_t>> related(static_cast<std::size_t>(items));
  for (index_t i = 0; i < items; ++i)
    for (int k = 0; k < 6; ++k)
      related[static_cast<std::size_t>(i)].push_back(static_cast<index_t>(graph.below(static_cast<std::uint64_t>(items))));
  auto popular = [&] {
    const double u = rng.uniform();
    return static_cast<index_t>(static_cast<double>(items) * u * u * u);
  };
  std::vector<Session> out;
  double time = 1.4e9;
  for (index_t s = 0; s < sessions; ++s) {
    Session x;
    x.id = first_id + s;
    const index_t len = 2 + static_cast<index_t>(rng.below(6));
    index_t cur = popular();
    for (index_t j = 0; j < len; ++j) {
      x.items.push_back(1000 + cur);
      x.times.push_back(time += 10.0);
      x.actions.push_back(0);
      const auto& r = related[static_cast<std::size_t>(cur)];
      cur = rng.uniform() < 0.8 ? r[static_cast<std::size_t>(rng.below(r.size() > 3 ? 3 : r.size()))] : popular();
    }
    out.push_back(std::move(x));
  }
  return out;
}

void print_line(const char* name, const NextItemResult& r, const ListStats& s, double seconds) {
  std::printf("%-13s HR@20=%.4f MRR@20=%.4f coverage=%.4f distinct=%.4f overlap=%.4f popularity=%.4f (%.1f s)\n",
              name, r.hit_rate, r.mrr, s.coverage, s.distinct, s.overlap, s.popularity, seconds);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Item-to-item 'viewed together' lists: two-output model vs baselines on yoochoose-100k"};
  std::string data_dir;
  int epochs = 4, threads = 0;
  index_t dim = 32, hidden = 0, window = 5, pos_window = 3, negatives = 8, batch = 256;
  double glove_weight = 0.1, reverse_weight = 0.5, negative_power = 0.0, neighbor_negatives = 0.8, lr = 4e-3, emb_lr = 0.2;
  std::uint64_t seed = 1;
  bool context_linear = true, item_bias = true;
  std::string score = "relevance", decay = "linear", split = "test", loss = "softmax";
  double glove_mix = 0.0, min_lr_factor = 0.0, pointwise_power = 0.0, half_life_days = 2.0;
  std::string methods = "two-output,one-output,popularity,itemcf-count,itemcf-cosine,pointwise";
  app.add_option("--data", data_dir, "folder with yoochoose-clicks-100k_{train_full,test}.txt (default: "
                                     "$CTRNET_DATA_DIR/yoochoose-100k, else synthetic)");
  app.add_option("--epochs", epochs, "training epochs")->check(CLI::PositiveNumber);
  app.add_option("--dim", dim, "width of the item embedding and of u, v")->check(CLI::PositiveNumber);
  app.add_option("--hidden", hidden, "hidden width of the context tower (0: none)")->check(CLI::NonNegativeNumber);
  app.add_option("--window", window, "co-occurrence window of the counts (pair features, baselines)");
  app.add_option("--pos-window", pos_window, "training positives: pairs up to this many clicks apart")->check(CLI::PositiveNumber);
  app.add_option("--reverse-weight", reverse_weight, "weight of backward positives (x_j -> x_i)");
  app.add_option("--negatives", negatives, "sampled negatives per positive")->check(CLI::NonNegativeNumber);
  app.add_option("--negative-power", negative_power, "negatives ~ events^power");
  app.add_option("--neighbor-negatives", neighbor_negatives, "share of negatives among the query's co-occurring items");
  app.add_option("--glove-weight", glove_weight, "weight of the GloVe output of the two-output model");
  app.add_option("--score", score, "rank lists by the relevance or the glove output")
      ->check(CLI::IsMember({"relevance", "glove"}));
  app.add_option("--glove-mix", glove_mix, "two-output: rank by s + mix * GloVe prediction (relevance score)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--loss", loss, "relevance loss of the two-/one-output models: bce (pointwise, sampled "
                                 "negatives) or softmax (sampled softmax over each positive and its negatives)")
      ->check(CLI::IsMember({"bce", "softmax"}));
  app.add_option("--pointwise-power", pointwise_power, "pointwise baseline: negatives ~ events^power");
  app.add_option("--half-life", half_life_days, "recency weight of training sessions: half-life in days (0: off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--decay", decay, "learning-rate decay over all steps: constant, linear, cosine");
  app.add_option("--min-lr-factor", min_lr_factor, "floor of the decayed learning-rate factor");
  app.add_option("--split", split, "test: train on train_full, evaluate on test; valid: train on train_tr, "
                                   "evaluate on train_valid (for choosing settings)")
      ->check(CLI::IsMember({"test", "valid"}));
  app.add_option("--item-bias", item_bias, "per-item bias of B in the relevance output (1/0)");
  app.add_option("--context-linear", context_linear, "wide term on the context's dense fields (1/0)");
  app.add_option("--batch", batch, "positives per step")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "Adam learning rate of the towers");
  app.add_option("--emb-lr", emb_lr, "row-wise Adagrad learning rate of the tables");
  app.add_option("--threads", threads, "threads (0: all)");
  app.add_option("--seed", seed, "seed");
  app.add_option("--methods", methods, "comma-separated methods to run");
  CLI11_PARSE(app, argc, argv);

  std::vector<Session> train, test;
  std::string source;
  if (data_dir.empty())
    if (const char* env = std::getenv("CTRNET_DATA_DIR")) data_dir = std::string(env) + "/yoochoose-100k";
  const bool valid_split = split == "valid";
  const std::string train_path = data_dir + (valid_split ? "/yoochoose-clicks-100k_train_tr.txt" : "/yoochoose-clicks-100k_train_full.txt");
  const std::string test_path = data_dir + (valid_split ? "/yoochoose-clicks-100k_train_valid.txt" : "/yoochoose-clicks-100k_test.txt");
  try {
    if (!data_dir.empty() && std::filesystem::exists(train_path) && std::filesystem::exists(test_path)) {
      train = read_session_log(train_path).sessions();
      test = read_session_log(test_path).sessions();
      source = data_dir;
    } else {
      train = synthetic_sessions(10000, 1000, 7, 1);
      test = synthetic_sessions(1500, 1000, 8, 100000);  // the same item graph, other walks
      source = "synthetic";
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "yoochoose_vt: %s\n", e.what());
    return 1;
  }

  CooccurrenceOptions co;
  co.window = window;
  co.threads = threads;
  const CooccurrenceTable table = count_cooccurrence(train, co);
  std::size_t train_events = 0, test_events = 0;
  for (const auto& s : train) train_events += s.items.size();
  for (const auto& s : test) test_events += s.items.size();
  std::printf("data: %s: train %zu sessions / %zu events, test %zu sessions / %zu events, %lld items, %zu pairs\n",
              source.c_str(), train.size(), train_events, test.size(), test_events,
              static_cast<long long>(table.num_items()), table.pairs().size());

  NextItemOptions eo;
  eo.k = 20;
  eo.threads = threads;
  auto has = [&](const std::string& m) { return ("," + methods + ",").find("," + m + ",") != std::string::npos; };
  auto report = [&](const char* name, const RecommendationLists& l, double secs) {
    print_line(name, evaluate_next_item(test, table, l, eo), list_statistics(l, table, eo), secs);
  };

  const ItemPairFeaturizer fz(table);
  ItemToItemPositiveOptions po;
  po.window = pos_window;
  po.reverse_weight = reverse_weight;
  po.half_life = half_life_days * 86400.0;  // the log's times are in seconds
  const auto positives = item_to_item_positives(train, table, po);
  // The item-pair model, trained with sampled negatives; `pointwise` = the same model without the
  // pair features (only the two ids and the items' popularity), negatives drawn from all items ∝
  // events^0.75 (a typical pointwise CTR setup, word2vec's unigram^0.75), one output.
  const ItemPairFeaturizer fz_ids(table, PairFeatureOptions{}, /*use_pair_features=*/false);
  auto run_model = [&](const char* variant) {
    if (!has(variant)) return;
    const bool two = std::string(variant) == "two-output", pointwise = std::string(variant) == "pointwise";
    const ItemPairFeaturizer& f = pointwise ? fz_ids : fz;
    const auto t0 = std::chrono::steady_clock::now();
    ItemToItemOptions mo;
    mo.embedding_dim = dim;
    mo.output_dim = dim;
    mo.context_hidden = hidden > 0 ? std::vector<index_t>{hidden} : std::vector<index_t>{};
    mo.context_linear = context_linear;
    mo.item_bias = item_bias;
    mo.glove_weight = two ? glove_weight : 0.0;
    ItemToItemTrainOptions to;
    to.epochs = epochs;
    to.negatives = negatives;
    to.negative_power = pointwise ? pointwise_power : negative_power;
    to.neighbor_negatives = pointwise ? 0.0 : neighbor_negatives;
    to.batch_size = batch;
    to.threads = threads;
    to.seed = seed;
    to.optimizer.lr = lr;
    to.embedding_optimizer.lr = emb_lr;
    if (decay != "constant") {
      to.schedule.decay = parse_decay_kind(decay);
      const auto steps_per_epoch = (static_cast<std::int64_t>(positives.size()) + batch - 1) / batch;
      to.schedule.decay_steps = steps_per_epoch * epochs;
      to.schedule.min_factor = min_lr_factor;
    }
    RelatedItemsOptions ro;
    ro.k = 20;
    ro.output = score == "glove" && mo.glove_weight > 0.0 ? ScoreOutput::glove : ScoreOutput::relevance;
    ro.glove_mix = two ? glove_mix : 0.0;
    RecommendationLists l;
    if (loss == "softmax" && !pointwise) {
      // log-Q correction for k negatives from uniform q0 = 1/N: log(N / k).
      const double corr = std::log(static_cast<double>(f.num_items()) / static_cast<double>(std::max<index_t>(negatives, 1)));
      ItemToItemListwise model = make_item_to_item_listwise(f.schema(), mo, corr, seed);
      train_item_to_item(model, f, positives, to);
      l = related_items(cpu_simd{}, model, f, ro);
    } else {
      ItemToItem model = make_item_to_item(f.schema(), mo, seed);
      train_item_to_item(model, f, positives, to);
      l = related_items(cpu_simd{}, model, f, ro);
    }
    report(variant, l, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  run_model("two-output");
  run_model("one-output");
  auto baseline = [&](const char* name, const auto& rec) {
    if (!has(name)) return;
    const auto t0 = std::chrono::steady_clock::now();
    const RecommendationLists l = rec.recommend_all(20, threads);
    report(name, l, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  baseline("popularity", PopularityRecommender(table));
  baseline("itemcf-count", CooccurrenceRecommender(table));
  baseline("itemcf-cosine", CosineRecommender(table));
  run_model("pointwise");
  return 0;
}
