// Tests for ctrnet/data/readers/criteo.hpp and the shared machinery it runs on (LineSource,
// TextReader, parse errors): exact values of a hand-written file, missing values, CRLF, a last
// line without newline, empty files, a 10 MB line, malformed lines (error and skip policies),
// thread-count independence, streaming vs read_all, the shared criteo-8k data and the fuzz corpus.
#include "ctrnet/data/readers/criteo.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "reader_test_util.hpp"

using namespace ctrnet;
using ctrnet::test::TempDir;

namespace {

// One Criteo line: label, 13 dense tokens, 26 categorical tokens.
std::string line(const std::string& label, const std::vector<std::string>& dense, const std::vector<std::string>& cat) {
  std::string s = label;
  for (const auto& d : dense) s += "\t" + d;
  for (const auto& c : cat) s += "\t" + c;
  return s;
}
std::vector<std::string> dense_of(int seed) {
  std::vector<std::string> d;
  for (int i = 0; i < 13; ++i) d.push_back(std::to_string(seed * 100 + i - 3));
  return d;
}
std::vector<std::string> cat_of(int seed) {
  std::vector<std::string> c;
  static const char* hex = "0123456789abcdef";
  for (int i = 0; i < 26; ++i) {
    std::string h(8, '0');
    unsigned v = static_cast<unsigned>(seed * 2654435761u + static_cast<unsigned>(i) * 40503u);
    for (int k = 7; k >= 0; --k, v >>= 4) h[static_cast<std::size_t>(k)] = hex[v & 15];
    c.push_back(h);
  }
  return c;
}
std::uint64_t hex_value(const std::string& h) { return std::stoull(h, nullptr, 16); }

bool same(const Batch& a, const Batch& b) {
  auto eq_float = [](const std::vector<float>& x, const std::vector<float>& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i])))) return false;
    return true;
  };
  return a.size() == b.size() && eq_float(a.dense_values, b.dense_values) && a.ids == b.ids &&
         a.offsets == b.offsets && a.labels == b.labels && a.weights == b.weights;
}

}  // namespace

TEST_CASE("LineSource splits lines, drops CR before LF and keeps a last line without newline", "[readers][lines]") {
  const std::string text = "a\r\nbb\n\nccc\r\n\r\nlast";
  for (std::size_t chunk : {std::size_t(1), std::size_t(3), std::size_t(1 << 20)}) {
    LineSourceOptions o;
    o.chunk_bytes = chunk;
    LineSource src = LineSource::from_memory(text, "m.txt", o);
    std::vector<std::string> lines;
    std::vector<std::int64_t> numbers;
    LineChunk c;
    while (src.next(c))
      for (index_t i = 0; i < c.size(); ++i) {
        lines.emplace_back(c.line(i));
        numbers.push_back(c.line_number(i));
      }
    INFO("chunk bytes " << chunk);
    CHECK(lines == std::vector<std::string>{"a", "bb", "", "ccc", "", "last"});
    CHECK(numbers == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
    CHECK(src.bytes_read() == text.size());
    CHECK(src.done());
    src.rewind();
    REQUIRE(src.next(c));
    CHECK(c.line(0) == "a");
  }
  LineSource empty = LineSource::from_memory("", "e.txt");
  LineChunk c;
  CHECK_FALSE(empty.next(c));
  CHECK(c.empty());
  LineSource nl = LineSource::from_memory("\n", "n.txt");
  REQUIRE(nl.next(c));
  CHECK(c.size() == 1);
  CHECK(c.line(0).empty());
  CHECK_FALSE(nl.next(c));

  CHECK_THROWS_WITH(LineSource("/nonexistent/x.tsv"), Catch::Contains("cannot open '/nonexistent/x.tsv'"));
}

TEST_CASE("LineSource reads a 10 MB line and rejects lines over max_line_bytes", "[readers][lines]") {
  std::string big(10u << 20, 'x');
  big[12345] = 'y';
  const std::string text = "first\n" + big + "\nthird";
  TempDir dir("lines");
  const std::string path = dir.write("big.txt", text);
  LineSourceOptions o;
  o.chunk_bytes = 1 << 20;  // the line is ten chunks long
  LineSource src(path, o);
  std::vector<std::string> lines;
  LineChunk c;
  while (src.next(c))
    for (index_t i = 0; i < c.size(); ++i) lines.emplace_back(c.line(i));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "first");
  CHECK(lines[1] == big);
  CHECK(lines[2] == "third");

  o.max_line_bytes = 1 << 20;
  LineSource limited(path, o);
  auto drain = [&] { while (limited.next(c)) {} };
  CHECK_THROWS_WITH(drain(), Catch::Contains("big.txt:2: line is longer than 1048576 bytes"));
}

