// Tests for ctrnet/data/readers/delimited.hpp: the JSON schema format (round trip, errors),
// schemas from a header, RFC 4180 quoting, every column role, missing tokens, header detection,
// comments, CRLF, a 10 MB field, malformed lines (error and skip), thread-count independence,
// the shipped Avazu and Adult schemas on the shared data, and the fuzz corpus.
#include "ctrnet/data/readers/delimited.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "reader_test_util.hpp"

using namespace ctrnet;
using ctrnet::test::TempDir;
using nlohmann::json;

namespace {

std::string example_schema(const std::string& name) {
  return (std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "examples" / "schemas" / name).string();
}

// label, price (dense), city (categorical), tags (multi_hot '|'), user (integer ids), w (weight), note (ignore)
DelimitedSchema shop_schema() {
  const json j = json::parse(R"({
    "delimiter": ",", "header": "detect", "missing": ["", "NA"], "hash_buckets": 1000,
    "columns": [
      {"name": "label", "role": "label"},
      {"name": "price", "role": "dense"},
      {"name": "city", "role": "categorical", "hash_buckets": 50, "embedding_dim": 8},
      {"name": "tags", "role": "multi_hot", "separator": "|", "pooling": "mean"},
      {"name": "user", "role": "categorical", "ids": "integer"},
      {"name": "w", "role": "weight"},
      {"name": "note", "role": "ignore"}
    ]})");
  return DelimitedSchema::from_json(j);
}

std::vector<FeatureId> ids_of(const Batch& b, std::size_t f, std::size_t r) {
  return {b.ids[f].begin() + b.offsets[f][r], b.ids[f].begin() + b.offsets[f][r + 1]};
}

/// The error message of reading `path`, without the leading "<folder>/" of the full path.
std::string error_of(const std::string& path, const DelimitedSchema& s) {
  try {
    read_delimited(path, s);
  } catch (const Error& e) {
    return ctrnet::test::strip_dir_of(e.what(), path);
  }
  return "no error";
}

}  // namespace

