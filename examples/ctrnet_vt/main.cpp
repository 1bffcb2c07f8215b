// ctrnet-vt: "viewed together" item-to-item lists from a session log (docs/item_to_item.md).
//   ctrnet-vt --train clicks.tsv [--test test.tsv] [--model vt.safetensors] [--lists out.csv|out.jsonl]
//             [--k 20] [--epochs 6] [--dim 64] [--hidden 0] [--window 5] [--pos-window 3]
//             [--glove-weight 0.3] [--negatives 8] [--neighbor-negatives 0.8] [--pair-dropout 0.7]
//             [--threads 0] [--seed 1]
//             [--loss softmax|bce] [--decay linear|constant|cosine] [--half-life 0 (time units)]
//             [--towers mlp|cross|transformer] [--cross-depth 2] [--rank 0] [--self-interaction]
//             [--blocks 1] [--heads 2] [--ff-hidden 0] [--pooling mean|max|first]
//             [--delimiter TAB] [--session-column 0] [--item-column 1] [--time-column 2]
//             [--action-column -1] [--header detect|yes|no] [--hash-ids] [--skip-bad-lines]
//             [--checkpoint PATH [--checkpoint-every N] [--max-steps N]] [--resume PATH]
//             [--valid valid.tsv [--patience N]] [--log epochs.jsonl]
// Counts co-occurrences (data/cooccurrence.hpp), trains the two-output item-item two-tower model
// (models/item_to_item.hpp, train/item_to_item_trainer.hpp) with MLP, DCN-V2 cross or Transformer
// towers (--towers; each kind is compiled in its own models_<kind>.cpp), writes every item's top-K related
// items (serve/related_items.hpp) and the model: a safetensors file with every parameter by its
// registry name, the raw item ids ("item_ids", I64 [N]) and metadata (architecture
// "item_to_item", options JSON, schema JSON). With --test it prints HR@K, MRR@K and list
// statistics (train/next_item_metrics.hpp). The outputs are opened (and --test read and checked) before
// training and committed together at the end (io/output_file.hpp): a failed run leaves neither
// a partial lists file nor a model. Errors: a message on stderr and exit code 1, never an
// abort: an empty --train or --test log (or a --test log without a session of two events) is an
// error; --dim, --hidden and --ff-hidden are at most 2^24 and items x --dim / --k must fit in 64
// bits; the model's memory is checked against the available memory before it is allocated.
// Checkpoints: --checkpoint PATH writes the model, the optimizer state and the position (epoch,
// batch, step, the negative sampler's state) every --checkpoint-every N steps and after every
// epoch (io/checkpoint.hpp); --resume PATH continues such a run (same options but --epochs and
// --threads, same log) and ends with exactly the model and lists of an uninterrupted run.
// --max-steps N stops after N steps in all, having written the checkpoint (no lists or model).
// Validation: with --valid, after every epoch the current model's lists are scored on that session
// log (next-item HR@K and MRR@K, like --test); --patience N stops N epochs after the best MRR@K and
// keeps that epoch's model. --log PATH writes one JSON object per epoch (loss, speed, validation).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ctrnet/data/readers/sessions.hpp"
#include "ctrnet/optim/schedule.hpp"
#include "ctrnet/train/next_item_metrics.hpp"
#include "ctrnet_vt.hpp"

using namespace ctrnet;

