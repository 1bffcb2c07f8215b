// Session co-occurrence counting (data/cooccurrence.hpp): window, 1/d weights, directed,
// action weights and per-action counts, min_count, the memory bound (pruning, a huge session),
// thread-count invariance and streaming add() in chunks, on hand-computed made-up sessions.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/cooccurrence.hpp"

using namespace ctrnet;

namespace {

Session make_session(std::int64_t id, std::vector<std::int64_t> items, std::vector<std::int64_t> actions = {}) {
  Session s;
  s.id = id;
  s.items = std::move(items);
  for (std::size_t i = 0; i < s.items.size(); ++i) s.times.push_back(static_cast<double>(id * 1000 + static_cast<std::int64_t>(i)));
  s.actions = actions.empty() ? std::vector<std::int64_t>(s.items.size(), 0) : std::move(actions);
  return s;
}

// S1 = [10, 20, 30, 40], S2 = [20, 10, 20].
std::vector<Session> two_sessions() { return {make_session(1, {10, 20, 30, 40}), make_session(2, {20, 10, 20})}; }

double X(const CooccurrenceTable& t, std::int64_t a, std::int64_t b) { return t.count(t.index_of(a), t.index_of(b)); }
std::int64_t R(const CooccurrenceTable& t, std::int64_t a, std::int64_t b) {
  const CooccurrencePair* p = t.find(t.index_of(a), t.index_of(b));
  return p ? p->raw : 0;
}

std::vector<Session> random_sessions(std::uint64_t seed, int count, int max_len, int items) {
  Rng rng(seed);
  std::vector<Session> out;
  for (int s = 0; s < count; ++s) {
    const int len = 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(max_len)));
    std::vector<std::int64_t> it, ac;
    for (int i = 0; i < len; ++i) {
      // skewed popularity: squares of uniforms
      const double u = rng.uniform();
      it.push_back(1000 + static_cast<std::int64_t>(u * u * items));
      ac.push_back(static_cast<std::int64_t>(rng.below(3)));
    }
    out.push_back(make_session(s, it, ac));
  }
  return out;
}

// Bitwise comparison of two tables; one assertion (the first difference is reported).
void require_identical(const CooccurrenceTable& a, const CooccurrenceTable& b) {
  auto same = [](double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; };
  std::string diff;
  if (a.num_items() != b.num_items() || a.num_pairs() != b.num_pairs()) diff = "sizes";
  for (index_t i = 0; diff.empty() && i < a.num_items(); ++i)
    if (a.item_id(i) != b.item_id(i) || a.item_events(i) != b.item_events(i) ||
        a.item_sessions(i) != b.item_sessions(i) || !same(a.row_sum(i), b.row_sum(i)) ||
        !same(a.col_sum(i), b.col_sum(i)))
      diff = "item " + std::to_string(i);
  for (index_t e = 0; diff.empty() && e < a.num_pairs(); ++e) {
    const CooccurrencePair &p = a.pairs()[static_cast<std::size_t>(e)], &q = b.pairs()[static_cast<std::size_t>(e)];
    const auto x = a.action_counts(e), y = b.action_counts(e);
    if (p.item != q.item || !same(p.count, q.count) || p.raw != q.raw ||
        !std::equal(x.begin(), x.end(), y.begin(), y.end()))
      diff = "pair entry " + std::to_string(e);
  }
  if (diff.empty() && (!std::equal(a.offsets().begin(), a.offsets().end(), b.offsets().begin(), b.offsets().end()) ||
                       !same(a.total(), b.total())))
    diff = "offsets or total";
  INFO("first difference: " << diff);
  REQUIRE(diff.empty());
}

}  // namespace

