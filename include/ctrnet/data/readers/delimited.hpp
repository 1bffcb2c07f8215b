// Delimited text (CSV, TSV, ...) described by a DelimitedSchema: per column a role (label, dense,
// categorical, multi_hot with a separator, weight, ignore), plus the delimiter, RFC 4180 quoting,
// missing-value tokens, a header line and comment lines. The schema comes from a JSON file (see
// docs/data.md and examples/schemas/) or from a header line plus the names of the special columns.
//
// Quoting (RFC 4180): a field that starts with the quote character ends at the next lone quote;
// a doubled quote inside stands for one quote. Quoted fields cannot span lines. Values:
//   label:       a number, or with `positive` / `negative` tokens 1 / 0 (any other token: error)
//   dense:       a finite number; a missing token -> 0 (or NaN / an indicator, see DenseMissing)
//   categorical: raw id = token_id(token) (ids: "hash") or the integer itself (ids: "integer");
//                a missing token -> kMissingId
//   multi_hot:   the field split at `separator`, one id per non-empty item; missing -> {kMissingId}
//   weight:      a finite number >= 0 (the example weight)
#pragma once
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/data/readers/reader.hpp"
#include "ctrnet/data/readers/text.hpp"
#include "ctrnet/io/json_strict.hpp"

namespace ctrnet {

enum class ColumnRole { label, dense, categorical, multi_hot, weight, ignore };
enum class IdMode { hash, integer };
enum class HeaderMode { none, present, detect };

inline const char* to_string(ColumnRole r) {
  switch (r) {
    case ColumnRole::label: return "label";
    case ColumnRole::dense: return "dense";
    case ColumnRole::categorical: return "categorical";
    case ColumnRole::multi_hot: return "multi_hot";
    case ColumnRole::weight: return "weight";
    case ColumnRole::ignore: return "ignore";
  }
  return "?";
}

/// \brief One column of a delimited file.
struct ColumnSpec {
  std::string name{};
  ColumnRole role = ColumnRole::categorical;
  IdMode ids = IdMode::hash;            ///< categorical / multi_hot: how a token becomes a raw id
  char separator = '|';                 ///< multi_hot: between the items of the field
  Pooling pooling = Pooling::sum;       ///< multi_hot
  std::vector<std::string> missing{};   ///< overrides the file's missing tokens when `has_missing`
  bool has_missing = false;
  std::vector<std::string> positive{};  ///< label: tokens meaning 1
  std::vector<std::string> negative{};  ///< label: tokens meaning 0
  index_t hash_buckets = 0;             ///< 0: the file's default
  index_t embedding_dim = 0;            ///< 0: the file's default
  std::string table{};                  ///< shared embedding table name; empty: own table
};

/// \brief How to read a delimited file: the columns in file order and the file's conventions.
struct DelimitedSchema {
  char delimiter = ',';
  char quote = '"';                          ///< '\0': no quoting
  HeaderMode header = HeaderMode::detect;    ///< detect: line 1 is a header if it equals the names
  bool trim = false;                         ///< strip spaces/tabs around unquoted fields
  std::string comment{};                     ///< lines starting with it are skipped; empty: none
  std::vector<std::string> missing{""};      ///< tokens meaning "missing" (after trimming)
  bool utf8 = true;                          ///< reject categorical tokens that are not UTF-8
  index_t hash_buckets = 1000000;            ///< default rows of a categorical field's table
  std::uint64_t hash_seed = 0;
  index_t embedding_dim = 0;
  DenseMissing dense_missing = DenseMissing::zero;
  std::vector<ColumnSpec> columns{};

