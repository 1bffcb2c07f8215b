// Two-tower retrieval models with MLP towers (Covington et al., RecSys 2016; Yi et al., RecSys 2019):
//   u = MLP_q([dense | embeddings of the query fields]),  v = MLP_c([... candidate fields])
//   s(u, v) = ⟨û, v̂⟩ / τ  (TwoTowerMLP, cosine)   or   ⟨u, v⟩ / τ  (TwoTowerDotMLP)
// Fields are assigned to a tower by Field::tower ("query" / "candidate"); fields that name the
// same Field::table share one embedding table across the towers.
// Parameter names: query.<i>.weight / .bias, candidate.<i>.weight / .bias, embedding.<table>.
#pragma once
#include <cstdint>
#include <vector>

#include "ctrnet/compose/tower.hpp"
#include "ctrnet/compose/two_tower.hpp"
#include "ctrnet/layers/mlp.hpp"
#include "ctrnet/layers/similarity.hpp"

namespace ctrnet {

/// A tower whose body is an MLP.
using MLPTower = Tower<MLP>;
/// Two MLP towers with cosine similarity and a temperature (the common retrieval setup).
using TwoTowerMLP = TwoTower<MLPTower, MLPTower, CosineSimilarity>;
/// Two MLP towers with a (temperature-scaled) dot product.
using TwoTowerDotMLP = TwoTower<MLPTower, MLPTower, DotSimilarity>;

/// Flat options of the two-tower MLP models.
struct TwoTowerOptions {
  index_t embedding_dim = 32;               ///< fields without their own Field::embedding_dim
  std::vector<index_t> query_hidden = {};   ///< hidden widths of the query MLP
  std::vector<index_t> candidate_hidden = {};
  index_t output_dim = 64;                  ///< width of both embeddings (last MLP layer, linear)
  Activation activation = Activation::relu;
  double dropout = 0.0;
  double temperature = 0.05;                ///< τ of the similarity
  bool normalize = false;                   ///< L2-normalise the towers' outputs (dot similarity)
};

namespace detail {
inline MLPTower make_mlp_tower(const char* name, const std::vector<index_t>& hidden, const TwoTowerOptions& o) {
  CTRNET_CHECK(o.output_dim > 0, "TwoTowerOptions: output_dim must be positive, got ", o.output_dim);
  MLP::Options m;
  m.widths = hidden;
  m.widths.push_back(o.output_dim);
  m.activation = o.activation;
  m.last_activation = Activation::identity;
  m.dropout = o.dropout;
  MLPTower::Options t;
  t.name = name;
  t.embedding_dim = o.embedding_dim;
  t.normalize = o.normalize;
  return MLPTower(t, MLP(m));
}
}  // namespace detail

/// Unbuilt two-tower MLP model with similarity `Sim` (CosineSimilarity or DotSimilarity).
template <class Sim = CosineSimilarity>
TwoTower<MLPTower, MLPTower, Sim> two_tower_mlp(const TwoTowerOptions& o) {
  return TwoTower<MLPTower, MLPTower, Sim>(detail::make_mlp_tower("query", o.query_hidden, o),
                                           detail::make_mlp_tower("candidate", o.candidate_hidden, o),
                                           Sim(o.temperature));
}

/// Builds (and initialises from `seed`) a TwoTowerMLP (cosine) over `schema`.
inline TwoTowerMLP make_two_tower_mlp(const Schema& schema, const TwoTowerOptions& o = {}, std::uint64_t seed = 1) {
  TwoTowerMLP m = two_tower_mlp<CosineSimilarity>(o);
  m.build(schema, seed);
  return m;
}
/// Builds a TwoTowerDotMLP over `schema`.
inline TwoTowerDotMLP make_two_tower_dot_mlp(const Schema& schema, const TwoTowerOptions& o = {}, std::uint64_t seed = 1) {
  TwoTowerDotMLP m = two_tower_mlp<DotSimilarity>(o);
  m.build(schema, seed);
  return m;
}

}  // namespace ctrnet
