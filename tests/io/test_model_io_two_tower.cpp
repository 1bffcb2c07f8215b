// save_model / load_model of the two-tower models (io/architecture_two_tower.hpp): for MLP, cross
// and Transformer towers and both similarities, save → load → encode_queries / encode_candidates is
// bit-identical and the rebuilt model's options equal the saved one's; a file of other tower kinds,
// another similarity, a missing tensor or corrupted options is a ctrnet::Error naming it.
// TwoTowerTrainer checkpoints (io/two_tower_checkpoint.hpp): a run interrupted by max_steps, saved,
// loaded into a fresh model and trainer and resumed ends with the parameters, optimizer state,
// frequency estimator and epoch statistics of an uninterrupted run (in-batch with logQ, mixed
// negatives, pointwise); a mismatched model or trainer, or a corrupted estimator state, is an error.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ctrnet/io/architecture_two_tower.hpp"
#include "ctrnet/io/two_tower_checkpoint.hpp"
#include "io_test_util.hpp"

using namespace ctrnet;
using namespace ctrnet::io_test;

namespace {

Field field(const char* name, FieldKind kind, index_t vocab, const char* tower, const char* table = "") {
  Field f;
  f.name = name;
  f.kind = kind;
  f.vocab_size = vocab;
  f.tower = tower;
  f.table = table;
  if (kind == FieldKind::multi_hot) f.pooling = Pooling::mean;
  return f;
}
Field dense(const char* name, const char* tower) {
  Field f;
  f.name = name;
  f.tower = tower;
  return f;
}
// Dense and categorical fields in both towers; the item table is shared.
Schema mixed_schema() {
  Schema s;
  s.add(dense("q_x", "query"))
      .add(field("user", FieldKind::categorical, 5, "query"))
      .add(field("last_item", FieldKind::categorical, 6, "query", "item"))
      .add(field("item", FieldKind::categorical, 6, "candidate", "item"))
      .add(field("genre", FieldKind::multi_hot, 4, "candidate"))
      .add(dense("c_x", "candidate"));
  return s;
}
Batch mixed_batch(const Schema& s, int n, std::uint64_t seed) {
  Batch b(s);
  Rng rng(seed);
  for (int r = 0; r < n; ++r) {
    const std::vector<float> d{float(rng.normal()), float(rng.normal())};
    const std::vector<FeatureId> user{FeatureId(rng.below(5))}, last{FeatureId(rng.below(6))},
        item{FeatureId(rng.below(6))}, genre{FeatureId(rng.below(4)), FeatureId(rng.below(4))};
    b.add(d, std::vector<std::span<const FeatureId>>{user, last, item, genre}, 1.f);
  }
  return b;
}
// Categorical fields only (Transformer towers), with a sequence field in the query tower.
Schema token_schema() {
  Schema s;
  s.add(field("user", FieldKind::categorical, 4, "query"))
      .add(field("history", FieldKind::sequence, 7, "query", "item"))
      .add(field("item", FieldKind::categorical, 7, "candidate", "item"))
      .add(field("genre", FieldKind::multi_hot, 4, "candidate"));
  return s;
}
Batch token_batch(const Schema& s, int n, std::uint64_t seed) {
  Batch b(s);
  Rng rng(seed);
  for (int r = 0; r < n; ++r) {
    std::vector<FeatureId> hist(rng.below(6));  // 0 .. 5 ids, max_len 3 keeps the last 3
    for (auto& h : hist) h = FeatureId(rng.below(7));
    const std::vector<FeatureId> user{FeatureId(rng.below(4))}, item{FeatureId(rng.below(7))},
        genre{FeatureId(rng.below(4))};
    b.add({}, std::vector<std::span<const FeatureId>>{user, hist, item, genre}, 1.f);
  }
  return b;
}

template <class M>
Matrix<float> encode(const M& m, const Batch& b, bool queries) {
  Matrix<float> out(b.size(), m.dim());
  if (queries) {
    typename M::QueryCache c;
    m.encode_queries(cpu_scalar{}, b.view(), out.view(), c);
  } else {
    typename M::CandidateCache c;
    m.encode_candidates(cpu_scalar{}, b.view(), out.view(), c);
  }
  return out;
}

template <class M>
nlohmann::json options_json(const M& m) {
  return nlohmann::json(ArchitectureTraits<M>::options(m));
}

template <class M>
bool same_tables(const M& a, const M& b) {
  if (a.params().tables.size() != b.params().tables.size()) return false;
  for (std::size_t t = 0; t < a.params().tables.size(); ++t)
    if (!bit_identical(a.params().tables[t], b.params().tables[t])) return false;
  return true;
}

template <class M>
void check_round_trip(M m, const Batch& b, const std::string& tag) {
  INFO(tag);
  TempDir dir;
  randomize(m, 11);
  const std::string path = dir.file(tag + ".safetensors");
  ModelSaveOptions so;
  so.seed = 5;
  save_model(m, path, so);
  const M loaded = load_model<M>(path);
  CHECK(bit_identical(encode(m, b, true), encode(loaded, b, true)));
  CHECK(bit_identical(encode(m, b, false), encode(loaded, b, false)));
  CHECK(same_dense(m, loaded));
  CHECK(same_tables(m, loaded));
  CHECK(options_json(loaded) == options_json(m));
  CHECK(loaded.similarity().temperature() == m.similarity().temperature());
  const SafetensorsFile f(path);
  CHECK(f.metadata("architecture") == "two_tower");
  CHECK(f.tensors().size() == m.registry().params().size() + m.registry().tables().size());
  // Saving the loaded model again reproduces the file's metadata and tensors.
  save_model(loaded, dir.file("again.safetensors"), so);
  const SafetensorsFile g(dir.file("again.safetensors"));
  CHECK(g.metadata() == f.metadata());
  for (const auto& t : f.tensors()) {
    const auto x = f.bytes(t), y = g.bytes(g.at(t.name));
    CHECK((x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size()) == 0));
  }
}

