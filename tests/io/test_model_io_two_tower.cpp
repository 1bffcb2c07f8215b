// save_model / load_model of the two-tower models (io/architecture_two_tower.hpp): for MLP, cross
// and Transformer towers and both similarities, save → load → encode_queries / encode_candidates is
// bit-identical and the rebuilt model's options equal the saved one's; a file of other tower kinds,
// another similarity, a missing tensor or corrupted options is a ctrnet::Error naming it.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "ctrnet/io/architecture_two_tower.hpp"
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
  std::vector<std::vector<std::uint16_t>> scratch;
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
