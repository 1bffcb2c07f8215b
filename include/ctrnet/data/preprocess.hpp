// Preprocessor: statistics fitted on the training split that turn raw reader output into model
// input, saved with the model (to_json / from_json).
//
// Categorical fields (raw 64-bit ids; kMissingId = missing):
//   vocabulary: row 0 = missing, row 1 = out-of-vocabulary (unseen, or seen fewer than
//               min_count times), rows 2.. = the kept ids by decreasing count (ties: smaller
//               raw id first), at most max_size of them. Rows = 2 + kept.
//   hash:       row 0 = missing, else 1 + (mix_seed(seed, raw) mod buckets). Rows = buckets + 1.
//               mix_seed (core/rng.hpp) is splitmix64 applied to the seed, then once more to
//               the XOR of that hash with (raw + 0x632BE59BD9B4E019): a fixed, documented,
//               platform-independent 64-bit mix.
// Dense fields (NaN = missing, see DenseMissing::nan):
//   none:              x                      log1p:      log(1 + max(x, 0))  (DLRM's Criteo transform)
//   standardize:       (x - mean) / std       log1p_standardize: standardize(log1p(x))
//   quantile:          a categorical field: row 0 = missing, else 1 + #{boundaries b : b <= x},
//                      boundaries = the distinct i/buckets quantiles of the training values
//   A missing value becomes 0 under none/log1p/standardize (the mean after standardising).
//   std is the population standard deviation; a constant field (std < 1e-12) uses std = 1.
// Output schema: the non-quantile dense fields in input order; the categorical fields in input
// order (vocab_size = rows; embedding_dim, table, pooling and tower kept), then one categorical
// field per quantile-bucketed dense field, under the same name.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/readers/text.hpp"
#include "ctrnet/data/schema.hpp"
#include "ctrnet/data/schema_json.hpp"
#include "ctrnet/io/json_strict.hpp"