TEST_CASE("co-occurrence: window 2 with 1/d weights, undirected, hand-computed", "[data][cooccurrence]") {
  CooccurrenceOptions o;
  o.window = 2;
  const CooccurrenceTable t = count_cooccurrence(two_sessions(), o);
  // Vocabulary in raw id order.
  REQUIRE(t.num_items() == 4);
  CHECK(t.item_id(0) == 10);
  CHECK(t.item_id(3) == 40);
  CHECK(t.index_of(30) == 2);
  CHECK(t.index_of(99) == -1);
  CHECK_THROWS_AS(t.item_id(4), Error);
  // S1: 10-20 1, 10-30 1/2, 20-30 1, 20-40 1/2, 30-40 1 (10-40 is 3 apart); S2: 20-10 twice at d=1.
  CHECK(X(t, 10, 20) == 3.0);
  CHECK(R(t, 10, 20) == 3);
  CHECK(X(t, 20, 10) == 3.0);
  CHECK(X(t, 10, 30) == 0.5);
  CHECK(X(t, 20, 30) == 1.0);
  CHECK(X(t, 20, 40) == 0.5);
  CHECK(X(t, 30, 40) == 1.0);
  CHECK(X(t, 10, 40) == 0.0);
  CHECK(t.find(t.index_of(10), t.index_of(40)) == nullptr);
  CHECK(t.find(0, 0) == nullptr);  // repeated clicks of one item are not pairs
  CHECK(t.num_pairs() == 10);
  // Popularity.
  CHECK(t.item_events(t.index_of(20)) == 3);
  CHECK(t.item_sessions(t.index_of(20)) == 2);
  CHECK(t.item_events(t.index_of(40)) == 1);
  CHECK(t.num_events() == 7);
  CHECK(t.num_sessions() == 2);
  // Row sums, totals, CSR order.
  CHECK(t.row_sum(t.index_of(10)) == 3.5);
  CHECK(t.row_sum(t.index_of(20)) == 4.5);
  CHECK(t.row_sum(t.index_of(30)) == 2.5);
  CHECK(t.col_sum(t.index_of(40)) == 1.5);
  CHECK(t.total() == 12.0);
  CHECK(t.total_raw() == 14);
  const auto row = t.neighbors(t.index_of(20));
  REQUIRE(row.size() == 3);
  CHECK(row[0].item == 0);
  CHECK(row[1].item == 2);
  CHECK(row[2].item == 3);
  CHECK(t.pruned_pairs() == 0);
  CHECK(t.prune_error_bound() == 0.0);
}

TEST_CASE("co-occurrence: whole session, no distance weighting, directed", "[data][cooccurrence]") {
  CooccurrenceOptions o;
  o.window = 0;
  CHECK(X(count_cooccurrence(two_sessions(), o), 10, 40) == Approx(1.0 / 3.0).epsilon(1e-9));
  o.window = 2;
  o.distance_weighting = false;
  const CooccurrenceTable u = count_cooccurrence(two_sessions(), o);
  CHECK(X(u, 10, 20) == 3.0);
  CHECK(X(u, 10, 30) == 1.0);
  CHECK(X(u, 20, 40) == 1.0);
  CHECK(X(u, 10, 40) == 0.0);
  o.distance_weighting = true;
  o.directed = true;
  const CooccurrenceTable d = count_cooccurrence(two_sessions(), o);
  CHECK(X(d, 10, 20) == 2.0);  // S1 10→20, S2 10→20
  CHECK(X(d, 20, 10) == 1.0);  // S2 20→10
  CHECK(X(d, 10, 30) == 0.5);
  CHECK(X(d, 30, 10) == 0.0);
  CHECK(X(d, 40, 30) == 0.0);
  CHECK(d.num_pairs() == 6);
  CHECK(d.row_sum(d.index_of(10)) == 2.5);
  CHECK(d.col_sum(d.index_of(10)) == 1.0);
}