/// An MLP two-tower model with non-default tower options (explicit fields, initialiser,
/// normalisation, last activation) so that every option is exercised.
TwoTowerMLP custom_mlp() {
  MLPTower::Options q;
  q.name = "query";
  q.fields = {"user", "q_x"};
  q.embedding_dim = 3;
  q.embedding_init = Init::uniform(0.2);
  MLP::Options qm;
  qm.widths = {5, 4};
  qm.activation = Activation::gelu;
  qm.last_activation = Activation::tanh;
  qm.init = Init::glorot_uniform();
  MLPTower::Options c;
  c.name = "candidate";
  c.embedding_dim = 3;
  c.normalize = true;
  c.eps = 1e-9;
  MLP::Options cm;
  cm.widths = {4};
  CosineSimilarity::Options so;
  so.temperature = 0.07;
  so.eps = 1e-10;
  return TwoTowerMLP(MLPTower(q, MLP(qm)), MLPTower(c, MLP(cm)), CosineSimilarity(so));
}

TwoTowerCrossOptions small_cross() {
  TwoTowerCrossOptions o;
  o.embedding_dim = 3;
  o.cross_depth = 2;
  o.rank = 2;
  o.query_hidden = {5};
  o.output_dim = 4;
  o.temperature = 0.2;
  o.self_interaction = true;
  return o;
}

TwoTowerTransformerOptions small_transformer() {
  TwoTowerTransformerOptions o;
  o.embedding_dim = 4;
  o.max_len = 3;
  o.blocks = 1;
  o.heads = 2;
  o.ff_hidden = 6;
  o.pooling = TokenPoolingMode::max;
  o.output_dim = 3;
  o.temperature = 0.1;
  return o;
}

}  // namespace

TEST_CASE("two-tower models: save -> load -> encode is bit-identical", "[io][model][two_tower]") {
  const Schema ms = mixed_schema();
  const Batch mb = mixed_batch(ms, 7, 3);
  {
    TwoTowerMLP m = custom_mlp();
    m.build(ms, 2);
    check_round_trip(std::move(m), mb, "two_tower_mlp");
  }
  {
    TwoTowerOptions o;
    o.embedding_dim = 3;
    o.query_hidden = {6};
    o.output_dim = 4;
    o.temperature = 0.5;
    o.normalize = true;
    check_round_trip(make_two_tower_dot_mlp(ms, o, 4), mb, "two_tower_dot_mlp");
  }
  check_round_trip(make_two_tower_cross(ms, small_cross(), 5), mb, "two_tower_cross");
  const Schema ts = token_schema();
  check_round_trip(make_two_tower_transformer(ts, small_transformer(), 6), token_batch(ts, 9, 4),
                   "two_tower_transformer");
}