namespace ctrnet {

enum class CategoricalTransform { vocabulary, hash };
enum class NumericTransform { none, log1p, standardize, log1p_standardize, quantile };

inline const char* to_string(CategoricalTransform t) { return t == CategoricalTransform::vocabulary ? "vocabulary" : "hash"; }
inline const char* to_string(NumericTransform t) {
  switch (t) {
    case NumericTransform::none: return "none";
    case NumericTransform::log1p: return "log1p";
    case NumericTransform::standardize: return "standardize";
    case NumericTransform::log1p_standardize: return "log1p_standardize";
    case NumericTransform::quantile: return "quantile";
  }
  return "?";
}
inline NumericTransform numeric_transform_from_string(std::string_view s) {
  for (auto t : {NumericTransform::none, NumericTransform::log1p, NumericTransform::standardize,
                 NumericTransform::log1p_standardize, NumericTransform::quantile})
    if (s == to_string(t)) return t;
  detail::throw_error("preprocess: unknown numeric transform \"", s,
                      "\" (expected none, log1p, standardize, log1p_standardize or quantile)");
}

struct CategoricalSpec {
  CategoricalTransform kind = CategoricalTransform::vocabulary;
  std::int64_t min_count = 1;  ///< vocabulary: ids seen fewer times are out-of-vocabulary
  index_t max_size = 0;        ///< vocabulary: keep at most this many ids (0: no limit)
  index_t buckets = 0;         ///< hash: number of buckets (rows = buckets + 1)
  std::uint64_t seed = 0;      ///< hash: seed of mix_seed
};

struct NumericSpec {
  NumericTransform kind = NumericTransform::none;
  index_t buckets = 16;  ///< quantile: at most this many buckets (plus the missing row)
};

struct PreprocessOptions {
  CategoricalSpec categorical{};                          ///< default for categorical fields
  NumericSpec numeric{};                                  ///< default for dense fields
  std::map<std::string, CategoricalSpec> categorical_fields{};  ///< per-field overrides by name
  std::map<std::string, NumericSpec> numeric_fields{};        ///< per-field overrides by name
  index_t quantile_sample = index_t(1) << 20;  ///< values kept per field to fit quantiles (reservoir)
  std::uint64_t seed = 0;                       ///< reservoir sampling seed
};

// Schema <-> JSON: data/schema_json.hpp (schema_to_json / schema_from_json).

/// \brief Fitted preprocessing of a schema's fields: observe() training batches, finish(), then
/// transform() any split. Const after fitting, so transform may run on many threads.
class Preprocessor {
 public:
  Preprocessor() = default;
  Preprocessor(const Schema& input, PreprocessOptions opt) : input_(input), opt_(std::move(opt)) {
    CTRNET_CHECK(opt_.quantile_sample > 0, "preprocess: quantile_sample must be positive");
    for (const auto& [name, spec] : opt_.categorical_fields)
      CTRNET_CHECK(input_.find(name) >= 0 && input_.field(name).is_categorical(), "preprocess: '", name,
                   "' is not a categorical field of the schema");
    for (const auto& [name, spec] : opt_.numeric_fields)
      CTRNET_CHECK(input_.find(name) >= 0 && !input_.field(name).is_categorical(), "preprocess: '", name,
                   "' is not a dense field of the schema");
    for (index_t i = 0; i < input_.num_categorical(); ++i) {
      Cat c;
      c.name = input_.categorical(i).name;
      const auto it = opt_.categorical_fields.find(c.name);
      c.spec = it != opt_.categorical_fields.end() ? it->second : opt_.categorical;
      CTRNET_CHECK(c.spec.kind == CategoricalTransform::vocabulary || c.spec.buckets > 0, "preprocess: field '", c.name,
                   "': hashing needs buckets > 0");
      CTRNET_CHECK(c.spec.min_count >= 1 && c.spec.max_size >= 0, "preprocess: field '", c.name,
                   "': min_count must be >= 1 and max_size >= 0");
      cats_.push_back(std::move(c));
    }
    for (index_t i = 0; i < input_.num_dense(); ++i) {
      Num n;
      n.name = input_.dense(i).name;
      const auto it = opt_.numeric_fields.find(n.name);
      n.spec = it != opt_.numeric_fields.end() ? it->second : opt_.numeric;
      CTRNET_CHECK(n.spec.kind != NumericTransform::quantile || n.spec.buckets >= 2, "preprocess: field '", n.name,
                   "': quantile bucketing needs buckets >= 2");
      n.rng = Rng(mix_seed(opt_.seed, static_cast<std::uint64_t>(i)));
      nums_.push_back(std::move(n));
    }
  }

  /// Accumulates statistics of training examples (call for each batch of the training split).
  void observe(const BatchView& b) {
    CTRNET_CHECK(!fitted_, "preprocess: observe() after finish()");
    check_input(b);
    for (std::size_t f = 0; f < cats_.size(); ++f) {
      Cat& c = cats_[f];
      if (c.spec.kind != CategoricalTransform::vocabulary) continue;
      const FieldIds& ids = b.fields[f];
      for (index_t k = ids.offsets[0]; k < ids.offsets[b.size]; ++k)
        if (ids.ids[k] != kMissingId) ++c.counts[ids.ids[k]];
    }
    for (std::size_t d = 0; d < nums_.size(); ++d) {
      Num& n = nums_[d];
      for (index_t r = 0; r < b.size; ++r) {
        const float x = b.dense(r, static_cast<index_t>(d));
        if (std::isnan(x)) continue;
        if (n.spec.kind == NumericTransform::quantile) {
          ++n.seen;
          if (static_cast<index_t>(n.sample.size()) < opt_.quantile_sample) {
            n.sample.push_back(x);
          } else {  // reservoir sampling (Algorithm R): keeps a uniform sample of every value seen
            const std::uint64_t j = n.rng.below(static_cast<std::uint64_t>(n.seen));
            if (j < n.sample.size()) n.sample[j] = x;
          }
        } else {
          const double v = pre_standardize(n.spec.kind, x);
          ++n.seen;
          const double delta = v - n.mean;  // Welford's running mean and variance
          n.mean += delta / static_cast<double>(n.seen);
          n.m2 += delta * (v - n.mean);
        }
      }
    }
  }