TEST_CASE("Delimited reader gives exact values for every role, quoting and missing tokens", "[readers][delimited]") {
  const std::string text =
      "label,price,city,tags,user,w,note\r\n"
      "1,2.5,Paris,a|b|c,17,0.5,x\r\n"
      "0,NA,\"New York, NY\",,3,1,\"say \"\"hi\"\"\"\n"
      "1,-1e2,\"\",x||y,0,2,\n"
      "0,7,\"a \"\"q\"\" b\",NA,42,1,z";  // no final newline
  TempDir dir("delim");
  const std::string path = dir.write("shop.csv", text);
  const ReadResult r = read_delimited(path, shop_schema());
  REQUIRE(r.dataset.size() == 4);
  CHECK(r.report.blank_lines() == 1);  // the header
  const Schema& s = r.dataset.schema();
  REQUIRE(s.num_dense() == 1);
  REQUIRE(s.num_categorical() == 3);
  CHECK(s.categorical(0).name == "city");
  CHECK(s.categorical(0).hash_buckets == 50);
  CHECK(s.categorical(0).embedding_dim == 8);
  CHECK(s.categorical(1).kind == FieldKind::multi_hot);
  CHECK(s.categorical(1).pooling == Pooling::mean);
  CHECK(s.categorical(1).hash_buckets == 1000);

  const Batch& b = r.dataset.data();
  CHECK(b.labels == std::vector<float>{1, 0, 1, 0});
  CHECK(b.weights == std::vector<float>{0.5f, 1.0f, 2.0f, 1.0f});
  CHECK(b.dense_values == std::vector<float>{2.5f, 0.0f, -100.0f, 7.0f});
  CHECK(b.ids[0] == std::vector<FeatureId>{token_id("Paris"), token_id("New York, NY"), kMissingId, token_id("a \"q\" b")});
  CHECK(ids_of(b, 1, 0) == std::vector<FeatureId>{token_id("a"), token_id("b"), token_id("c")});
  CHECK(ids_of(b, 1, 1) == std::vector<FeatureId>{kMissingId});  // "" is a missing token
  CHECK(ids_of(b, 1, 2) == std::vector<FeatureId>{token_id("x"), token_id("y")});  // empty items skipped
  CHECK(ids_of(b, 1, 3) == std::vector<FeatureId>{kMissingId});
  CHECK(b.ids[2] == std::vector<FeatureId>{17, 3, 0, 42});
  // token_id is FNV-1a 64 with the top bit cleared.
  CHECK(token_id("") == FeatureId(0xcbf29ce484222325ull & 0x7fffffffffffffffull));
  CHECK(token_id("a") == FeatureId(0xaf63dc4c8601ec8cull & 0x7fffffffffffffffull));

  SECTION("dense missing as NaN or with an indicator column") {
    DelimitedSchema sc = shop_schema();
    sc.dense_missing = DenseMissing::indicator;
    const ReadResult ri = read_delimited(path, sc);
    REQUIRE(ri.dataset.schema().num_dense() == 2);
    CHECK(ri.dataset.schema().dense(1).name == "price_missing");
    CHECK(ri.dataset.data().dense_values == std::vector<float>{2.5f, 0, 0, 1, -100, 0, 7, 0});
    sc.dense_missing = DenseMissing::nan;
    CHECK(std::isnan(read_delimited(path, sc).dataset.data().dense_values[1]));
  }
  SECTION("a file without the header line starts with data; HeaderMode::present requires it") {
    const std::string no_header = dir.write("nohdr.csv", "1,1,a,b,1,1,\n0,2,c,d,2,1,\n");
    CHECK(read_delimited(no_header, shop_schema()).dataset.size() == 2);
    DelimitedSchema sc = shop_schema();
    sc.header = HeaderMode::present;
    CHECK(error_of(no_header, sc) == "nohdr.csv:1: column 'header 1': expected the column name 'label', got \"1\"");
    sc.header = HeaderMode::none;
    CHECK(error_of(path, sc) == "shop.csv:1: column 'label': expected a number, got \"label\"");
  }
  SECTION("empty file, blank lines, comments") {
    CHECK(read_delimited(dir.write("empty.csv", ""), shop_schema()).dataset.size() == 0);
    DelimitedSchema sc = shop_schema();
    sc.comment = "#";
    const ReadResult c = read_delimited(dir.write("c.csv", "# note\n\n1,1,a,b,1,1,\n#x,y\n"), sc);
    CHECK(c.dataset.size() == 1);
    CHECK(c.report.blank_lines() == 3);
  }
  SECTION("a 10 MB field is one token") {
    const std::string big(10u << 20, 'q');
    const ReadResult big_r = read_delimited(dir.write("big.csv", "1,1," + big + ",t,5,1,\n0,2,c,d,2,1,\n"), shop_schema());
    REQUIRE(big_r.dataset.size() == 2);
    CHECK(big_r.dataset.data().ids[0][0] == token_id(big));
  }
}