TEST_CASE("Criteo reader gives exact values, missing ids and CRLF lines", "[readers][criteo]") {
  std::vector<std::string> d0 = dense_of(1), d1 = dense_of(2);
  std::vector<std::string> c0 = cat_of(1), c1 = cat_of(2);
  d0[0] = "";      // I1 missing
  d0[4] = "-7";    // negative
  d1[12] = "";     // I13 missing
  c0[21] = "";     // C22 missing
  c1[0] = "ABCDEF01";  // upper-case hex
  const std::string text = line("1", d0, c0) + "\r\n" + line("0", d1, c1);  // CRLF, no final newline
  TempDir dir("criteo");
  const std::string path = dir.write("small.tsv", text);

  ReadResult r = read_criteo(path);
  const InMemoryDataset& ds = r.dataset;
  REQUIRE(ds.size() == 2);
  CHECK(r.lines == 2);
  CHECK(r.bytes == text.size());
  CHECK(r.report.skipped() == 0);
  const Schema& s = ds.schema();
  REQUIRE(s.num_dense() == 13);
  REQUIRE(s.num_categorical() == 26);
  CHECK(s.dense(0).name == "I1");
  CHECK(s.categorical(25).name == "C26");
  CHECK(s.categorical(3).hash_buckets == 1000000);

  const Batch& b = ds.data();
  CHECK(b.labels == std::vector<float>{1.0f, 0.0f});
  CHECK(b.dense_values[0] == 0.0f);   // missing -> 0
  CHECK(b.dense_values[1] == 98.0f);  // 100 + 1 - 3
  CHECK(b.dense_values[4] == -7.0f);
  CHECK(b.dense_values[13 + 0] == 197.0f);
  CHECK(b.dense_values[13 + 12] == 0.0f);
  CHECK(b.ids[0] == std::vector<FeatureId>{FeatureId(hex_value(c0[0])), FeatureId(0xABCDEF01)});
  CHECK(b.ids[21][0] == kMissingId);
  CHECK(b.ids[21][1] == FeatureId(hex_value(c1[21])));
  CHECK(b.offsets[7] == std::vector<index_t>{0, 1, 2});

  SECTION("DenseMissing::nan and ::indicator") {
    CriteoOptions o;
    o.dense_missing = DenseMissing::nan;
    const Batch n = read_criteo(path, o).dataset.data();
    CHECK(std::isnan(n.dense_values[0]));
    CHECK(n.dense_values[1] == 98.0f);
    o.dense_missing = DenseMissing::indicator;
    const ReadResult ri = read_criteo(path, o);
    REQUIRE(ri.dataset.schema().num_dense() == 26);
    CHECK(ri.dataset.schema().dense(13).name == "I1_missing");
    const Batch& i = ri.dataset.data();
    CHECK(i.dense_values[0] == 0.0f);
    CHECK(i.dense_values[13] == 1.0f);        // I1_missing of row 0
    CHECK(i.dense_values[14] == 0.0f);        // I2_missing of row 0
    CHECK(i.dense_values[26 + 25] == 1.0f);   // I13_missing of row 1
    CHECK(i.dense_values[26 + 13] == 0.0f);
  }
  SECTION("long integers: 18 digits, 19 digits within int64, beyond int64") {
    std::vector<std::string> d = dense_of(1);
    d[0] = "999999999999999999";
    d[1] = "-9223372036854775808";
    d[2] = "9223372036854775807";
    const Batch big = read_criteo(dir.write("big.tsv", line("1", d, cat_of(1)) + "\n")).dataset.data();
    CHECK(big.dense_values[0] == 1e18f);
    CHECK(big.dense_values[1] == -9223372036854775808.0f);
    CHECK(big.dense_values[2] == 9223372036854775807.0f);
    d[2] = "9223372036854775808";
    CHECK_THROWS_WITH(read_criteo(dir.write("over.tsv", line("1", d, cat_of(1)) + "\n")),
                      Catch::StartsWith(dir.file("over.tsv") + ":1: column 'I3': expected an integer"));
  }
  SECTION("an empty file and a file of blank lines give no rows") {
    const ReadResult e = read_criteo(dir.write("empty.tsv", ""));
    CHECK(e.dataset.size() == 0);
    CHECK(e.dataset.schema().num_categorical() == 26);
    const ReadResult bl = read_criteo(dir.write("blank.tsv", "\n\r\n\n"));
    CHECK(bl.dataset.size() == 0);
    CHECK(bl.report.blank_lines() == 3);
    CHECK(bl.report.skipped() == 0);
  }
}

