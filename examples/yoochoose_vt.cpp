// "Viewed together" item-to-item lists on yoochoose-100k: the two-output item-item two-tower
// model (relevance + GloVe, models/item_to_item.hpp), the same model with the GloVe weight 0
// (one-output), and the library's baselines (popularity, item-CF by counts, item-CF by cosine),
// evaluated by next-item prediction on the test sessions (HR@20, MRR@20) and list statistics
// (coverage, distinct share, mean overlap of two items' lists, mean popularity percentile).
// Data: $CTRNET_DATA_DIR/yoochoose-100k (or --data DIR): train on train_full, evaluate on test.
// Without it, synthetic sessions (a random item graph with popularity skew) are generated.
// A sixth line, `pointwise`, is the same item-pair model without the pair features (only the two
// ids and the items' popularity), trained with pointwise BCE on sampled negatives: a typical
// pointwise CTR model. A seventh, `wide-deep`, is the library's Wide & Deep on item pairs (ids of A
// and B, both items' log popularity; no pair feature), BCE on uniformly sampled negatives, every
// pair scored: the pointwise CTR model of the "same best sellers for every item" remark.
// `--split valid` trains on train_tr and evaluates on train_valid (the last day of train_full)
// for choosing settings; the defaults were chosen there. Two experiments stay available:
// `--ensemble M` averages the scores of M two-/one-output models, `--recent-days R` adds
// co-occurrence counts of the last R days' sessions as pair features (neither helped on valid).
//   yoochoose_vt [--data DIR] [--split test|valid] [--loss softmax|bce] [--epochs N] [--dim D] ...
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ctrnet/data/cooccurrence.hpp"
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/readers/sessions.hpp"
#include "ctrnet/models/item_to_item.hpp"
#include "ctrnet/models/wide_deep.hpp"
#include "ctrnet/optim/schedule.hpp"
#include "ctrnet/serve/item_cf.hpp"
#include "ctrnet/serve/related_items.hpp"
#include "ctrnet/train/item_to_item_trainer.hpp"
#include "ctrnet/train/next_item_metrics.hpp"
#include "ctrnet/train/trainer.hpp"

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

// Top-K of every row a of an N × N score matrix, never a itself (score descending, ties to the
// lower index).
RecommendationLists top_k_rows(const std::vector<float>& scores, index_t N, index_t k) {
  RecommendationLists out;
  out.k = k;
  out.items.assign(static_cast<std::size_t>(N * k), -1);
  out.scores.assign(static_cast<std::size_t>(N * k), 0.0f);
  std::vector<ItemScore> cand;
  for (index_t a = 0; a < N; ++a) {
    cand.clear();
    for (index_t c = 0; c < N; ++c)
      if (c != a) cand.push_back({c, scores[static_cast<std::size_t>(a * N + c)]});
    const auto kk = static_cast<std::ptrdiff_t>(std::min<std::size_t>(static_cast<std::size_t>(k), cand.size()));
    std::partial_sort(cand.begin(), cand.begin() + kk, cand.end(), [](const ItemScore& x, const ItemScore& y) {
      return x.score != y.score ? x.score > y.score : x.item < y.item;
    });
    for (std::ptrdiff_t j = 0; j < kk; ++j) {
      out.items[static_cast<std::size_t>(a * k + j)] = cand[static_cast<std::size_t>(j)].item;
      out.scores[static_cast<std::size_t>(a * k + j)] = cand[static_cast<std::size_t>(j)].score;
    }
  }
  return out;
}