  /// Reads the JSON form (docs/data.md). Strict: unknown keys, wrong types (a float or a negative
  /// number where a size is expected, a number where a string is) are errors naming the JSON path
  /// (`columns[3].hash_buckets`), so typos do not pass silently. from_file also rejects repeated keys.
  static DelimitedSchema from_json(const nlohmann::json& j) {
    DelimitedSchema s;
    CTRNET_CHECK(j.is_object(), "delimited schema: expected a JSON object, got ", j.dump());
    static const char* top_keys[] = {"format", "delimiter", "quote", "header", "trim", "comment", "missing", "utf8",
                                      "hash_buckets", "hash_seed", "embedding_dim", "dense_missing", "columns",
                                      "description"};
    check_keys(j, top_keys, "the top-level object");
    if (j.contains("format"))
      CTRNET_CHECK(j.at("format") == "delimited", "delimited schema: \"format\" must be \"delimited\", got ",
                   j.at("format").dump());
    if (j.contains("delimiter")) s.delimiter = one_char(j.at("delimiter"), "delimiter", false);
    if (j.contains("quote")) s.quote = one_char(j.at("quote"), "quote", true);
    if (j.contains("header")) {
      const auto& h = j.at("header");
      if (h.is_boolean()) s.header = h.get<bool>() ? HeaderMode::present : HeaderMode::none;
      else if (h == "detect") s.header = HeaderMode::detect;
      else detail::throw_error("delimited schema: \"header\" must be true, false or \"detect\", got ", h.dump());
    }
    if (j.contains("trim")) s.trim = get<bool>(j, "trim", "");
    if (j.contains("comment")) s.comment = get<std::string>(j, "comment", "");
    if (j.contains("missing")) s.missing = get<std::vector<std::string>>(j, "missing", "");
    if (j.contains("utf8")) s.utf8 = get<bool>(j, "utf8", "");
    if (j.contains("hash_buckets")) s.hash_buckets = get<index_t>(j, "hash_buckets", "");
    if (j.contains("hash_seed")) s.hash_seed = get<std::uint64_t>(j, "hash_seed", "");
    if (j.contains("embedding_dim")) s.embedding_dim = get<index_t>(j, "embedding_dim", "");
    if (j.contains("description")) get<std::string>(j, "description", "");
    if (j.contains("dense_missing")) {
      const std::string m = get<std::string>(j, "dense_missing", "");
      if (m == "zero") s.dense_missing = DenseMissing::zero;
      else if (m == "nan") s.dense_missing = DenseMissing::nan;
      else if (m == "indicator") s.dense_missing = DenseMissing::indicator;
      else detail::throw_error("delimited schema: \"dense_missing\" must be \"zero\", \"nan\" or \"indicator\", got \"", m, "\"");
    }
    CTRNET_CHECK(j.contains("columns") && j.at("columns").is_array(), "delimited schema: needs a \"columns\" array");
    const auto& cols = j.at("columns");
    for (std::size_t i = 0; i < cols.size(); ++i) s.columns.push_back(column_from_json(cols[i], i));
    s.validate();
    return s;
  }

  /// Reads a JSON schema file (strict, see from_json; a key repeated in an object is an error
  /// too); errors name the file.
  static DelimitedSchema from_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    CTRNET_CHECK(f.good(), "cannot open schema file '", path, "'");
    std::ostringstream text;
    text << f.rdbuf();
    return from_json_text(text.str(), path);
  }
  /// Reads the JSON form from text (strict, as from_file); `source` starts every message.
  static DelimitedSchema from_json_text(std::string_view text, std::string_view source) {
    const nlohmann::json j = parse_json_strict(text, source);
    try {
      return from_json(j);
    } catch (const Error& e) {
      detail::throw_error(source, ": ", e.what());
    }
  }

  /// The JSON form; from_json(to_json()) gives the same schema.
  nlohmann::json to_json() const {
    nlohmann::json j;
    j["format"] = "delimited";
    j["delimiter"] = std::string(1, delimiter);
    j["quote"] = quote ? std::string(1, quote) : std::string();
    if (header == HeaderMode::detect) j["header"] = "detect";
    else j["header"] = header == HeaderMode::present;
    j["trim"] = trim;
    j["comment"] = comment;
    j["missing"] = missing;
    j["utf8"] = utf8;
    j["hash_buckets"] = hash_buckets;
    j["hash_seed"] = hash_seed;
    j["embedding_dim"] = embedding_dim;
    j["dense_missing"] = ctrnet::to_string(dense_missing);
    j["columns"] = nlohmann::json::array();
    for (const auto& c : columns) {
      nlohmann::json o{{"name", c.name}, {"role", ctrnet::to_string(c.role)}};
      if (c.role == ColumnRole::categorical || c.role == ColumnRole::multi_hot) {
        o["ids"] = c.ids == IdMode::hash ? "hash" : "integer";
        if (c.hash_buckets) o["hash_buckets"] = c.hash_buckets;
        if (c.embedding_dim) o["embedding_dim"] = c.embedding_dim;
        if (!c.table.empty()) o["table"] = c.table;
      }
      if (c.role == ColumnRole::multi_hot) {
        o["separator"] = std::string(1, c.separator);
        o["pooling"] = c.pooling == Pooling::sum ? "sum" : "mean";
      }
      if (c.has_missing) o["missing"] = c.missing;
      if (!c.positive.empty()) o["positive"] = c.positive;
      if (!c.negative.empty()) o["negative"] = c.negative;
      j["columns"].push_back(o);
    }
    return j;
  }

