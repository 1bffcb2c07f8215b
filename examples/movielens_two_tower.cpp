// Two-tower retrieval on MovieLens-100k with the three objectives (pointwise BCE, in-batch
// softmax with logQ correction, mixed negative sampling), evaluated as RecBole does: every user's
// ratings are implicit positives, split per user at random 80/10/10 (train/valid/test); each
// test user ranks the WHOLE catalogue minus the items of its train and valid sets (full
// ranking), and Recall/NDCG/HitRate@K and catalogue coverage are averaged over users.
//   query tower:      user id, age bucket, gender, occupation
//   candidate tower:  item id, genres (multi-hot, mean), release-year bucket
// Data: $CTRNET_DATA_DIR/ml-100k (or --data); without it a synthetic data set of the same shape
// is generated so the example always runs. A --data folder without u.data is an error (it never
// falls back to the synthetic data; --synthetic asks for that).
//   movielens_two_tower [--data DIR] [--objectives pointwise,in-batch,mixed] [--towers mlp,cross,transformer]
//                       [--epochs N] [--save DIR] [--checkpoint PATH [--checkpoint-every N] [--max-steps N]]
//                       [--resume PATH] [--validate] [--patience N] [--log PATH] ...
// Checkpoints (one objective and one tower kind): --checkpoint PATH writes the model, the optimizer
// state, the frequency estimator and the position every --checkpoint-every N steps and after every
// epoch (io/two_tower_checkpoint.hpp); --max-steps N stops after N steps in all, having written it
// (no evaluation, no --save); --resume PATH continues such a run bit for bit (same options and data;
// only --epochs, --threads and the output and checkpoint options may change).
// Validation (--validate, or --patience N > 0): after every epoch the valid split is ranked like the
// test split (minus the training items) and its Recall/NDCG/HitRate/MRR/coverage@K recorded; with
// --patience N training stops N epochs after the best Recall@K and keeps that epoch's model.
// --log PATH writes one JSON object per epoch (train loss, speed, the validation's metrics).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "ctrnet/io/two_tower_checkpoint.hpp"
#include "ctrnet/models/two_tower_cross.hpp"
#include "ctrnet/models/two_tower_transformer.hpp"
#include "ctrnet/two_tower.hpp"

using namespace ctrnet;

namespace {

struct Split {
  RetrievalData data;
  Interactions train, valid, test;
  std::string source;
};

int year_bucket(int year) {
  if (year <= 0) return 0;
  return 1 + std::clamp((year - 1920) / 5, 0, 15);  // 5-year buckets 1920..1999, 0 = unknown
}

Schema movielens_schema(index_t users, index_t items, index_t occupations) {
  Schema s;
  auto cat = [&](std::string name, index_t vocab, std::string tower, FieldKind kind = FieldKind::categorical) {
    Field f;
    f.name = std::move(name);
    f.kind = kind;
    f.vocab_size = vocab;
    f.tower = std::move(tower);
    if (kind == FieldKind::multi_hot) f.pooling = Pooling::mean;
    s.add(std::move(f));
  };
  cat("user_id", users, "query");
  cat("age", 7, "query");
  cat("gender", 2, "query");
  cat("occupation", occupations, "query");
  cat("item_id", items, "candidate");
  cat("genres", 19, "candidate", FieldKind::multi_hot);
  cat("year", 17, "candidate");
  return s;
}

// Per user: shuffle its interactions, then int(0.1 n) to valid, int(0.1 n) to test, the rest to
// train (RecBole's ratio split with random ordering).
void split_per_user(const std::vector<std::vector<index_t>>& by_user, std::uint64_t seed, Split& out) {
  for (std::size_t u = 0; u < by_user.size(); ++u) {
    std::vector<index_t> items = by_user[u];
    Rng rng(mix_seed(seed, 0x5EED, u));
    for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.below(i)]);
    const std::size_t n = items.size(), nv = n / 10, nt = n / 10, ntr = n - nv - nt;
    for (std::size_t i = 0; i < n; ++i) {
      Interactions& dst = i < ntr ? out.train : i < ntr + nv ? out.valid : out.test;
      dst.add(static_cast<index_t>(u), items[i]);
    }
  }
}

