// Schema <-> JSON. Reading is strict (io/json_strict.hpp, shared by every JSON ctrnet reads): a
// missing key, an unknown key, a repeated key, a wrong type, a float where an integer is expected
// or a negative size is a ctrnet::Error naming the file, the JSON path (`[3].hash_buckets`) and
// what was expected, never a silent default.
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
#include "ctrnet/io/json_strict.hpp"

namespace ctrnet {

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
/// One field from its JSON object; `what` names the place in messages (e.g. "schema.json: [3]").
inline Field field_from_json(const nlohmann::json& j, std::string_view what) {
  detail::json_only_keys(
      j, {"name", "kind", "vocab_size", "hash_buckets", "hash_seed", "embedding_dim", "table", "pooling", "tower"}, what);
  Field f;
  f.name = detail::json_get<std::string>(j, "name", what);
  const std::string kind = detail::json_get<std::string>(j, "kind", what);
  try {
    f.kind = parse_field_kind(kind);
  } catch (const Error& e) {
    detail::throw_error(what, ": key 'kind': ", e.what());
  }
  f.vocab_size = detail::json_size(j, "vocab_size", what);
  f.hash_buckets = detail::json_size(j, "hash_buckets", what);
  f.hash_seed = detail::json_get<std::uint64_t>(j, "hash_seed", what);
  f.embedding_dim = detail::json_size(j, "embedding_dim", what);
  f.table = detail::json_get<std::string>(j, "table", what);
  const std::string pooling = detail::json_get<std::string>(j, "pooling", what);
  CTRNET_CHECK(pooling == "sum" || pooling == "mean", what, ": key 'pooling' must be \"sum\" or \"mean\", got \"",
               pooling, "\"");
  f.pooling = pooling == "sum" ? Pooling::sum : Pooling::mean;
  f.tower = detail::json_get<std::string>(j, "tower", what);
  return f;
}
inline void from_json(const nlohmann::json& j, Field& f) { f = field_from_json(j, "schema field"); }

/// The schema as a JSON array of fields, in schema order.
inline nlohmann::json schema_to_json(const Schema& s) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& f : s.fields()) a.push_back(f);
  return a;
}
/// The schema from schema_to_json's form; each field is re-validated by Schema::add. `what` starts
/// every message (a file name, or e.g. "m.safetensors: __metadata__ 'schema'"); field i is `[i]`.
inline Schema schema_from_json(const nlohmann::json& j, std::string_view what = "schema") {
  CTRNET_CHECK(j.is_array(), what, ": expected a JSON array of fields, got ", j.dump());
  Schema s;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string w = std::string(what) + ": " + detail::json_path("", i);
    Field f = field_from_json(j[i], w);
    try {
      s.add(std::move(f));
    } catch (const Error& e) {
      detail::throw_error(w, ": ", e.what());
    }
  }
  return s;
}

/// The schema from JSON text (strict: repeated keys are errors too); `source` names it in messages.
inline Schema schema_from_json_text(std::string_view text, std::string_view source) {
  return schema_from_json(parse_json_strict(text, source), source);
}
/// The schema from a JSON file written with schema_to_json(s).dump().
inline Schema schema_from_json_file(const std::string& path) { return schema_from_json(read_json_file_strict(path), path); }

}  // namespace ctrnet
