// Strict JSON (io/json_strict.hpp) for every JSON ctrnet reads: the schema JSON
// (data/schema_json.hpp) and the model metadata the loaders parse (io/model_io.hpp). A repeated
// key, an unknown key, a float where an integer is expected, a negative size or a string where a
// number is expected is a ctrnet::Error naming the source, the JSON path and what was expected;
// what the library writes loads back. (The delimited-file schema and the preprocessing JSON are
// tested in test_reader_delimited.cpp and test_preprocess.cpp.)
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "ctrnet/data/schema_json.hpp"
#include "ctrnet/io/json_strict.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "reader_test_util.hpp"

using namespace ctrnet;
using ctrnet::test::TempDir;

namespace {

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

Schema three_fields() {
  Schema s;
  s.add_dense("price");
  s.add_categorical("user", 10, 4);
  s.add_hashed("ad", 32, 7);
  return s;
}

}  // namespace

TEST_CASE("parse_json_strict rejects repeated keys and bad syntax, naming the source and the JSON path",
          "[json][schema]") {
  CHECK(parse_json_strict(R"({"a": [1, {"b": 2, "c": 3}], "d": {"b": 1}})", "x.json")["a"][1]["c"] == 3);
  CHECK_THAT(error_of([] { parse_json_strict(R"({"a": [1, {"b": 2, "b": 3}]})", "x.json"); }),
             Catch::Contains("x.json: duplicate key 'b' in a[1]") && Catch::Contains("a[1].b"));
  CHECK_THAT(error_of([] { parse_json_strict(R"([{"n": 1}, {"n": 1, "m": [], "n": 2}])", "y.json"); }),
             Catch::Contains("y.json: duplicate key 'n' in [1]"));
  CHECK_THAT(error_of([] { parse_json_strict(R"({"k": 1, "k": 1})", "z.json"); }),
             Catch::Contains("z.json: duplicate key 'k'") && Catch::Contains("path of the repeated key is k"));
  CHECK_THAT(error_of([] { parse_json_strict(R"({"k": 1,})", "w.json"); }), Catch::Contains("w.json: not valid JSON"));
  CHECK_THAT(error_of([] { parse_json_strict(R"({"k": 1} 2)", "v.json"); }), Catch::Contains("v.json: not valid JSON"));
}

TEST_CASE("Schema JSON is strict: floats, negative sizes, wrong types, unknown and repeated keys",
          "[json][schema]") {
  const Schema s = three_fields();
  const std::string text = schema_to_json(s).dump();
  // What the library writes loads back, from text and from a file.
  CHECK(schema_to_json(schema_from_json_text(text, "s.json")) == schema_to_json(s));
  TempDir dir("schema_json");
  const std::string path = dir.write("schema.json", schema_to_json(s).dump(2));
  CHECK(schema_to_json(schema_from_json_file(path)) == schema_to_json(s));

  auto edited = [&](auto edit) {
    nlohmann::json j = schema_to_json(s);
    edit(j);
    return error_of([&] { schema_from_json_text(j.dump(), "s.json"); });
  };
  // Before: 1.5 was rejected but without the field's position; -3 passed as a size.
  CHECK_THAT(edited([](nlohmann::json& j) { j[2]["hash_buckets"] = 1.5; }),
             Catch::Contains("s.json: [2]: key 'hash_buckets' must be an integer in range, got 1.5 (expected an integer in [0, 9223372036854775807])"));
  CHECK_THAT(edited([](nlohmann::json& j) { j[1]["vocab_size"] = -3; }),
             Catch::Contains("s.json: [1]: key 'vocab_size' must be an integer in range, got -3 (expected an integer in [0, 9223372036854775807])"));
  CHECK_THAT(edited([](nlohmann::json& j) { j[1]["embedding_dim"] = "4"; }),
             Catch::Contains("s.json: [1]: key 'embedding_dim' must be an integer in range, got \"4\" (expected an integer in [0, 9223372036854775807])"));
  CHECK_THAT(edited([](nlohmann::json& j) { j[0]["name"] = 5; }),
             Catch::Contains("s.json: [0]: key 'name' must be a string, got 5"));
  CHECK_THAT(edited([](nlohmann::json& j) { j[1]["vocab"] = 10; }),
             Catch::Contains("s.json: [1]: unknown key 'vocab' (expected keys: name, kind"));
  CHECK_THAT(edited([](nlohmann::json& j) { j[1].erase("tower"); }), Catch::Contains("s.json: [1]: missing key 'tower'"));
  CHECK_THAT(edited([](nlohmann::json& j) { j[1]["kind"] = "categorial"; }),
             Catch::Contains("s.json: [1]: key 'kind': unknown field kind 'categorial'"));
  CHECK_THAT(edited([](nlohmann::json& j) { j[1]["hash_buckets"] = 8; }),
             Catch::Contains("s.json: [1]: schema: categorical field 'user' needs exactly one of vocab_size or hash_buckets"));
  // A repeated key: before, the last one silently won.
  std::string dup = text;
  dup.insert(dup.find("\"hash_buckets\":32"), "\"hash_buckets\":1,");
  CHECK_THAT(error_of([&] { schema_from_json_text(dup, "s.json"); }),
             Catch::Contains("s.json: duplicate key 'hash_buckets' in [2]") && Catch::Contains("[2].hash_buckets"));
  const std::string dup_path = dir.write("dup.json", dup);
  CHECK_THAT(error_of([&] { schema_from_json_file(dup_path); }), Catch::Contains(dup_path + ": duplicate key"));
  CHECK_THAT(error_of([&] { schema_from_json_file(dir.file("none.json")); }), Catch::Contains("cannot open JSON file"));
}