  /// \brief A schema from a header line: `label` is the label column, `dense` the numeric ones,
  /// `ignore` the skipped ones, `multi_hot` maps names to their item separator; every other
  /// column is categorical (hashed). The file's first line is then a header (HeaderMode::present).
  static DelimitedSchema from_header(std::string_view header_line, char delimiter, const std::string& label,
                                     const std::vector<std::string>& dense = {},
                                     const std::vector<std::string>& ignore = {},
                                     const std::map<std::string, char>& multi_hot = {}) {
    DelimitedSchema s;
    s.delimiter = delimiter;
    s.header = HeaderMode::present;
    if (!header_line.empty() && header_line.back() == '\r') header_line.remove_suffix(1);
    std::size_t pos = 0;
    while (true) {
      const std::size_t d = header_line.find(delimiter, pos);
      std::string name(detail::trim(header_line.substr(pos, d == std::string_view::npos ? std::string_view::npos : d - pos)));
      if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
      ColumnSpec c;
      c.name = name;
      auto in = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), name) != v.end(); };
      if (name == label) c.role = ColumnRole::label;
      else if (in(dense)) c.role = ColumnRole::dense;
      else if (in(ignore)) c.role = ColumnRole::ignore;
      else if (multi_hot.count(name)) {
        c.role = ColumnRole::multi_hot;
        c.separator = multi_hot.at(name);
      }
      s.columns.push_back(std::move(c));
      if (d == std::string_view::npos) break;
      pos = d + 1;
    }
    for (const auto& n : dense)
      CTRNET_CHECK(std::any_of(s.columns.begin(), s.columns.end(), [&](const ColumnSpec& c) { return c.name == n; }),
                   "delimited schema: dense column '", n, "' is not in the header");
    s.validate();
    return s;
  }

  /// Reads the first line of `path` as the header (see the overload above).
  static DelimitedSchema from_header_file(const std::string& path, char delimiter, const std::string& label,
                                          const std::vector<std::string>& dense = {},
                                          const std::vector<std::string>& ignore = {},
                                          const std::map<std::string, char>& multi_hot = {}) {
    std::ifstream f(path, std::ios::binary);
    CTRNET_CHECK(f.good(), "cannot open '", path, "'");
    std::string first;
    std::getline(f, first);
    return from_header(first, delimiter, label, dense, ignore, multi_hot);
  }

  /// Checks the column list: names unique and non-empty, exactly one label, at most one weight.
  void validate() const {
    CTRNET_CHECK(!columns.empty(), "delimited schema: no columns");
    CTRNET_CHECK(delimiter != '\n' && delimiter != '\r' && delimiter != quote,
                 "delimited schema: the delimiter cannot be a line end or the quote character");
    CTRNET_CHECK(hash_buckets > 0, "delimited schema: hash_buckets must be positive, got ", hash_buckets);
    int labels = 0, weights = 0;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const ColumnSpec& c = columns[i];
      CTRNET_CHECK(!c.name.empty(), "delimited schema: column ", i + 1, " has no name");
      for (std::size_t k = 0; k < i; ++k)
        CTRNET_CHECK(columns[k].name != c.name, "delimited schema: column '", c.name, "' appears twice");
      labels += c.role == ColumnRole::label;
      weights += c.role == ColumnRole::weight;
      CTRNET_CHECK(c.hash_buckets >= 0 && c.embedding_dim >= 0, "delimited schema: column '", c.name,
                   "': negative hash_buckets or embedding_dim");
      CTRNET_CHECK(c.role == ColumnRole::label || (c.positive.empty() && c.negative.empty()),
                   "delimited schema: column '", c.name, "': only a label column has positive/negative tokens");
      CTRNET_CHECK(c.role != ColumnRole::multi_hot || c.separator != delimiter, "delimited schema: column '", c.name,
                   "': the item separator cannot be the delimiter");
    }
    CTRNET_CHECK(labels == 1, "delimited schema: expected exactly one label column, found ", labels);
    CTRNET_CHECK(weights <= 1, "delimited schema: expected at most one weight column, found ", weights);
  }

 private:
  /// j[key] as a T; `at` is the JSON path of j ("" for the top level, "columns[3]").
  template <class T>
  static T get(const nlohmann::json& j, const char* key, const std::string& at) {
    const nlohmann::json& v = j.at(key);
    const std::string path = detail::json_path(at, key);
    bool ok = false;
    const char* expected = "";
    if constexpr (std::is_same_v<T, bool>) {
      ok = v.is_boolean(), expected = "true or false";
    } else if constexpr (std::is_same_v<T, std::string>) {
      ok = v.is_string(), expected = "a string";
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      ok = v.is_array() && std::all_of(v.begin(), v.end(), [](const nlohmann::json& e) { return e.is_string(); });
      expected = "an array of strings";
    } else {
      static_assert(std::is_integral_v<T>);
      ok = v.is_number_integer(), expected = "a non-negative integer";
    }
    CTRNET_CHECK(ok, "delimited schema: ", path, " has the wrong type: expected ", expected, ", got ", v.dump());
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      return detail::json_integer<T>(v, key, "delimited schema: " + (at.empty() ? std::string("top level") : at), T{0});
    } else {
      return v.get<T>();
    }
  }
  template <std::size_t N>
  static void check_keys(const nlohmann::json& j, const char* const (&keys)[N], const std::string& where) {
    for (const auto& [k, v] : j.items()) {
      bool known = false;
      for (const char* key : keys) known = known || k == key;
      if (known) continue;
      std::string list;
      for (const char* key : keys) list += (list.empty() ? "" : ", ") + std::string(key);
      detail::throw_error("delimited schema: unknown key \"", k, "\" in ", where, " (expected one of: ", list, ")");
    }
  }
  static char one_char(const nlohmann::json& v, const std::string& path, bool allow_empty) {
    CTRNET_CHECK(v.is_string(), "delimited schema: ", path, " must be a one-character string, got ", v.dump());
    const std::string s = v.get<std::string>();
    if (s.empty() && allow_empty) return '\0';
    CTRNET_CHECK(s.size() == 1, "delimited schema: ", path, " must be one character, got \"", s, "\"");
    return s[0];
  }
  static ColumnSpec column_from_json(const nlohmann::json& c, std::size_t i) {
    const std::string at = detail::json_path("columns", i);
    CTRNET_CHECK(c.is_object() && c.contains("name") && c.at("name").is_string(),
                 "delimited schema: ", at, ": each column needs a \"name\" string, got ", c.dump());
    ColumnSpec s;
    s.name = c.at("name").get<std::string>();
    const std::string where = at + " (column '" + s.name + "')";
    static const char* keys[] = {"name", "role", "ids", "separator", "pooling", "missing", "positive",
                                 "negative", "hash_buckets", "embedding_dim", "table", "description"};
    check_keys(c, keys, where);
    if (c.contains("description")) get<std::string>(c, "description", at);
    const std::string role = c.contains("role") ? get<std::string>(c, "role", at) : "categorical";
    if (role == "label") s.role = ColumnRole::label;
    else if (role == "dense") s.role = ColumnRole::dense;
    else if (role == "categorical") s.role = ColumnRole::categorical;
    else if (role == "multi_hot") s.role = ColumnRole::multi_hot;
    else if (role == "weight") s.role = ColumnRole::weight;
    else if (role == "ignore") s.role = ColumnRole::ignore;
    else
      detail::throw_error("delimited schema: ", where, ": role must be label, dense, categorical, multi_hot, weight or ignore, got \"",
                          role, "\"");
    if (c.contains("ids")) {
      const std::string ids = get<std::string>(c, "ids", at);
      CTRNET_CHECK(ids == "hash" || ids == "integer", "delimited schema: ", where, ": \"ids\" must be \"hash\" or \"integer\"");
      s.ids = ids == "hash" ? IdMode::hash : IdMode::integer;
    }
    if (c.contains("separator")) s.separator = one_char(c.at("separator"), at + ".separator", false);
    if (c.contains("pooling")) {
      const std::string p = get<std::string>(c, "pooling", at);
      CTRNET_CHECK(p == "sum" || p == "mean", "delimited schema: ", where, ": \"pooling\" must be \"sum\" or \"mean\"");
      s.pooling = p == "sum" ? Pooling::sum : Pooling::mean;
    }
    if (c.contains("missing")) {
      s.missing = get<std::vector<std::string>>(c, "missing", at);
      s.has_missing = true;
    }
    if (c.contains("positive")) s.positive = get<std::vector<std::string>>(c, "positive", at);
    if (c.contains("negative")) s.negative = get<std::vector<std::string>>(c, "negative", at);
    if (c.contains("hash_buckets")) s.hash_buckets = get<index_t>(c, "hash_buckets", at);
    if (c.contains("embedding_dim")) s.embedding_dim = get<index_t>(c, "embedding_dim", at);
    if (c.contains("table")) s.table = get<std::string>(c, "table", at);
    return s;
  }
};