TEST_CASE("co-occurrence: action weights and per-action counts of B's event", "[data][cooccurrence]") {
  CooccurrenceOptions o;
  o.window = 0;
  o.distance_weighting = false;
  o.action_weights = {1.0, 3.0};  // e.g. view, buy
  const CooccurrenceTable t = count_cooccurrence({make_session(1, {1, 2, 3}, {0, 1, 0})}, o);
  REQUIRE(t.action_types() == 2);
  CHECK(X(t, 1, 2) == 3.0);  // 1 · 3
  CHECK(X(t, 1, 3) == 1.0);
  CHECK(X(t, 2, 3) == 3.0);
  const auto c12 = t.action_counts(t.entry_index(0, 1));  // row 1, B = 2 was a buy
  CHECK(c12[0] == 0);
  CHECK(c12[1] == 1);
  const auto c21 = t.action_counts(*t.find(1, 0));  // row 2, B = 1 was a view
  CHECK(c21[0] == 1);
  CHECK(c21[1] == 0);
  const auto ev = t.item_action_events(1);
  CHECK(ev[0] == 0);
  CHECK(ev[1] == 1);
  // Directed: per-action counts are the later (B) event's.
  o.directed = true;
  const CooccurrenceTable d = count_cooccurrence({make_session(1, {1, 2, 3}, {0, 1, 0})}, o);
  CHECK(d.action_counts(d.entry_index(0, 1))[1] == 1);
  CHECK(d.action_counts(d.entry_index(1, 2))[0] == 1);
  // Actions out of range, mismatched options.
  CHECK_THROWS_WITH(count_cooccurrence({make_session(1, {1, 2}, {0, 2})}, o), Catch::Contains("action type 2"));
  CooccurrenceOptions bad;
  bad.action_weights = {1.0, 2.0};
  bad.action_types = 3;
  CHECK_THROWS_AS(CooccurrenceCounter(bad), Error);
  CooccurrenceOptions neg;
  neg.window = -1;
  CHECK_THROWS_WITH(CooccurrenceCounter(neg), Catch::Contains("window"));
  CHECK_THROWS_WITH(count_cooccurrence({make_session(1, {1, 2}, {0, 1})}, CooccurrenceOptions{}),
                    Catch::Contains("action_types"));
}

TEST_CASE("co-occurrence: min_count drops light pairs in finish()", "[data][cooccurrence]") {
  CooccurrenceOptions o;
  o.window = 2;
  o.min_count = 1.0;
  const CooccurrenceTable t = count_cooccurrence(two_sessions(), o);
  CHECK(t.num_pairs() == 6);
  CHECK(t.below_min_count() == 4);
  CHECK(X(t, 10, 30) == 0.0);
  CHECK(X(t, 30, 10) == 0.0);
  CHECK(X(t, 30, 40) == 1.0);
  CHECK(t.row_sum(t.index_of(10)) == 3.0);
  CHECK(t.num_items() == 4);  // items stay in the vocabulary
}

TEST_CASE("co-occurrence: max_pairs keeps the heaviest pairs and reports the error bound", "[data][cooccurrence]") {
  CooccurrenceOptions o;
  o.window = 1;
  o.max_pairs = 2;
  const std::vector<Session> s{make_session(1, {1, 2}), make_session(2, {1, 2}), make_session(3, {1, 2}),
                               make_session(4, {1, 3}), make_session(5, {3, 1}), make_session(6, {2, 3})};
  CooccurrenceCounter c(o);
  c.add(s);
  CHECK(c.distinct_pairs() == 2);
  const CooccurrenceTable t = c.finish();
  CHECK(X(t, 1, 2) == 3.0);
  CHECK(X(t, 1, 3) == 2.0);
  CHECK(X(t, 2, 3) == 0.0);  // dropped
  CHECK(t.pruned_pairs() == 1);
  CHECK(t.prune_error_bound() == 1.0);
  CHECK(t.item_events(t.index_of(3)) == 3);  // item statistics are exact
}