  /// Turns the statistics into the fitted state; the preprocessor is then const.
  void finish() {
    CTRNET_CHECK(!fitted_, "preprocess: finish() called twice");
    for (Cat& c : cats_) {
      if (c.spec.kind != CategoricalTransform::vocabulary) continue;
      std::vector<std::pair<FeatureId, std::int64_t>> kept;
      for (const auto& [id, count] : c.counts)
        if (count >= c.spec.min_count) kept.emplace_back(id, count);
      std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      if (c.spec.max_size > 0 && static_cast<index_t>(kept.size()) > c.spec.max_size)
        kept.resize(static_cast<std::size_t>(c.spec.max_size));
      c.tokens.clear();
      for (const auto& [id, count] : kept) c.tokens.push_back(id);
      c.counts.clear();
      c.build_index();
    }
    for (Num& n : nums_) {
      if (n.spec.kind == NumericTransform::quantile) {
        std::sort(n.sample.begin(), n.sample.end());
        n.boundaries.clear();
        const std::size_t m = n.sample.size();
        for (index_t i = 1; i < n.spec.buckets && m > 0; ++i) {
          const float q = n.sample[std::min(m - 1, static_cast<std::size_t>(i) * m / static_cast<std::size_t>(n.spec.buckets))];
          if (n.boundaries.empty() || q > n.boundaries.back()) n.boundaries.push_back(q);
        }
        n.sample.clear();
        n.sample.shrink_to_fit();
      } else if (n.spec.kind == NumericTransform::standardize || n.spec.kind == NumericTransform::log1p_standardize) {
        const double var = n.seen > 0 ? n.m2 / static_cast<double>(n.seen) : 0.0;
        n.stddev = std::sqrt(var) < 1e-12 ? 1.0 : std::sqrt(var);
      }
    }
    fitted_ = true;
    build_output_schema();
  }

  /// observe() every example of `train`, then finish().
  void fit(const InMemoryDataset& train) {
    observe(train.data().view());
    finish();
  }

  bool fitted() const { return fitted_; }
  const Schema& input_schema() const { return input_; }
  const Schema& output_schema() const {
    CTRNET_CHECK(fitted_, "preprocess: not fitted yet (call fit() or observe() + finish())");
    return output_;
  }

  /// Row of raw id `raw` of input categorical field `f`.
  FeatureId map_id(index_t f, FeatureId raw) const {
    const Cat& c = cats_[static_cast<std::size_t>(f)];
    if (raw == kMissingId) return 0;
    if (c.spec.kind == CategoricalTransform::hash)
      return 1 + static_cast<FeatureId>(mix_seed(c.spec.seed, static_cast<std::uint64_t>(raw)) %
                                        static_cast<std::uint64_t>(c.spec.buckets));
    const auto it = c.index.find(raw);
    return it == c.index.end() ? 1 : it->second;
  }
  /// Value of input dense field `d` (not quantile-bucketed) after its transform.
  float map_dense(index_t d, float x) const {
    const Num& n = nums_[static_cast<std::size_t>(d)];
    if (std::isnan(x)) return 0.0f;
    const double v = pre_standardize(n.spec.kind, x);
    if (n.spec.kind == NumericTransform::standardize || n.spec.kind == NumericTransform::log1p_standardize)
      return static_cast<float>((v - n.mean) / n.stddev);
    return static_cast<float>(v);
  }
  /// Bucket of input dense field `d` under quantile bucketing.
  FeatureId bucket(index_t d, float x) const {
    const Num& n = nums_[static_cast<std::size_t>(d)];
    if (std::isnan(x)) return 0;
    return 1 + static_cast<FeatureId>(std::upper_bound(n.boundaries.begin(), n.boundaries.end(), x) - n.boundaries.begin());
  }
  /// The fitted boundaries of a quantile-bucketed field, the vocabulary of a categorical one.
  const std::vector<float>& boundaries(index_t d) const { return nums_[static_cast<std::size_t>(d)].boundaries; }
  const std::vector<FeatureId>& vocabulary(index_t f) const { return cats_[static_cast<std::size_t>(f)].tokens; }
  double mean(index_t d) const { return nums_[static_cast<std::size_t>(d)].mean; }
  double stddev(index_t d) const { return nums_[static_cast<std::size_t>(d)].stddev; }

