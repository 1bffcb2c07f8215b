// Strict JSON, shared by every JSON ctrnet reads (schema, delimited-file schema, preprocessing
// state, model / checkpoint metadata, binary cache headers): parse_json_strict rejects a syntax
// error or a key repeated inside one object (nlohmann keeps the last one silently), naming the
// source and the JSON path (`columns[3].hash_buckets`); the json_* readers below turn a missing
// key, an unknown key, a wrong type, a float or out-of-range number where an integer is expected,
// and a negative size into a ctrnet::Error naming the place and what was expected.
#pragma once
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/types.hpp"

namespace ctrnet {

namespace detail {

/// A SAX pass that only checks for repeated keys, tracking the JSON path for the message.
class JsonDuplicateKeyCheck : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit JsonDuplicateKeyCheck(std::string_view source) : source_(source) {}

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override {
    value();
    frames_.push_back({true, 0, {}, {}});
    return true;
  }
  bool key(string_t& k) override {
    Frame& f = frames_.back();
    if (!f.keys.insert(k).second) {
      const std::string at = path(frames_.size() - 1);
      throw_error(source_, ": duplicate key '", k, "'", at.empty() ? std::string() : " in " + at,
                  " (each key may appear once in an object; the path of the repeated key is ",
                  at.empty() ? k : at + "." + k, ")");
    }
    f.key = k;
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    value();
    frames_.push_back({false, 0, {}, {}});
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw_error(source_, ": not valid JSON: ", e.what());
  }

 private:
  struct Frame {
    bool object;
    std::size_t next;  // array: elements started so far
    std::string key;   // object: the current key
    std::set<std::string, std::less<>> keys;
  };
  bool value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().next;
    return true;
  }
  /// The path of the value being parsed inside frames [0, n).
  std::string path(std::size_t n) const {
    std::string p;
    for (std::size_t i = 0; i < n; ++i) {
      if (frames_[i].object) {
        if (!p.empty()) p += '.';
        p += frames_[i].key;
      } else {
        p += '[' + std::to_string(frames_[i].next - 1) + ']';
      }
    }
    return p;
  }

  std::string source_;
  std::vector<Frame> frames_;
};

/// Throws a ctrnet::Error naming `source` when `text` is not valid JSON or repeats a key in an
/// object (a SAX pass: builds nothing).
inline void check_json_keys_unique(std::string_view text, std::string_view source) {
  JsonDuplicateKeyCheck check(source);
  nlohmann::json::sax_parse(text, &check);  // throws on a syntax error or a repeated key
}

}  // namespace detail

/// \brief Parses `text` as one JSON value. A syntax error or a key repeated in an object is a
/// ctrnet::Error starting with `source` (a file path, or e.g. "model.safetensors: __metadata__
/// 'options'") and naming the position or the JSON path.
inline nlohmann::json parse_json_strict(std::string_view text, std::string_view source) {
  detail::check_json_keys_unique(text, source);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // not reached after the SAX pass; kept for safety
    detail::throw_error(source, ": not valid JSON: ", e.what());
  }
}

/// \brief Reads and strictly parses (parse_json_strict) the JSON file `path`; errors name the file.
inline nlohmann::json read_json_file_strict(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  CTRNET_CHECK(f.good(), "cannot open JSON file '", path, "'");
  std::ostringstream os;
  os << f.rdbuf();
  CTRNET_CHECK(!f.bad(), path, ": read error");
  return parse_json_strict(os.str(), path);
}

namespace detail {

/// JSON paths for messages: `json_path(p, "key")` is p.key, `json_path(p, 3)` is p[3].
inline std::string json_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}
inline std::string json_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

/// The value of `key` in `j` (an object), or a ctrnet::Error naming `what` and the key.
inline const nlohmann::json& json_at(const nlohmann::json& j, const char* key, std::string_view what) {
  CTRNET_CHECK(j.is_object(), what, ": expected a JSON object, got ", j.dump());
  const auto it = j.find(key);
  CTRNET_CHECK(it != j.end(), what, ": missing key '", key, "'");
  return *it;
}

/// `v` as the integer type T in [min_value, T's max]: only JSON integers (nlohmann would truncate
/// 1.5 to 1, and an out-of-range float -> integer conversion is undefined behaviour).
template <class T>
inline T json_integer(const nlohmann::json& v, const char* key, std::string_view what,
                      T min_value = std::numeric_limits<T>::min()) {
  bool ok = false;
  if (v.is_number_unsigned()) {
    ok = v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
  } else if (v.is_number_integer()) {
    const auto x = v.get<std::int64_t>();
    if constexpr (std::is_signed_v<T>)
      ok = x >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
           x <= static_cast<std::int64_t>(std::numeric_limits<T>::max());
    else
      ok = x >= 0 && static_cast<std::uint64_t>(x) <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
  }
  const T x = !ok                    ? T{}
              : v.is_number_unsigned() ? static_cast<T>(v.get<std::uint64_t>())
                                       : static_cast<T>(v.get<std::int64_t>());
  // A float (1.5, 1e300) or a string is never accepted; sizes have min_value 0.
  if (!ok || x < min_value)
    throw_error(what, ": key '", key, "' must be an integer in range, got ", v.dump(), " (expected an integer in [",
                +min_value, ", ", +std::numeric_limits<T>::max(), "])");
  return x;
}

/// Reads `key` as a T, turning nlohmann's type errors into a ctrnet::Error. Integers must be JSON
/// integers (json_integer); std::vector<index_t> is an array of them.
template <class T>
inline T json_get(const nlohmann::json& j, const char* key, std::string_view what) {
  const nlohmann::json& v = json_at(j, key, what);
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    return json_integer<T>(v, key, what);
  } else if constexpr (std::is_same_v<T, std::vector<index_t>>) {
    CTRNET_CHECK(v.is_array(), what, ": key '", key, "' must be an array of non-negative integers, got ", v.dump());
    T out;
    for (std::size_t i = 0; i < v.size(); ++i)
      out.push_back(json_integer<index_t>(v[i], json_path(key, i).c_str(), what, 0));
    return out;
  } else {
    if constexpr (std::is_same_v<T, bool>)
      CTRNET_CHECK(v.is_boolean(), what, ": key '", key, "' must be true or false, got ", v.dump());
    if constexpr (std::is_same_v<T, std::string>)
      CTRNET_CHECK(v.is_string(), what, ": key '", key, "' must be a string, got ", v.dump());
    if constexpr (std::is_floating_point_v<T>)
      CTRNET_CHECK(v.is_number(), what, ": key '", key, "' must be a number, got ", v.dump());
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception& e) {
      throw_error(what, ": key '", key, "' has the wrong type (", v.dump(), "): ", e.what());
    }
  }
}

/// Reads `key` as a size: a JSON integer >= 0.
inline index_t json_size(const nlohmann::json& j, const char* key, std::string_view what) {
  return json_integer<index_t>(json_at(j, key, what), key, what, 0);
}

/// Rejects keys `j` has beyond `known`, so a typo or a file from a newer version fails loudly.
inline void json_only_keys(const nlohmann::json& j, std::initializer_list<std::string_view> known, std::string_view what) {
  CTRNET_CHECK(j.is_object(), what, ": expected a JSON object, got ", j.dump());
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    throw_error(what, ": unknown key '", it.key(), "' (expected keys: ", list, ")");
  }
}

}  // namespace detail

}  // namespace ctrnet
