// Persistence of the two-tower retrieval models (compose/two_tower.hpp): ArchitectureTraits keyed
// by the model type TwoTower<QueryTower, CandidateTower, Sim, T> for any towers TowerTraits knows
// (Tower<MLP>, Tower<CrossTowerBody>, Tower<TransformerTowerBody>; io/architecture_tower.hpp) and
// either similarity, so TwoTowerMLP, TwoTowerDotMLP, TwoTowerCross, TwoTowerCrossCosine and
// TwoTowerTransformer all save and load. Name "two_tower"; __metadata__ "options":
//   {"query": <tower>, "candidate": <tower>,
//    "similarity": {"kind": "dot", "temperature": τ} | {"kind": "cosine", "temperature": τ, "eps": ε}}
// Loading a file into a model type with other tower kinds or another similarity fails, naming both.
// Include it (after or instead of io/model_io.hpp) wherever two-tower models are saved or loaded.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ctrnet/compose/two_tower.hpp"
#include "ctrnet/io/architecture_tower.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/layers/similarity.hpp"
#include "ctrnet/models/two_tower.hpp"

namespace ctrnet {

/// The options of a similarity as JSON; specialised for DotSimilarity and CosineSimilarity.
template <class Sim>
struct SimilarityTraits;

template <>
struct SimilarityTraits<DotSimilarity> {
  static nlohmann::json to_json(const DotSimilarity::Options& o) {
    return {{"kind", DotSimilarity::name}, {"temperature", o.temperature}};
  }
  static DotSimilarity::Options from_json(const nlohmann::json& j, const std::string& what) {
    detail::json_only_keys(j, {"kind", "temperature"}, what);
    DotSimilarity::Options o;
    o.temperature = detail::json_get<double>(j, "temperature", what);
    static_cast<void>(DotSimilarity(o));  // checks the temperature
    return o;
  }
};

template <>
struct SimilarityTraits<CosineSimilarity> {
  static nlohmann::json to_json(const CosineSimilarity::Options& o) {
    return {{"kind", CosineSimilarity::name}, {"temperature", o.temperature}, {"eps", o.eps}};
  }
  static CosineSimilarity::Options from_json(const nlohmann::json& j, const std::string& what) {
    detail::json_only_keys(j, {"kind", "temperature", "eps"}, what);
    CosineSimilarity::Options o;
    o.temperature = detail::json_get<double>(j, "temperature", what);
    o.eps = detail::json_get<double>(j, "eps", what);
    static_cast<void>(CosineSimilarity(o));  // checks temperature and eps
    return o;
  }
};

/// Every option of a TwoTower<Q, C, Sim>: both towers' and the similarity's.
template <class Q, class C, class Sim>
struct TwoTowerSpec {
  typename TowerTraits<Q>::Spec query{};
  typename TowerTraits<C>::Spec candidate{};
  typename Sim::Options similarity{};
};

template <class Q, class C, class Sim>
void to_json(nlohmann::json& j, const TwoTowerSpec<Q, C, Sim>& o) {
  j = {{"query", TowerTraits<Q>::to_json(o.query)},
       {"candidate", TowerTraits<C>::to_json(o.candidate)},
       {"similarity", SimilarityTraits<Sim>::to_json(o.similarity)}};
}
template <class Q, class C, class Sim>
void from_json(const nlohmann::json& j, TwoTowerSpec<Q, C, Sim>& o) {
  const std::string w = "two_tower options";
  detail::json_only_keys(j, {"query", "candidate", "similarity"}, w);
  o.query = TowerTraits<Q>::from_json(detail::json_at(j, "query", w), w + " 'query'");
  o.candidate = TowerTraits<C>::from_json(detail::json_at(j, "candidate", w), w + " 'candidate'");
  const std::string ws = w + " 'similarity'";
  const nlohmann::json& s = detail::json_at(j, "similarity", w);
  const std::string kind = detail::json_get<std::string>(s, "kind", ws);
  CTRNET_CHECK(kind == Sim::name, ws, ": the file holds a '", kind, "' similarity, the model type uses '", Sim::name,
               "'");
  o.similarity = SimilarityTraits<Sim>::from_json(s, ws);
}

/// Widths a file claims, checked against the elements it stores before anything is allocated
/// (found by argument-dependent lookup from load_model's rebuild_model).
template <class Q, class C, class Sim>
void check_option_sizes(const TwoTowerSpec<Q, C, Sim>& o, std::uint64_t elements, std::size_t tensors,
                        const std::string& src) {
  TowerTraits<Q>::check_sizes(o.query, elements, tensors, src);
  TowerTraits<C>::check_sizes(o.candidate, elements, tensors, src);
}

template <class Q, class C, class Sim, class T>
struct ArchitectureTraits<TwoTower<Q, C, Sim, T>> {
  using Model = TwoTower<Q, C, Sim, T>;
  static constexpr std::string_view name = "two_tower";
  using Options = TwoTowerSpec<Q, C, Sim>;
  static Options options(const Model& m) {
    return {TowerTraits<Q>::spec(m.query_tower()), TowerTraits<C>::spec(m.candidate_tower()), m.similarity().options()};
  }
  static Model make_model(const Options& o) {
    return Model(TowerTraits<Q>::make(o.query), TowerTraits<C>::make(o.candidate), Sim(o.similarity));
  }
  static void declare(const Options& o, const Schema& schema, ParamRegistry& reg) {
    Q q = TowerTraits<Q>::make(o.query);
    C c = TowerTraits<C>::make(o.candidate);
    q.build(schema, reg);
    c.build(schema, reg);
  }
};

}  // namespace ctrnet