TEST_CASE("Criteo reader reports malformed lines with file, line, column, text and expectation", "[readers][criteo][errors]") {
  TempDir dir("criteo_bad");
  const std::string good = line("0", dense_of(3), cat_of(3));
  auto with = [&](const std::string& bad) { return good + "\n" + good + "\n" + bad + "\n" + good + "\n"; };
  auto error_of = [&](const std::string& name, const std::string& bad) {
    const std::string path = dir.write(name, with(bad));
    try {
      read_criteo(path);
    } catch (const Error& e) {
      return ctrnet::test::strip_dir(e.what(), dir);
    }
    return std::string("no error");
  };

  std::vector<std::string> d = dense_of(3), c = cat_of(3);
  d[2] = "12abc";
  CHECK(error_of("dense.tsv", line("1", d, c)) ==
        "dense.tsv:3: column 'I3': expected an integer or an empty field, got \"12abc\"");
  d = dense_of(3);
  c[4] = "12345";  // too short
  CHECK(error_of("short_hash.tsv", line("1", d, c)) ==
        "short_hash.tsv:3: column 'C5': expected 8 hex digits or an empty field, got \"12345\"");
  c = cat_of(3);
  c[9] = "\xff\xfe" "abcdef";  // invalid UTF-8, escaped in the message
  CHECK(error_of("utf8.tsv", line("1", d, c)) ==
        "utf8.tsv:3: column 'C10': expected 8 hex digits or an empty field, got \"\\xff\\xfeabcdef\"");
  c = cat_of(3);
  CHECK(error_of("label.tsv", line("2", d, c)) == "label.tsv:3: column 'label': expected 0 or 1, got \"2\"");
  const std::string truncated = good.substr(0, good.size() / 2);
  const std::string msg = error_of("truncated.tsv", truncated);
  CHECK_THAT(msg, Catch::StartsWith("truncated.tsv:3: expected 40 tab-separated fields (label, I1..I13, C1..C26), found "));
  CHECK_THAT(error_of("extra.tsv", good + "\t00000000"), Catch::Contains("found more"));
  // A 10 MB line: the message quotes 40 bytes, not the line.
  const std::string huge_msg = error_of("huge.tsv", "0\t" + std::string(10u << 20, '7'));
  CHECK_THAT(huge_msg, Catch::StartsWith("huge.tsv:3: column 'I1': expected an integer or an empty field, got \"777"));
  CHECK(huge_msg.size() < 200);
  CHECK_THAT(huge_msg, Catch::EndsWith("...\""));

  // The raw message names the full path of the file, not just its base name.
  const std::string full = dir.write("full.tsv", with(line("2", d, c)));
  CHECK_THROWS_WITH(read_criteo(full), full + ":3: column 'label': expected 0 or 1, got \"2\"");
  CHECK_THAT(full, Catch::Contains("/"));
  // ... and exactly as the caller gave it: a path with "/./" and ".." is not canonicalized.
  std::filesystem::create_directories(dir.path() / "sub");
  const std::string odd = dir.path().string() + "/./sub/../full.tsv";
  CHECK_THROWS_WITH(read_criteo(odd), Catch::StartsWith(odd + ":3: column 'label'"));

  SECTION("the first bad line in file order is reported, whatever the threads") {
    std::string text;
    for (int i = 0; i < 3000; ++i) {
      std::vector<std::string> dd = dense_of(i);
      if (i == 1700 || i == 2900) dd[5] = "x";
      text += line("1", dd, cat_of(i)) + "\n";
    }
    const std::string path = dir.write("late.tsv", text);
    for (int threads : {1, 2}) {
      ReaderOptions ro;
      ro.threads = threads;
      ro.block_lines = 64;
      ro.source.chunk_bytes = 64 << 10;
      CHECK_THROWS_WITH(read_criteo(path, {}, ro), Catch::StartsWith(path + ":1701: column 'I6'"));
    }
  }
  SECTION("skip policy drops and counts bad lines without changing the others") {
    std::vector<std::string> dd = dense_of(5);
    dd[0] = "1.5";
    const std::string text = good + "\n" + line("1", dd, cat_of(5)) + "\n" + truncated + "\n\n" + good + "\n" +
                             line("7", dense_of(6), cat_of(6)) + "\n" + truncated + "\n";
    ReaderOptions ro;
    ro.bad_lines = BadLines::skip;
    const ReadResult r = read_criteo(dir.write("mixed.tsv", text), {}, ro);
    CHECK(r.dataset.size() == 2);
    CHECK(r.report.skipped() == 4);
    CHECK(r.report.count("wrong field count") == 2);
    CHECK(r.report.count("non-numeric dense value") == 1);
    CHECK(r.report.count("bad label") == 1);
    CHECK(r.report.blank_lines() == 1);
    CHECK_THAT(r.report.reasons().at("wrong field count").first_message, Catch::StartsWith(dir.file("mixed.tsv") + ":3:"));
    CHECK_THAT(r.report.summary(), Catch::Contains("skipped 4 bad lines") && Catch::Contains("1 x bad label"));
    const Batch& b = r.dataset.data();
    CHECK(b.labels == std::vector<float>{0.0f, 0.0f});
    CHECK(b.dense_values[0] == -3.0f + 300.0f);
    CHECK(b.dense_values[13] == -3.0f + 300.0f);
    CHECK(parse_bad_lines("skip") == BadLines::skip);
    CHECK_THROWS_WITH(parse_bad_lines("ignore"), Catch::Contains("expected \"error\" or \"skip\""));
  }
}