TEST_CASE("co-occurrence: a huge session stays within the memory bound", "[data][cooccurrence]") {
  // 1,500 distinct items in one session, whole-session window: ~1.1 million pairs exactly.
  std::vector<std::int64_t> items(1500);
  for (std::size_t i = 0; i < items.size(); ++i) items[i] = static_cast<std::int64_t>((i * 7919) % 1500);
  const std::vector<Session> s{make_session(1, items), make_session(2, {5, 6, 5, 6, 5, 6})};
  CooccurrenceOptions o;
  o.window = 0;
  o.max_pairs = 1000;
  CooccurrenceCounter c(o);
  c.add(s);
  CHECK(c.distinct_pairs() <= 1000);
  const CooccurrenceTable t = c.finish();
  CHECK(t.num_pairs() <= 2000);
  CHECK(t.pruned_pairs() > 0);
  CHECK(t.num_items() == 1500);
  // Kept counts are lower bounds of the exact ones, short by at most the bound.
  std::vector<std::size_t> pos(1500);
  for (std::size_t i = 0; i < items.size(); ++i) pos[static_cast<std::size_t>(items[i])] = i;
  const double bound = t.prune_error_bound();
  int violations = 0;
  for (index_t a = 0; a < t.num_items(); ++a)
    for (const CooccurrencePair& p : t.neighbors(a)) {
      const std::size_t pa = pos[static_cast<std::size_t>(t.item_id(a))], pb = pos[static_cast<std::size_t>(t.item_id(p.item))];
      double exact = 1.0 / static_cast<double>(pa > pb ? pa - pb : pb - pa);
      if ((t.item_id(a) == 5 || t.item_id(a) == 6) && (t.item_id(p.item) == 5 || t.item_id(p.item) == 6))
        exact += 1.0 + 1.0 / 3.0 + 1.0 / 5.0 + 1.0 + 1.0 / 3.0 + 1.0 + 1.0 / 3.0 + 1.0 + 1.0;  // S2's 5-6 pairs
      violations += p.count > exact + 1e-6 || p.count < exact - bound - 1e-6;
    }
  CHECK(violations == 0);
  // The heaviest pair (5, 6: 1/1 + 1 + 1 + ... from S2) survives.
  CHECK(t.find(t.index_of(5), t.index_of(6)) != nullptr);
  // Identical for any thread count.
  o.threads = 1;
  require_identical(count_cooccurrence(s, o), t);
}

TEST_CASE("co-occurrence: bitwise identical for any thread count and any chunking", "[data][cooccurrence]") {
  const std::vector<Session> s = random_sessions(7, 2000, 25, 400);
  for (const bool directed : {false, true}) {
    CooccurrenceOptions o;
    o.window = 4;
    o.directed = directed;
    o.action_weights = {1.0, 0.3, 2.5};  // weights that are not exact in fixed point
    o.threads = 1;
    const CooccurrenceTable ref = count_cooccurrence(s, o);
    REQUIRE(ref.num_pairs() > 1000);
    for (const int th : {2, 4}) {
      o.threads = th;
      require_identical(ref, count_cooccurrence(s, o));
    }
    // Streaming: chunks of uneven sizes.
    CooccurrenceCounter c(o);
    std::size_t b = 0;
    for (std::size_t len : {1u, 17u, 500u, 0u, 1234u}) {
      c.add(std::span<const Session>(s).subspan(b, len));
      b += len;
    }
    c.add(std::span<const Session>(s).subspan(b));
    require_identical(ref, c.finish());
    // The counts sum the weights: compare with a direct double sum (up to fixed-point rounding).
    double direct = 0.0;
    for (const Session& x : s)
      for (std::size_t i = 0; i < x.items.size(); ++i)
        for (std::size_t j = i + 1; j < std::min(x.items.size(), i + 5); ++j)
          if (x.items[i] != x.items[j])
            direct += (directed ? 1.0 : 2.0) / static_cast<double>(j - i) *
                      o.action_weights[static_cast<std::size_t>(x.actions[i])] *
                      o.action_weights[static_cast<std::size_t>(x.actions[j])];
    CHECK(ref.total() == Approx(direct).epsilon(1e-9));
  }
  // With pruning: still identical for any thread count.
  CooccurrenceOptions p;
  p.window = 0;
  p.max_pairs = 3000;
  p.action_types = 3;
  p.threads = 1;
  const CooccurrenceTable r1 = count_cooccurrence(s, p);
  CHECK(r1.pruned_pairs() > 0);
  p.threads = 4;
  require_identical(r1, count_cooccurrence(s, p));
}
