// Architecture traits for persistence: the stable name of each model alias's body, how to read its
// flat Options back from a (built or unbuilt) body, how to rebuild the body from them, and the JSON
// form of the Options and of a Schema, as stored in a saved model's __metadata__.
//   ArchitectureTraits<Body>::name          "wide_deep", "dcn_v2_stacked", ...
//   ArchitectureTraits<Body>::options(body) the flat options the body was made from
//   ArchitectureTraits<Body>::make_body(o)  the same body, unbuilt
//   architecture_name<Model>                the name, from a model type
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/core/error.hpp"
#include "ctrnet/data/schema.hpp"
#include "ctrnet/models/dcn.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/wide_deep.hpp"

namespace ctrnet {

/// The library version written into every saved file (matches the CMake project version).
inline constexpr std::string_view kVersion = "0.1.0";

/// Specialised for each body type that can be saved and rebuilt; see the header comment.
template <class Body>
struct ArchitectureTraits;

/// Whether the model type `M` has ArchitectureTraits (so load_model<M> can rebuild it).
template <class M>
concept SavableArchitecture = requires { ArchitectureTraits<typename M::body_type>::name; };

template <class M>
inline constexpr std::string_view architecture_name = ArchitectureTraits<typename M::body_type>::name;

namespace detail {

/// The value of `key` in `j` (an object), or a ctrnet::Error naming `what` and the key.
inline const nlohmann::json& json_at(const nlohmann::json& j, const char* key, std::string_view what) {
  CTRNET_CHECK(j.is_object(), what, ": expected a JSON object, got ", j.dump());
  const auto it = j.find(key);
  CTRNET_CHECK(it != j.end(), what, ": missing key '", key, "'");
  return *it;
}

/// `v` as the integer type T: only JSON integers in T's range (nlohmann would truncate floats, and
/// an out-of-range float → integer conversion is undefined behaviour).
template <class T>
inline T json_integer(const nlohmann::json& v, const char* key, std::string_view what) {
  bool ok = false;
  if (v.is_number_unsigned()) {
    ok = v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
  } else if (v.is_number_integer()) {
    const auto x = v.get<std::int64_t>();
    ok = x >= 0 || std::is_signed_v<T>;
    if constexpr (std::is_signed_v<T>) ok = ok && x >= static_cast<std::int64_t>(std::numeric_limits<T>::min());
  }
  CTRNET_CHECK(ok, what, ": key '", key, "' must be an integer in range, got ", v.dump());
  return v.is_number_unsigned() ? static_cast<T>(v.get<std::uint64_t>()) : static_cast<T>(v.get<std::int64_t>());
}

/// Reads `key` as a T, turning nlohmann's type errors into a ctrnet::Error.
template <class T>
inline T json_get(const nlohmann::json& j, const char* key, std::string_view what) {
  const nlohmann::json& v = json_at(j, key, what);
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    return json_integer<T>(v, key, what);
  } else if constexpr (std::is_same_v<T, std::vector<index_t>>) {
    CTRNET_CHECK(v.is_array(), what, ": key '", key, "' must be an array of integers, got ", v.dump());
    T out;
    for (const auto& e : v) out.push_back(json_integer<index_t>(e, key, what));
    return out;
  } else {
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception& e) {
      throw_error(what, ": key '", key, "' has the wrong type (", v.dump(), "): ", e.what());
    }
  }
}