  /// Writes the preprocessed examples of `in` into `out` (shaped for output_schema()).
  void transform(const BatchView& in, Batch& out) const {
    const Schema& os = output_schema();
    check_input(in);
    out.reset(os, static_cast<index_t>(in.targets.size()));
    const auto n = static_cast<std::size_t>(in.size);
    out.dense_values.reserve(n * static_cast<std::size_t>(os.num_dense()));
    for (index_t r = 0; r < in.size; ++r)
      for (std::size_t d = 0; d < nums_.size(); ++d)
        if (nums_[d].spec.kind != NumericTransform::quantile)
          out.dense_values.push_back(map_dense(static_cast<index_t>(d), in.dense(r, static_cast<index_t>(d))));
    for (std::size_t f = 0; f < cats_.size(); ++f) {
      const FieldIds& ids = in.fields[f];
      auto& dst = out.ids[f];
      auto& off = out.offsets[f];
      dst.reserve(static_cast<std::size_t>(ids.offsets[in.size] - ids.offsets[0]));
      for (index_t r = 0; r < in.size; ++r) {
        for (index_t k = ids.offsets[r]; k < ids.offsets[r + 1]; ++k) dst.push_back(map_id(static_cast<index_t>(f), ids.ids[k]));
        off.push_back(static_cast<index_t>(dst.size()));
      }
    }
    std::size_t q = cats_.size();
    for (std::size_t d = 0; d < nums_.size(); ++d) {
      if (nums_[d].spec.kind != NumericTransform::quantile) continue;
      for (index_t r = 0; r < in.size; ++r) {
        out.ids[q].push_back(bucket(static_cast<index_t>(d), in.dense(r, static_cast<index_t>(d))));
        out.offsets[q].push_back(static_cast<index_t>(out.ids[q].size()));
      }
      ++q;
    }
    out.labels.assign(in.labels, in.labels + in.size);
    if (in.weights) out.weights.assign(in.weights, in.weights + in.size);
    for (std::size_t t = 0; t < in.targets.size(); ++t) out.targets[t].assign(in.targets[t], in.targets[t] + in.size);
    out.set_size(in.size);
  }

  InMemoryDataset transform(const InMemoryDataset& in) const {
    Batch out;
    transform(in.data().view(), out);
    return InMemoryDataset(output_schema(), std::move(out));
  }

  /// The fitted state (and the input schema) as JSON; from_json gives an equal preprocessor.
  nlohmann::json to_json() const {
    CTRNET_CHECK(fitted_, "preprocess: not fitted yet, nothing to save");
    nlohmann::json j;
    j["format"] = "ctrnet.preprocess";
    j["version"] = 1;
    j["input_schema"] = schema_to_json(input_);
    j["categorical"] = nlohmann::json::array();
    for (const Cat& c : cats_) {
      nlohmann::json o{{"name", c.name}, {"kind", to_string(c.spec.kind)}};
      if (c.spec.kind == CategoricalTransform::vocabulary) {
        o["min_count"] = c.spec.min_count;
        o["max_size"] = c.spec.max_size;
        o["tokens"] = c.tokens;
      } else {
        o["buckets"] = c.spec.buckets;
        o["seed"] = c.spec.seed;
      }
      j["categorical"].push_back(std::move(o));
    }
    j["dense"] = nlohmann::json::array();
    for (const Num& n : nums_) {
      nlohmann::json o{{"name", n.name}, {"transform", to_string(n.spec.kind)}};
      if (n.spec.kind == NumericTransform::quantile) {
        o["buckets"] = n.spec.buckets;
        o["boundaries"] = n.boundaries;
      } else if (n.spec.kind == NumericTransform::standardize || n.spec.kind == NumericTransform::log1p_standardize) {
        o["mean"] = n.mean;
        o["std"] = n.stddev;
      }
      j["dense"].push_back(std::move(o));
    }
    return j;
  }