Split load_movielens(const std::string& dir, std::uint64_t seed) {
  const MovieLens100k ml = load_movielens_100k(dir);
  Split sp;
  sp.source = dir;
  std::map<std::string, index_t> occ;
  for (const auto& u : ml.users) occ.emplace(u.occupation, 0);
  index_t k = 0;
  for (auto& [name, id] : occ) id = k++;
  std::int64_t max_user = 0, max_item = 0;
  for (const auto& u : ml.users) max_user = std::max(max_user, u.id);
  for (const auto& i : ml.items) max_item = std::max(max_item, i.id);
  sp.data.schema = movielens_schema(max_user, max_item, static_cast<index_t>(occ.size()));
  Batch q(sp.data.schema), it(sp.data.schema);
  // Rows are id − 1; ml-100k ids are dense 1..n, so every row is filled in order.
  std::vector<const MovieLensUser*> users(static_cast<std::size_t>(max_user), nullptr);
  for (const auto& u : ml.users) users[static_cast<std::size_t>(u.id - 1)] = &u;
  std::vector<const MovieLensItem*> items(static_cast<std::size_t>(max_item), nullptr);
  for (const auto& i : ml.items) items[static_cast<std::size_t>(i.id - 1)] = &i;
  for (std::size_t r = 0; r < users.size(); ++r) {
    CTRNET_CHECK(users[r] != nullptr, "u.user: user ", r + 1, " is missing (ids must be 1..n)");
    const auto& u = *users[r];
    const std::vector<FeatureId> id{FeatureId(r)}, age{movielens_age_bucket(u.age)}, g{u.gender == 'F'},
        o{occ.at(u.occupation)};
    q.add({}, std::vector<std::span<const FeatureId>>{id, age, g, o, {}, {}, {}}, 1.f);
  }
  for (std::size_t r = 0; r < items.size(); ++r) {
    CTRNET_CHECK(items[r] != nullptr, "u.item: item ", r + 1, " is missing (ids must be 1..n)");
    const auto& m = *items[r];
    const std::vector<FeatureId> id{FeatureId(r)}, year{year_bucket(m.year)};
    std::vector<FeatureId> genres(m.genres.begin(), m.genres.end());
    it.add({}, std::vector<std::span<const FeatureId>>{{}, {}, {}, {}, id, genres, year}, 1.f);
  }
  sp.data.queries = InMemoryDataset(sp.data.schema, std::move(q));
  sp.data.items = InMemoryDataset(sp.data.schema, std::move(it));
  std::vector<std::vector<index_t>> by_user(static_cast<std::size_t>(max_user));
  for (const auto& x : ml.ratings) by_user[static_cast<std::size_t>(x.user - 1)].push_back(static_cast<index_t>(x.item - 1));
  split_per_user(by_user, seed, sp);
  return sp;
}

