// InMemoryDataset: a whole data set held as one Batch, from which mini-batches are gathered by
// row index (after a seeded shuffle). The streaming readers and the memory-mapped cache build on
// the same Batch type.
#pragma once
#include <numeric>
#include <span>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/schema.hpp"

namespace ctrnet {

/// \brief A data set in memory: a schema and all its examples.
class InMemoryDataset {
 public:
  InMemoryDataset() = default;
  InMemoryDataset(Schema schema, Batch data) : schema_(std::move(schema)), data_(std::move(data)) {
    CTRNET_CHECK(data_.num_dense() == schema_.num_dense(), "dataset: batch has ", data_.num_dense(),
                 " dense columns but the schema has ", schema_.num_dense());
    CTRNET_CHECK(static_cast<index_t>(data_.ids.size()) == schema_.num_categorical(), "dataset: batch has ",
                 data_.ids.size(), " categorical fields but the schema has ", schema_.num_categorical());
  }

  const Schema& schema() const { return schema_; }
  const Batch& data() const { return data_; }
  index_t size() const { return data_.size(); }
  index_t num_targets() const { return static_cast<index_t>(data_.targets.size()); }

  /// Copies the examples `rows` (in that order) into `out`, re-using its capacity.
  void gather(std::span<const index_t> rows, Batch& out) const {
    if (out.num_dense() != schema_.num_dense() || out.ids.size() != data_.ids.size() ||
        out.targets.size() != data_.targets.size())
      out.reset(schema_, num_targets());
    out.clear();
    const index_t nd = schema_.num_dense();
    const bool weighted = !data_.weights.empty();
    for (index_t r : rows) {
      CTRNET_CHECK(r >= 0 && r < size(), "dataset: row ", r, " is outside [0, ", size(), ")");
      const auto ur = static_cast<std::size_t>(r);
      out.dense_values.insert(out.dense_values.end(), data_.dense_values.begin() + r * nd,
                              data_.dense_values.begin() + (r + 1) * nd);
      for (std::size_t f = 0; f < data_.ids.size(); ++f) {
        const auto b = data_.offsets[f][ur], e = data_.offsets[f][ur + 1];
        out.ids[f].insert(out.ids[f].end(), data_.ids[f].begin() + b, data_.ids[f].begin() + e);
        out.offsets[f].push_back(static_cast<index_t>(out.ids[f].size()));
      }
      out.labels.push_back(data_.labels[ur]);
      out.weights.push_back(weighted ? data_.weights[ur] : 1.0f);
      for (std::size_t t = 0; t < data_.targets.size(); ++t) out.targets[t].push_back(data_.targets[t][ur]);
    }
    out.set_size(static_cast<index_t>(rows.size()));
  }

  /// Rows 0..n-1, shuffled with `seed` (Fisher–Yates on ctrnet::Rng: the same on every platform).
  std::vector<index_t> order(bool shuffle, std::uint64_t seed) const {
    std::vector<index_t> idx(static_cast<std::size_t>(size()));
    std::iota(idx.begin(), idx.end(), index_t(0));
    if (shuffle) {
      Rng rng(seed);
      rng.shuffle(std::span<index_t>(idx));
    }
    return idx;
  }

 private:
  Schema schema_;
  Batch data_;
};

}  // namespace ctrnet
