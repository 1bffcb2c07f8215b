// Training quality of DCN-V2 on the foundation's synthetic data (data/synthetic.hpp), whose teacher
// plants low-rank pairwise crosses: DCN-V2 stacked must beat logistic regression, Wide & Deep
// without declared crosses, and the best additive model (the teacher without its crosses).
// (The full-size run, within 0.01 of the Bayes-optimal AUC, is examples/dcn_v2_synthetic; see
// docs/models.md.)
#include <catch2/catch.hpp>
#include <span>
#include <vector>

#include "ctrnet/dcn_v2.hpp"
#include "ctrnet/wide_deep.hpp"

using namespace ctrnet;

TEST_CASE("DCN-V2 stacked beats logistic regression and Wide & Deep on synthetic data with planted crosses",
          "[dcn][trainer][quality]") {
  SyntheticOptions so;
  so.num_dense = 4;
  so.num_categorical = 6;
  so.vocab_size = 30;
  so.num_crosses = 4;
  so.cross_strength = 1.0;
  so.seed = 3;
  const SyntheticCTR gen(so);
  auto split = [&](index_t n, std::uint64_t stream) {
    Batch b;
    gen.generate(n, stream, b);
    return InMemoryDataset(gen.schema(), std::move(b));
  };
  const auto train = split(20000, synthetic_train);
  const auto valid = split(5000, synthetic_valid);
  // The AUC of the teacher without its crosses: the best any model without crosses can reach.
  std::vector<double> no_crosses(static_cast<std::size_t>(valid.size()));
  for (index_t r = 0; r < valid.size(); ++r)
    no_crosses[static_cast<std::size_t>(r)] = gen.logit_parts(valid.data().view(), r).without_crosses();
  const double no_cross_auc = roc_auc(no_crosses, std::span<const float>(valid.data().labels));

  TrainerOptions o;
  o.epochs = 2;
  o.batch_size = 256;
  o.shards = 4;
  o.threads = 2;
  o.seed = 7;
  o.progress = ProgressMode::never;
  o.optimizer.kind = DenseKind::adam;
  o.optimizer.lr = 1e-2;
  o.embedding_optimizer.kind = SparseKind::adagrad;
  o.embedding_optimizer.lr = 0.1;

  auto lr = make_logistic_regression(gen.schema(), {}, 1);
  Trainer<LogisticRegression> lr_trainer(lr, o);
  const double lr_auc = lr_trainer.fit(train, &valid).epochs.back().valid_auc;

  DCNOptions dopt;
  dopt.embedding_dim = 8;
  dopt.cross_depth = 2;
  dopt.hidden = {32, 16};
  auto dcn = make_dcn_v2_stacked(gen.schema(), dopt, 1);
  Trainer<DCNv2Stacked> dcn_trainer(dcn, o);
  const double dcn_auc = dcn_trainer.fit(train, &valid).epochs.back().valid_auc;

  // Wide & Deep with the same embeddings and MLP, and NO declared cross features: it must find the
  // planted crosses through its MLP alone.
  WideDeepOptions wopt;
  wopt.embedding_dim = dopt.embedding_dim;
  wopt.hidden = dopt.hidden;
  auto wd = make_wide_deep(gen.schema(), wopt, 1);
  Trainer<WideDeep> wd_trainer(wd, o);
  const double wd_auc = wd_trainer.fit(train, &valid).epochs.back().valid_auc;

  INFO("logistic regression AUC " << lr_auc << ", Wide & Deep AUC " << wd_auc << ", DCN-V2 stacked AUC " << dcn_auc
                                  << ", teacher without crosses AUC " << no_cross_auc);
  CHECK(lr_auc > 0.55);
  CHECK(dcn_auc > lr_auc + 0.02);
  CHECK(dcn_auc > wd_auc + 0.003);  // measured: 0.7076 vs 0.7022 (the full-size gap is larger: docs/models.md)
  CHECK(dcn_auc > no_cross_auc + 0.02);  // it learned the planted crosses, which no additive model can
}