TEST_CASE("two-tower options JSON holds every tower option", "[io][model][two_tower]") {
  TempDir dir;
  TwoTowerMLP m = custom_mlp();
  m.build(mixed_schema(), 2);
  save_model(m, dir.file("m.safetensors"));
  const SafetensorsFile f(dir.file("m.safetensors"));
  const auto o = nlohmann::json::parse(f.metadata("options"));
  CHECK(o.at("query").at("kind") == "mlp");
  CHECK(o.at("query").at("fields") == nlohmann::json({"user", "q_x"}));
  CHECK(o.at("query").at("embedding_init").at("kind") == "uniform");
  CHECK(o.at("query").at("body").at("widths") == nlohmann::json({5, 4}));
  CHECK(o.at("query").at("body").at("last_activation") == "tanh");
  CHECK(o.at("candidate").at("normalize") == true);
  CHECK(o.at("candidate").at("body").at("last_activation").is_null());
  CHECK(o.at("similarity") == nlohmann::json({{"kind", "cosine"}, {"temperature", 0.07}, {"eps", 1e-10}}));
  using S = std::vector<std::int64_t>;
  CHECK(f.at("query.0.weight").shape == S{5, 1 + 3});  // q_x + user (dim 3)
  CHECK(f.at("query.0.bias").shape == S{5});
  CHECK(f.at("candidate.0.weight").shape == S{4, 1 + 3 + 3});  // c_x + item + genre
  CHECK(f.at("embedding.item").shape == S{6, 3});
  const auto loaded = load_model<TwoTowerMLP>(dir.file("m.safetensors"));
  CHECK(loaded.query_tower().options().fields == std::vector<std::string>{"user", "q_x"});
  CHECK(loaded.query_tower().options().embedding_init.kind == InitKind::uniform);
  CHECK(loaded.query_tower().body().options().last_activation == Activation::tanh);
  CHECK(loaded.candidate_tower().options().eps == 1e-9);
  CHECK(loaded.similarity().options().eps == 1e-10);
}