// `wide-deep`: the library's Wide & Deep (Cheng et al. 2016, models/wide_deep.hpp) as a typical
// pointwise CTR model on item pairs, without any co-occurrence (pair) feature:
//   dense       log(1 + events_A), log(1 + events_B)
//   categorical item_a = A, item_b = B (each its own tables, as in a CTR schema)
//   wide(A, B)  = b + w·[log pops] + v_a[A] + v_b[B]     deep(A, B) = MLP([log pops | e_a[A] | e_b[B]])
//   P(click)    = σ(wide + deep), binary cross-entropy (BinaryHead)
// Rows of an epoch: every training positive (label 1, its weight) followed by `negatives` rows
// (A, B′), label 0, the positive's weight, B′ ≠ A drawn from the catalogue ∝ events^power
// (0: uniform); fresh negatives every epoch (one Trainer::fit epoch on an InMemoryDataset each).
// Adam on the dense parameters, lazy Adam on every table. Lists: all N(N − 1) pairs (A, B ≠ A)
// scored by the model in blocks of queries, top-K by probability (ties to the lower index).
// Defaults chosen on the validation split by HR@20 (docs/item_to_item.md, "The wide-deep line").
struct WideDeepBaseline {
  int epochs = 16;
  index_t negatives = 8;
  double negative_power = 0.0;
  index_t dim = 16;
  std::vector<index_t> hidden{64, 32};
  index_t batch = 512;
  double lr = 1e-2;
  bool cross = false;  ///< wide cross-product feature item_a × item_b (hashed, 2^18 buckets)
};

