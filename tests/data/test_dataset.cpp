// Tests for ctrnet/data/dataset.hpp and the row slicing of ctrnet/data/batch.hpp:
// InMemoryDataset::gather (dense values, one-hot ids, multi-hot bags with offsets, labels,
// weights, extra targets), order() (identity or a seeded permutation) and BatchView::rows.
#include "ctrnet/data/dataset.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <span>
#include <vector>

using namespace ctrnet;

namespace {

// d0, d1 dense; "c" one id in [0, 10); "bag" a multi-hot bag of ids in [0, 20).
Schema bag_schema() {
  Schema s;
  s.add_dense("d0");
  s.add_categorical("c", 10, 4);
  s.add_dense("d1");
  Field bag;
  bag.name = "bag";
  bag.kind = FieldKind::multi_hot;
  bag.vocab_size = 20;
  bag.pooling = Pooling::mean;
  s.add(bag);
  return s;
}

// The bag of example r: r ids (example 0 has an empty bag), r, r + 1, ..., 2r - 1.
std::vector<FeatureId> bag_of(index_t r) {
  std::vector<FeatureId> b(static_cast<std::size_t>(r));
  std::iota(b.begin(), b.end(), FeatureId(r));
  return b;
}

// Example r: dense {10 r, 10 r + 1}, c = 9 - r, bag_of(r), label r % 2, weight 0.5 + r,
// targets {100 r, -r}.
Batch bag_batch(index_t n) {
  const Schema s = bag_schema();
  Batch b;
  b.reset(s, 2);
  for (index_t r = 0; r < n; ++r) {
    const std::vector<float> dense{10.0f * float(r), 10.0f * float(r) + 1.0f};
    const std::vector<FeatureId> c{FeatureId(9 - r)};
    const std::vector<FeatureId> bag = bag_of(r);
    const std::vector<std::span<const FeatureId>> ids{c, bag};
    b.add(dense, ids, float(r % 2), 0.5f + float(r));
    b.targets[0].push_back(100.0f * float(r));
    b.targets[1].push_back(-float(r));
  }
  return b;
}

std::vector<FeatureId> ids_of(const BatchView& v, std::size_t field, index_t r) {
  const auto s = v.fields[field].of(r);
  return {s.begin(), s.end()};
}

// Row `out_r` of `v` holds example `src` of bag_batch (weights 1 when `unit_weights`).
void check_row(const BatchView& v, index_t out_r, index_t src, bool unit_weights = false) {
  INFO("row " << out_r << " should be example " << src);
  CHECK(v.dense(out_r, 0) == 10.0f * float(src));
  CHECK(v.dense(out_r, 1) == 10.0f * float(src) + 1.0f);
  CHECK(v.fields[0].count(out_r) == 1);
  CHECK(ids_of(v, 0, out_r) == std::vector<FeatureId>{FeatureId(9 - src)});
  CHECK(v.fields[1].count(out_r) == src);
  CHECK(ids_of(v, 1, out_r) == bag_of(src));
  CHECK(v.labels[out_r] == float(src % 2));
  CHECK(v.weight(out_r) == (unit_weights ? 1.0f : 0.5f + float(src)));
  REQUIRE(v.targets.size() == 2);
  CHECK(v.targets[0][out_r] == 100.0f * float(src));
  CHECK(v.targets[1][out_r] == -float(src));
}

}  // namespace

TEST_CASE("InMemoryDataset::gather copies the selected rows in order", "[dataset]") {
  const InMemoryDataset data(bag_schema(), bag_batch(6));
  REQUIRE(data.size() == 6);
  REQUIRE(data.num_targets() == 2);

  const std::vector<index_t> rows{4, 0, 5, 4, 2};  // any order, repeats allowed, an empty bag
  Batch out;
  data.gather(rows, out);
  REQUIRE(out.size() == 5);
  REQUIRE(out.num_dense() == 2);
  REQUIRE(out.ids.size() == 2);
  REQUIRE(out.targets.size() == 2);
  REQUIRE(out.weights.size() == 5);
  const BatchView v = out.view();
  CHECK(v.size == 5);
  CHECK(v.first_row == 0);
  for (std::size_t i = 0; i < rows.size(); ++i) check_row(v, static_cast<index_t>(i), rows[i]);

  // The bags' offsets are rebuilt for the gathered rows: 4, 0, 5, 4 and 2 ids.
  CHECK(out.offsets[1] == std::vector<index_t>{0, 4, 4, 9, 13, 15});
  CHECK(out.offsets[0] == std::vector<index_t>{0, 1, 2, 3, 4, 5});
  CHECK(out.ids[1].size() == 15);

  SECTION("gathering again into the same batch replaces its contents") {
    data.gather(std::vector<index_t>{1, 3}, out);
    REQUIRE(out.size() == 2);
    CHECK(out.labels.size() == 2);
    CHECK(out.offsets[1] == std::vector<index_t>{0, 1, 4});
    const BatchView w = out.view();
    check_row(w, 0, 1);
    check_row(w, 1, 3);
  }
  SECTION("a batch shaped for another schema is reshaped") {
    Schema other;
    other.add_dense("x");
    Batch b(other);
    b.add_one_hot(std::vector<float>{1.0f}, {}, 1.0f);
    data.gather(std::vector<index_t>{5}, b);
    REQUIRE(b.size() == 1);
    check_row(b.view(), 0, 5);
  }
  SECTION("no rows gives an empty batch") {
    data.gather(std::vector<index_t>{}, out);
    CHECK(out.size() == 0);
    CHECK(out.labels.empty());
    CHECK(out.offsets[1] == std::vector<index_t>{0});
  }
}