TEST_CASE("Delimited reader reports malformed lines precisely", "[readers][delimited][errors]") {
  TempDir dir("delim_bad");
  const std::string good = "1,2,a,b,3,1,n\n";
  auto err = [&](const std::string& name, const std::string& bad) {
    return error_of(dir.write(name, good + bad + "\n" + good), shop_schema());
  };
  CHECK(err("count.csv", "1,2,a,b,3,1") == "count.csv:2: expected 7 fields separated by ',', found 6, got \"1,2,a,b,3,1\"");
  CHECK(err("dense.csv", "1,2.5x,a,b,3,1,n") ==
        "dense.csv:2: column 'price': expected a number or a missing-value token, got \"2.5x\"");
  CHECK(err("nan.csv", "1,nan,a,b,3,1,n") ==
        "nan.csv:2: column 'price': expected a number or a missing-value token, got \"nan\"");
  CHECK(err("quote.csv", "1,2,\"abc,b,3,1,n") ==
        "quote.csv:2: column 'city': expected a closing quote on the same line (quoted fields cannot span lines), got \"\\\"abc,b,3,1,n\"");
  CHECK(err("after.csv", "1,2,\"ab\"c,b,3,1,n") ==
        "after.csv:2: column 'city': expected the delimiter or the line end after a closing quote, got \"\\\"ab\\\"c,b,3,1,n\"");
  CHECK(err("utf8.csv", "1,2,caf\xc3(,b,3,1,n") ==
        "utf8.csv:2: column 'city': expected UTF-8 text (invalid byte at offset 3), got \"caf\\xc3(\"");
  CHECK(err("utf8_tag.csv", "1,2,a,ok|\xed\xa0\x80,3,1,n") ==
        "utf8_tag.csv:2: column 'tags': expected UTF-8 text (invalid byte at offset 0), got \"\\xed\\xa0\\x80\"");
  CHECK(err("id.csv", "1,2,a,b,-3,1,n") == "id.csv:2: column 'user': expected a non-negative integer id, got \"-3\"");
  CHECK(err("label.csv", "yes,2,a,b,3,1,n") == "label.csv:2: column 'label': expected a number, got \"yes\"");
  CHECK(err("weight.csv", "1,2,a,b,3,-1,n") == "weight.csv:2: column 'w': expected a finite number >= 0, got \"-1\"");

  SECTION("skip policy counts by reason and keeps the good lines intact") {
    ReaderOptions ro;
    ro.bad_lines = BadLines::skip;
    const std::string text = good + "1,x,a,b,3,1,n\n" + "0,5,a,b,3,1,n\r\n" + "1,2\n" + "1,2,\"a,b,3,1,n\n" + "1,6,a,b,3,1,n";
    const ReadResult r = read_delimited(dir.write("skip.csv", text), shop_schema(), ro);
    CHECK(r.dataset.data().dense_values == std::vector<float>{2, 5, 6});
    CHECK(r.dataset.data().labels == std::vector<float>{1, 0, 1});
    CHECK(r.dataset.data().ids[2] == std::vector<FeatureId>{3, 3, 3});
    CHECK(r.report.skipped() == 3);
    CHECK(r.report.count("non-numeric dense value") == 1);
    CHECK(r.report.count("wrong field count") == 1);
    CHECK(r.report.count("unterminated quote") == 1);
  }
}

