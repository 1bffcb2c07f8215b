// Tests for ctrnet/data/binary_cache.hpp: write / mmap round trip (dense, one-hot and multi-hot
// ids, labels, weights, targets) across row groups, ranges and gathers, the first pass from a
// text reader, header and corruption checks with clear errors, the seeded shuffle buffer, and a
// replay of the fuzz corpus of fuzz/fuzz_binary_cache.cpp.
#include "ctrnet/data/binary_cache.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ctrnet/data/readers/criteo.hpp"
#include "reader_test_util.hpp"

using namespace ctrnet;
using ctrnet::test::TempDir;

namespace {

Schema cache_schema() {
  Schema s;
  s.add_dense("a");
  s.add_categorical("c", 100);
  s.add_dense("b");
  Field bag;
  bag.name = "bag";
  bag.kind = FieldKind::multi_hot;
  bag.hash_buckets = 64;
  bag.hash_seed = 5;
  bag.embedding_dim = 3;
  bag.table = "shared";
  s.add(bag);
  return s;
}

// Example r: a = r, b = -r / 2, c = r % 100, bag = r % 4 ids (r, r + 1, ...), label r % 2,
// weight 1 + r / 10, target 3 r.
InMemoryDataset cache_data(index_t n) {
  const Schema s = cache_schema();
  Batch b;
  b.reset(s, 1);
  for (index_t r = 0; r < n; ++r) {
    const std::vector<float> dense{float(r), -float(r) / 2};
    const std::vector<FeatureId> c{r % 100};
    std::vector<FeatureId> bag(static_cast<std::size_t>(r % 4));
    std::iota(bag.begin(), bag.end(), FeatureId(r));
    const std::vector<std::span<const FeatureId>> ids{c, bag};
    b.add(dense, ids, float(r % 2), 1.0f + float(r) / 10);
    b.targets[0].push_back(3.0f * float(r));
  }
  return InMemoryDataset(s, std::move(b));
}

void check_row(const Batch& b, index_t i, index_t r) {
  INFO("row " << i << " should be example " << r);
  const auto ui = static_cast<std::size_t>(i);
  CHECK(b.dense_values[2 * ui] == float(r));
  CHECK(b.dense_values[2 * ui + 1] == -float(r) / 2);
  CHECK(b.ids[0][ui] == r % 100);
  std::vector<FeatureId> bag(static_cast<std::size_t>(r % 4));
  std::iota(bag.begin(), bag.end(), FeatureId(r));
  CHECK(std::vector<FeatureId>(b.ids[1].begin() + b.offsets[1][ui], b.ids[1].begin() + b.offsets[1][ui + 1]) == bag);
  CHECK(b.labels[ui] == float(r % 2));
  CHECK(b.weights[ui] == 1.0f + float(r) / 10);
  CHECK(b.targets[0][ui] == 3.0f * float(r));
}

std::string error_of(const std::string& path) {
  try {
    BinaryCache c(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("Binary cache round-trips every column across row groups", "[cache]") {
  TempDir dir("cache");
  const InMemoryDataset data = cache_data(1000);
  const std::string path = dir.file("d.cache");
  write_cache(path, data, 300);  // groups of 300, 300, 300, 100
  const BinaryCache cache(path);
  REQUIRE(cache.size() == 1000);
  CHECK(cache.num_groups() == 4);
  CHECK(cache.num_targets() == 1);
  const Schema& s = cache.schema();
  REQUIRE(s.size() == 4);
  CHECK(s.field(1).vocab_size == 100);
  CHECK(s.field("bag").hash_seed == 5);
  CHECK(s.field("bag").table == "shared");
  CHECK(s.field("bag").embedding_dim == 3);
  CHECK(s.field("bag").kind == FieldKind::multi_hot);

  const InMemoryDataset back = cache.to_dataset();
  CHECK(back.data().dense_values == data.data().dense_values);
  CHECK(back.data().ids == data.data().ids);
  CHECK(back.data().offsets == data.data().offsets);
  CHECK(back.data().labels == data.data().labels);
  CHECK(back.data().weights == data.data().weights);
  CHECK(back.data().targets == data.data().targets);

  Batch b;
  cache.read(290, 320, b);  // spans three groups
  REQUIRE(b.size() == 320);
  for (index_t i = 0; i < 320; i += 7) check_row(b, i, 290 + i);
  check_row(b, 319, 609);
  const std::vector<index_t> rows{999, 0, 301, 301, 599};
  cache.gather(rows, b);
  REQUIRE(b.size() == 5);
  for (index_t i = 0; i < 5; ++i) check_row(b, i, rows[static_cast<std::size_t>(i)]);
  CHECK_THROWS_WITH(cache.read(990, 11, b), Catch::Contains("rows [990, 1001) are outside [0, 1000)"));
  CHECK_THROWS_WITH(cache.gather(std::vector<index_t>{1000}, b), Catch::Contains("row 1000 is outside"));

  SECTION("an empty data set") {
    write_cache(dir.file("empty.cache"), cache_data(0));
    const BinaryCache e(dir.file("empty.cache"));
    CHECK(e.size() == 0);
    CHECK(e.to_dataset().size() == 0);
  }
}

TEST_CASE("Binary cache written on the first pass of a text reader equals read_all", "[cache]") {
  TempDir dir("cache_text");
  std::string text;
  for (int i = 0; i < 700; ++i) {
    text += std::to_string(i % 2);
    for (int k = 0; k < 13; ++k) {
      text += '\t';
      if (k != i % 13) text += std::to_string(i + k);
    }
    for (int k = 0; k < 26; ++k) {
      text += '\t';
      if (k != i % 26) text += std::to_string(10000000 + k);  // 8 digits: valid hex
    }
    text += "\n";
  }
  const std::string tsv = dir.write("t.tsv", text);
  CriteoReader reader = open_criteo(tsv);
  CHECK(write_cache(dir.file("t.cache"), reader, 256) == 700);
  const BinaryCache cache(dir.file("t.cache"));
  CHECK(cache.num_groups() == 3);
  const InMemoryDataset direct = read_criteo(tsv).dataset;
  const InMemoryDataset cached = cache.to_dataset();
  CHECK(cached.data().dense_values == direct.data().dense_values);
  CHECK(cached.data().ids == direct.data().ids);
  CHECK(cached.data().labels == direct.data().labels);
  CHECK(cached.schema().categorical(0).hash_buckets == 1000000);
}

TEST_CASE("Binary cache rejects bad files with clear errors", "[cache][errors]") {
  TempDir dir("cache_bad");
  const std::string path = dir.file("good.cache");
  write_cache(path, cache_data(50), 20);
  const std::string bytes = ctrnet::test::read_bytes(path);
  auto variant = [&](const std::string& name, std::string b) { return dir.write(name, b); };

  CHECK_THAT(error_of(dir.file("missing.cache")), Catch::Contains("cannot open cache file"));
  CHECK_THAT(error_of(variant("empty.cache", "")),
             Catch::Contains("empty.cache' is not a valid ctrnet cache: it has 0 bytes, less than the 96-byte header"));
  std::string m = bytes;
  m[0] = 'X';
  CHECK_THAT(error_of(variant("magic.cache", m)), Catch::Contains("bad magic"));
  std::string v = bytes;
  v[8] = 2;
  CHECK_THAT(error_of(variant("version.cache", v)), Catch::Contains("version 2, this build reads version 1"));
  std::string e = bytes;
  std::swap(e[12], e[15]);
  CHECK_THAT(error_of(variant("endian.cache", e)), Catch::Contains("other byte order"));
  CHECK_THAT(error_of(variant("truncated.cache", bytes.substr(0, bytes.size() / 2))), Catch::Contains("outside the file"));
  std::string rows = bytes;
  rows[16] = 51;  // header row count 51 instead of 50
  CHECK_THAT(error_of(variant("rows.cache", rows)), Catch::Contains("the header says 51"));
  {
    BinaryCacheWriter w(dir.file("unfinished.cache"), cache_schema(), 1);
    w.append(cache_data(10).data().view());
  }  // never finished: the header stays zero
  CHECK_THAT(error_of(dir.file("unfinished.cache")), Catch::Contains("bad magic"));
  // Every truncation and every single-byte corruption of the header and footer is caught or
  // harmless, never a crash.
  for (std::size_t cut = 0; cut < bytes.size(); cut += 97) (void)error_of(variant("cut.cache", bytes.substr(0, cut)));
  for (std::size_t pos = 0; pos < 96; ++pos) {
    std::string c = bytes;
    c[pos] = static_cast<char>(c[pos] ^ 0x5a);
    (void)error_of(variant("flip.cache", c));
  }
}

// The corpus of fuzz/fuzz_binary_cache.cpp: seed_* files are caches write_cache wrote (they must
// load and read back whole), bad_* are broken ones (rejected with an error naming the file); any
// other file is a fuzzer find, which must load and read cleanly or be rejected, never crash.
TEST_CASE("Binary cache loader survives every input of the fuzz corpus", "[cache][fuzz]") {
  const auto files = ctrnet::test::fuzz_corpus("binary_cache");
  REQUIRE(files.size() >= 4);
  for (const auto& f : files) {
    INFO(f);
    const std::string name = std::filesystem::path(f).filename().string();
    std::optional<BinaryCache> cache;
    try {
      cache.emplace(f);
    } catch (const Error& e) {
      CHECK(name.rfind("seed_", 0) != 0);
      CHECK_THAT(e.what(), Catch::Contains(f));
      continue;
    }
    CHECK(name.rfind("bad_", 0) != 0);
    Batch b;
    cache->read(0, cache->size(), b);
    CHECK(b.size() == cache->size());
    CacheShuffler shuffle(*cache, 3, 7);
    index_t seen = 0;
    for (index_t got; (got = shuffle.next_batch(b, 2)) > 0;) seen += got;
    CHECK(seen == cache->size());
  }
}

TEST_CASE("Cache shuffler: a seeded permutation per epoch with a bounded buffer", "[cache][shuffle]") {
  TempDir dir("cache_shuffle");
  write_cache(dir.file("s.cache"), cache_data(1000), 128);
  const BinaryCache cache(dir.file("s.cache"));

  auto epoch_rows = [&](CacheShuffler& sh, std::uint64_t epoch, index_t batch) {
    sh.start_epoch(epoch);
    std::vector<index_t> seen;
    Batch b;
    index_t got;
    while ((got = sh.next_batch(b, batch)) > 0) {
      REQUIRE(got == b.size());
      for (index_t i = 0; i < got; ++i) {
        const auto r = static_cast<index_t>(b.dense_values[static_cast<std::size_t>(2 * i)]);
        check_row(b, i, r);
        seen.push_back(r);
      }
    }
    return seen;
  };
  CacheShuffler sh(cache, 200, 42);
  const std::vector<index_t> e0 = epoch_rows(sh, 0, 64);
  std::vector<index_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<index_t> all(1000);
  std::iota(all.begin(), all.end(), index_t(0));
  CHECK(sorted == all);                              // every row once
  CHECK(e0 != all);                                  // shuffled
  CHECK(epoch_rows(sh, 0, 64) == e0);                // same seed and epoch, same order
  CHECK(epoch_rows(sh, 0, 333) == e0);               // batch size does not change the order
  CacheShuffler again(cache, 200, 42);
  CHECK(epoch_rows(again, 0, 17) == e0);
  const std::vector<index_t> e1 = epoch_rows(sh, 1, 64);
  CHECK(e1 != e0);
  CacheShuffler other(cache, 200, 43);
  CHECK(epoch_rows(other, 0, 64) != e0);
  // A buffer of one row streams whole groups in a shuffled group order.
  CacheShuffler seq(cache, 1, 42);
  const std::vector<index_t> groups = epoch_rows(seq, 0, 100);
  REQUIRE(groups.size() == 1000);
  for (std::size_t i = 1; i < groups.size(); ++i)
    if (groups[i] % 128 != 0) CHECK(groups[i] == groups[i - 1] + 1);
  CHECK(groups != all);
  CHECK_THROWS_WITH(CacheShuffler(cache, 0, 1), Catch::Contains("buffer_rows must be positive"));
}