TEST_CASE("two-tower loading names the mismatch", "[io][model][two_tower]") {
  TempDir dir;
  const Schema ms = mixed_schema();
  const auto cross = make_two_tower_cross(ms, small_cross(), 1);
  save_model(cross, dir.file("cross.safetensors"));
  CHECK_THROWS_WITH(load_model<TwoTowerMLP>(dir.file("cross.safetensors")),
                    Catch::Contains("'query': the file holds a 'cross' tower, the model type has a 'mlp' tower"));
  const auto dcn = make_dcn(small_schema(), small_dcn(), 1);
  save_model(dcn, dir.file("dcn.safetensors"));
  CHECK_THROWS_WITH(load_model<TwoTowerMLP>(dir.file("dcn.safetensors")),
                    Catch::Contains("holds a 'dcn' model, expected 'two_tower'"));

  TwoTowerMLP m = custom_mlp();
  m.build(ms, 1);
  detail::StagedTensors scratch;
  const auto tensors = detail::model_tensors(m, false, scratch);
  const auto md = detail::model_metadata(m, {}, "ctrnet.model");
  const auto oj = nlohmann::json::parse(md.at("options"));
  auto with_options = [&](const std::string& name, const nlohmann::json& o) {
    auto bad = md;
    bad["options"] = o.dump();
    write_safetensors(dir.file(name), tensors, bad);
    return dir.file(name);
  };
  auto o = oj;
  o["similarity"]["kind"] = "dot";
  CHECK_THROWS_WITH(load_model<TwoTowerMLP>(with_options("dot.safetensors", o)),
                    Catch::Contains("the file holds a 'dot' similarity, the model type uses 'cosine'"));
  o = oj;
  o["similarity"]["temperature"] = -1.0;
  CHECK_THROWS_WITH(load_model<TwoTowerMLP>(with_options("temp.safetensors", o)),
                    Catch::Contains("temperature must be positive"));
  o = oj;
  o["candidate"]["extra"] = 1;
  CHECK_THROWS_WITH(load_model<TwoTowerMLP>(with_options("extra.safetensors", o)),
                    Catch::Contains("'candidate': unknown key 'extra'"));
  o = oj;
  o["query"]["body"]["widths"] = {1000000000};
  CHECK_THROWS_WITH(load_model<TwoTowerMLP>(with_options("huge.safetensors", o)),
                    Catch::Contains("an MLP width = 1000000000 is negative or larger than"));
  o = oj;
  o["query"]["body"].erase("activation");
  CHECK_THROWS_WITH(load_model<TwoTowerMLP>(with_options("noact.safetensors", o)),
                    Catch::Contains("missing key 'activation'"));
  o = oj;
  o["query"]["body"]["widths"] = {7, 4};  // consistent JSON, but the file's tensors are [5, 4]-wide
  CHECK_THROWS_WITH(load_model<TwoTowerMLP>(with_options("wider.safetensors", o)),
                    Catch::Contains("tensor 'query.0.weight' has shape [5, 4], the model expects [7, 4]"));
  auto bad = md;
  bad["options"] = "{\"query\": ";
  write_safetensors(dir.file("badjson.safetensors"), tensors, bad);
  CHECK_THROWS_WITH(load_model<TwoTowerMLP>(dir.file("badjson.safetensors")),
                    Catch::Contains("'options' is not valid JSON"));

  auto missing = tensors;
  missing.erase(std::find_if(missing.begin(), missing.end(), [](const auto& t) { return t.name == "candidate.0.bias"; }));
  write_safetensors(dir.file("missing.safetensors"), missing, md);
  CHECK_THROWS_WITH(load_model<TwoTowerMLP>(dir.file("missing.safetensors")),
                    Catch::Contains("missing tensor 'candidate.0.bias' ([4])"));
  TwoTowerMLP target = custom_mlp();
  target.build(ms, 3);
  CHECK_THROWS_WITH(load_model_params(target, dir.file("cross.safetensors")),
                    Catch::Contains("the file holds a 'cross' tower, the model type has a 'mlp' tower"));
  CHECK_THROWS_WITH(load_model_params(target, dir.file("missing.safetensors")),
                    Catch::Contains("missing tensor 'candidate.0.bias'"));
  load_model_params(target, with_options("same.safetensors", oj));
  CHECK(same_dense(m, target));
}

