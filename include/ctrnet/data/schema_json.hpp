// Schema <-> JSON, and the strict JSON readers every ctrnet file format uses (model metadata,
// binary cache headers, preprocessing state): a missing key, an unknown key, a wrong type or an
// out-of-range integer is a ctrnet::Error naming what was being read, never a silent default.
//   field:  {"name", "kind": dense|categorical|multi_hot|sequence, "vocab_size", "hash_buckets",
//            "hash_seed", "embedding_dim", "table", "pooling": sum|mean, "tower"}
//   schema: a JSON array of fields, in schema order.
#pragma once
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/core/error.hpp"
#include "ctrnet/data/schema.hpp"

namespace ctrnet {

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

}  // namespace detail

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

}  // namespace ctrnet