TEST_CASE("Criteo reader output does not depend on threads, chunk size or batch size", "[readers][criteo]") {
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    std::vector<std::string> d = dense_of(i);
    std::vector<std::string> c = cat_of(i);
    if (i % 7 == 0) d[i % 13] = "";
    if (i % 5 == 0) c[i % 26] = "";
    text += line(i % 3 == 0 ? "1" : "0", d, c) + (i % 11 == 0 ? "\r\n" : "\n");
  }
  TempDir dir("criteo_threads");
  const std::string path = dir.write("synthetic.tsv", text);
  ReaderOptions one;
  one.threads = 1;
  const ReadResult ref = read_criteo(path, {}, one);
  REQUIRE(ref.dataset.size() == 5000);
  for (int threads : {2}) {
    ReaderOptions ro;
    ro.threads = threads;
    ro.block_lines = 37;
    ro.source.chunk_bytes = 50000;
    CHECK(same(read_criteo(path, {}, ro).dataset.data(), ref.dataset.data()));
  }
  // Streaming in uneven batches gives the same rows.
  ReaderOptions ro;
  ro.threads = 2;
  ro.source.chunk_bytes = 30000;
  CriteoReader reader = open_criteo(path, {}, ro);
  Batch all(reader.schema()), part;
  index_t got = 0, calls = 0;
  while ((got = reader.next_batch(part, 777)) > 0) {
    CHECK(got == part.size());
    append_rows(all, part, 0, part.size());
    ++calls;
  }
  CHECK(calls == 7);  // ceil(5000 / 777)
  CHECK(same(all, ref.dataset.data()));
  reader.rewind();
  REQUIRE(reader.next_batch(part, 10) == 10);
  CHECK(part.labels[0] == 1.0f);
  CHECK(part.ids[3][1] == ref.dataset.data().ids[3][1]);
}