namespace {

// 30 users, 40 items in 4 genres; each user likes items of "its" genre. Both tables hold every
// field (the other side's left empty / 0).
RetrievalData resume_data(Interactions& train) {
  RetrievalData d;
  d.schema.add(field("user", FieldKind::categorical, 30, "query"))
      .add(dense("q_x", "query"))
      .add(field("item", FieldKind::categorical, 40, "candidate"))
      .add(field("genre", FieldKind::multi_hot, 4, "candidate"));
  Batch q(d.schema), it(d.schema);
  Rng rng(17);
  for (index_t u = 0; u < 30; ++u) {
    const std::vector<FeatureId> user{FeatureId(u)};
    q.add(std::vector<float>{float(rng.normal())}, std::vector<std::span<const FeatureId>>{user, {}, {}}, 1.f);
  }
  for (index_t i = 0; i < 40; ++i) {
    const std::vector<FeatureId> item{FeatureId(i)}, genre{FeatureId(i % 4)};
    it.add(std::vector<float>{0.f}, std::vector<std::span<const FeatureId>>{{}, item, genre}, 1.f);
  }
  d.queries = InMemoryDataset(d.schema, std::move(q));
  d.items = InMemoryDataset(d.schema, std::move(it));
  for (int k = 0; k < 200; ++k) {
    const auto u = static_cast<index_t>(rng.below(30));
    train.add(u, static_cast<index_t>((u % 4) + 4 * static_cast<index_t>(rng.below(10))));
  }
  return d;
}

TwoTowerMLP resume_model(const Schema& s, std::uint64_t seed, index_t out = 4) {
  TwoTowerOptions o;
  o.embedding_dim = 4;
  o.query_hidden = {8};
  o.output_dim = out;
  o.dropout = 0.1;  // masks keyed by (seed, step, layer, row)
  o.temperature = 0.2;
  return make_two_tower_mlp(s, o, seed);
}

TwoTowerTrainerOptions resume_options(RetrievalObjective obj) {
  TwoTowerTrainerOptions o;
  o.objective = obj;
  o.epochs = 3;
  o.batch_size = 16;  // 13 batches per epoch, the last one of 8 pairs
  o.shards = 2;
  o.threads = 2;
  o.seed = 7;
  o.mixed_negatives = 8;
  o.pointwise_negatives = 2;
  o.frequency.buckets = 64;  // a few collisions among 40 items
  o.optimizer.kind = DenseKind::adam;
  o.optimizer.lr = 0.01;
  o.embedding_optimizer.kind = SparseKind::rowwise_adagrad;
  o.embedding_optimizer.lr = 0.1;
  o.schedule.decay = DecayKind::linear;
  o.schedule.decay_steps = 39;
  o.progress = ProgressMode::never;
  return o;
}

bool same_optimizer(ModelOptimizer<float>& a, ModelOptimizer<float>& b) {
  auto sa = a.state(), sb = b.state();
  if (sa.size() != sb.size() || a.step_count() != b.step_count()) return false;
  for (std::size_t i = 0; i < sa.size(); ++i)
    if (sa[i].name != sb[i].name || sa[i].values.size() != sb[i].values.size() ||
        std::memcmp(sa[i].values.data(), sb[i].values.data(), sa[i].values.size() * sizeof(float)) != 0)
      return false;
  return true;
}

bool same_estimator(const FrequencyEstimator& a, const FrequencyEstimator& b) {
  return a.steps() == b.steps() && a.last_seen() == b.last_seen() &&
         std::memcmp(a.gaps().data(), b.gaps().data(), a.gaps().size() * sizeof(double)) == 0;
}

// Uninterrupted vs interrupted at `stop` (checkpoints every `every` steps) + resumed in a fresh
// model and trainer (other init seed, other thread count: everything comes from the file).
void check_two_tower_resume(RetrievalObjective obj, std::int64_t stop, std::int64_t every) {
  INFO(to_string(obj) << ", stop at step " << stop << ", checkpoint every " << every);
  Interactions train;
  const RetrievalData d = resume_data(train);
  const TwoTowerTrainerOptions to = resume_options(obj);

  TwoTowerMLP full = resume_model(d.schema, 3);
  TwoTowerTrainer<TwoTowerMLP> a(full, to);
  const TwoTowerFitResult ra = a.fit(d, train);
  REQUIRE_FALSE(ra.interrupted);
  REQUIRE(ra.size() == 3);
  CHECK(a.step() == 39);

  TempDir dir;
  const std::string path = dir.file("tt.ckpt");
  TwoTowerMLP first = resume_model(d.schema, 3);
  TwoTowerTrainerOptions cut = to;
  cut.max_steps = stop;
  cut.checkpoint_every = every;
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  int written = 0;
  TwoTowerTrainer<TwoTowerMLP>* bp = nullptr;
  cut.on_checkpoint = [&](const TrainingPosition& p) {
    CHECK(seen.insert({p.epoch, p.batch}).second);  // never twice for one position
    save_checkpoint(path, *bp, p);
    ++written;
  };
  TwoTowerTrainer<TwoTowerMLP> b(first, cut);
  bp = &b;
  const TwoTowerFitResult rb = b.fit(d, train);
  REQUIRE(rb.interrupted);
  CHECK(rb.position.step == stop);
  CHECK(written >= 1);

  TwoTowerMLP resumed = resume_model(d.schema, 99);
  TwoTowerTrainerOptions again = to;
  again.threads = 1;
  TwoTowerTrainer<TwoTowerMLP> c(resumed, again);
  const TrainingPosition pos = load_checkpoint(path, c);
  CHECK(pos.step == stop);
  CHECK(c.step() == stop);
  CHECK(same_estimator(b.frequency_estimator(), c.frequency_estimator()));
  const TwoTowerFitResult rc = c.fit(d, train, &pos);
  CHECK_FALSE(rc.interrupted);
  CHECK(c.step() == a.step());
  CHECK(same_dense(full, resumed));
  CHECK(same_tables(full, resumed));
  CHECK(same_optimizer(a.optimizer(), c.optimizer()));
  CHECK(same_estimator(a.frequency_estimator(), c.frequency_estimator()));
  if (obj != RetrievalObjective::pointwise) CHECK(c.frequency_estimator().steps() == 39);
  REQUIRE(rc.size() == ra.size());
  for (std::size_t e = 0; e < ra.size(); ++e) {
    CHECK(rc[e].epoch == ra[e].epoch);
    CHECK(rc[e].train_loss == ra[e].train_loss);
  }
}

}  // namespace