TEST_CASE("Delimited schemas: JSON round trip, header schemas and schema errors", "[readers][delimited][schema]") {
  const DelimitedSchema s = shop_schema();
  const json j = s.to_json();
  const DelimitedSchema back = DelimitedSchema::from_json(j);
  CHECK(back.to_json() == j);
  CHECK(back.columns[3].separator == '|');
  CHECK(back.columns[4].ids == IdMode::integer);
  CHECK(back.header == HeaderMode::detect);

  const DelimitedSchema h = DelimitedSchema::from_header("id,click,\"site\",price,tags\r", ',', "click", {"price"}, {"id"},
                                                         {{"tags", ';'}});
  REQUIRE(h.columns.size() == 5);
  CHECK(h.columns[0].role == ColumnRole::ignore);
  CHECK(h.columns[1].role == ColumnRole::label);
  CHECK(h.columns[2].name == "site");
  CHECK(h.columns[2].role == ColumnRole::categorical);
  CHECK(h.columns[3].role == ColumnRole::dense);
  CHECK(h.columns[4].role == ColumnRole::multi_hot);
  CHECK(h.columns[4].separator == ';');
  CHECK(h.header == HeaderMode::present);

  auto bad = [](const char* text) {
    try {
      DelimitedSchema::from_json(json::parse(text));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(bad(R"({"columns": [{"name": "a", "role": "label"}], "delimeter": ";"})"),
             Catch::Contains("unknown key \"delimeter\""));
  CHECK_THAT(bad(R"({"columns": [{"name": "a", "role": "label"}, {"name": "b", "role": "label"}]})"),
             Catch::Contains("exactly one label column, found 2"));
  CHECK_THAT(bad(R"({"columns": [{"name": "a", "role": "lable"}]})"), Catch::Contains("role must be"));
  CHECK_THAT(bad(R"({"columns": [{"name": "a", "role": "label"}, {"name": "a"}]})"), Catch::Contains("'a' appears twice"));
  CHECK_THAT(bad(R"({"delimiter": ";;", "columns": [{"name": "a", "role": "label"}]})"), Catch::Contains("one character"));
  CHECK_THAT(bad(R"({"columns": [{"name": "a", "role": "label", "hash_buckets": "many"}]})"), Catch::Contains("wrong type"));
  CHECK_THAT(bad(R"({"columns": []})"), Catch::Contains("no columns"));
  TempDir dir("delim_schema");
  CHECK_THROWS_WITH(DelimitedSchema::from_file(dir.write("broken.json", "{\"columns\": [")),
                    Catch::Contains("broken.json: not valid JSON"));
  CHECK_THROWS_WITH(DelimitedSchema::from_file(dir.file("none.json")), Catch::Contains("cannot open schema file"));
}

TEST_CASE("Delimited schemas are strict: floats, negative sizes, wrong types and repeated keys name the JSON path",
          "[readers][delimited][schema]") {
  TempDir dir("delim_strict");
  auto bad_file = [&](const std::string& name, const std::string& text) {
    const std::string path = dir.write(name, text);
    try {
      DelimitedSchema::from_file(path);
    } catch (const Error& e) {
      const std::string msg = e.what();
      CHECK_THAT(msg, Catch::Contains(path));  // every message names the file
      return msg;
    }
    return std::string("no error");
  };
  const std::string head = R"({"columns": [{"name": "y", "role": "label"}, {"name": "a"}, )";
  // Before: 1.5 was truncated to 1 bucket, -3 became a huge size, a repeated key silently won.
  CHECK_THAT(bad_file("float.json", head + R"({"name": "b", "hash_buckets": 1.5}]})"),
             Catch::Contains("columns[2].hash_buckets has the wrong type: expected a non-negative integer, got 1.5"));
  CHECK_THAT(bad_file("neg.json", head + R"({"name": "b", "embedding_dim": -3}]})"),
             Catch::Contains("columns[2]: key 'embedding_dim' must be an integer in range, got -3 (expected an integer in [0, 9223372036854775807])"));
  CHECK_THAT(bad_file("str.json", head + R"({"name": "b", "table": 7}]})"),
             Catch::Contains("columns[2].table has the wrong type: expected a string, got 7"));
  CHECK_THAT(bad_file("top.json", head + R"({"name": "b"}], "hash_buckets": 1e6})"),
             Catch::Contains("hash_buckets has the wrong type: expected a non-negative integer, got 1000000.0"));
  CHECK_THAT(bad_file("dup.json", head + R"({"name": "b", "hash_buckets": 10, "hash_buckets": 20}]})"),
             Catch::Contains("duplicate key 'hash_buckets'") && Catch::Contains("columns[2].hash_buckets"));
  CHECK_THAT(bad_file("dup_top.json", head + R"({"name": "b"}], "delimiter": ",", "delimiter": ";"})"),
             Catch::Contains("duplicate key 'delimiter'"));
  CHECK_THAT(bad_file("missing.json", head + R"({"name": "b", "missing": ["", 0]}]})"),
             Catch::Contains("columns[2].missing has the wrong type: expected an array of strings"));
  CHECK_THAT(bad_file("unknown.json", head + R"({"name": "b", "hash_bucket": 10}]})"),
             Catch::Contains("unknown key \"hash_bucket\" in columns[2] (column 'b')"));
  // What the library writes loads back.
  const DelimitedSchema s = shop_schema();
  const std::string path = dir.write("round.json", s.to_json().dump(2));
  CHECK(DelimitedSchema::from_file(path).to_json() == s.to_json());
}

TEST_CASE("Delimited reader output does not depend on threads or chunk size", "[readers][delimited]") {
  std::string text = "label,price,city,tags,user,w,note\n";
  for (int i = 0; i < 4000; ++i)
    text += std::to_string(i % 2) + "," + (i % 9 == 0 ? std::string("NA") : std::to_string(i * 0.25)) + ",\"c" +
            std::to_string(i % 37) + "\",t" + std::to_string(i % 5) + "|u" + std::to_string(i % 3) + "," +
            std::to_string(i) + ",1,\n";
  TempDir dir("delim_threads");
  const std::string path = dir.write("t.csv", text);
  ReaderOptions one;
  one.threads = 1;
  const ReadResult ref = read_delimited(path, shop_schema(), one);
  REQUIRE(ref.dataset.size() == 4000);
  ReaderOptions two;
  two.threads = 2;
  two.block_lines = 29;
  two.source.chunk_bytes = 10000;
  const ReadResult r = read_delimited(path, shop_schema(), two);
  CHECK(r.dataset.data().dense_values == ref.dataset.data().dense_values);
  CHECK(r.dataset.data().ids == ref.dataset.data().ids);
  CHECK(r.dataset.data().offsets == ref.dataset.data().offsets);
  CHECK(r.dataset.data().labels == ref.dataset.data().labels);
}

TEST_CASE("Avazu and Adult load through the shipped schema files", "[readers][delimited][shared]") {
  const auto avazu = ctrnet::test::shared_data("avazu-9k");
  const auto adult = ctrnet::test::shared_data("adult");
  if (avazu) {
    const DelimitedSchema s = DelimitedSchema::from_file(example_schema("avazu.json"));
    const ReadResult train = read_delimited(*avazu + "/train.csv", s);
    const InMemoryDataset& ds = train.dataset;
    REQUIRE(ds.size() == 8087);
    CHECK(train.report.blank_lines() == 1);  // the header
    CHECK(ds.schema().num_dense() == 0);
    CHECK(ds.schema().num_categorical() == 22);
    double clicks = 0;
    index_t banner1 = 0;
    const index_t banner = ds.schema().categorical_index("banner_pos");
    for (index_t r = 0; r < ds.size(); ++r) {
      clicks += ds.data().labels[static_cast<std::size_t>(r)];
      banner1 += ds.data().ids[static_cast<std::size_t>(banner)][static_cast<std::size_t>(r)] == token_id("1");
    }
    CHECK(clicks == 1397);
    CHECK(banner1 == 1601);
    CHECK(ds.data().ids[static_cast<std::size_t>(ds.schema().categorical_index("site_id"))][0] == token_id("1fbe01fe"));
    const ReadResult dev = read_delimited(*avazu + "/dev.csv", s);  // no header line
    CHECK(dev.dataset.size() == 480);
    CHECK(dev.report.blank_lines() == 0);
    double dev_clicks = 0;
    for (float l : dev.dataset.data().labels) dev_clicks += l;
    CHECK(dev_clicks == 86);
    CHECK(read_delimited(*avazu + "/test.csv", s).dataset.size() == 432);
  }
  if (adult) {
    const DelimitedSchema s = DelimitedSchema::from_file(example_schema("adult.json"));
    const ReadResult train = read_delimited(*adult + "/adult.data", s);
    const InMemoryDataset& ds = train.dataset;
    REQUIRE(ds.size() == 32561);
    CHECK(train.report.blank_lines() == 1);  // the empty last line
    REQUIRE(ds.schema().num_dense() == 6);
    REQUIRE(ds.schema().num_categorical() == 8);
    double positives = 0, fnlwgt = 0;
    index_t workclass_missing = 0;
    for (index_t r = 0; r < ds.size(); ++r) {
      positives += ds.data().labels[static_cast<std::size_t>(r)];
      fnlwgt += ds.data().dense_values[static_cast<std::size_t>(r * 6 + 1)];
      workclass_missing += ds.data().ids[0][static_cast<std::size_t>(r)] == kMissingId;
    }
    CHECK(positives == 7841);  // 24.1%
    CHECK(workclass_missing == 1836);
    CHECK(fnlwgt == Approx(6.17937e9).epsilon(1e-5));
    // 39, State-gov, 77516, Bachelors, 13, ..., 2174, 0, 40, United-States, <=50K
    CHECK(std::vector<float>(ds.data().dense_values.begin(), ds.data().dense_values.begin() + 6) ==
          std::vector<float>{39, 77516, 13, 2174, 0, 40});
    CHECK(ds.data().ids[0][0] == token_id("State-gov"));
    CHECK(ds.data().ids[7][0] == token_id("United-States"));
    CHECK(ds.data().labels[0] == 0.0f);
    const ReadResult test = read_delimited(*adult + "/adult.test", s);
    CHECK(test.dataset.size() == 16281);
    CHECK(test.report.blank_lines() == 2);  // the "|1x3 Cross validator" line and the empty last line
    double test_pos = 0;
    for (float l : test.dataset.data().labels) test_pos += l;
    CHECK(test_pos == 3846);
  }
}

TEST_CASE("Delimited parser survives every input of the fuzz corpus", "[readers][delimited][fuzz]") {
  const auto files = ctrnet::test::fuzz_corpus("delimited");
  REQUIRE(!files.empty());
  for (const auto& f : files) {
    INFO(f);
    const std::string bytes = ctrnet::test::read_bytes(f);
    for (BadLines policy : {BadLines::error, BadLines::skip}) {
      ReaderOptions ro;
      ro.bad_lines = policy;
      ro.threads = 1;
      DelimitedReader reader(LineSource::from_memory(bytes, "fuzz.csv", ro.source), DelimitedParser(shop_schema()), ro);
      try {
        const ReadResult r = reader.read_all();
        CHECK(r.dataset.size() + r.report.skipped() + r.report.blank_lines() == r.lines);
      } catch (const Error&) {
        CHECK(policy == BadLines::error);
      }
    }
  }
}

TEST_CASE("delimited reader: LabelCheck::binary names path:line and the label column; header-only files have no examples",
          "[readers][delimited][labels]") {
  TempDir dir("delimited_labels");
  const json j = json::parse(R"({"delimiter": ",", "header": true, "columns": [
      {"name": "click", "role": "label"}, {"name": "site"}, {"name": "x", "role": "dense"}]})");
  const DelimitedSchema spec = DelimitedSchema::from_json(j);
  ReaderOptions ro;
  ro.labels = LabelCheck::binary;
  for (const std::string bad : {"2", "-1", "0.5"}) {
    const std::string path = dir.write("bad.csv", "click,site,x\n1,a,1\n0,b,2\n" + bad + ",c,3\n");
    std::string msg = "no error";
    try {
      read_delimited(path, spec, ro);
    } catch (const Error& e) {
      msg = e.what();
    }
    INFO(msg);
    CHECK(msg.find("bad.csv:4: column 'click': expected a binary label 0 or 1") != std::string::npos);
    CHECK(msg.find("got \"" + bad + "\"") != std::string::npos);
    CHECK(read_delimited(path, spec).dataset.size() == 3);  // LabelCheck::any (the default) keeps them
  }
  // 0 and 1 written as 0.0 / 1.0 are binary labels.
  CHECK(read_delimited(dir.write("ok.csv", "click,site,x\n1.0,a,1\n0.0,b,2\n"), spec, ro).dataset.data().labels ==
        std::vector<float>{1, 0});
  // A header-only file reads to no examples; require_examples says so with the counts.
  const std::string header_only = dir.write("header.csv", "click,site,x\n");
  const ReadResult r = read_delimited(header_only, spec, ro);
  CHECK(r.dataset.size() == 0);
  CHECK_THROWS_WITH(require_examples(r, header_only, "--valid file"),
                    "--valid file '" + header_only +
                        "' holds no examples: 1 line read, 1 blank, comment or header line; expected at least one "
                        "example line");
}