TEST_CASE("Criteo reader loads the shared criteo-8k data", "[readers][criteo][shared]") {
  const auto dir = ctrnet::test::shared_data("criteo-8k");
  if (!dir) return;
  const ReadResult train = read_criteo(*dir + "/train.csv");
  const InMemoryDataset& ds = train.dataset;
  REQUIRE(ds.size() == 7200);
  double clicks = 0, i2_sum = 0;
  index_t i1_missing = 0, c22_missing = 0;
  const Batch& b = ds.data();
  for (index_t r = 0; r < ds.size(); ++r) {
    clicks += b.labels[static_cast<std::size_t>(r)];
    i2_sum += b.dense_values[static_cast<std::size_t>(r * 13 + 1)];
    c22_missing += b.ids[21][static_cast<std::size_t>(r)] == kMissingId;
  }
  CriteoOptions nan_opt;
  nan_opt.dense_missing = DenseMissing::nan;
  const Batch nb = read_criteo(*dir + "/train.csv", nan_opt).dataset.data();
  for (index_t r = 0; r < ds.size(); ++r) i1_missing += std::isnan(nb.dense_values[static_cast<std::size_t>(r * 13)]);
  CHECK(clicks == 1549);  // click rate 21.5%
  CHECK(i2_sum == 786670);
  CHECK(i1_missing == 3247);
  CHECK(c22_missing == 5894);
  // The first line: 0 1 1 5 0 1382 4 15 2 181 1 2 <empty> 2 68fd1e64 80e26c9b ...
  CHECK(b.labels[0] == 0.0f);
  CHECK(std::vector<float>(b.dense_values.begin(), b.dense_values.begin() + 13) ==
        std::vector<float>{1, 1, 5, 0, 1382, 4, 15, 2, 181, 1, 2, 0, 2});
  CHECK(b.ids[0][0] == 0x68fd1e64);
  CHECK(b.ids[1][0] == 0x80e26c9b);
  CHECK(b.ids[21][0] == kMissingId);
  CHECK(read_criteo(*dir + "/dev.csv").dataset.size() == 409);
  CHECK(read_criteo(*dir + "/test.csv").dataset.size() == 391);
}

TEST_CASE("Criteo parser survives every input of the fuzz corpus", "[readers][criteo][fuzz]") {
  const auto files = ctrnet::test::fuzz_corpus("criteo");
  REQUIRE(!files.empty());
  for (const auto& f : files) {
    INFO(f);
    const std::string bytes = ctrnet::test::read_bytes(f);
    for (BadLines policy : {BadLines::error, BadLines::skip}) {
      ReaderOptions ro;
      ro.bad_lines = policy;
      ro.threads = 1;
      CriteoReader reader(LineSource::from_memory(bytes, "fuzz.tsv", ro.source), CriteoParser{}, ro);
      try {
        const ReadResult r = reader.read_all();
        CHECK(r.dataset.size() + r.report.skipped() + r.report.blank_lines() == r.lines);
      } catch (const Error&) {
        CHECK(policy == BadLines::error);
      }
    }
  }
}