TEST_CASE("two-tower training resumes from a checkpoint bit for bit", "[io][checkpoint][two_tower]") {
  SECTION("in-batch + logQ, mid-epoch (checkpoint every 5 steps)") {
    check_two_tower_resume(RetrievalObjective::in_batch, 20, 5);
  }
  SECTION("mixed negatives, mid-epoch (checkpoint only where it stops)") {
    check_two_tower_resume(RetrievalObjective::mixed, 17, 0);
  }
  SECTION("mixed negatives, at an epoch's end") { check_two_tower_resume(RetrievalObjective::mixed, 26, 4); }
  SECTION("pointwise, mid-epoch") { check_two_tower_resume(RetrievalObjective::pointwise, 8, 3); }
}

TEST_CASE("two-tower checkpoints: mismatches and corruption are errors", "[io][checkpoint][two_tower][errors]") {
  Interactions train;
  const RetrievalData d = resume_data(train);
  TwoTowerTrainerOptions to = resume_options(RetrievalObjective::in_batch);
  to.max_steps = 6;
  TempDir dir;
  const std::string path = dir.file("tt.ckpt");
  TwoTowerMLP m = resume_model(d.schema, 3);
  TwoTowerTrainer<TwoTowerMLP> t(m, to);
  const TwoTowerFitResult r = t.fit(d, train);
  REQUIRE(r.interrupted);
  save_checkpoint(path, t, r.position);
  to.max_steps = 0;

  auto load_into = [&](TwoTowerMLP& model, const TwoTowerTrainerOptions& o, const std::string& file) {
    TwoTowerTrainer<TwoTowerMLP> fresh(model, o);
    return load_checkpoint(file, fresh);
  };
  SECTION("a clean load works") {
    TwoTowerMLP m2 = resume_model(d.schema, 5);
    CHECK(load_into(m2, to, path).step == 6);
  }
  SECTION("another model shape") {
    TwoTowerMLP wide = resume_model(d.schema, 5, 6);
    CHECK_THROWS_WITH(load_into(wide, to, path), Catch::Contains(path) && Catch::Contains("differ from the model"));
  }
  SECTION("other trainer options") {
    TwoTowerMLP m2 = resume_model(d.schema, 5);
    TwoTowerTrainerOptions o = to;
    o.objective = RetrievalObjective::mixed;
    CHECK_THROWS_WITH(load_into(m2, o, path), Catch::Contains("written by a trainer with objective = \"in-batch\""));
    o = to;
    o.frequency.buckets = 128;
    CHECK_THROWS_WITH(load_into(m2, o, path), Catch::Contains("frequency_options"));
    o = to;
    o.logq_correction = false;
    CHECK_THROWS_WITH(load_into(m2, o, path), Catch::Contains("logq_correction"));
  }
  SECTION("a NaN gap in the estimator") {
    patch_tensor<double>(path, "trainer.frequency.gap", 3, std::numeric_limits<double>::quiet_NaN());
    TwoTowerMLP m2 = resume_model(d.schema, 5);
    CHECK_THROWS_WITH(load_into(m2, to, path), Catch::Contains(path) && Catch::Contains("frequency-estimator") &&
                                                   Catch::Contains("bucket 3"));
  }
  SECTION("a last-seen step beyond the step count") {
    patch_tensor<std::int64_t>(path, "trainer.frequency.last", 0, 1000);
    TwoTowerMLP m2 = resume_model(d.schema, 5);
    CHECK_THROWS_WITH(load_into(m2, to, path), Catch::Contains("bucket 0 was last seen at step 1000"));
  }
  SECTION("an estimator step count that is not the position's") {
    patch_text(path, R"({\"steps\":6})", R"({\"steps\":7})");  // escaped inside the JSON header
    TwoTowerMLP m2 = resume_model(d.schema, 5);
    CHECK_THROWS_WITH(load_into(m2, to, path), Catch::Contains("frequency estimator has seen 7 steps"));
  }
  SECTION("a model file or a Trainer-free checkpoint is refused") {
    save_model(m, dir.file("model.safetensors"));
    TwoTowerMLP m2 = resume_model(d.schema, 5);
    CHECK_THROWS_WITH(load_into(m2, to, dir.file("model.safetensors")), Catch::Contains("not a checkpoint"));
    save_checkpoint(dir.file("plain.ckpt"), m, t.optimizer(), r.position);
    CHECK_THROWS_WITH(load_into(m2, to, dir.file("plain.ckpt")), Catch::Contains("not a TwoTowerTrainer checkpoint"));
  }
  SECTION("a position of another run") {
    TwoTowerMLP m2 = resume_model(d.schema, 5);
    TwoTowerTrainer<TwoTowerMLP> fresh(m2, to);
    TrainingPosition pos = load_checkpoint(path, fresh);
    Interactions fewer = train;
    fewer.query.pop_back();
    fewer.item.pop_back();
    CHECK_THROWS_WITH(fresh.fit(d, fewer, &pos), Catch::Contains("trained on 200 examples"));
    TwoTowerMLP m3 = resume_model(d.schema, 5);
    TwoTowerTrainer<TwoTowerMLP> unrestored(m3, to);
    CHECK_THROWS_WITH(unrestored.fit(d, train, &pos), Catch::Contains("the position is at step 6"));
  }
}