  /// The preprocessor from to_json's form. Strict (io/json_strict.hpp): a missing or unknown key,
  /// a wrong type (a float or a negative number where a count is expected) is a ctrnet::Error
  /// naming `source` (a file, or e.g. "m.safetensors: __metadata__ 'preprocessing'"), the JSON
  /// path (`categorical[2].buckets`) and what was expected.
  static Preprocessor from_json(const nlohmann::json& j, std::string_view source = "preprocess JSON") {
    const std::string src(source);
    try {
      detail::json_only_keys(j, {"format", "version", "input_schema", "categorical", "dense"}, src);
      CTRNET_CHECK(detail::json_at(j, "format", src) == "ctrnet.preprocess", src,
                   ": \"format\" must be \"ctrnet.preprocess\", got ", j.at("format").dump());
      const int version = detail::json_get<int>(j, "version", src);
      CTRNET_CHECK(version == 1, src, ": version ", version, " is not supported (this build reads version 1)");
      Preprocessor p;
      p.input_ = schema_from_json(detail::json_at(j, "input_schema", src), src + ": input_schema");
      const auto& cats = detail::json_at(j, "categorical", src);
      const auto& dense = detail::json_at(j, "dense", src);
      CTRNET_CHECK(cats.is_array() && dense.is_array(), src, ": \"categorical\" and \"dense\" must be arrays");
      CTRNET_CHECK(cats.size() == static_cast<std::size_t>(p.input_.num_categorical()) &&
                       dense.size() == static_cast<std::size_t>(p.input_.num_dense()),
                   src, ": ", cats.size(), " categorical and ", dense.size(),
                   " dense entries do not match the input schema (", p.input_.num_categorical(), " and ",
                   p.input_.num_dense(), ")");
      for (index_t i = 0; i < p.input_.num_categorical(); ++i) {
        const auto& o = cats[static_cast<std::size_t>(i)];
        const std::string w = src + ": " + detail::json_path("categorical", static_cast<std::size_t>(i));
        Cat c;
        c.name = detail::json_get<std::string>(o, "name", w);
        CTRNET_CHECK(c.name == p.input_.categorical(i).name, src, ": categorical entry ", i, " is '", c.name,
                     "', the schema says '", p.input_.categorical(i).name, "'");
        const std::string kind = detail::json_get<std::string>(o, "kind", w);
        if (kind == "vocabulary") {
          detail::json_only_keys(o, {"name", "kind", "min_count", "max_size", "tokens"}, w);
          c.spec.kind = CategoricalTransform::vocabulary;
          c.spec.min_count = detail::json_integer<std::int64_t>(detail::json_at(o, "min_count", w), "min_count", w, 0);
          c.spec.max_size = detail::json_size(o, "max_size", w);
          const auto& tokens = detail::json_at(o, "tokens", w);
          CTRNET_CHECK(tokens.is_array(), w, ": key 'tokens' must be an array of integer ids, got ", tokens.dump());
          c.tokens.reserve(tokens.size());
          for (std::size_t t = 0; t < tokens.size(); ++t)
            c.tokens.push_back(detail::json_integer<FeatureId>(tokens[t], detail::json_path("tokens", t).c_str(), w));
          c.build_index();
          CTRNET_CHECK(c.index.size() == c.tokens.size(), w, ": field '", c.name, "' repeats a token");
        } else if (kind == "hash") {
          detail::json_only_keys(o, {"name", "kind", "buckets", "seed"}, w);
          c.spec.kind = CategoricalTransform::hash;
          c.spec.buckets = detail::json_size(o, "buckets", w);
          c.spec.seed = detail::json_get<std::uint64_t>(o, "seed", w);
          CTRNET_CHECK(c.spec.buckets > 0, w, ": field '", c.name, "' needs buckets > 0");
        } else {
          detail::throw_error(w, ": field '", c.name, "' has unknown kind \"", kind, "\" (expected vocabulary or hash)");
        }
        p.cats_.push_back(std::move(c));
      }
      for (index_t i = 0; i < p.input_.num_dense(); ++i) {
        const auto& o = dense[static_cast<std::size_t>(i)];
        const std::string w = src + ": " + detail::json_path("dense", static_cast<std::size_t>(i));
        Num n;
        n.name = detail::json_get<std::string>(o, "name", w);
        CTRNET_CHECK(n.name == p.input_.dense(i).name, src, ": dense entry ", i, " is '", n.name,
                     "', the schema says '", p.input_.dense(i).name, "'");
        try {
          n.spec.kind = numeric_transform_from_string(detail::json_get<std::string>(o, "transform", w));
        } catch (const Error& e) {
          detail::throw_error(w, ": ", e.what());
        }
        if (n.spec.kind == NumericTransform::quantile) {
          detail::json_only_keys(o, {"name", "transform", "buckets", "boundaries"}, w);
          n.spec.buckets = detail::json_size(o, "buckets", w);
          n.boundaries = detail::json_get<std::vector<float>>(o, "boundaries", w);
          CTRNET_CHECK(std::is_sorted(n.boundaries.begin(), n.boundaries.end()), w, ": field '", n.name,
                       "': boundaries are not sorted");
        } else if (n.spec.kind == NumericTransform::standardize || n.spec.kind == NumericTransform::log1p_standardize) {
          detail::json_only_keys(o, {"name", "transform", "mean", "std"}, w);
          n.mean = detail::json_get<double>(o, "mean", w);
          n.stddev = detail::json_get<double>(o, "std", w);
          CTRNET_CHECK(std::isfinite(n.mean) && n.stddev > 0 && std::isfinite(n.stddev), w, ": field '", n.name,
                       "': std must be positive and finite, mean finite");
        } else {
          detail::json_only_keys(o, {"name", "transform"}, w);
        }
        p.nums_.push_back(std::move(n));
      }
      p.fitted_ = true;
      p.build_output_schema();
      return p;
    } catch (const nlohmann::json::exception& e) {
      detail::throw_error(src, ": ", e.what());
    }
  }
  /// The preprocessor from JSON text (strict, also rejecting a key repeated in an object).
  static Preprocessor from_json_text(std::string_view text, std::string_view source) {
    return from_json(parse_json_strict(text, source), source);
  }