RecommendationLists wide_deep_lists(const CooccurrenceTable& table, const std::vector<ItemPairExample>& positives,
                                    const WideDeepBaseline& o, index_t k, int threads, std::uint64_t seed) {
  const index_t N = table.num_items();
  Schema schema;
  schema.add_dense("log_pop_a").add_dense("log_pop_b");
  schema.add_categorical("item_a", N).add_categorical("item_b", N);
  std::vector<float> log_pop(static_cast<std::size_t>(N));
  std::vector<double> cdf(static_cast<std::size_t>(N));
  double acc = 0.0;
  for (index_t i = 0; i < N; ++i) {
    const auto events = static_cast<double>(std::max<std::int64_t>(table.item_events(i), 1));
    log_pop[static_cast<std::size_t>(i)] = static_cast<float>(std::log1p(static_cast<double>(table.item_events(i))));
    cdf[static_cast<std::size_t>(i)] = acc += std::pow(events, o.negative_power);
  }
  auto draw = [&](Rng& rng) {
    const auto it = std::upper_bound(cdf.begin(), cdf.end(), rng.uniform() * acc);
    return static_cast<index_t>(std::min<std::ptrdiff_t>(it - cdf.begin(), N - 1));
  };
  auto add = [&](Batch& b, index_t a, index_t c, float label, float weight) {
    const std::array<float, 2> d{log_pop[static_cast<std::size_t>(a)], log_pop[static_cast<std::size_t>(c)]};
    const std::array<FeatureId, 2> ids{a, c};
    b.add_one_hot(d, ids, label, weight);
  };

  WideDeepOptions wo;
  wo.embedding_dim = o.dim;
  wo.hidden = o.hidden;
  if (o.cross) wo.crosses = {{"item_a", "item_b"}};
  WideDeep model = make_wide_deep(schema, wo, seed);
  TrainerOptions to;
  to.epochs = 1;
  to.batch_size = o.batch;
  to.threads = threads;
  to.seed = seed;
  to.progress = ProgressMode::never;
  to.optimizer.kind = DenseKind::adam;
  to.optimizer.lr = o.lr;
  to.embedding_optimizer.kind = SparseKind::lazy_adam;
  to.embedding_optimizer.lr = o.lr;
  Trainer<WideDeep> trainer(model, to);
  std::vector<std::size_t> order(positives.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    Rng rng(mix_seed(seed, 0x3de9, static_cast<std::uint64_t>(epoch)));
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    Batch rows(schema);
    for (std::size_t i : order) {
      const ItemPairExample& e = positives[i];
      add(rows, e.a, e.b, 1.0f, e.weight);
      for (index_t n = 0; n < o.negatives; ++n) {
        index_t c = draw(rng);
        while (c == e.a) c = draw(rng);
        add(rows, e.a, c, 0.0f, e.weight);
      }
    }
    trainer.fit(InMemoryDataset(schema, std::move(rows)));
  }

  std::vector<float> scores(static_cast<std::size_t>(N * N));
  const index_t block = std::max<index_t>(1, (1 << 16) / N);
  Batch b(schema);
  Matrix<float> pred;
  for (index_t a0 = 0; a0 < N; a0 += block) {
    const index_t a1 = std::min(N, a0 + block);
    b.clear();
    for (index_t a = a0; a < a1; ++a)
      for (index_t c = 0; c < N; ++c) add(b, a, c, 0.0f, 1.0f);
    pred.resize(b.size(), model.output_width());
    trainer.predict_rows(b.view(), pred.view());
    for (index_t r = 0; r < b.size(); ++r) scores[static_cast<std::size_t>(a0 * N + r)] = pred(r, 0);
  }
  return top_k_rows(scores, N, k);
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
  int epochs = 6, threads = 0;
  index_t dim = 64, hidden = 0, window = 5, pos_window = 3, negatives = 8, batch = 256;
  double glove_weight = 0.3, reverse_weight = 0.5, negative_power = 0.0, neighbor_negatives = 0.8, lr = 4e-3, emb_lr = 0.2;
  std::uint64_t seed = 1;
  bool context_linear = true, item_bias = true;
  std::string score = "relevance", decay = "linear", split = "test", loss = "softmax";
  double glove_mix = 0.0, min_lr_factor = 0.0, pointwise_power = 0.0, half_life_days = 2.0;
  std::string methods = "two-output,one-output,popularity,itemcf-count,itemcf-cosine,pointwise,wide-deep";
  WideDeepBaseline wd;
  int ensemble = 1;
  double recent_days = 0.0;
  std::string lists_dir;
  double pair_dropout = 0.7;
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
  app.add_option("--ensemble", ensemble, "two-/one-output: average the scores of this many models (seeds seed, "
                                         "seed + 100, ...)")->check(CLI::PositiveNumber);
  app.add_option("--recent-days", recent_days, "pair features: raw co-occurrence counts of the training sessions of "
                                               "the last R days and of the older ones, separately (0: off)")->check(CLI::NonNegativeNumber);
  app.add_option("--pair-dropout", pair_dropout, "two-/one-output: share of training groups with the pair features set to 0");
  app.add_option("--lists-dir", lists_dir, "also write each method's lists to DIR/<method>.csv (item,rank,related,score)");
  app.add_option("--wd-epochs", wd.epochs, "wide-deep: epochs")->check(CLI::PositiveNumber);
  app.add_option("--wd-negatives", wd.negatives, "wide-deep: sampled negatives per positive")->check(CLI::NonNegativeNumber);
  app.add_option("--wd-negative-power", wd.negative_power, "wide-deep: negatives ~ events^power (0: uniform)");
  app.add_option("--wd-lr", wd.lr, "wide-deep: Adam / lazy Adam learning rate");
  app.add_option("--wd-batch", wd.batch, "wide-deep: rows per step")->check(CLI::PositiveNumber);
  app.add_option("--wd-dim", wd.dim, "wide-deep: embedding dimension")->check(CLI::PositiveNumber);
  app.add_option("--wd-hidden", wd.hidden, "wide-deep: hidden widths of the deep MLP");
  app.add_option("--wd-cross", wd.cross, "wide-deep: wide cross-product feature item_a x item_b (1/0)");
  CLI11_PARSE(app, argc, argv);

  if (!lists_dir.empty()) {  // an unwritable --lists-dir fails before any work; each list is written atomically
    try {
      std::error_code ec;
      std::filesystem::create_directories(lists_dir, ec);
      CTRNET_CHECK(!ec, "cannot create the folder '", lists_dir, "': ", ec.message());
      check_can_write(lists_dir + "/" + methods.substr(0, methods.find(',')) + ".csv");
    } catch (const Error& e) {
      std::fprintf(stderr, "yoochoose_vt: --lists-dir: %s\n", e.what());
      return 1;
    }
  }
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
  if (recent_days > 0.0) {
    // Two "action types", 0 = sessions that start before t_max − recent_days, 1 = after, both of
    // weight 1: X_AB, the raw counts and the popularity (so the baselines) are unchanged, and the
    // pair features get log(1 + raw_AB,old) and log(1 + raw_AB,recent) (per-action counts).
    double t_max = -1e300;
    for (const auto& s : train)
      for (double t : s.times) t_max = std::max(t_max, t);
    for (auto& s : train) {
      const bool recent = !s.times.empty() && s.times.front() >= t_max - recent_days * 86400.0;
      s.actions.assign(s.items.size(), recent ? 1 : 0);
    }
    co.action_weights = {1.0, 1.0};
  }
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
    if (!lists_dir.empty()) {
      try {
        std::error_code ec;
        std::filesystem::create_directories(lists_dir, ec);
        CTRNET_CHECK(!ec, "cannot create the folder '", lists_dir, "': ", ec.message());
        write_related_items(lists_dir + "/" + name + ".csv", l, table);
      } catch (const Error& e) {
        std::fprintf(stderr, "yoochoose_vt: --lists-dir: %s\n", e.what());
        std::exit(1);
      }
    }
  };

  const ItemPairFeaturizer fz(table);
  ItemToItemPositiveOptions po;
  po.window = pos_window;
  po.reverse_weight = reverse_weight;
  po.half_life = half_life_days * 86400.0;  // the log's times are in seconds
  const auto positives = item_to_item_positives(train, table, po);
  // The item-pair model, trained with sampled negatives; `pointwise` = the same model without the
  // pair features (only the two ids and the items' popularity), pointwise BCE, negatives drawn
  // from all items ∝ events^--pointwise-power (default 0: uniform), no hard negatives, one output.
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
    to.pair_dropout = pointwise ? 0.0 : pair_dropout;
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
    // --ensemble M > 1: M models (seeds seed, seed + 100, ...) whose relevance scores of every
    // pair (A, B ≠ A) are averaged (exact: each member's full ranking, K = N − 1), then top-20.
    const index_t N = f.num_items();
    const int members = pointwise ? 1 : ensemble;
    if (members > 1) ro.k = N - 1;
    std::vector<float> sum;
    RecommendationLists l;
    for (int m = 0; m < members; ++m) {
      const std::uint64_t s_m = seed + 100 * static_cast<std::uint64_t>(m);
      to.seed = s_m;
      RecommendationLists lm;
      if (loss == "softmax" && !pointwise) {
        // log-Q correction for k negatives from uniform q0 = 1/N: log(N / k).
        const double corr = std::log(static_cast<double>(N) / static_cast<double>(std::max<index_t>(negatives, 1)));
        ItemToItemListwise model = make_item_to_item_listwise(f.schema(), mo, corr, s_m);
        train_item_to_item(model, f, positives, to);
        lm = related_items(cpu_simd{}, model, f, ro);
      } else {
        ItemToItem model = make_item_to_item(f.schema(), mo, s_m);
        train_item_to_item(model, f, positives, to);
        lm = related_items(cpu_simd{}, model, f, ro);
      }
      if (members == 1) {
        l = std::move(lm);
        break;
      }
      sum.resize(static_cast<std::size_t>(N * N), 0.0f);
      for (index_t a = 0; a < N; ++a)
        for (index_t j = 0; j < lm.k; ++j)
          if (const index_t b = lm.items[static_cast<std::size_t>(a * lm.k + j)]; b >= 0)
            sum[static_cast<std::size_t>(a * N + b)] += lm.scores[static_cast<std::size_t>(a * lm.k + j)] / static_cast<float>(members);
    }
    if (members > 1) l = top_k_rows(sum, N, 20);
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
  if (has("wide-deep")) {
    const auto t0 = std::chrono::steady_clock::now();
    const RecommendationLists l = wide_deep_lists(table, positives, wd, 20, threads, seed);
    report("wide-deep", l, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 0;
}
