// dcn_v2_synthetic: DCN-V2 (stacked) against Wide & Deep and logistic regression on the built-in
// Criteo-shaped synthetic data, whose teacher plants low-rank pairwise crosses between fields.
// Wide & Deep gets NO declared cross features here (a user who does not know the planted pairs),
// so it must learn the crosses through its MLP; DCN-V2's cross layers model x0 ⊙ (W x) directly.
// The Bayes-optimal AUC (known: the generator exposes every example's true click probability) is
// the ceiling.
//
//   dcn_v2_synthetic [--threads N] [--seed S] [--train N] [--valid N] [--epochs E] [--vocab V]
//                    [--embedding-dim D] [--cross-depth L] [--rank R] [--decay constant|linear|cosine]
//                    [--model dcn_v2|dcn_v2_parallel|dcn_mix|dcn|all]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "ctrnet/ctrnet.hpp"

using namespace ctrnet;

namespace {
InMemoryDataset make_split(const SyntheticCTR& gen, index_t n, std::uint64_t stream, std::vector<double>* p) {
  Batch b;
  gen.generate(n, stream, b, p);
  return InMemoryDataset(gen.schema(), std::move(b));
}

struct Outcome {
  double auc = 0, logloss = 0, seconds = 0, samples_per_second = 0;
};

template <class M>
Outcome train(M& model, const TrainerOptions& opt, const InMemoryDataset& tr, const InMemoryDataset& va) {
  const auto t0 = std::chrono::steady_clock::now();
  Trainer<M> trainer(model, opt);
  const TrainResult r = trainer.fit(tr, &va);
  const auto& e = r.epochs[static_cast<std::size_t>(r.best_epoch - 1)];  // best_epoch counts from 1
  return {e.valid_auc, e.valid_logloss, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
          e.samples_per_second};
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ctrnet: DCN-V2 vs Wide & Deep vs logistic regression on synthetic data with planted crosses"};
  int threads = 0, epochs = 3;
  std::uint64_t seed = 1;
  index_t n_train = 400000, n_valid = 50000, vocab = 100, embedding_dim = 8, cross_depth = 3, rank = 0, batch = 512;
  double lr = 1e-3, embedding_lr = 1e-3;
  std::vector<index_t> hidden{256, 128};
  std::string which = "all", decay = "constant";
  app.add_option("--threads", threads, "worker threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", seed, "seed of initialisation and shuffling");
  app.add_option("--train", n_train, "training examples")->check(CLI::PositiveNumber);
  app.add_option("--valid", n_valid, "validation examples")->check(CLI::PositiveNumber);
  app.add_option("--epochs", epochs, "epochs (the best validation epoch is kept)")->check(CLI::PositiveNumber);
  app.add_option("--vocab", vocab, "ids per categorical field")->check(CLI::PositiveNumber);
  app.add_option("--embedding-dim", embedding_dim, "embedding dimension")->check(CLI::PositiveNumber);
  app.add_option("--cross-depth", cross_depth, "cross layers")->check(CLI::PositiveNumber);
  app.add_option("--rank", rank, "DCN-V2 cross rank (0: full rank)")->check(CLI::NonNegativeNumber);
  app.add_option("--hidden", hidden, "hidden widths of the MLPs");
  app.add_option("--batch", batch, "mini-batch size")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "Adam learning rate of the dense parameters");
  app.add_option("--embedding-lr", embedding_lr, "lazy Adam learning rate of the embeddings");
  app.add_option("--decay", decay, "learning-rate decay over the whole run: constant, linear or cosine")
      ->check(CLI::IsMember({"constant", "linear", "cosine"}));
  app.add_option("--model", which, "dcn_v2, dcn_mix, dcn, or all (with Wide & Deep and logistic regression)")
      ->check(CLI::IsMember({"dcn_v2", "dcn_v2_parallel", "dcn_mix", "dcn", "all"}));
  CLI11_PARSE(app, argc, argv);