// Synthetic stand-in of the same shape: users and items belong to latent taste groups tied to
// their features (occupation / genre), item popularity is Zipf-like, and each user rates
// 20..120 items mostly from its group.
Split synthetic(std::uint64_t seed) {
  const index_t U = 943, I = 1682, groups = 19;
  Split sp;
  sp.source = "synthetic (set CTRNET_DATA_DIR or --data for ml-100k)";
  sp.data.schema = movielens_schema(U, I, 21);
  Batch q(sp.data.schema), it(sp.data.schema);
  Rng rng(mix_seed(seed, 0x5E7));
  std::vector<index_t> ugroup(U), igroup(I);
  for (index_t u = 0; u < U; ++u) {
    ugroup[static_cast<std::size_t>(u)] = static_cast<index_t>(rng.below(groups));
    const std::vector<FeatureId> id{u}, age{FeatureId(rng.below(7))}, g{FeatureId(rng.below(2))},
        o{FeatureId(ugroup[static_cast<std::size_t>(u)] % 21)};
    q.add({}, std::vector<std::span<const FeatureId>>{id, age, g, o, {}, {}, {}}, 1.f);
  }
  for (index_t i = 0; i < I; ++i) {
    igroup[static_cast<std::size_t>(i)] = static_cast<index_t>(rng.below(groups));
    const std::vector<FeatureId> id{i}, genres{igroup[static_cast<std::size_t>(i)]}, year{FeatureId(1 + rng.below(16))};
    it.add({}, std::vector<std::span<const FeatureId>>{{}, {}, {}, {}, id, genres, year}, 1.f);
  }
  sp.data.queries = InMemoryDataset(sp.data.schema, std::move(q));
  sp.data.items = InMemoryDataset(sp.data.schema, std::move(it));
  std::vector<std::vector<index_t>> members(groups);
  for (index_t i = 0; i < I; ++i) members[static_cast<std::size_t>(igroup[static_cast<std::size_t>(i)])].push_back(i);
  std::vector<std::vector<index_t>> by_user(static_cast<std::size_t>(U));
  for (index_t u = 0; u < U; ++u) {
    const index_t n = 20 + static_cast<index_t>(rng.below(100));
    std::vector<char> taken(static_cast<std::size_t>(I), 0);
    for (index_t k = 0; k < n; ++k) {
      const bool own = rng.bernoulli(0.8);
      const auto& pool = members[static_cast<std::size_t>(own ? ugroup[static_cast<std::size_t>(u)] : static_cast<index_t>(rng.below(groups)))];
      if (pool.empty()) continue;
      // Zipf-like popularity inside the pool: the square of a uniform favours low positions.
      const double x = rng.uniform();
      const index_t i = pool[static_cast<std::size_t>(x * x * static_cast<double>(pool.size()))];
      if (!taken[static_cast<std::size_t>(i)]) taken[static_cast<std::size_t>(i)] = 1, by_user[static_cast<std::size_t>(u)].push_back(i);
    }
  }
  split_per_user(by_user, seed, sp);
  return sp;
}

