// Batch (owning) and BatchView (non-owning, sliceable by rows) of examples for a Schema.
//   dense:   [size, num_dense] floats, schema order
//   ids[f]:  for categorical field f, example r has ids[f][offsets[f][r] .. offsets[f][r+1])
//            (exactly one id for FieldKind::categorical)
//   labels:  [size]; weights: [size] or empty (= 1); targets: extra regression/label columns
//   items:   [size] or empty: retrieval batches (two-tower training) name the candidate item of
//            each row, an integer column the retrieval heads read (accidental hits, logQ); the
//            last `items_only` rows are catalogue items without a query (mixed negatives'
//            sampled items), on which a two-tower model runs only its candidate tower
#pragma once
#include <algorithm>
#include <span>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/data/schema.hpp"

namespace ctrnet {

/// The ids of one categorical field for the rows of a view: example r has
/// ids[offsets[r] .. offsets[r + 1]) (offsets are absolute into `ids`).
struct FieldIds {
  const FeatureId* ids = nullptr;
  const index_t* offsets = nullptr;
  index_t count(index_t r) const { return offsets[r + 1] - offsets[r]; }
  std::span<const FeatureId> of(index_t r) const { return {ids + offsets[r], static_cast<std::size_t>(count(r))}; }
};

/// \brief Non-owning view of `size` examples; `rows(b, n)` slices without copying ids.
struct BatchView {
  index_t size = 0;
  index_t first_row = 0;  ///< index of row 0 in the full batch (for deterministic per-row RNG)
  ConstMatrixView<float> dense;
  std::vector<FieldIds> fields;  ///< one per categorical field, schema order
  const float* labels = nullptr;
  const float* weights = nullptr;  ///< may be null: every weight is 1
  std::vector<const float*> targets;
  const FeatureId* items = nullptr;  ///< retrieval batches: the candidate item id of each row; else null
  index_t items_only = 0;            ///< the last items_only rows are candidate items without a query

  float weight(index_t r) const { return weights ? weights[r] : 1.0f; }
  /// Rows [begin, begin + n). Re-uses `out`'s capacity.
  void rows(index_t begin, index_t n, BatchView& out) const {
    CTRNET_CHECK(begin >= 0 && n >= 0 && begin + n <= size, "batch slice [", begin, ", ", begin + n,
                 ") is outside a batch of ", size);
    out.size = n;
    out.first_row = first_row + begin;
    out.dense = dense.rows > 0 ? dense.row_block(begin, n) : dense;
    out.fields.resize(fields.size());
    for (std::size_t f = 0; f < fields.size(); ++f) out.fields[f] = {fields[f].ids, fields[f].offsets + begin};
    out.labels = labels ? labels + begin : nullptr;
    out.weights = weights ? weights + begin : nullptr;
    out.targets.resize(targets.size());
    for (std::size_t t = 0; t < targets.size(); ++t) out.targets[t] = targets[t] + begin;
    out.items = items ? items + begin : nullptr;
    // The item-only rows of the slice: those of [begin, begin + n) at or after size − items_only.
    out.items_only = std::max<index_t>(0, begin + n - std::max(begin, size - items_only));
  }
  /// Rows with a query: [0, size − items_only).
  index_t query_rows() const { return size - items_only; }
  BatchView rows(index_t begin, index_t n) const {
    BatchView v;
    rows(begin, n, v);
    return v;
  }
};

/// \brief Owning batch. Fill with `clear` + `add_row`-style helpers or directly, then `view()`.
class Batch {
 public:
  Batch() = default;
  explicit Batch(const Schema& schema) { reset(schema); }

  void reset(const Schema& schema, index_t num_targets = 0) {
    num_dense_ = schema.num_dense();
    ids.assign(static_cast<std::size_t>(schema.num_categorical()), {});
    offsets.assign(static_cast<std::size_t>(schema.num_categorical()), {0});
    targets.assign(static_cast<std::size_t>(num_targets), {});
    clear();
  }
  /// Removes all examples, keeping capacity.
  void clear() {
    size_ = 0;
    dense_values.clear();
    for (auto& v : ids) v.clear();
    for (auto& o : offsets) o.assign(1, 0);
    labels.clear();
    weights.clear();
    for (auto& t : targets) t.clear();
    items.clear();
    items_only = 0;
  }