/// \brief Parses one delimited line into a Batch row (a LineParser for TextReader).
class DelimitedParser {
 public:
  explicit DelimitedParser(DelimitedSchema spec) : spec_(std::move(spec)) {
    spec_.validate();
    std::vector<std::string> dense_names;
    for (std::size_t i = 0; i < spec_.columns.size(); ++i) {
      const ColumnSpec& c = spec_.columns[i];
      Col col;
      col.role = c.role;
      col.missing = c.has_missing ? c.missing : spec_.missing;
      switch (c.role) {
        case ColumnRole::dense:
          col.slot = static_cast<index_t>(dense_names.size());
          dense_names.push_back(c.name);
          schema_.add_dense(c.name);
          break;
        case ColumnRole::categorical:
        case ColumnRole::multi_hot: {
          Field f;
          f.name = c.name;
          f.kind = c.role == ColumnRole::categorical ? FieldKind::categorical : FieldKind::multi_hot;
          f.hash_buckets = c.hash_buckets > 0 ? c.hash_buckets : spec_.hash_buckets;
          f.hash_seed = spec_.hash_seed;
          f.embedding_dim = c.embedding_dim > 0 ? c.embedding_dim : spec_.embedding_dim;
          f.table = c.table;
          f.pooling = c.pooling;
          col.slot = schema_.num_categorical();
          schema_.add(std::move(f));
          break;
        }
        default: break;
      }
      cols_.push_back(std::move(col));
    }
    num_dense_ = static_cast<index_t>(dense_names.size());
    if (spec_.dense_missing == DenseMissing::indicator)
      for (const auto& n : dense_names) schema_.add_dense(n + "_missing");
    has_weight_ = std::any_of(spec_.columns.begin(), spec_.columns.end(),
                              [](const ColumnSpec& c) { return c.role == ColumnRole::weight; });
  }