TEST_CASE("InMemoryDataset::gather gives unit weights when the data set has none", "[dataset]") {
  Batch b = bag_batch(4);
  b.weights.clear();
  const InMemoryDataset data(bag_schema(), std::move(b));
  Batch out;
  data.gather(std::vector<index_t>{3, 1}, out);
  REQUIRE(out.weights.size() == 2);
  CHECK(out.weights == std::vector<float>{1.0f, 1.0f});
  check_row(out.view(), 0, 3, true);
  check_row(out.view(), 1, 1, true);
}

TEST_CASE("InMemoryDataset rejects rows out of range and a batch that does not fit its schema", "[dataset][errors]") {
  const InMemoryDataset data(bag_schema(), bag_batch(5));
  Batch out;
  CHECK_THROWS_AS(data.gather(std::vector<index_t>{0, 5}, out), Error);
  CHECK_THROWS_WITH(data.gather(std::vector<index_t>{0, 5}, out), Catch::Contains("row 5 is outside [0, 5)"));
  CHECK_THROWS_WITH(data.gather(std::vector<index_t>{-1}, out), Catch::Contains("row -1 is outside [0, 5)"));
  // A failed gather leaves a batch that the next gather fills normally.
  data.gather(std::vector<index_t>{2}, out);
  REQUIRE(out.size() == 1);
  check_row(out.view(), 0, 2);

  Schema fewer;
  fewer.add_dense("d0");
  CHECK_THROWS_WITH(InMemoryDataset(fewer, bag_batch(2)), Catch::Contains("dense columns"));
  Schema no_ids;
  no_ids.add_dense("d0").add_dense("d1");
  CHECK_THROWS_WITH(InMemoryDataset(no_ids, bag_batch(2)), Catch::Contains("categorical fields"));
}

TEST_CASE("InMemoryDataset::order is the identity or a seeded permutation", "[dataset]") {
  Batch b;
  Schema s;
  s.add_dense("x");
  b.reset(s);
  const index_t n = 1000;
  for (index_t r = 0; r < n; ++r) b.add_one_hot(std::vector<float>{float(r)}, {}, 0.0f);
  const InMemoryDataset data(s, std::move(b));

  std::vector<index_t> identity(static_cast<std::size_t>(n));
  std::iota(identity.begin(), identity.end(), index_t(0));
  CHECK(data.order(false, 1) == identity);
  CHECK(data.order(false, 99) == identity);  // the seed does not matter without shuffling

  const auto a = data.order(true, 42);
  REQUIRE(a.size() == identity.size());
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == identity);                // a permutation of 0..n-1
  CHECK(a != identity);                     // actually shuffled
  CHECK(data.order(true, 42) == a);         // deterministic for a seed
  const auto other = data.order(true, 43);
  CHECK(other != a);                        // another seed, another order
  std::size_t same_place = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same_place += a[i] == other[i];
  CHECK(same_place < 20);                   // ~1 expected for independent permutations

  const InMemoryDataset empty;
  CHECK(empty.order(true, 1).empty());
}

TEST_CASE("BatchView::rows slices rows without copying", "[batch]") {
  const Batch b = bag_batch(6);
  const BatchView v = b.view();
  REQUIRE(v.size == 6);
  for (index_t r = 0; r < 6; ++r) check_row(v, r, r);

  const BatchView s = v.rows(2, 3);
  CHECK(s.size == 3);
  CHECK(s.first_row == 2);
  CHECK(s.dense.rows == 3);
  CHECK(s.dense.cols == 2);
  CHECK(s.fields[1].ids == v.fields[1].ids);  // ids are not copied: offsets are absolute
  for (index_t r = 0; r < 3; ++r) check_row(s, r, 2 + r);

  // A slice of a slice: first_row adds up.
  BatchView t;
  s.rows(1, 2, t);
  CHECK(t.size == 2);
  CHECK(t.first_row == 3);
  check_row(t, 0, 3);
  check_row(t, 1, 4);

  // Empty slices at either end are fine.
  CHECK(v.rows(6, 0).size == 0);
  CHECK(v.rows(0, 0).size == 0);

  SECTION("out of range") {
    CHECK_THROWS_AS(v.rows(4, 3), Error);
    CHECK_THROWS_WITH(v.rows(4, 3), Catch::Contains("[4, 7)") && Catch::Contains("batch of 6"));
    CHECK_THROWS_AS(v.rows(-1, 2), Error);
    CHECK_THROWS_AS(v.rows(2, -1), Error);
    CHECK_THROWS_AS(v.rows(7, 0), Error);
    CHECK_THROWS_AS(s.rows(2, 2), Error);  // the slice's own size (3) bounds it
  }
  SECTION("without weights every weight is 1") {
    Batch u = bag_batch(4);
    u.weights.clear();
    const BatchView uv = u.view().rows(1, 3);
    CHECK(uv.weights == nullptr);
    for (index_t r = 0; r < 3; ++r) CHECK(uv.weight(r) == 1.0f);
  }
  SECTION("a schema without dense fields") {
    Schema ids_only;
    ids_only.add_categorical("c", 10);
    Batch c(ids_only);
    for (int r = 0; r < 4; ++r) c.add_one_hot({}, std::vector<FeatureId>{FeatureId(r)}, 1.0f);
    const BatchView cv = c.view().rows(1, 2);
    CHECK(cv.size == 2);
    CHECK(cv.dense.cols == 0);
    CHECK(ids_of(cv, 0, 0) == std::vector<FeatureId>{1});
    CHECK(ids_of(cv, 0, 1) == std::vector<FeatureId>{2});
  }
}