  /// Appends one example; `cat_ids[f]` holds the ids of categorical field f.
  void add(std::span<const float> dense, std::span<const std::span<const FeatureId>> cat_ids, float label,
           float weight = 1.0f) {
    CTRNET_CHECK(static_cast<index_t>(dense.size()) == num_dense_, "batch: expected ", num_dense_,
                 " dense values, got ", dense.size());
    CTRNET_CHECK(cat_ids.size() == ids.size(), "batch: expected ", ids.size(), " categorical fields, got ",
                 cat_ids.size());
    dense_values.insert(dense_values.end(), dense.begin(), dense.end());
    for (std::size_t f = 0; f < ids.size(); ++f) {
      ids[f].insert(ids[f].end(), cat_ids[f].begin(), cat_ids[f].end());
      offsets[f].push_back(static_cast<index_t>(ids[f].size()));
    }
    labels.push_back(label);
    weights.push_back(weight);
    ++size_;
  }
  /// Appends one example with exactly one id per categorical field.
  void add_one_hot(std::span<const float> dense, std::span<const FeatureId> one_id_per_field, float label,
                   float weight = 1.0f) {
    CTRNET_CHECK(one_id_per_field.size() == ids.size(), "batch: expected ", ids.size(), " ids, got ",
                 one_id_per_field.size());
    dense_values.insert(dense_values.end(), dense.begin(), dense.end());
    for (std::size_t f = 0; f < ids.size(); ++f) {
      ids[f].push_back(one_id_per_field[f]);
      offsets[f].push_back(static_cast<index_t>(ids[f].size()));
    }
    labels.push_back(label);
    weights.push_back(weight);
    ++size_;
  }
  /// Marks `n` examples as filled when the vectors were written directly; checks consistency.
  void set_size(index_t n) {
    CTRNET_CHECK(static_cast<index_t>(dense_values.size()) == n * num_dense_, "batch: dense has ",
                 dense_values.size(), " values, expected ", n * num_dense_);
    CTRNET_CHECK(static_cast<index_t>(labels.size()) == n, "batch: ", labels.size(), " labels for ", n, " rows");
    for (std::size_t f = 0; f < offsets.size(); ++f)
      CTRNET_CHECK(static_cast<index_t>(offsets[f].size()) == n + 1, "batch: field ", f, " has ",
                   offsets[f].size(), " offsets for ", n, " rows");
    CTRNET_CHECK(items.empty() || static_cast<index_t>(items.size()) == n, "batch: ", items.size(), " item ids for ",
                 n, " rows");
    CTRNET_CHECK(items_only >= 0 && items_only <= n, "batch: ", items_only, " item-only rows in a batch of ", n);
    size_ = n;
  }

  index_t size() const { return size_; }
  index_t num_dense() const { return num_dense_; }

  BatchView view() const {
    BatchView v;
    view(v);
    return v;
  }
  /// The view into `v`, re-using its capacity (no allocation once `v` has seen this schema).
  void view(BatchView& v) const {
    v.size = size_;
    v.first_row = 0;
    v.dense = ConstMatrixView<float>(dense_values.data(), size_, num_dense_);
    v.fields.resize(ids.size());
    for (std::size_t f = 0; f < ids.size(); ++f) v.fields[f] = {ids[f].data(), offsets[f].data()};
    v.labels = labels.data();
    v.weights = weights.empty() ? nullptr : weights.data();
    v.targets.resize(targets.size());
    for (std::size_t t = 0; t < targets.size(); ++t) v.targets[t] = targets[t].data();
    v.items = items.empty() ? nullptr : items.data();
    v.items_only = items_only;
  }

  std::vector<float> dense_values;
  std::vector<std::vector<FeatureId>> ids;
  std::vector<std::vector<index_t>> offsets;
  std::vector<float> labels;
  std::vector<float> weights;
  std::vector<std::vector<float>> targets;
  std::vector<FeatureId> items;  ///< retrieval batches: [size] candidate item ids (BatchView::items); else empty
  index_t items_only = 0;        ///< the last items_only rows are candidate items without a query

 private:
  index_t size_ = 0;
  index_t num_dense_ = 0;
};

}  // namespace ctrnet