  const Schema& schema() const { return schema_; }
  const DelimitedSchema& spec() const { return spec_; }
  /// The label column's name (messages of ReaderOptions::labels = LabelCheck::binary).
  std::string label_column() const {
    for (const auto& c : spec_.columns)
      if (c.role == ColumnRole::label) return c.name;
    return "label";
  }

  LineStatus parse(std::string_view line, std::int64_t line_number, Batch& out, LineIssue& issue) const {
    if (line.empty() || (spec_.trim && detail::is_blank(line))) return LineStatus::blank;
    if (!spec_.comment.empty() && line.starts_with(spec_.comment)) return LineStatus::blank;
    thread_local Scratch sc;
    if (!split(line, sc, issue)) return LineStatus::bad;
    const std::size_t ncol = spec_.columns.size();
    if (sc.fields.size() != ncol) {
      issue.set("wrong field count", "", line,
                std::to_string(ncol) + " fields separated by '" + detail::escape_excerpt(std::string_view(&spec_.delimiter, 1)) +
                    "', found " + std::to_string(sc.fields.size()));
      return LineStatus::bad;
    }
    if (line_number == 1 && spec_.header != HeaderMode::none) {
      bool is_header = true;
      for (std::size_t i = 0; i < ncol && is_header; ++i) is_header = sc.fields[i] == spec_.columns[i].name;
      if (is_header) return LineStatus::blank;
      if (spec_.header == HeaderMode::present) {
        for (std::size_t i = 0; i < ncol; ++i)
          if (sc.fields[i] != spec_.columns[i].name) {
            issue.set("header mismatch", "header " + std::to_string(i + 1), sc.fields[i],
                      "the column name '" + spec_.columns[i].name + "'");
            return LineStatus::bad;
          }
      }
    }
    const RowMark mark(out);
    sc.dense.assign(static_cast<std::size_t>(num_dense_), 0.0f);
    sc.dense_missing.assign(static_cast<std::size_t>(num_dense_), 0.0f);
    float label = 0, weight = 1;
    for (std::size_t i = 0; i < ncol; ++i) {
      const ColumnSpec& c = spec_.columns[i];
      const Col& col = cols_[i];
      const std::string_view tok = sc.fields[i];
      if (c.role == ColumnRole::ignore) continue;
      const bool missing = std::find(col.missing.begin(), col.missing.end(), tok) != col.missing.end();
      switch (c.role) {
        case ColumnRole::label:
          if (!parse_label(c, tok, missing, label, issue)) return mark.rollback(out), LineStatus::bad;
          break;
        case ColumnRole::weight:
          if (missing || !detail::parse_float(tok, weight) || weight < 0.0f) {
            issue.set("bad weight", c.name, tok, "a finite number >= 0");
            return mark.rollback(out), LineStatus::bad;
          }
          break;
        case ColumnRole::dense: {
          auto& v = sc.dense[static_cast<std::size_t>(col.slot)];
          if (missing) {
            v = spec_.dense_missing == DenseMissing::nan ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
            sc.dense_missing[static_cast<std::size_t>(col.slot)] = 1.0f;
          } else if (!detail::parse_float(tok, v)) {
            issue.set("non-numeric dense value", c.name, tok, "a number or a missing-value token");
            return mark.rollback(out), LineStatus::bad;
          }
          break;
        }
        case ColumnRole::categorical:
        case ColumnRole::multi_hot: {
          auto& ids = out.ids[static_cast<std::size_t>(col.slot)];
          if (missing) {
            ids.push_back(kMissingId);
          } else if (c.role == ColumnRole::categorical) {
            FeatureId id;
            if (!to_id(c, tok, id, issue)) return mark.rollback(out), LineStatus::bad;
            ids.push_back(id);
          } else {
            std::size_t p = 0;
            while (p <= tok.size()) {
              std::size_t q = tok.find(c.separator, p);
              if (q == std::string_view::npos) q = tok.size();
              const std::string_view item = spec_.trim ? detail::trim(tok.substr(p, q - p)) : tok.substr(p, q - p);
              if (!item.empty()) {
                FeatureId id;
                if (!to_id(c, item, id, issue)) return mark.rollback(out), LineStatus::bad;
                ids.push_back(id);
              }
              p = q + 1;
            }
          }
          out.offsets[static_cast<std::size_t>(col.slot)].push_back(static_cast<index_t>(ids.size()));
          break;
        }
        case ColumnRole::ignore: break;
      }
    }
    out.dense_values.insert(out.dense_values.end(), sc.dense.begin(), sc.dense.end());
    if (spec_.dense_missing == DenseMissing::indicator)
      out.dense_values.insert(out.dense_values.end(), sc.dense_missing.begin(), sc.dense_missing.end());
    out.labels.push_back(label);
    if (has_weight_) out.weights.push_back(weight);
    return LineStatus::row;
  }

