// Staging: a host batch's data copied into a policy's memory, the explicit host→device step of a
// training or inference call. The trainers stage each batch once, then every shard slices the
// staged view (BatchView::rows is pointer arithmetic only). On the CPU policies the host memory
// IS the policy's memory, so staging copies nothing: the staged view is the host view.
//
//   StagedBatch staged;                         // reused: no allocation once a batch shape was seen
//   const BatchView& v = staged.stage(policy, host_view);
//   model.forward(policy, v, cache);
//
// Host code keeps reading the host view (weights for the normaliser, labels for metrics); layers,
// heads and kernels get the staged one. Given the schema, staging into a device space first checks
// every id (validate_ids): bad input is a ctrnet::Error before any kernel runs.
#pragma once
#include <cstddef>
#include <vector>

#include "ctrnet/core/memory.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/schema.hpp"
#include "ctrnet/policy/execution.hpp"

namespace ctrnet {

/// Throws a ctrnet::Error for the first id of `host` outside its field's vocabulary (hashed fields
/// take any id), with the embedding kernels' message: field, example row and the vocabulary.
inline void validate_ids(const Schema& schema, const BatchView& host) {
  CTRNET_CHECK(static_cast<index_t>(host.fields.size()) == schema.num_categorical(), "batch: ", host.fields.size(),
               " categorical fields, the schema has ", schema.num_categorical());
  for (index_t k = 0; k < schema.num_categorical(); ++k) {
    const Field& f = schema.categorical(k);
    const FieldIds& ids = host.fields[static_cast<std::size_t>(k)];
    if (f.hash_buckets > 0 || ids.offsets == nullptr) continue;
    const IdMapper map(f);
    for (index_t r = 0; r < host.size; ++r)  // host: ids of a host batch, checked before staging
      for (const FeatureId id : ids.of(r)) map(id, host.first_row + r);
  }
}

/// \brief The columns of a BatchView in one MemorySpace.
class StagedBatch {
 public:
  /// Copies `host` (host memory) into the memory of policy `p` and returns the view of the copy;
  /// returns `host` itself when that memory is the host's. The view lives until the next stage().
  template <class P>
  const BatchView& stage(const P& p, const BatchView& host) {
    MemorySpace& space = memory_of(p);
    if (space.host_accessible()) return host;
    stage_into(space, host);
    return view_;
  }
  /// stage() that first checks every id against `schema` (validate_ids) when the batch goes to a
  /// device space, so that the device's kernels map ids without a check that would have to throw.
  /// (In host memory the CPU kernels check each id as they map it: nothing to do here.)
  template <class P>
  const BatchView& stage(const P& p, const BatchView& host, const Schema& schema) {
    if (!memory_of(p).host_accessible()) validate_ids(schema, host);
    return stage(p, host);
  }

 private:
  template <class T>
  static const T* put(MemorySpace& space, Buffer<T>& buf, const T* src, index_t n) {
    if (src == nullptr) return nullptr;
    buf.bind(space);
    buf.upload(src, n);
    return buf.data();
  }

  void stage_into(MemorySpace& space, const BatchView& host) {
    const index_t n = host.size;
    view_.size = n;
    view_.first_row = host.first_row;
    const ConstMatrixView<float>& d = host.dense;
    if (d.data != nullptr && d.rows > 0 && d.cols > 0) {
      // Rows keep their stride: elements [0, (rows − 1)·stride + cols) hold every row.
      const index_t count = (d.rows - 1) * d.stride + d.cols;
      view_.dense = ConstMatrixView<float>(put(space, dense_, d.data, count), d.rows, d.cols, d.stride);
    } else {
      view_.dense = d;
    }
    const std::size_t F = host.fields.size();
    ids_.resize(F);
    offsets_.resize(F);
    rebased_.resize(static_cast<std::size_t>(n + 1));
    view_.fields.resize(F);
    for (std::size_t f = 0; f < F; ++f) {
      const FieldIds& h = host.fields[f];
      if (h.offsets == nullptr) {
        view_.fields[f] = h;
        continue;
      }
      // Offsets are absolute into the field's id array; the copy holds ids [offsets[0], offsets[n]).
      const index_t first = h.offsets[0], last = h.offsets[n];
      for (index_t r = 0; r <= n; ++r) rebased_[static_cast<std::size_t>(r)] = h.offsets[r] - first;
      FieldIds& s = view_.fields[f];
      s.offsets = put(space, offsets_[f], rebased_.data(), n + 1);
      s.ids = last > first ? put(space, ids_[f], h.ids + first, last - first) : nullptr;
    }
    view_.labels = put(space, labels_, host.labels, n);
    view_.weights = put(space, weights_, host.weights, n);
    targets_.resize(host.targets.size());
    view_.targets.resize(host.targets.size());
    for (std::size_t t = 0; t < host.targets.size(); ++t)
      view_.targets[t] = put(space, targets_[t], host.targets[t], n);
    view_.items = put(space, items_, host.items, n);
    view_.items_only = host.items_only;
  }

  Buffer<float> dense_, labels_, weights_;
  std::vector<Buffer<FeatureId>> ids_;
  Buffer<FeatureId> items_;
  std::vector<Buffer<index_t>> offsets_;
  std::vector<Buffer<float>> targets_;
  std::vector<index_t> rebased_;  // host scratch
  BatchView view_;
};

}  // namespace ctrnet
