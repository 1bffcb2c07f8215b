// quickstart: train Wide & Deep on the built-in Criteo-shaped synthetic data, next to logistic
// regression, and compare both with the Bayes-optimal AUC of the data (known, because the
// generator exposes every example's true click probability).
//
//   quickstart [--threads N] [--seed S] [--train N] [--epochs E] [--log metrics.jsonl]
//
// The final training loss is printed with all its digits: with the same seed it is bitwise
// the same for any --threads.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <vector>

#include "ctrnet/ctrnet.hpp"

using namespace ctrnet;

namespace {
InMemoryDataset make_split(const SyntheticCTR& gen, index_t n, std::uint64_t stream, std::vector<double>* p) {
  Batch b;
  gen.generate(n, stream, b, p);
  return InMemoryDataset(gen.schema(), std::move(b));
}

DenseOptimizerOptions adam(double lr) {
  DenseOptimizerOptions o;
  o.kind = DenseKind::adam;
  o.lr = lr;
  return o;
}
SparseOptimizerOptions ftrl(double alpha, double beta, double l1, double l2) {
  SparseOptimizerOptions o;
  o.kind = SparseKind::ftrl;
  o.lr = alpha;
  o.ftrl_beta = beta;
  o.l1 = l1;
  o.l2 = l2;
  return o;
}
SparseOptimizerOptions lazy_adam(double lr) {
  SparseOptimizerOptions o;
  o.kind = SparseKind::lazy_adam;
  o.lr = lr;
  return o;
}

template <class M>
TrainResult train(M& model, const TrainerOptions& opt, const InMemoryDataset& tr, const InMemoryDataset& va,
                  double& seconds, double& final_loss) {
  const auto t0 = std::chrono::steady_clock::now();
  Trainer<M> trainer(model, opt);
  TrainResult r = trainer.fit(tr, &va);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  final_loss = r.final_train_loss;
  return r;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ctrnet quickstart: Wide & Deep vs logistic regression on synthetic CTR data"};
  int threads = 0;
  std::uint64_t seed = 1;
  index_t n_train = 300000, n_valid = 50000;
  int epochs = 2;
  std::string log_path;
  double lr = 2e-3, embedding_lr = 2e-3, ftrl_alpha = 0.1, ftrl_beta = 1e-4, lr_dense_lr = 0.01;
  std::vector<index_t> hidden{256, 128};
  index_t embedding_dim = 16, batch = 512, vocab = 32;
  bool planted_crosses = true;
  app.add_option("--threads", threads, "worker threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", seed, "seed of initialisation, shuffling and dropout");
  app.add_option("--train", n_train, "training examples")->check(CLI::PositiveNumber);
  app.add_option("--valid", n_valid, "validation examples")->check(CLI::PositiveNumber);
  app.add_option("--epochs", epochs, "epochs")->check(CLI::PositiveNumber);
  app.add_option("--log", log_path, "JSON-lines metrics log of the Wide & Deep run");
  app.add_option("--lr", lr, "Adam learning rate of the deep part");
  app.add_option("--embedding-lr", embedding_lr, "lazy Adam learning rate of the embeddings");
  app.add_option("--ftrl-alpha", ftrl_alpha, "FTRL alpha of the wide (and logistic regression) tables");
  app.add_option("--ftrl-beta", ftrl_beta, "FTRL beta");
  app.add_option("--hidden", hidden, "hidden widths of the deep MLP");
  app.add_option("--embedding-dim", embedding_dim, "embedding dimension");
  app.add_option("--batch", batch, "mini-batch size")->check(CLI::PositiveNumber);
  app.add_option("--vocab", vocab, "ids per categorical field of the synthetic data")->check(CLI::PositiveNumber);
  app.add_flag("--wide-crosses,!--no-wide-crosses", planted_crosses,
               "declare the data's planted field pairs as cross-product features of the wide part (default)");
  CLI11_PARSE(app, argc, argv);

  try {
    SyntheticOptions so;  // Criteo-shaped: 13 dense, 26 categorical, Zipf ids, planted crosses
    so.vocab_size = vocab;
    SyntheticCTR gen(so);
    std::vector<double> p_valid;
    const auto train_set = make_split(gen, n_train, 0, nullptr);
    const auto valid_set = make_split(gen, n_valid, 1, &p_valid);
    const double bayes_auc = roc_auc(std::span<const double>(p_valid), std::span<const float>(valid_set.data().labels));

    std::printf("data: synthetic, %lld ids per field (Zipf %.2f), %lld planted crosses%s\n", static_cast<long long>(vocab),
                so.zipf_exponent, static_cast<long long>(gen.crosses().size()),
                planted_crosses ? " (declared as wide cross features)" : "");
    std::printf("data: %lld train / %lld valid examples, %lld dense + %lld categorical fields, click rate %.3f\n",
                static_cast<long long>(n_train), static_cast<long long>(n_valid),
                static_cast<long long>(gen.schema().num_dense()), static_cast<long long>(gen.schema().num_categorical()),
                [&] { double s = 0; for (float y : valid_set.data().labels) s += y; return s / double(n_valid); }());

    // Logistic regression: the wide part alone, FTRL on its sparse weights.
    TrainerOptions lr_opt;
    lr_opt.epochs = epochs;
    lr_opt.threads = threads;
    lr_opt.seed = seed;
    lr_opt.batch_size = batch;
    lr_opt.optimizer = adam(lr_dense_lr);
    lr_opt.embedding_optimizer = ftrl(ftrl_alpha, ftrl_beta, 0.0, 0.0);
    lr_opt.progress = ProgressMode::never;
    auto logreg = make_logistic_regression(gen.schema(), {}, seed);
    double lr_secs = 0, lr_loss = 0;
    auto lr_res = train(logreg, lr_opt, train_set, valid_set, lr_secs, lr_loss);

    // Wide & Deep: FTRL for the wide tables, lazy Adam for the embeddings, Adam for the MLP. The
    // wide part's cross-product features are the field pairs the generator planted: the domain
    // knowledge a Wide & Deep user declares (Cheng et al. 2016, section 3.1).
    WideDeepOptions wo;
    wo.embedding_dim = embedding_dim;
    wo.hidden = hidden;
    if (planted_crosses)
      for (const auto& c : gen.crosses())
        wo.crosses.push_back({gen.schema().categorical(c.field_a).name, gen.schema().categorical(c.field_b).name});
    TrainerOptions wd_opt = lr_opt;
    wd_opt.optimizer = adam(lr);
    wd_opt.embedding_optimizer = lazy_adam(embedding_lr);
    wd_opt.table_rules = {{"wide.", ftrl(ftrl_alpha, ftrl_beta, 0.0, 0.0)}};
    wd_opt.progress = ProgressMode::automatic;
    wd_opt.log_path = log_path;
    auto wd = make_wide_deep(gen.schema(), wo, seed);
    double wd_secs = 0, wd_loss = 0;
    auto wd_res = train(wd, wd_opt, train_set, valid_set, wd_secs, wd_loss);

    const auto& l = lr_res.epochs.back();
    const auto& w = wd_res.epochs.back();
    std::printf("%-22s valid AUC %.4f  logloss %.4f  (%.1f s)\n", "logistic regression", l.valid_auc, l.valid_logloss,
                lr_secs);
    std::printf("%-22s valid AUC %.4f  logloss %.4f  (%.1f s, %.0f samples/s)\n", "wide & deep", w.valid_auc,
                w.valid_logloss, wd_secs, w.samples_per_second);
    std::printf("%-22s valid AUC %.4f\n", "bayes-optimal", bayes_auc);
    std::printf("wide & deep is %.4f AUC below the Bayes-optimal AUC and %.4f above logistic regression\n",
                bayes_auc - w.valid_auc, w.valid_auc - l.valid_auc);
    std::printf("final training loss (wide & deep): %.17g\n", wd_loss);
  } catch (const Error& e) {
    std::fprintf(stderr, "quickstart: %s\n", e.what());
    return 1;
  }
  return 0;
}