int main(int argc, char** argv) {
  CLI::App app{"ctrnet-vt: item-to-item 'viewed together' lists from session logs"};
  std::string train_path, test_path, model_path, lists_path, delimiter = "\t", header = "detect";
  int session_col = 0, item_col = 1, time_col = 2, action_col = -1, epochs = 6, threads = 0;
  index_t k = 20, dim = 64, hidden = 0, window = 5, pos_window = 3, negatives = 8, batch = 256;
  // Defaults: the settings chosen on yoochoose-100k's validation split (docs/item_to_item.md).
  double glove_weight = 0.3, neighbor_negatives = 0.8, pair_dropout = 0.7, reverse_weight = 0.5, lr = 4e-3, emb_lr = 0.2;
  std::uint64_t seed = 1;
  std::string loss = "softmax", decay = "linear", towers = "mlp", pooling = "mean";
  index_t cross_depth = 2, rank = 0, blocks = 1, heads = 2, ff_hidden = 0;
  bool self_interaction = false;
  double half_life = 0.0;
  bool hash_ids = false, skip_bad = false;
  std::string checkpoint_path, resume_path, valid_path, log_path;
  int patience = 0;
  std::int64_t checkpoint_every = 0, max_steps = 0;
  app.add_option("--train", train_path, "training session log (session, item, time[, action])")->required();
  app.add_option("--test", test_path, "test session log: prints HR@K, MRR@K and list statistics");
  auto* valid_opt = app.add_option("--valid", valid_path,
                                   "validation session log: next-item HR@K and MRR@K of the lists after every epoch");
  app.add_option("--patience", patience, "with --valid: stop N epochs after the best valid MRR@K, keeping that "
                 "epoch's model (0: no early stopping)")
      ->check(CLI::NonNegativeNumber)
      ->needs(valid_opt);
  app.add_option("--log", log_path, "write one JSON object per epoch here (loss, speed, validation)");
  app.add_option("--model", model_path, "write the trained model here (safetensors)");
  app.add_option("--lists", lists_path, "write every item's top-K related items here (.csv or .jsonl)");
  app.add_option("--k", k, "list length")->check(CLI::PositiveNumber);
  app.add_option("--epochs", epochs, "training epochs")->check(CLI::PositiveNumber);
  app.add_option("--dim", dim, "item embedding and tower output width")->check(CLI::PositiveNumber);
  app.add_option("--hidden", hidden, "hidden width of the context tower's MLP (mlp and cross towers; 0: none)")->check(CLI::NonNegativeNumber);
  app.add_option("--window", window, "co-occurrence window in events (0: whole session)")->check(CLI::NonNegativeNumber);
  app.add_option("--pos-window", pos_window, "training positives up to this many events apart")->check(CLI::PositiveNumber);
  app.add_option("--reverse-weight", reverse_weight, "weight of backward positives")->check(CLI::NonNegativeNumber);
  app.add_option("--glove-weight", glove_weight, "weight of the GloVe output (0: one-output model)")->check(CLI::NonNegativeNumber);
  app.add_option("--negatives", negatives, "sampled negatives per positive")->check(CLI::NonNegativeNumber);
  app.add_option("--neighbor-negatives", neighbor_negatives, "share of negatives among co-occurring items, in [0, 1)")
      ->check(CLI::Range(0.0, 0.999));
  app.add_option("--pair-dropout", pair_dropout, "share of training groups with the pair features set to 0, in [0, 1): "
                 "trains the ranking of items that never co-occur")
      ->check(CLI::Range(0.0, 0.999));
  app.add_option("--batch", batch, "positives per step")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "Adam learning rate of the towers")->check(CLI::PositiveNumber);
  app.add_option("--emb-lr", emb_lr, "row-wise Adagrad learning rate of the tables")->check(CLI::PositiveNumber);
  app.add_option("--loss", loss, "relevance loss: bce (pointwise) or softmax (sampled softmax per positive)")
      ->check(CLI::IsMember({"bce", "softmax"}));
  app.add_option("--decay", decay, "learning-rate decay over all steps: constant, linear or cosine")
      ->check(CLI::IsMember({"constant", "linear", "cosine"}));
  app.add_option("--half-life", half_life, "recency weight of training sessions: half-life in the log's time "
                                           "units (0: off)")->check(CLI::NonNegativeNumber);
  app.add_option("--towers", towers, "tower kind: mlp, cross (DCN-V2 cross network, then the MLP) or transformer")
      ->check(CLI::IsMember({"mlp", "cross", "transformer"}));
  app.add_option("--cross-depth", cross_depth, "cross towers: CrossV2 layers per tower")->check(CLI::NonNegativeNumber);
  app.add_option("--rank", rank, "cross towers: rank of W_l (0: full rank)")->check(CLI::NonNegativeNumber);
  app.add_flag("--self-interaction", self_interaction, "cross towers: add the interaction term ||e||^2");
  app.add_option("--blocks", blocks, "transformer towers: Transformer blocks per tower")->check(CLI::PositiveNumber);
  app.add_option("--heads", heads, "transformer towers: attention heads (--dim must be a multiple)")
      ->check(CLI::PositiveNumber);
  app.add_option("--ff-hidden", ff_hidden, "transformer towers: feed-forward width (0: 4 x --dim)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--pooling", pooling, "transformer towers: token pooling: mean, max or first")
      ->check(CLI::IsMember({"mean", "max", "first"}));
  app.add_option("--threads", threads, "threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", seed, "seed");
  app.add_option("--delimiter", delimiter, "column delimiter (one character; default TAB)");
  app.add_option("--session-column", session_col, "0-based column of the session id")->check(CLI::NonNegativeNumber);
  app.add_option("--item-column", item_col, "0-based column of the item id")->check(CLI::NonNegativeNumber);
  app.add_option("--time-column", time_col, "0-based column of the timestamp")->check(CLI::NonNegativeNumber);
  app.add_option("--action-column", action_col, "0-based column of the action type (-1: none)");
  app.add_option("--header", header, "header line: detect, yes or no")->check(CLI::IsMember({"detect", "yes", "no"}));
  app.add_flag("--hash-ids", hash_ids, "ids are tokens (hashed), not integers");
  app.add_flag("--skip-bad-lines", skip_bad, "skip and count malformed lines instead of failing");
  auto* ckpt = app.add_option("--checkpoint", checkpoint_path,
                              "write a checkpoint (model, optimizer state, position) after every epoch, atomically");
  app.add_option("--checkpoint-every", checkpoint_every, "also write the checkpoint every N steps")
      ->check(CLI::PositiveNumber)
      ->needs(ckpt);
  app.add_option("--resume", resume_path, "continue the run saved in this checkpoint (same options and log)")
      ->check(CLI::ExistingFile);
  app.add_option("--max-steps", max_steps, "stop after N optimizer steps in all, having written the checkpoint")
      ->check(CLI::PositiveNumber)
      ->needs(ckpt);
  CLI11_PARSE(app, argc, argv);

  try {
    CTRNET_CHECK(delimiter.size() == 1 || delimiter == "\\t", "--delimiter must be one character, got '", delimiter, "'");
    constexpr index_t kMaxWidth = index_t{1} << 24;  // [width x width] layers stay far inside 64-bit sizes
    const std::pair<const char*, index_t> widths[] = {{"--dim", dim}, {"--hidden", hidden}, {"--ff-hidden", ff_hidden}};
    for (const auto& [name, v] : widths) CTRNET_CHECK(v <= kMaxWidth, name, " ", v, " is out of range: at most ", kMaxWidth);
    SessionLogOptions so;
    so.delimiter = delimiter == "\\t" ? '\t' : delimiter[0];
    so.session_column = session_col;
    so.item_column = item_col;
    so.time_column = time_col;
    so.action_column = action_col;
    so.header = header == "yes" ? SessionLogOptions::Header::yes
                                : header == "no" ? SessionLogOptions::Header::no : SessionLogOptions::Header::detect;
    so.hash_ids = hash_ids;
    so.bad_lines = skip_bad ? BadLines::skip : BadLines::error;

    // The outputs first: one that is an input, or cannot be created, fails before any work; both
    // are committed together at the end, only when everything succeeded (io/output_file.hpp).
    // --checkpoint and --resume may be the same file (the resume flow).
    check_outputs_not_inputs({{"--model", model_path}, {"--lists", lists_path}, {"--checkpoint", checkpoint_path},
                              {"--log", log_path}},
                             {{"--train", train_path}, {"--test", test_path}, {"--valid", valid_path}});
    check_outputs_not_inputs({{"--model", model_path}, {"--lists", lists_path}}, {{"--resume", resume_path}});
    if (!checkpoint_path.empty()) check_can_write(checkpoint_path);
    OutputFiles outputs;
    OutputFile* lists_out = lists_path.empty() ? nullptr : &outputs.open(lists_path);
    OutputFile* model_out = model_path.empty() ? nullptr : &outputs.open(model_path);

    const auto t0 = std::chrono::steady_clock::now();
    const SessionLog train_log = read_session_log(train_path, so);
    const std::vector<Session> train = train_log.sessions();
    require_sessions(train_log, train, train_path, "--train file");
    // --test is read (and its errors reported) before training.
    std::vector<Session> test;
    if (!test_path.empty()) {
      const SessionLog test_log = read_session_log(test_path, so);
      test = test_log.sessions();
      require_sessions(test_log, test, test_path, "--test file", 2);  // a next-item query needs two events
    }
    std::vector<Session> valid;
    if (!valid_path.empty()) {
      const SessionLog valid_log = read_session_log(valid_path, so);
      valid = valid_log.sessions();
      require_sessions(valid_log, valid, valid_path, "--valid file", 2);
    }
    CooccurrenceOptions co;
    co.window = window;
    co.threads = threads;
    const CooccurrenceTable table = count_cooccurrence(train, co);
    checked_product(table.num_items(), dim, "--dim " + std::to_string(dim) + " x the catalogue's items");
    checked_product(table.num_items(), k, "--k " + std::to_string(k) + " x the catalogue's items");
    const ItemPairFeaturizer fz(table);
    ItemToItemPositiveOptions po;
    po.window = pos_window;
    po.reverse_weight = reverse_weight;
    po.half_life = half_life;
    const auto positives = item_to_item_positives(train, table, po);
    CTRNET_CHECK(!positives.empty(), "ctrnet-vt: '", train_path,
                 "' has no session with two different items: nothing to learn item-to-item relations from");
    std::printf("train: %zu sessions, %lld items, %zu co-occurring pairs, %zu training pairs\n", train.size(),
                static_cast<long long>(table.num_items()), table.pairs().size(), positives.size());

    ItemToItemOptions mo;
    mo.embedding_dim = dim;
    mo.output_dim = dim;
    mo.context_hidden = hidden > 0 ? std::vector<index_t>{hidden} : std::vector<index_t>{};
    mo.glove_weight = glove_weight;
    mo.cross.depth = cross_depth;
    mo.cross.rank = rank;
    mo.cross.self_interaction = self_interaction;
    mo.transformer.blocks = blocks;
    mo.transformer.heads = heads;
    mo.transformer.ff_hidden = ff_hidden;
    mo.transformer.pooling = pooling == "max" ? TokenPoolingMode::max
                             : pooling == "first" ? TokenPoolingMode::first : TokenPoolingMode::mean;
    ItemToItemTrainOptions to;
    to.epochs = epochs;
    to.negatives = negatives;
    to.neighbor_negatives = neighbor_negatives;
    to.pair_dropout = pair_dropout;
    to.batch_size = batch;
    to.threads = threads;
    to.seed = seed;
    to.optimizer.lr = lr;
    to.embedding_optimizer.lr = emb_lr;
    to.checkpoint_every = checkpoint_every;
    to.max_steps = max_steps;
    to.patience = patience;
    to.log_path = log_path;
    if (!valid_path.empty()) to.early_stopping_metric = "mrr@" + std::to_string(k);
    to.on_epoch = [&](int e, double epoch_loss, double secs) {
      std::printf("epoch %d/%d loss=%.5f (%.1f s)\n", e, epochs, epoch_loss, secs);
      std::fflush(stdout);
    };
    if (decay != "constant") {
      to.schedule.decay = parse_decay_kind(decay);
      to.schedule.decay_steps = static_cast<std::int64_t>(epochs) *
                                ((static_cast<std::int64_t>(positives.size()) + batch - 1) / batch);
    }
    ctrnet_vt::Run run;
    run.table = &table;
    run.fz = &fz;
    run.positives = &positives;
    run.model = mo;
    run.train = to;
    run.related.k = k;
    run.listwise = loss == "softmax";
    run.seed = seed;
    run.model_out = model_out;
    run.checkpoint = checkpoint_path;
    run.resume = resume_path;
    if (!valid_path.empty()) {
      run.valid = &valid;
      run.validation = {{"sessions", valid.size()}, {"patience", patience}};
    }
    run.train_data = {{"sessions", train.size()},
                      {"items", table.num_items()},
                      {"pairs", table.pairs().size()},
                      {"positives", positives.size()}};
    run.options = {{"towers", towers},         {"embedding_dim", dim},
                   {"output_dim", dim},        {"context_hidden", mo.context_hidden},
                   {"glove_weight", glove_weight}, {"window", window},
                   {"pos_window", pos_window}, {"negatives", negatives},
                   {"neighbor_negatives", neighbor_negatives}, {"pair_dropout", pair_dropout},
                   {"epochs", epochs},
                   {"seed", seed},             {"loss", loss},
                   {"decay", decay},           {"half_life", half_life},
                   {"batch", batch},           {"lr", lr},
                   {"emb_lr", emb_lr},         {"reverse_weight", reverse_weight}};
    if (towers == "cross")
      run.options["cross"] = {{"depth", cross_depth}, {"rank", rank}, {"self_interaction", self_interaction}};
    if (towers == "transformer")
      run.options["transformer"] = {{"blocks", blocks}, {"heads", heads}, {"ff_hidden", ff_hidden}, {"pooling", pooling}};
    const std::optional<RecommendationLists> trained = towers == "cross" ? ctrnet_vt::train_cross_towers(run)
                                                       : towers == "transformer"
                                                           ? ctrnet_vt::train_transformer_towers(run)
                                                           : ctrnet_vt::train_mlp_towers(run);
    if (!trained) return 0;  // --max-steps: the checkpoint is written; the outputs are discarded
    const RecommendationLists& lists = *trained;
    if (lists_out) write_related_items(*lists_out, lists, table);
    if (!test_path.empty()) {
      NextItemOptions eo;
      eo.k = k;
      eo.threads = threads;
      const NextItemResult r = evaluate_next_item(test, table, lists, eo);
      const ListStats s = list_statistics(lists, table, eo);
      std::printf("test: %lld queries HR@%lld=%.4f MRR@%lld=%.4f coverage=%.4f distinct=%.4f overlap=%.4f "
                  "popularity=%.4f\n",
                  static_cast<long long>(r.queries), static_cast<long long>(k), r.hit_rate,
                  static_cast<long long>(k), r.mrr, s.coverage, s.distinct, s.overlap, s.popularity);
    }
    outputs.commit();
    if (!lists_path.empty())
      std::printf("lists: %s (%lld items, K=%lld)\n", lists_path.c_str(), static_cast<long long>(lists.num_items()),
                  static_cast<long long>(k));
    if (!model_path.empty()) std::printf("model: %s\n", model_path.c_str());
    std::printf("done in %.1f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  } catch (const std::bad_alloc&) {  // last resort: the memory check should have said it first
    std::fprintf(stderr, "ctrnet-vt: error: out of memory (std::bad_alloc); lower --dim, --hidden, --k or --batch\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ctrnet-vt: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