 private:
  struct Cat {
    std::string name;
    CategoricalSpec spec;
    std::unordered_map<FeatureId, std::int64_t> counts;  // while fitting
    std::vector<FeatureId> tokens;                       // row 2 + i is tokens[i]
    std::unordered_map<FeatureId, FeatureId> index;      // raw id -> row
    void build_index() {
      index.clear();
      index.reserve(tokens.size());
      for (std::size_t i = 0; i < tokens.size(); ++i) index.emplace(tokens[i], static_cast<FeatureId>(i + 2));
    }
  };
  struct Num {
    std::string name;
    NumericSpec spec;
    std::int64_t seen = 0;
    double mean = 0, m2 = 0, stddev = 1;
    std::vector<float> sample;      // while fitting a quantile field
    std::vector<float> boundaries;  // quantile
    Rng rng{0};
  };

  static double pre_standardize(NumericTransform k, float x) {
    if (k == NumericTransform::log1p || k == NumericTransform::log1p_standardize)
      return std::log1p(std::max(static_cast<double>(x), 0.0));
    return static_cast<double>(x);
  }

  void check_input(const BatchView& b) const {
    CTRNET_CHECK(b.dense.cols == input_.num_dense() && b.fields.size() == static_cast<std::size_t>(input_.num_categorical()),
                 "preprocess: the batch has ", b.dense.cols, " dense columns and ", b.fields.size(),
                 " categorical fields, the schema ", input_.num_dense(), " and ", input_.num_categorical());
  }

