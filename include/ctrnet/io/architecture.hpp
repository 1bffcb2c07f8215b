// Architecture traits for persistence: the stable name of each model alias's body, how to read its
// flat Options back from a (built or unbuilt) body, how to rebuild the body from them, and the JSON
// form of the Options and of a Schema, as stored in a saved model's __metadata__.
//   ArchitectureTraits<Body>::name          "wide_deep", "dcn_v2_stacked", ...
//   ArchitectureTraits<Body>::options(body) the flat options the body was made from
//   ArchitectureTraits<Body>::make_body(o)  the same body, unbuilt
//   architecture_name<Model>                the name, from a model type
// A Model<Body, Heads...> with other heads than one BinaryHead (a multi-output model) saves its
// heads' options too, under the name "<body>+<head>+..." (detail::BodyArchitecture).
// Models whose options are more than their body's (two-tower: the similarity; item-to-item: the
// heads) have ArchitectureTraits keyed by the model type instead, with options(model),
// make_model(o) and declare(o, schema, registry); ModelArchitectureTraits<M> picks either.
#pragma once
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/core/error.hpp"
#include "ctrnet/data/schema.hpp"
#include "ctrnet/data/schema_json.hpp"
#include "ctrnet/compose/model.hpp"
#include "ctrnet/heads/binary.hpp"
#include "ctrnet/io/architecture_heads.hpp"
#include "ctrnet/models/dcn.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/wide_deep.hpp"

namespace ctrnet {

/// The library version written into every saved file (matches the CMake project version).
inline constexpr std::string_view kVersion = "0.1.0";

/// Specialised for each body type that can be saved and rebuilt (see the header comment), or for a
/// whole model type (keyed by the model: TwoTower, the item-to-item models), then with
///   options(const M&) / make_model(o) (unbuilt) / declare(o, schema, reg) (registry only)
/// so that the heads' or the similarity's options are stored too (io/architecture_two_tower.hpp).
template <class BodyOrModel>
struct ArchitectureTraits;

namespace detail {

/// ArchitectureTraits keyed by the model type M itself.
template <class M>
concept ModelKeyedArchitecture = requires { ArchitectureTraits<M>::name; &ArchitectureTraits<M>::make_model; };
/// The heads of a Model<Body, Heads...> (BasicModel<T, Body, Heads...>), as a type list.
template <class M>
struct ModelHeads;
template <class T, class Body, class... Heads>
struct ModelHeads<BasicModel<T, Body, Heads...>> {
  using type = std::tuple<Heads...>;
};
template <class HeadTuple>
inline constexpr bool heads_have_traits = false;
template <class... H>
inline constexpr bool heads_have_traits<std::tuple<H...>> = (requires { &HeadTraits<H>::from_json; } && ...);
/// Every head of M has HeadTraits (io/architecture_heads.hpp), so its options can be saved.
template <class M>
concept SavableHeads = requires { typename ModelHeads<M>::type; } && heads_have_traits<typename ModelHeads<M>::type>;
/// ArchitectureTraits keyed by M's body, and heads that can be saved: a Model<Body, Heads...> alias.
template <class M>
concept BodyKeyedArchitecture = requires { ArchitectureTraits<typename M::body_type>::name; } && SavableHeads<M>;

/// "<body name>+<head name>+...": the architecture name of a model with other heads than one
/// BinaryHead (e.g. "dcn_v2_stacked+binary+glove").
template <class Body, class... Heads>
struct HeadedName {
  static constexpr std::size_t length =
      ArchitectureTraits<Body>::name.size() + ((1 + std::string_view(Heads::name).size()) + ... + 0);
  static constexpr std::array<char, length> chars = [] {
    std::array<char, length> a{};
    std::size_t i = 0;
    for (char c : ArchitectureTraits<Body>::name) a[i++] = c;
    auto add = [&](std::string_view h) {
      a[i++] = '+';
      for (char c : h) a[i++] = c;
    };
    (add(std::string_view(Heads::name)), ...);
    return a;
  }();
  static constexpr std::string_view value{chars.data(), length};
};

/// The options of a body-keyed model with other heads than one BinaryHead: the body's flat
/// options and every head's, as {"body": {...}, "heads": [{"kind": ..., ...}, ...]}.
template <class BodyOptions, class... Heads>
struct HeadedOptions {
  BodyOptions body{};
  std::tuple<Heads...> heads{};

