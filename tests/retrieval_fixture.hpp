// A small retrieval data set shared by tests (tests/train/test_allocations.cpp,
// tests/policy_boundary/test_guarded_retrieval.cpp): 40 queries, 30 items, dense values and, with
// `history`, a sequence field of up to 6 item ids.
#pragma once
#include <span>
#include <vector>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/train/two_tower_trainer.hpp"

namespace ctrnet::test_util {

// Queries: user id (40) and a dense value (with `history`: also a sequence of 0–6 item ids);
// items: item id (30) and a dense value.
inline RetrievalData retrieval_data(bool history = false) {
  Schema s;
  auto field = [&](const char* name, FieldKind kind, index_t vocab, const char* tower) {
    Field f;
    f.name = name;
    f.kind = kind;
    f.vocab_size = vocab;
    f.tower = tower;
    f.embedding_dim = 4;
    s.add(std::move(f));
  };
  field("user", FieldKind::categorical, 40, "query");
  field("u_x", FieldKind::dense, 0, "query");
  if (history) field("history", FieldKind::sequence, 30, "query");
  field("item", FieldKind::categorical, 30, "candidate");
  field("i_x", FieldKind::dense, 0, "candidate");
  RetrievalData d;
  d.schema = s;
  Batch q(s), it(s);
  Rng rng(5);
  for (FeatureId u = 0; u < 40; ++u) {
    const std::vector<float> dense{float(rng.uniform(-1, 1)), 0.f};
    const std::vector<FeatureId> user{u};
    std::vector<FeatureId> seen;
    for (std::uint64_t k = rng.below(7); k > 0; --k) seen.push_back(static_cast<FeatureId>(rng.below(30)));
    std::vector<std::span<const FeatureId>> ids{user};
    if (history) ids.push_back(seen);
    ids.push_back({});
    q.add(dense, ids, 1.f);
  }
  for (FeatureId i = 0; i < 30; ++i) {
    const std::vector<float> dense{0.f, float(rng.uniform(-1, 1))};
    const std::vector<FeatureId> item{i};
    std::vector<std::span<const FeatureId>> ids{{}};
    if (history) ids.push_back({});
    ids.push_back(item);
    it.add(dense, ids, 1.f);
  }
  d.queries = InMemoryDataset(s, std::move(q));
  d.items = InMemoryDataset(s, std::move(it));
  return d;
}

}  // namespace ctrnet::test_util
