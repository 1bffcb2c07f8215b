// dcn_steps: the ctrnet side of tools/torch_dcn_steps.py. Builds a DCN-V2 (stacked) over the
// schema of a data file, writes its initial weights, trains it for a few steps in a fixed batch
// order (no shuffling, no dropout) and prints the loss of every step, then writes the final
// weights. The script loads the same initial weights into a plain PyTorch DCN-V2, runs the same
// steps and compares the losses and the final weights (docs/interop.md).
//
//   dcn_steps --data data.safetensors --init init.safetensors --final final.safetensors
//             [--steps 20] [--batch 32] [--optimizer sgd|adam] [--lr 0.05]
//             [--embedding-dim 4] [--cross-depth 2] [--rank 0] [--hidden 16 8] [--seed 1]
//
// The data file (safetensors) holds "dense" [n, D] F32, "ids" [n, F] I64 and "labels" [n] F32;
// its __metadata__ "vocab_sizes" is a JSON array of the F vocabulary sizes. Fields are I1..ID and
// C1..CF. Step s trains on rows [s·B, s·B + B) mod n (batches wrap around the data). Output: one
// line "step <s> loss <mean BCE>" per step, the loss computed in the forward pass before the update.
// sgd: plain SGD on the dense parameters and the embedding rows; adam: Adam on the dense
// parameters, lazy Adam (PyTorch SparseAdam) on the tables.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/data/dataset.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/models/dcn.hpp"
#include "ctrnet/train/trainer.hpp"

using namespace ctrnet;

namespace {

InMemoryDataset read_data(const std::string& path, index_t embedding_dim) {
  const SafetensorsFile f(path);
  const TensorInfo& dense = f.at("dense");
  const TensorInfo& ids = f.at("ids");
  const TensorInfo& labels = f.at("labels");
  CTRNET_CHECK(dense.shape.size() == 2 && ids.shape.size() == 2 && labels.shape.size() == 1, path,
               ": expected dense [n, D], ids [n, F], labels [n]");
  const auto n = static_cast<index_t>(labels.shape[0]);
  CTRNET_CHECK(dense.shape[0] == n && ids.shape[0] == n, path, ": dense, ids and labels disagree on the row count");
  const auto D = static_cast<index_t>(dense.shape[1]), F = static_cast<index_t>(ids.shape[1]);
  const nlohmann::json vocab = nlohmann::json::parse(f.metadata("vocab_sizes"), nullptr, false);
  CTRNET_CHECK(vocab.is_array() && static_cast<index_t>(vocab.size()) == F, path,
               ": __metadata__ 'vocab_sizes' must be a JSON array of ", F, " sizes");

  Schema schema;
  for (index_t j = 0; j < D; ++j) schema.add_dense("I" + std::to_string(j + 1));
  for (index_t j = 0; j < F; ++j)
    schema.add_categorical("C" + std::to_string(j + 1), vocab[static_cast<std::size_t>(j)].get<index_t>(), embedding_dim);

  std::vector<float> dv(static_cast<std::size_t>(n * D)), lv(static_cast<std::size_t>(n));
  std::vector<std::int64_t> iv(static_cast<std::size_t>(n * F));
  f.read("dense", std::span<float>(dv));
  f.read("ids", std::span<std::int64_t>(iv));
  f.read("labels", std::span<float>(lv));
  Batch b(schema);
  std::vector<FeatureId> row(static_cast<std::size_t>(F));
  for (index_t r = 0; r < n; ++r) {
    for (index_t j = 0; j < F; ++j) {
      const std::int64_t id = iv[static_cast<std::size_t>(r * F + j)];
      CTRNET_CHECK(id >= 0 && id < vocab[static_cast<std::size_t>(j)].get<index_t>(), path, ": row ", r, ", field C",
                   j + 1, ": id ", id, " outside its vocabulary");
      row[static_cast<std::size_t>(j)] = static_cast<FeatureId>(id);
    }
    b.add_one_hot(std::span<const float>(dv.data() + r * D, static_cast<std::size_t>(D)), row,
                  lv[static_cast<std::size_t>(r)]);
  }
  return InMemoryDataset(schema, std::move(b));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dcn_steps: a few DCN-V2 training steps with their losses (the ctrnet side of tools/torch_dcn_steps.py)"};
  std::string data_path, init_path, final_path, optimizer = "sgd";
  int steps = 20;
  index_t batch = 32;
  double lr = 0.05;
  std::uint64_t seed = 1;
  DCNOptions o;
  o.embedding_dim = 4;
  o.cross_depth = 2;
  o.rank = 0;
  o.hidden = {16, 8};
  o.dropout = 0.0;
  app.add_option("--data", data_path, "data file (safetensors: dense, ids, labels)")->required()->check(CLI::ExistingFile);
  app.add_option("--init", init_path, "write the initial weights here")->required();
  app.add_option("--final", final_path, "write the weights after the last step here");
  app.add_option("--steps", steps, "training steps")->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "rows per step")->check(CLI::PositiveNumber);
  app.add_option("--optimizer", optimizer, "sgd or adam (lazy Adam on the tables)")->check(CLI::IsMember({"sgd", "adam"}));
  app.add_option("--lr", lr, "learning rate (every parameter)");
  app.add_option("--embedding-dim", o.embedding_dim, "embedding dimension")->check(CLI::PositiveNumber);
  app.add_option("--cross-depth", o.cross_depth, "cross layers")->check(CLI::PositiveNumber);
  app.add_option("--rank", o.rank, "cross rank (0: full rank)")->check(CLI::NonNegativeNumber);
  app.add_option("--hidden", o.hidden, "hidden widths of the MLP");
  app.add_option("--seed", seed, "initialisation seed");
  CLI11_PARSE(app, argc, argv);
  try {
    const InMemoryDataset data = read_data(data_path, o.embedding_dim);
    auto model = make_dcn_v2_stacked(data.schema(), o, seed);
    save_model(model, init_path);

    TrainerOptions to;
    to.batch_size = batch;
    to.shards = 1;
    to.threads = 1;
    to.shuffle = false;
    to.progress = ProgressMode::never;
    to.optimizer.kind = optimizer == "sgd" ? DenseKind::sgd : DenseKind::adam;
    to.optimizer.lr = lr;
    to.embedding_optimizer.kind = optimizer == "sgd" ? SparseKind::sgd : SparseKind::lazy_adam;
    to.embedding_optimizer.lr = lr;
    Trainer<DCNv2Stacked> trainer(model, to);

    const index_t n = data.size();
    std::vector<index_t> rows(static_cast<std::size_t>(batch));
    Batch b;
    for (int s = 0; s < steps; ++s) {
      for (index_t i = 0; i < batch; ++i) rows[static_cast<std::size_t>(i)] = (s * batch + i) % n;
      data.gather(rows, b);
      const double loss = trainer.train_step(b.view());
      std::printf("step %d loss %.9g\n", s, loss);
    }
    if (!final_path.empty()) save_model(model, final_path);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "dcn_steps: %s\n", e.what());
    return 1;
  }
}