  friend void to_json(nlohmann::json& j, const HeadedOptions& o) {
    nlohmann::json hs = nlohmann::json::array();
    std::apply([&](const auto&... h) { (hs.push_back(HeadTraits<std::decay_t<decltype(h)>>::to_json(h)), ...); }, o.heads);
    j = {{"body", nlohmann::json(o.body)}, {"heads", hs}};
  }
  friend void from_json(const nlohmann::json& j, HeadedOptions& o) {
    const std::string w = "model options";
    json_only_keys(j, {"body", "heads"}, w);
    o.body = json_at(j, "body", w).template get<BodyOptions>();
    const nlohmann::json& hs = json_at(j, "heads", w);
    CTRNET_CHECK(hs.is_array() && hs.size() == sizeof...(Heads), w, ": 'heads' must be an array of ", sizeof...(Heads),
                 " heads, got ", hs.dump());
    std::size_t k = 0;
    std::apply(
        [&](auto&... h) {
          ((h = HeadTraits<std::decay_t<decltype(h)>>::from_json(hs[k], w + " head " + std::to_string(k)), ++k), ...);
        },
        o.heads);
  }
};

/// Throws unless `rebuilt` declares the parameters and tables of `model` (names and shapes).
inline void check_same_layout(const ParamRegistry& rebuilt, const ParamRegistry& model, std::string_view arch) {
  bool same = rebuilt.params().size() == model.params().size() && rebuilt.tables().size() == model.tables().size();
  for (std::size_t i = 0; same && i < model.params().size(); ++i)  // host: registry entries
    same = rebuilt.params()[i].name == model.params()[i].name &&
           rebuilt.params()[i].handle.size() == model.params()[i].handle.size();
  for (std::size_t i = 0; same && i < model.tables().size(); ++i)  // host: registry entries
    same = rebuilt.tables()[i].name == model.tables()[i].name && rebuilt.tables()[i].handle.rows == model.tables()[i].handle.rows &&
           rebuilt.tables()[i].handle.dim == model.tables()[i].handle.dim;
  CTRNET_CHECK(same, arch, ": the body's options do not rebuild this model's parameters (a layer they cannot ",
               "express, e.g. another logit width than the heads read); it cannot be saved as '", arch, "'");
}

/// The model-level view of body-keyed traits for M = Model<Body, Heads...>. With exactly one
/// BinaryHead (the CTR aliases) the name and options are the body's (its options do not change
/// predictions: weight and target only shape the loss); otherwise the name lists the heads
/// (HeadedName) and the options hold every head's (HeadedOptions).
template <class M, class Heads = typename ModelHeads<M>::type>
struct BodyArchitecture;

template <class M>
struct BodyArchitecture<M, std::tuple<BinaryHead>> {
  using Traits = ArchitectureTraits<typename M::body_type>;
  static constexpr std::string_view name = Traits::name;
  using Options = typename Traits::Options;
  static Options options(const M& m) { return Traits::options(m.body()); }
  static M make_model(const Options& o) { return M{Traits::make_body(o), BinaryHead{}}; }
  /// Declares the parameters of the model `o` describes into `reg` (allocates nothing).
  static void declare(const Options& o, const Schema& schema, ParamRegistry& reg) {
    auto body = Traits::make_body(o);
    body.build(schema, reg);
  }
};

template <class M, class... Heads>
struct BodyArchitecture<M, std::tuple<Heads...>> {
  using Traits = ArchitectureTraits<typename M::body_type>;
  static constexpr std::string_view name = HeadedName<typename M::body_type, Heads...>::value;
  using Options = HeadedOptions<typename Traits::Options, Heads...>;
  static Options options(const M& m) {
    Options o;
    o.body = Traits::options(m.body());
    o.heads = [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple<Heads...>{m.template head<I>()...};
    }(std::index_sequence_for<Heads...>{});
    if (m.built()) {  // the flat options must rebuild this very body (e.g. its logit width): else an error now,
      ParamRegistry reg;  // not a file that fails to load
      declare(o, m.schema(), reg);
      check_same_layout(reg, m.registry(), name);
    }
    return o;
  }
  static M make_model(const Options& o) {
    return std::apply([&](const auto&... h) { return M{Traits::make_body(o.body), h...}; }, o.heads);
  }
  static void declare(const Options& o, const Schema& schema, ParamRegistry& reg) {
    auto body = Traits::make_body(o.body);
    body.build(schema, reg);
  }
};

}  // namespace detail

/// Whether the model type `M` has ArchitectureTraits (so load_model<M> can rebuild it).
template <class M>
concept SavableArchitecture = detail::ModelKeyedArchitecture<M> || detail::BodyKeyedArchitecture<M>;

/// The traits save_model / load_model use for the model type M: ArchitectureTraits<M> when keyed
/// by the model, else the body's wrapped in detail::BodyArchitecture.
namespace detail {
template <class M, bool ModelKeyed = ModelKeyedArchitecture<M>>
struct ModelArchitectureTraitsOf {
  using type = ArchitectureTraits<M>;
};
template <class M>
struct ModelArchitectureTraitsOf<M, false> {  // only named (instantiated) for body-keyed models
  using type = BodyArchitecture<M>;
};
}  // namespace detail
template <SavableArchitecture M>
using ModelArchitectureTraits = typename detail::ModelArchitectureTraitsOf<M>::type;

template <SavableArchitecture M>
inline constexpr std::string_view architecture_name = ModelArchitectureTraits<M>::name;

namespace detail {

inline void check_default_wide(const WideLinear::Options& w, std::string_view arch) {
  CTRNET_CHECK(w.cross_seed == WideLinear::Options{}.cross_seed, arch,
               ": the wide part uses a non-default cross_seed, which the flat options cannot express");
}
inline void check_default_input(const FeatureInput::Options& fi, std::string_view arch) {
  CTRNET_CHECK(fi.fields.empty(), arch, ": the input layer reads a subset of the fields, which the flat options "
               "cannot express");
}

}  // namespace detail

// ------------------------------------------------------------------------------------------------
// JSON of the options and the schema (free functions found by nlohmann::json through ADL).
// ------------------------------------------------------------------------------------------------

inline void to_json(nlohmann::json& j, const LogisticRegressionOptions& o) {
  j = {{"crosses", o.crosses}, {"cross_buckets", o.cross_buckets}, {"dense", o.dense}};
}
inline void from_json(const nlohmann::json& j, LogisticRegressionOptions& o) {
  constexpr std::string_view w = "LogisticRegressionOptions";
  detail::json_only_keys(j, {"crosses", "cross_buckets", "dense"}, w);
  o.crosses = detail::json_get<std::vector<std::vector<std::string>>>(j, "crosses", w);
  o.cross_buckets = detail::json_size(j, "cross_buckets", w);
  o.dense = detail::json_get<bool>(j, "dense", w);
}

inline void to_json(nlohmann::json& j, const WideDeepOptions& o) {
  j = {{"embedding_dim", o.embedding_dim}, {"hidden", o.hidden},
       {"activation", to_string(o.activation)}, {"dropout", o.dropout},
       {"crosses", o.crosses},             {"cross_buckets", o.cross_buckets},
       {"wide_dense", o.wide_dense}};
}
inline void from_json(const nlohmann::json& j, WideDeepOptions& o) {
  constexpr std::string_view w = "WideDeepOptions";
  detail::json_only_keys(j, {"embedding_dim", "hidden", "activation", "dropout", "crosses", "cross_buckets", "wide_dense"},
                         w);
  o.embedding_dim = detail::json_size(j, "embedding_dim", w);
  o.hidden = detail::json_get<std::vector<index_t>>(j, "hidden", w);
  o.activation = parse_activation(detail::json_get<std::string>(j, "activation", w));
  o.dropout = detail::json_get<double>(j, "dropout", w);
  o.crosses = detail::json_get<std::vector<std::vector<std::string>>>(j, "crosses", w);
  o.cross_buckets = detail::json_size(j, "cross_buckets", w);
  o.wide_dense = detail::json_get<bool>(j, "wide_dense", w);
}

inline void to_json(nlohmann::json& j, const DCNOptions& o) {
  j = {{"embedding_dim", o.embedding_dim},
       {"cross_depth", o.cross_depth},
       {"rank", o.rank},
       {"experts", o.experts},
       {"expert_activation", to_string(o.expert_activation)},
       {"hidden", o.hidden},
       {"activation", to_string(o.activation)},
       {"dropout", o.dropout}};
  if (o.outputs != 1) j["outputs"] = o.outputs;  // multi-output models only: single-output files keep their bytes
}
inline void from_json(const nlohmann::json& j, DCNOptions& o) {
  constexpr std::string_view w = "DCNOptions";
  detail::json_only_keys(
      j, {"embedding_dim", "cross_depth", "rank", "experts", "expert_activation", "hidden", "activation", "dropout",
          "outputs"},
      w);
  o.embedding_dim = detail::json_size(j, "embedding_dim", w);
  o.cross_depth = detail::json_size(j, "cross_depth", w);
  o.rank = detail::json_size(j, "rank", w);
  o.experts = detail::json_size(j, "experts", w);
  o.expert_activation = parse_activation(detail::json_get<std::string>(j, "expert_activation", w));
  o.hidden = detail::json_get<std::vector<index_t>>(j, "hidden", w);
  o.activation = parse_activation(detail::json_get<std::string>(j, "activation", w));
  o.dropout = detail::json_get<double>(j, "dropout", w);
  o.outputs = j.contains("outputs") ? detail::json_size(j, "outputs", w) : 1;
  CTRNET_CHECK(o.outputs >= 1, w, ": outputs must be >= 1, got ", o.outputs);
}

// ------------------------------------------------------------------------------------------------
// The traits of each architecture.
// ------------------------------------------------------------------------------------------------

template <>
struct ArchitectureTraits<WideLinear> {
  static constexpr std::string_view name = "logistic_regression";
  using Options = LogisticRegressionOptions;
  static Options options(const WideLinear& b) {
    detail::check_default_wide(b.options(), name);
    return {b.options().crosses, b.options().cross_buckets, b.options().dense};
  }
  static WideLinear make_body(const Options& o) {
    WideLinear::Options w;
    w.crosses = o.crosses;
    w.cross_buckets = o.cross_buckets;
    w.dense = o.dense;
    return WideLinear(w);
  }
};

template <>
struct ArchitectureTraits<WideDeepBody> {
  static constexpr std::string_view name = "wide_deep";
  using Options = WideDeepOptions;
  static Options options(const WideDeepBody& b) {
    const WideLinear::Options& w = b.template get<0>().inner().options();
    const WideDeepDeepPart& deep = b.template get<1>().inner();
    const FeatureInput::Options& fi = deep.template get<0>().options();
    const MLP::Options& mlp = deep.template get<1>().inner().options();
    detail::check_default_wide(w, name);
    detail::check_default_input(fi, name);
    Options o;
    o.embedding_dim = fi.embedding_dim;
    o.hidden = mlp.widths;
    o.activation = mlp.activation;
    o.dropout = mlp.dropout;
    o.crosses = w.crosses;
    o.cross_buckets = w.cross_buckets;
    o.wide_dense = w.dense;
    return o;
  }
  static WideDeepBody make_body(const Options& o) { return make_wide_deep_body(o); }
};

namespace detail {
/// DCNOptions common to every DCN body: input, MLP (the Named<MLP> `deep`).
inline void dcn_common_options(const FeatureInput& in, const MLP& mlp, DCNOptions& o, std::string_view arch) {
  check_default_input(in.options(), arch);
  o.embedding_dim = in.options().embedding_dim;
  o.hidden = mlp.options().widths;
  o.activation = mlp.options().activation;
  o.dropout = mlp.options().dropout;
}
}  // namespace detail

template <>
struct ArchitectureTraits<DCNBody> {
  static constexpr std::string_view name = "dcn";
  using Options = DCNOptions;
  static Options options(const DCNBody& b) {
    const auto& branches = b.template get<1>().inner();
    Options o;
    detail::dcn_common_options(b.template get<0>(), branches.template get<1>().inner(), o, name);
    o.cross_depth = branches.template get<0>().inner().options().depth;
    o.rank = 0;
    o.outputs = b.template get<2>().inner().options().units;
    return o;
  }
  static DCNBody make_body(const Options& o) { return make_dcn_body(o); }
};

template <>
struct ArchitectureTraits<DCNv2StackedBody> {
  static constexpr std::string_view name = "dcn_v2_stacked";
  using Options = DCNOptions;
  static Options options(const DCNv2StackedBody& b) {
    Options o;
    detail::dcn_common_options(b.template get<0>(), b.template get<2>().inner(), o, name);
    o.cross_depth = b.template get<1>().inner().options().depth;
    o.rank = b.template get<1>().inner().options().layer.rank;
    o.outputs = b.template get<3>().inner().options().units;
    return o;
  }
  static DCNv2StackedBody make_body(const Options& o) { return make_dcn_v2_stacked_body(o); }
};

template <>
struct ArchitectureTraits<DCNv2ParallelBody> {
  static constexpr std::string_view name = "dcn_v2_parallel";
  using Options = DCNOptions;
  static Options options(const DCNv2ParallelBody& b) {
    const auto& branches = b.template get<1>().inner();
    Options o;
    detail::dcn_common_options(b.template get<0>(), branches.template get<1>().inner(), o, name);
    o.cross_depth = branches.template get<0>().inner().options().depth;
    o.rank = branches.template get<0>().inner().options().layer.rank;
    o.outputs = b.template get<2>().inner().options().units;
    return o;
  }
  static DCNv2ParallelBody make_body(const Options& o) { return make_dcn_v2_parallel_body(o); }
};

template <>
struct ArchitectureTraits<DCNMixBody> {
  static constexpr std::string_view name = "dcn_mix";
  using Options = DCNOptions;
  static Options options(const DCNMixBody& b) {
    Options o;
    detail::dcn_common_options(b.template get<0>(), b.template get<2>().inner(), o, name);
    const auto& c = b.template get<1>().inner().options();
    o.cross_depth = c.depth;
    o.rank = c.layer.rank;
    o.experts = c.layer.experts;
    o.expert_activation = c.layer.activation;
    o.outputs = b.template get<3>().inner().options().units;
    return o;
  }
  static DCNMixBody make_body(const Options& o) { return make_dcn_mix_body(o); }
};

}  // namespace ctrnet