TEST_CASE("Model metadata JSON is strict: repeated keys and bad schema values name the file and the entry",
          "[json][model]") {
  TempDir dir("metadata_json");
  const Schema s = three_fields();
  const auto m = make_logistic_regression(s, {}, 1);
  const std::string good = dir.file("lr.safetensors");
  save_model(m, good);
  CHECK(schema_to_json(load_model<LogisticRegression>(good).schema()) == schema_to_json(s));  // round trip

  detail::StagedTensors scratch;
  const auto tensors = detail::model_tensors(m, false, scratch);
  const auto md = detail::model_metadata(m, {}, "ctrnet.model");
  auto with = [&](const std::string& name, const std::string& key, const std::string& value) {
    auto bad = md;
    bad[key] = value;
    write_safetensors(dir.file(name), tensors, bad);
    return dir.file(name);
  };
  std::string opts = md.at("options");  // {"cross_buckets":...,"crosses":[],"dense":true}
  opts.insert(1, "\"dense\":false,");
  const std::string p1 = with("dup_options.safetensors", "options", opts);
  CHECK_THAT(error_of([&] { load_model<LogisticRegression>(p1); }),
             Catch::Contains(p1 + ": __metadata__ 'options': duplicate key 'dense'"));
  auto target = make_logistic_regression(s, {}, 1);

  nlohmann::json sj = nlohmann::json::parse(md.at("schema"));
  sj[2]["hash_buckets"] = 32.0;
  const std::string p2 = with("float_schema.safetensors", "schema", sj.dump());
  CHECK_THAT(error_of([&] { load_model<LogisticRegression>(p2); }),
             Catch::Contains(p2 + ": __metadata__ 'schema': [2]: key 'hash_buckets' must be an integer in range, got 32.0 (expected an integer in [0, 9223372036854775807])"));
  CHECK_THAT(error_of([&] { load_model_params(target, p2); }),
             Catch::Contains(p2 + ": __metadata__ 'schema': [2]: key 'hash_buckets'"));

  std::string sdup = md.at("schema");
  sdup.insert(sdup.find("\"vocab_size\""), "\"vocab_size\":99,");
  const std::string p3 = with("dup_schema.safetensors", "schema", sdup);
  CHECK_THAT(error_of([&] { load_model<LogisticRegression>(p3); }),
             Catch::Contains(p3 + ": __metadata__ 'schema': duplicate key 'vocab_size' in [0]"));
  CHECK_THAT(error_of([&] { load_model_params(target, p3); }), Catch::Contains("duplicate key 'vocab_size' in [0]"));

  auto oj = nlohmann::json::parse(md.at("options"));
  oj["cross_buckets"] = -5;
  const std::string p4 = with("neg_options.safetensors", "options", oj.dump());
  CHECK_THAT(error_of([&] { load_model<LogisticRegression>(p4); }),
             Catch::Contains("key 'cross_buckets' must be an integer in range, got -5 (expected an integer in [0, 9223372036854775807])"));
}