 private:
  struct Col {
    ColumnRole role = ColumnRole::ignore;
    index_t slot = -1;  // dense column or categorical field index
    std::vector<std::string> missing;
  };
  struct Scratch {
    std::vector<std::string_view> fields;
    struct Unescaped {
      std::size_t field, offset, length;  // a field stored in `text`
    };
    std::vector<Unescaped> unescaped;
    std::string text;  // unescaped quoted fields
    std::vector<float> dense, dense_missing;
  };

  // Splits `line` into sc.fields (views into the line, or into sc.text for quoted fields with
  // doubled quotes). Returns false with `issue` set for a broken quoted field.
  bool split(std::string_view line, Scratch& sc, LineIssue& issue) const {
    sc.fields.clear();
    sc.unescaped.clear();
    sc.text.clear();
    const char d = spec_.delimiter, q = spec_.quote;
    std::size_t pos = 0;
    const std::size_t n = line.size();
    while (true) {
      std::size_t start = pos;
      if (spec_.trim)
        while (start < n && (line[start] == ' ' || line[start] == '\t') && line[start] != d) ++start;
      if (q != '\0' && start < n && line[start] == q) {
        // Quoted field: up to the next lone quote; "" is one quote.
        std::size_t i = start + 1;
        bool escaped = false;
        std::size_t close = std::string_view::npos;
        while (i < n) {
          if (line[i] == q) {
            if (i + 1 < n && line[i + 1] == q) {
              escaped = true;
              i += 2;
              continue;
            }
            close = i;
            break;
          }
          ++i;
        }
        if (close == std::string_view::npos) {
          issue.set("unterminated quote", column_name(sc.fields.size()), line.substr(start),
                    "a closing quote on the same line (quoted fields cannot span lines)");
          return false;
        }
        const std::string_view body = line.substr(start + 1, close - start - 1);
        std::size_t after = close + 1;
        if (spec_.trim)
          while (after < n && (line[after] == ' ' || line[after] == '\t') && line[after] != d) ++after;
        if (after < n && line[after] != d) {
          issue.set("text after closing quote", column_name(sc.fields.size()), line.substr(start),
                    "the delimiter or the line end after a closing quote");
          return false;
        }
        if (escaped) {
          const std::size_t off = sc.text.size();
          for (std::size_t k = 0; k < body.size(); ++k) {
            sc.text += body[k];
            if (body[k] == q) ++k;  // skip the second quote of a pair
          }
          sc.unescaped.push_back({sc.fields.size(), off, sc.text.size() - off});
          sc.fields.emplace_back();  // filled below, once sc.text stops growing
        } else {
          sc.fields.push_back(body);
        }
        if (after >= n) break;
        pos = after + 1;
        continue;
      }
      const std::size_t e = line.find(d, pos);
      std::string_view tok = line.substr(pos, e == std::string_view::npos ? std::string_view::npos : e - pos);
      if (spec_.trim) tok = detail::trim(tok);
      sc.fields.push_back(tok);
      if (e == std::string_view::npos) break;
      pos = e + 1;
    }
    for (const auto& u : sc.unescaped) sc.fields[u.field] = std::string_view(sc.text).substr(u.offset, u.length);
    return true;
  }