// --resume: the checkpoint must be one of this program's, written with the same options and data.
void check_resume(const std::string& path, const nlohmann::json& now) {
  const SafetensorsFile f(path);
  CTRNET_CHECK(f.metadata().count("format") && f.metadata("format") == "ctrnet.checkpoint", path,
               ": not a checkpoint (write one with --checkpoint)");
  CTRNET_CHECK(f.metadata().count("movielens_two_tower"), path,
               ": not a movielens_two_tower checkpoint (its metadata lacks 'movielens_two_tower')");
  const nlohmann::json then = nlohmann::json::parse(f.metadata("movielens_two_tower"), nullptr, false);
  for (auto it = now.begin(); it != now.end(); ++it) {
    const auto was = then.is_object() ? then.find(it.key()) : then.end();
    CTRNET_CHECK(then.is_object() && was != then.end() && *was == *it, path, ": the checkpoint was written by a run with ",
                 it.key(), " = ", then.is_object() && was != then.end() ? was->dump() : std::string("(none)"),
                 ", this run has ", it->dump(), "; resume with the same options (only --epochs, --threads and the ",
                 "output and checkpoint options may change)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Two-tower retrieval on MovieLens-100k: pointwise, in-batch and mixed-negative objectives"};
  std::string data_dir;
  std::vector<std::string> objectives{"pointwise", "in-batch", "mixed"};
  TwoTowerOptions mo;
  mo.embedding_dim = 64;
  mo.output_dim = 64;
  mo.temperature = 0.1;
  double pointwise_temperature = 0.25;
  TwoTowerTrainerOptions to;
  to.epochs = 10;
  to.batch_size = 256;
  to.mixed_negatives = 256;
  to.pointwise_negatives = 4;
  to.progress = ProgressMode::never;
  double lr = 0.02, embedding_lr = 0.1;
  index_t k = 10;
  bool synthetic_only = false, verbose = false;
  app.add_option("--data", data_dir, "ml-100k folder (default: $CTRNET_DATA_DIR/ml-100k)");
  app.add_option("--objectives", objectives, "pointwise, in-batch, mixed")->delimiter(',');
  std::vector<std::string> towers{"mlp"};
  index_t transformer_blocks = 1, transformer_heads = 2, cross_depth = 1;
  app.add_option("--towers", towers,
                 "tower bodies: mlp (MLP towers), cross (DCN-V2 cross + feature interaction + MLP), transformer")
      ->delimiter(',')
      ->check(CLI::IsMember({"mlp", "cross", "transformer"}));
  app.add_option("--cross-depth", cross_depth, "cross layers per tower (cross towers)")->capture_default_str();
  app.add_option("--transformer-blocks", transformer_blocks, "Transformer blocks per tower")->capture_default_str();
  app.add_option("--transformer-heads", transformer_heads, "attention heads per block")->capture_default_str();
  app.add_option("--epochs", to.epochs, "training epochs")->capture_default_str();
  app.add_option("--batch", to.batch_size, "positive pairs per step (B)")->capture_default_str();
  app.add_option("--dim", mo.output_dim, "embedding width of both towers")->capture_default_str();
  app.add_option("--embedding-dim", mo.embedding_dim, "width of each field's embedding")->capture_default_str();
  app.add_option("--temperature", mo.temperature, "softmax temperature (in-batch, mixed)")->capture_default_str();
  app.add_option("--pointwise-temperature", pointwise_temperature, "temperature of the pointwise objective")->capture_default_str();
  app.add_option("--mixed-negatives", to.mixed_negatives, "B': uniformly sampled items per step")->capture_default_str();
  app.add_option("--pointwise-negatives", to.pointwise_negatives, "negative pairs per positive")->capture_default_str();
  app.add_option("--lr", lr, "Adam learning rate (tower MLPs)")->capture_default_str();
  app.add_option("--embedding-lr", embedding_lr, "row-wise Adagrad learning rate (embeddings)")->capture_default_str();
  app.add_option("--k", k, "cut-off K of the metrics")->capture_default_str();
  app.add_option("--seed", to.seed, "seed of the split, the initialisation and the sampling")->capture_default_str();
  app.add_option("--threads", to.threads, "threads (0: all)")->capture_default_str();
  bool no_logq = false;
  std::string embedding_optimizer = "rowwise_adagrad";
  app.add_option("--embedding-optimizer", embedding_optimizer, "sparse optimizer of the embedding tables")->capture_default_str();
  app.add_flag("--no-logq", no_logq, "turn the logQ correction off (in-batch, mixed)");
  bool uncorrected_sampled = false;
  app.add_flag("--uncorrected-sampled", uncorrected_sampled,
               "mixed: no logQ on the B' sampled columns (higher catalogue coverage, see docs/two_tower.md)");
  app.add_flag("--synthetic", synthetic_only, "use the synthetic data even when ml-100k is present");
  app.add_flag("-v,--verbose", verbose, "print the loss of every epoch");
  std::string save_dir;
  app.add_option("--save", save_dir,
                 "write each trained model to DIR/<objective>_<towers>.safetensors (load_model<M> rebuilds it)");
  std::string checkpoint_path, resume_path, log_path;
  std::int64_t checkpoint_every = 0, max_steps = 0;
  bool validate = false;
  app.add_flag("--validate", validate, "rank the valid split after every epoch (Recall/NDCG/...@K; -v prints them)");
  app.add_option("--patience", to.patience,
                 "validate after every epoch and stop N epochs after the best valid Recall@K, keeping that epoch's "
                 "model (0: no early stopping)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log", log_path, "write one JSON object per epoch here (one objective and one tower kind)");
  auto* ckpt = app.add_option("--checkpoint", checkpoint_path,
                              "write a checkpoint (model, optimizer and estimator state, position) after every "
                              "epoch, atomically (one objective and one tower kind)");
  app.add_option("--checkpoint-every", checkpoint_every, "also write the checkpoint every N steps")
      ->check(CLI::PositiveNumber)
      ->needs(ckpt);
  app.add_option("--resume", resume_path, "continue the run saved in this checkpoint (same options and data)")
      ->check(CLI::ExistingFile);
  app.add_option("--max-steps", max_steps, "stop after N optimizer steps in all, having written the checkpoint")
      ->check(CLI::PositiveNumber)
      ->needs(ckpt);
  CLI11_PARSE(app, argc, argv);

  try {
    if (!data_dir.empty() && !synthetic_only && !std::filesystem::exists(data_dir + "/u.data"))
      detail::throw_error("--data '", data_dir, "': no file '", data_dir,
                          "/u.data' (expected the ml-100k folder with u.data, u.item and u.user); --synthetic runs on "
                          "made-up data instead");
    const bool checkpointing = !checkpoint_path.empty() || !resume_path.empty() || !log_path.empty();
    CTRNET_CHECK(!checkpointing || (objectives.size() == 1 && towers.size() == 1),
                 "--checkpoint / --resume / --log: give one objective (--objectives) and one tower kind (--towers); got ",
                 objectives.size(), " and ", towers.size());
    to.log_path = log_path;
    const bool validating = validate || to.patience > 0;
    if (!checkpoint_path.empty()) check_can_write(checkpoint_path);
    if (!save_dir.empty()) {  // an unwritable --save folder fails before any training
      std::error_code ec;
      std::filesystem::create_directories(save_dir, ec);
      CTRNET_CHECK(!ec, "--save: cannot create the folder '", save_dir, "': ", ec.message());
      if (!objectives.empty() && !towers.empty())
        check_can_write(save_dir + "/" + objectives.front() + "_" + towers.front() + ".safetensors");
    }
    if (data_dir.empty()) {
      const char* env = std::getenv("CTRNET_DATA_DIR");
      if (env != nullptr) data_dir = std::string(env) + "/ml-100k";
    }
    const bool real = !synthetic_only && !data_dir.empty() && std::filesystem::exists(data_dir + "/u.data");
    const Split sp = real ? load_movielens(data_dir, to.seed) : synthetic(to.seed);
    std::printf("data: %s: %lld users, %lld items, train %lld / valid %lld / test %lld interactions\n", sp.source.c_str(),
                static_cast<long long>(sp.data.num_queries()), static_cast<long long>(sp.data.num_items()),
                static_cast<long long>(sp.train.size()), static_cast<long long>(sp.valid.size()),
                static_cast<long long>(sp.test.size()));
    const ItemLists seen = item_lists(sp.data.num_queries(), {&sp.train, &sp.valid});
    const ItemLists relevant = item_lists(sp.data.num_queries(), {&sp.test});
    to.logq_correction = !no_logq;
    to.mixed_correct_sampled = !uncorrected_sampled;
    to.optimizer.lr = lr;
    to.embedding_optimizer = SparseOptimizerOptions::named(embedding_optimizer);
    to.embedding_optimizer.lr = embedding_lr;
    to.checkpoint_every = checkpoint_every;
    to.max_steps = max_steps;
    // What a resumed run must share with the run that wrote the checkpoint (not --epochs, --threads,
    // the outputs): the data, the model and the training options.
    const nlohmann::json resume_key{
        {"data", sp.source},
        {"train_interactions", sp.train.size()},
        {"objective", objectives.empty() ? "" : objectives.front()},
        {"towers", towers.empty() ? "" : towers.front()},
        {"seed", to.seed},
        {"batch", to.batch_size},
        {"dim", mo.output_dim},
        {"embedding_dim", mo.embedding_dim},
        {"temperature", mo.temperature},
        {"pointwise_temperature", pointwise_temperature},
        {"mixed_negatives", to.mixed_negatives},
        {"pointwise_negatives", to.pointwise_negatives},
        {"lr", lr},
        {"embedding_lr", embedding_lr},
        {"embedding_optimizer", embedding_optimizer},
        {"logq", to.logq_correction},
        {"uncorrected_sampled", uncorrected_sampled},
        {"cross_depth", cross_depth},
        {"transformer_blocks", transformer_blocks},
        {"transformer_heads", transformer_heads},
        {"validate", validating},
        {"patience", to.patience}};
    if (!resume_path.empty()) check_resume(resume_path, resume_key);
    // One training + evaluation of a model type; the line starts with the objective and the towers.
    auto run = [&](const std::string& name, const char* towers, auto&& make) {
      const auto t0 = std::chrono::steady_clock::now();
      TwoTowerTrainerOptions o = to;
      o.objective = parse_retrieval_objective(name);
      const double temperature = o.objective == RetrievalObjective::pointwise ? pointwise_temperature : mo.temperature;
      auto model = make(temperature);
      using Model = std::decay_t<decltype(model)>;
      TwoTowerTrainer<Model>* tp = nullptr;
      if (!checkpoint_path.empty()) {
        o.on_checkpoint = [&](const TrainingPosition& p) {
          ModelSaveOptions co;
          co.seed = o.seed;
          co.metadata["movielens_two_tower"] = resume_key.dump();
          save_checkpoint(checkpoint_path, *tp, p, co);
        };
      }
      TwoTowerTrainer<Model> trainer(model, o);
      tp = &trainer;
      std::optional<TrainingPosition> start;
      if (!resume_path.empty()) {
        start = load_checkpoint(resume_path, trainer);
        std::printf("resumed %s: epoch %lld, batch %lld, step %lld\n", resume_path.c_str(),
                    static_cast<long long>(start->epoch), static_cast<long long>(start->batch),
                    static_cast<long long>(start->step));
      }
      RetrievalValidation valid;  // the valid split ranked against the catalogue minus the training items
      if (validating) {
        valid.relevant = item_lists(sp.data.num_queries(), {&sp.valid});
        valid.seen = item_lists(sp.data.num_queries(), {&sp.train});
        valid.k = k;
      }
      const TrainingPosition* from = start ? &*start : nullptr;
      const auto stats = validating ? trainer.fit(sp.data, sp.train, valid, from) : trainer.fit(sp.data, sp.train, from);
      if (stats.interrupted) {
        std::printf("stopped after step %lld (--max-steps): checkpoint %s; continue with --resume %s\n",
                    static_cast<long long>(stats.position.step), checkpoint_path.c_str(), checkpoint_path.c_str());
        std::fflush(stdout);
        return;
      }
      if (verbose)
        for (const auto& s : stats) {
          std::printf("  %s epoch %d: loss %.4f, %.0f pairs/s", name.c_str(), s.epoch, s.train_loss, s.samples_per_second);
          for (const auto& [metric, v] : s.valid_metrics) std::printf(", valid %s %.4f", metric.c_str(), v);
          std::printf("\n");
        }
      if (validating && stats.best_epoch >= 1)
        std::printf("  best epoch %d of %zu (valid Recall@%lld %.4f)%s\n", stats.best_epoch, stats.size(),
                    static_cast<long long>(k), stats[static_cast<std::size_t>(stats.best_epoch - 1)].valid_metrics[0].second,
                    stats.stopped_early ? ", stopped early" : "");
      const RankingResult r = trainer.evaluate(sp.data, relevant, seen, k);
      if (!save_dir.empty()) {  // atomically (save_model: io/output_file.hpp)
        const std::string path = save_dir + "/" + name + "_" + towers + ".safetensors";
        ModelSaveOptions so;
        so.seed = o.seed;
        save_model(model, path, so);
        std::printf("saved %s\n", path.c_str());
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%-9s %-11s Recall@%lld=%.4f NDCG@%lld=%.4f HitRate@%lld=%.4f coverage=%.4f MRR@%lld=%.4f (%.1f s)\n",
                  to_string(o.objective), towers, static_cast<long long>(k), r.recall, static_cast<long long>(k), r.ndcg,
                  static_cast<long long>(k), r.hit_rate, r.coverage, static_cast<long long>(k), r.mrr, secs);
      std::fflush(stdout);
    };
    for (const auto& tower : towers)
      for (const auto& name : objectives) {
        if (tower == "mlp") {
          run(name, "mlp", [&](double temperature) {
            TwoTowerOptions m = mo;
            m.temperature = temperature;
            return make_two_tower_mlp(sp.data.schema, m, to.seed);
          });
        } else if (tower == "cross") {  // DCN-V2 cross stack + MLP over [embeddings | pairwise dots]
          run(name, "cross", [&](double temperature) {
            TwoTowerCrossOptions x;
            x.embedding_dim = mo.embedding_dim;
            x.output_dim = mo.output_dim;
            x.query_hidden = mo.query_hidden;
            x.candidate_hidden = mo.candidate_hidden;
            x.cross_depth = cross_depth;
            x.temperature = temperature;
            return make_two_tower_cross_cosine(sp.data.schema, x, to.seed);
          });
        } else {  // "transformer": the fields of each tower are tokens, Transformer blocks, mean pooling
          run(name, "transformer", [&](double temperature) {
            TwoTowerTransformerOptions t;
            t.embedding_dim = mo.embedding_dim;
            t.output_dim = mo.output_dim;
            t.blocks = transformer_blocks;
            t.heads = transformer_heads;
            t.temperature = temperature;
            return make_two_tower_transformer(sp.data.schema, t, to.seed);
          });
        }
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "movielens_two_tower: %s\n", e.what());
    return 1;
  }
  return 0;
}