/// Rejects keys `j` has beyond `known`, so a file from a newer version fails loudly.
inline void json_only_keys(const nlohmann::json& j, std::initializer_list<std::string_view> known, std::string_view what) {
  for (auto it = j.begin(); it != j.end(); ++it)
    CTRNET_CHECK(std::find(known.begin(), known.end(), it.key()) != known.end(), what, ": unknown key '", it.key(), "'");
}

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
  o.cross_buckets = detail::json_get<index_t>(j, "cross_buckets", w);
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
  o.embedding_dim = detail::json_get<index_t>(j, "embedding_dim", w);
  o.hidden = detail::json_get<std::vector<index_t>>(j, "hidden", w);
  o.activation = parse_activation(detail::json_get<std::string>(j, "activation", w));
  o.dropout = detail::json_get<double>(j, "dropout", w);
  o.crosses = detail::json_get<std::vector<std::vector<std::string>>>(j, "crosses", w);
  o.cross_buckets = detail::json_get<index_t>(j, "cross_buckets", w);
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
}
inline void from_json(const nlohmann::json& j, DCNOptions& o) {
  constexpr std::string_view w = "DCNOptions";
  detail::json_only_keys(
      j, {"embedding_dim", "cross_depth", "rank", "experts", "expert_activation", "hidden", "activation", "dropout"}, w);
  o.embedding_dim = detail::json_get<index_t>(j, "embedding_dim", w);
  o.cross_depth = detail::json_get<index_t>(j, "cross_depth", w);
  o.rank = detail::json_get<index_t>(j, "rank", w);
  o.experts = detail::json_get<index_t>(j, "experts", w);
  o.expert_activation = parse_activation(detail::json_get<std::string>(j, "expert_activation", w));
  o.hidden = detail::json_get<std::vector<index_t>>(j, "hidden", w);
  o.activation = parse_activation(detail::json_get<std::string>(j, "activation", w));
  o.dropout = detail::json_get<double>(j, "dropout", w);
}

inline FieldKind parse_field_kind(std::string_view s) {
  for (FieldKind k : {FieldKind::dense, FieldKind::categorical, FieldKind::multi_hot, FieldKind::sequence})
    if (s == to_string(k)) return k;
  detail::throw_error("unknown field kind '", s, "': expected dense, categorical, multi_hot or sequence");
}

inline void to_json(nlohmann::json& j, const Field& f) {
  j = {{"name", f.name},
       {"kind", to_string(f.kind)},
       {"vocab_size", f.vocab_size},
       {"hash_buckets", f.hash_buckets},
       {"hash_seed", f.hash_seed},
       {"embedding_dim", f.embedding_dim},
       {"table", f.table},
       {"pooling", f.pooling == Pooling::sum ? "sum" : "mean"},
       {"tower", f.tower}};
}
inline void from_json(const nlohmann::json& j, Field& f) {
  constexpr std::string_view w = "schema field";
  detail::json_only_keys(
      j, {"name", "kind", "vocab_size", "hash_buckets", "hash_seed", "embedding_dim", "table", "pooling", "tower"}, w);
  f.name = detail::json_get<std::string>(j, "name", w);
  f.kind = parse_field_kind(detail::json_get<std::string>(j, "kind", w));
  f.vocab_size = detail::json_get<index_t>(j, "vocab_size", w);
  f.hash_buckets = detail::json_get<index_t>(j, "hash_buckets", w);
  f.hash_seed = detail::json_get<std::uint64_t>(j, "hash_seed", w);
  f.embedding_dim = detail::json_get<index_t>(j, "embedding_dim", w);
  f.table = detail::json_get<std::string>(j, "table", w);
  const std::string pooling = detail::json_get<std::string>(j, "pooling", w);
  CTRNET_CHECK(pooling == "sum" || pooling == "mean", "schema field '", f.name, "': unknown pooling '", pooling,
               "': expected sum or mean");
  f.pooling = pooling == "sum" ? Pooling::sum : Pooling::mean;
  f.tower = detail::json_get<std::string>(j, "tower", w);
}

/// The schema as a JSON array of fields, in schema order.
inline nlohmann::json schema_to_json(const Schema& s) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& f : s.fields()) a.push_back(f);
  return a;
}
/// The schema from schema_to_json's form; each field is re-validated by Schema::add.
inline Schema schema_from_json(const nlohmann::json& j) {
  CTRNET_CHECK(j.is_array(), "schema: expected a JSON array of fields, got ", j.dump());
  Schema s;
  for (const auto& f : j) s.add(f.get<Field>());
  return s;
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
    return o;
  }
  static DCNMixBody make_body(const Options& o) { return make_dcn_mix_body(o); }
};

}  // namespace ctrnet
