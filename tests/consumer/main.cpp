// Downstream consumer of an installed ctrnet (see tests/consumer/CMakeLists.txt), compiled with
// -Wall -Wextra -Werror: a realistic user program must build without a warning. It declares a
// schema and the model / trainer / save options with designated initializers (omitting members,
// which GCC's -Wmissing-field-initializers flags unless every member has a default member
// initializer), trains a few steps, predicts, saves, loads back and checks the predictions.
#include <ctrnet/io/model_io.hpp>
#include <ctrnet/wide_deep.hpp>

#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

int main() {
  using namespace ctrnet;
  Schema schema;
  schema.add(Field{.name = "price"});
  schema.add(Field{.name = "user", .kind = FieldKind::categorical, .vocab_size = 20, .embedding_dim = 4});
  schema.add(Field{.name = "ad", .kind = FieldKind::categorical, .hash_buckets = 64, .hash_seed = 7});
  schema.add(Field{.name = "tags", .kind = FieldKind::multi_hot, .vocab_size = 10, .pooling = Pooling::mean});

  // 256 rows; the label depends on the user and the price.
  Batch rows(schema);
  Rng rng(3);
  for (int i = 0; i < 256; ++i) {
    const FeatureId user = static_cast<FeatureId>(rng.below(20));
    const std::vector<float> dense{static_cast<float>(rng.uniform(-1.0, 1.0))};
    const std::vector<FeatureId> u{user}, ad{static_cast<FeatureId>(rng.next_u64() >> 1)},
        tags{static_cast<FeatureId>(rng.below(10)), static_cast<FeatureId>(rng.below(10))};
    const std::vector<std::span<const FeatureId>> ids{u, ad, tags};
    rows.add(dense, ids, (user < 8) != (dense[0] > 0.5f) ? 1.0f : 0.0f);
  }
  const InMemoryDataset train(schema, std::move(rows));

  WideDeep model = make_wide_deep(
      schema, WideDeepOptions{.embedding_dim = 4, .hidden = {16, 8}, .crosses = {{"user", "ad"}}, .cross_buckets = 1024}, 1);
  Trainer<WideDeep> trainer(model, TrainerOptions{.epochs = 2,
                                                  .batch_size = 64,
                                                  .threads = 1,
                                                  .optimizer = {.kind = DenseKind::adam, .lr = 1e-2},
                                                  .embedding_optimizer = {.lr = 5e-2},
                                                  .progress = ProgressMode::never});
  const TrainResult result = trainer.fit(train);
  if (result.epochs.size() != 2) return std::fprintf(stderr, "consumer: expected 2 epochs\n"), 1;

  Matrix<float> before(train.size(), 1);
  trainer.predict_rows(train.data().view(), before.view());

  const std::string path = (std::filesystem::temp_directory_path() / "ctrnet_consumer_model.safetensors").string();
  save_model(model, path, ModelSaveOptions{.seed = 1, .metadata = {{"owner", "consumer"}}});
  const WideDeep loaded = load_model<WideDeep>(path);
  std::filesystem::remove(path);

  Matrix<float> after(train.size(), 1);
  WideDeep::Cache cache;
  loaded.predict(cpu_simd{}, train.data().view(), after.view(), cache);
  for (index_t r = 0; r < train.size(); ++r) {
    const float d = before(r, 0) - after(r, 0);
    if (!(d < 1e-5f && d > -1e-5f) || !(before(r, 0) > 0.0f && before(r, 0) < 1.0f))
      return std::fprintf(stderr, "consumer: row %ld: %g before saving, %g after loading\n", static_cast<long>(r),
                          static_cast<double>(before(r, 0)), static_cast<double>(after(r, 0))),
             1;
  }
  std::printf("consumer: trained, predicted, saved and loaded a WideDeep model (%ld rows)\n",
              static_cast<long>(train.size()));
  return 0;
}