  void build_output_schema() {
    output_ = Schema();
    for (index_t d = 0; d < input_.num_dense(); ++d)
      if (nums_[static_cast<std::size_t>(d)].spec.kind != NumericTransform::quantile) output_.add_dense(input_.dense(d).name);
    for (index_t f = 0; f < input_.num_categorical(); ++f) {
      Field fld = input_.categorical(f);
      const Cat& c = cats_[static_cast<std::size_t>(f)];
      fld.hash_buckets = 0;
      fld.hash_seed = 0;
      fld.vocab_size = c.spec.kind == CategoricalTransform::hash ? c.spec.buckets + 1
                                                                 : static_cast<index_t>(c.tokens.size()) + 2;
      output_.add(std::move(fld));
    }
    for (index_t d = 0; d < input_.num_dense(); ++d) {
      const Num& n = nums_[static_cast<std::size_t>(d)];
      if (n.spec.kind == NumericTransform::quantile)
        output_.add_categorical(n.name, static_cast<index_t>(n.boundaries.size()) + 2);
    }
  }

  Schema input_, output_;
  PreprocessOptions opt_;
  std::vector<Cat> cats_;
  std::vector<Num> nums_;
  bool fitted_ = false;
};

/// \brief Checks that the examples `pre` produces fit a model built on `model` (e.g. a model file's
/// schema and its 'preprocessing' metadata): the same dense fields, and the same categorical fields
/// (names, kinds) with as many rows as the model's tables (vocabulary + 2, hash buckets + 1,
/// quantile buckets). Throws ctrnet::Error naming `source` and the first field that differs.
/// `preprocessed` is the schema of the preprocessed examples (Preprocessor::output_schema()).
inline void check_preprocessing_fits(const Schema& preprocessed, const Schema& model, const std::string& source) {
  const Schema& out = preprocessed;
  const std::string what = source + ": the 'preprocessing' metadata does not fit the model's schema: ";
  CTRNET_CHECK(out.num_dense() == model.num_dense() && out.num_categorical() == model.num_categorical(), what,
               "it yields ", out.num_dense(), " dense and ", out.num_categorical(),
               " categorical fields, the model has ", model.num_dense(), " and ", model.num_categorical());
  for (index_t i = 0; i < out.num_dense(); ++i)
    CTRNET_CHECK(out.dense(i).name == model.dense(i).name, what, "dense field ", i, " is '", out.dense(i).name,
                 "', the model's is '", model.dense(i).name, "'");
  for (index_t i = 0; i < out.num_categorical(); ++i) {
    const Field &a = out.categorical(i), &b = model.categorical(i);
    CTRNET_CHECK(a.name == b.name && a.kind == b.kind, what, "categorical field ", i, " is '", a.name, "' (",
                 to_string(a.kind), "), the model's is '", b.name, "' (", to_string(b.kind), ")");
    CTRNET_CHECK(a.rows() == b.rows(), what, "field '", a.name, "' maps ids to ", a.rows(),
                 " rows (vocabulary or hash size), the model's table has ", b.rows());
  }
}
inline void check_preprocessing_fits(const Preprocessor& pre, const Schema& model, const std::string& source) {
  check_preprocessing_fits(pre.output_schema(), model, source);
}

}  // namespace ctrnet