  try {
    SyntheticOptions so;
    so.vocab_size = vocab;
    SyntheticCTR gen(so);
    std::vector<double> p_valid;
    const auto train_set = make_split(gen, n_train, synthetic_train, nullptr);
    const auto valid_set = make_split(gen, n_valid, synthetic_valid, &p_valid);
    const double bayes = roc_auc(std::span<const double>(p_valid), std::span<const float>(valid_set.data().labels));
    std::printf("data: synthetic, %lld train / %lld valid, %lld ids per field, %lld planted crosses (not declared)\n",
                static_cast<long long>(n_train), static_cast<long long>(n_valid), static_cast<long long>(vocab),
                static_cast<long long>(gen.crosses().size()));

    TrainerOptions opt;
    opt.epochs = epochs;
    opt.threads = threads;
    opt.seed = seed;
    opt.batch_size = batch;
    opt.optimizer.kind = DenseKind::adam;
    opt.optimizer.lr = lr;
    opt.embedding_optimizer.kind = SparseKind::lazy_adam;
    opt.embedding_optimizer.lr = embedding_lr;
    opt.progress = ProgressMode::never;
    opt.schedule.decay = parse_decay_kind(decay);
    if (opt.schedule.decay != DecayKind::constant)
      opt.schedule.decay_steps = static_cast<std::int64_t>(epochs) * ((n_train + batch - 1) / batch);

    auto report = [&](const char* name, const Outcome& o) {
      std::printf("%-24s valid AUC %.4f  logloss %.4f  gap to Bayes %.4f  (%.1f s, %.0f samples/s)\n", name, o.auc,
                  o.logloss, bayes - o.auc, o.seconds, o.samples_per_second);
      std::fflush(stdout);
    };
    DCNOptions dco;
    dco.embedding_dim = embedding_dim;
    dco.cross_depth = cross_depth;
    dco.rank = rank;
    dco.hidden = hidden;
    if (which == "all" || which == "dcn_v2") {
      auto m = make_dcn_v2_stacked(gen.schema(), dco, seed);
      report("dcn-v2 (stacked)", train(m, opt, train_set, valid_set));
    }
    if (which == "dcn_v2_parallel") {
      auto m = make_dcn_v2_parallel(gen.schema(), dco, seed);
      report("dcn-v2 (parallel)", train(m, opt, train_set, valid_set));
    }
    if (which == "dcn_mix") {
      auto m = make_dcn_mix(gen.schema(), dco, seed);
      report("dcn-mix", train(m, opt, train_set, valid_set));
    }
    if (which == "dcn") {
      auto m = make_dcn(gen.schema(), dco, seed);
      report("dcn", train(m, opt, train_set, valid_set));
    }
    if (which == "all") {
      WideDeepOptions wo;
      wo.embedding_dim = embedding_dim;
      wo.hidden = hidden;
      TrainerOptions wd_opt = opt;
      SparseOptimizerOptions ftrl;
      ftrl.kind = SparseKind::ftrl;
      ftrl.lr = 0.1;
      ftrl.ftrl_beta = 1e-4;
      wd_opt.table_rules = {{"wide.", ftrl}};
      auto wd = make_wide_deep(gen.schema(), wo, seed);
      report("wide & deep", train(wd, wd_opt, train_set, valid_set));
      TrainerOptions lr_opt = wd_opt;
      lr_opt.optimizer.lr = 0.01;
      lr_opt.embedding_optimizer = ftrl;
      auto logreg = make_logistic_regression(gen.schema(), {}, seed);
      report("logistic regression", train(logreg, lr_opt, train_set, valid_set));
    }
    std::printf("%-24s valid AUC %.4f\n", "bayes-optimal", bayes);
  } catch (const Error& e) {
    std::fprintf(stderr, "dcn_v2_synthetic: %s\n", e.what());
    return 1;
  }
  return 0;
}