  std::string column_name(std::size_t i) const {
    return i < spec_.columns.size() ? spec_.columns[i].name : "field " + std::to_string(i + 1);
  }

  static bool parse_label(const ColumnSpec& c, std::string_view tok, bool missing, float& label, LineIssue& issue) {
    if (!c.positive.empty() || !c.negative.empty()) {
      if (std::find(c.positive.begin(), c.positive.end(), tok) != c.positive.end()) return label = 1.0f, true;
      if (std::find(c.negative.begin(), c.negative.end(), tok) != c.negative.end()) return label = 0.0f, true;
      std::string what = "one of";
      for (const auto& t : c.positive) what += " \"" + t + "\"";
      for (const auto& t : c.negative) what += " \"" + t + "\"";
      issue.set("bad label", c.name, tok, what);
      return false;
    }
    if (missing || !detail::parse_float(tok, label)) {
      issue.set("bad label", c.name, tok, "a number");
      return false;
    }
    return true;
  }

  bool to_id(const ColumnSpec& c, std::string_view tok, FeatureId& id, LineIssue& issue) const {
    if (c.ids == IdMode::integer) {
      std::int64_t v;
      if (!detail::parse_int64(tok, v) || v < 0) {
        issue.set("bad integer id", c.name, tok, "a non-negative integer id");
        return false;
      }
      id = v;
      return true;
    }
    if (spec_.utf8) {
      const std::size_t bad = detail::find_invalid_utf8(tok);
      if (bad != std::string_view::npos) {
        issue.set("invalid UTF-8", c.name, tok, "UTF-8 text (invalid byte at offset " + std::to_string(bad) + ")");
        return false;
      }
    }
    id = token_id(tok);
    return true;
  }

  DelimitedSchema spec_;
  Schema schema_;
  std::vector<Col> cols_;
  index_t num_dense_ = 0;
  bool has_weight_ = false;
};

using DelimitedReader = TextReader<DelimitedParser>;

/// Opens a delimited file for streaming (`next_batch`).
inline DelimitedReader open_delimited(const std::string& path, DelimitedSchema spec, ReaderOptions ropt = {}) {
  return DelimitedReader(path, DelimitedParser(std::move(spec)), ropt);
}

/// Reads a whole delimited file into memory.
inline ReadResult read_delimited(const std::string& path, DelimitedSchema spec, ReaderOptions ropt = {}) {
  return open_delimited(path, std::move(spec), ropt).read_all();
}

}  // namespace ctrnet