namespace {
std::vector<nlohmann::json> json_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}
}  // namespace

TEST_CASE("two-tower fit validates every epoch, logs JSON lines, stops early and resumes with its best epoch",
          "[io][checkpoint][two_tower][early_stopping]") {
  Interactions train;
  const RetrievalData d = resume_data(train);
  RetrievalValidation valid;
  valid.relevant = item_lists(d.num_queries(), {&train});
  valid.k = 5;
  TwoTowerTrainerOptions to = resume_options(RetrievalObjective::in_batch);
  to.epochs = 8;
  to.patience = 2;
  to.early_stopping_metric = "ndcg";
  to.optimizer.lr = 0.05;  // fast enough that the validation metric peaks within the epochs
  TempDir dir;

  TwoTowerMLP full = resume_model(d.schema, 3);
  TwoTowerTrainerOptions fo = to;
  fo.log_path = dir.file("full.jsonl");
  int epochs_seen = 0;
  fo.on_epoch = [&](const EpochStats& st) {
    CHECK(st.epoch == ++epochs_seen);
    CHECK(std::isfinite(st.valid_metric("ndcg@5")));
  };
  TwoTowerTrainer<TwoTowerMLP> a(full, fo);
  const TwoTowerFitResult ra = a.fit(d, train, valid);
  REQUIRE_FALSE(ra.interrupted);
  REQUIRE(ra.size() >= 1);
  CHECK(static_cast<int>(ra.size()) == epochs_seen);
  // The best epoch has the largest NDCG@5; an early stop came `patience` epochs after it.
  std::size_t best = 0;
  for (std::size_t e = 0; e < ra.size(); ++e) {
    REQUIRE(ra[e].valid_metrics.size() == 5);
    CHECK(ra[e].valid_metrics[1].first == "ndcg@5");
    if (ra[e].valid_metrics[1].second > ra[best].valid_metrics[1].second) best = e;
  }
  CHECK(ra.best_epoch == static_cast<int>(best) + 1);
  if (ra.stopped_early) CHECK(ra.size() == best + 1 + 2);
  else CHECK(ra.size() == 8);
  INFO("epochs " << ra.size() << ", best " << ra.best_epoch << ", stopped early " << ra.stopped_early);
  // The model kept is the best epoch's: its validation gives the best epoch's metrics again.
  const RankingResult again = a.evaluate(d, valid.relevant, valid.seen, valid.k);
  CHECK(again.ndcg == ra[best].valid_metrics[1].second);
  CHECK(again.recall == ra[best].valid_metrics[0].second);
  // One JSON object per epoch, with the validation's metrics.
  const auto lines = json_lines(dir.file("full.jsonl"));
  REQUIRE(lines.size() == ra.size());
  for (std::size_t e = 0; e < lines.size(); ++e) {
    CHECK(lines[e].at("epoch") == static_cast<int>(e) + 1);
    CHECK(lines[e].at("valid_ndcg@5").get<double>() == ra[e].valid_metrics[1].second);
    CHECK(lines[e].at("valid_recall@5").get<double>() == ra[e].valid_metrics[0].second);
  }

  // Interrupted after the first validated epochs (a best copy is held), resumed in a fresh trainer.
  const std::string path = dir.file("tt.ckpt");
  TwoTowerMLP first = resume_model(d.schema, 3);
  TwoTowerTrainerOptions cut = to;
  cut.log_path = dir.file("cut.jsonl");
  cut.max_steps = 13 * 2 + 5;
  cut.checkpoint_every = 5;
  TwoTowerTrainer<TwoTowerMLP>* bp = nullptr;
  cut.on_checkpoint = [&](const TrainingPosition& p) { save_checkpoint(path, *bp, p); };
  TwoTowerTrainer<TwoTowerMLP> b(first, cut);
  bp = &b;
  const TwoTowerFitResult rb = b.fit(d, train, valid);
  REQUIRE(rb.interrupted);
  CHECK(b.best_params().has_value());

  TwoTowerMLP resumed = resume_model(d.schema, 99);
  TwoTowerTrainerOptions again_opt = to;
  again_opt.log_path = dir.file("cut.jsonl");  // continued
  again_opt.threads = 1;
  TwoTowerTrainer<TwoTowerMLP> c(resumed, again_opt);
  const TrainingPosition pos = load_checkpoint(path, c);
  CHECK(c.best_params().has_value());
  const TwoTowerFitResult rc = c.fit(d, train, valid, &pos);
  CHECK_FALSE(rc.interrupted);
  CHECK(rc.best_epoch == ra.best_epoch);
  CHECK(rc.stopped_early == ra.stopped_early);
  REQUIRE(rc.size() == ra.size());
  for (std::size_t e = 0; e < ra.size(); ++e) {
    CHECK(rc[e].train_loss == ra[e].train_loss);
    CHECK(rc[e].valid_metrics == ra[e].valid_metrics);
  }
  CHECK(same_dense(full, resumed));
  CHECK(same_tables(full, resumed));
  CHECK(json_lines(dir.file("cut.jsonl")).size() == ra.size());

  SECTION("a resume without the best copy is refused") {
    TwoTowerMLP other = resume_model(d.schema, 5);
    TwoTowerTrainer<TwoTowerMLP> t(other, to);
    t.set_step(pos.step);
    CHECK_THROWS_WITH(t.fit(d, train, valid, &pos), Catch::Contains("kept a copy of its best epoch's parameters"));
  }
  SECTION("patience without a validation, and a resume with other early-stopping options, are refused") {
    TwoTowerMLP other = resume_model(d.schema, 5);
    TwoTowerTrainer<TwoTowerMLP> t(other, to);
    CHECK_THROWS_WITH(t.fit(d, train), Catch::Contains("patience = 2 needs a validation"));
    TwoTowerTrainerOptions more = to;
    more.patience = 3;
    TwoTowerTrainer<TwoTowerMLP> u(other, more);
    CHECK_THROWS_WITH(load_checkpoint(path, u), Catch::Contains("written by a trainer with patience = 2"));
  }
  SECTION("an unknown early-stopping metric is refused") {
    TwoTowerMLP other = resume_model(d.schema, 5);
    TwoTowerTrainerOptions bad = to;
    bad.early_stopping_metric = "auc";
    CHECK_THROWS_WITH(TwoTowerTrainer<TwoTowerMLP>(other, bad), Catch::Contains("early_stopping_metric must be recall"));
  }
}
