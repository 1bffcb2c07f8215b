// Parameters: a registry of named dense tensors laid out in ONE flat buffer per model, plus
// embedding tables that live outside it and receive sparse (row id, row) gradients.
//
//   ParamRegistry      built once: layers declare `mlp.0.weight` [out, in] etc. and get handles
//   ModelParams<T>     owns the flat value buffer and the tables
//   ModelGrads<T>      owns the flat gradient buffer and one SparseRows<T> per table
//   Weights<T>         const, cheap view used in forward/backward
//   Gradients<T>       mutable, cheap view; every layer ACCUMULATES (+=) into it
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ctrnet/core/aligned.hpp"
#include "ctrnet/core/error.hpp"
#include "ctrnet/core/init.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/memory.hpp"
#include "ctrnet/core/rng.hpp"

namespace ctrnet {

/// Offset and shape of one dense parameter inside the flat buffer.
struct ParamHandle {
  index_t offset = -1;
  index_t rows = 0;
  index_t cols = 0;
  bool valid() const { return offset >= 0; }
  index_t size() const { return rows * cols; }
};

/// Index and shape of one embedding table.
struct TableHandle {
  index_t id = -1;
  index_t rows = 0;
  index_t dim = 0;
  bool valid() const { return id >= 0; }
};

struct ParamInfo {
  std::string name;
  ParamHandle handle;
  Init init;
};

struct TableInfo {
  std::string name;  // full name, e.g. "embedding.C14"
  TableHandle handle;
  Init init;
};

/// 64-bit FNV-1a of a string; seeds each parameter's initialiser from its name, so values do
/// not depend on the order in which layers were registered.
inline std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

/// \brief Declares named parameters and tables while a model is built.
class ParamRegistry {
 public:
  /// RAII name scope: `auto s = reg.scope("mlp"); reg.add("weight", ...)` → "mlp.weight".
  class Scope {
   public:
    explicit Scope(ParamRegistry& r) : r_(&r) {}
    Scope(Scope&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() {
      if (r_) r_->scopes_.pop_back();
    }

   private:
    ParamRegistry* r_;
  };

  [[nodiscard]] Scope scope(std::string_view name) {
    scopes_.emplace_back(name);
    return Scope(*this);
  }
  [[nodiscard]] Scope scope(index_t i) { return scope(std::to_string(i)); }

  std::string full_name(std::string_view local) const {
    std::string s;
    for (const auto& p : scopes_) {
      if (p.empty()) continue;
      s += p;
      s += '.';
    }
    s += local;
    return s;
  }

  /// Declares a dense parameter [rows, cols] under the current scope.
  ParamHandle add(std::string_view local_name, index_t rows, index_t cols, Init init) {
    CTRNET_CHECK(rows > 0 && cols > 0, "parameter '", full_name(local_name), "' has invalid shape [", rows, ", ",
                 cols, "]");
    std::string name = full_name(local_name);
    CTRNET_CHECK(find(name) == nullptr, "parameter '", name, "' is declared twice");
    // Each tensor starts on a 64-byte boundary (16 floats) so SIMD loads of a row 0 are aligned.
    const index_t offset = dense_size_;
    dense_size_ += (rows * cols + 15) / 16 * 16;
    ParamHandle h{offset, rows, cols};
    params_.push_back({std::move(name), h, init});
    return h;
  }

  /// Declares (or joins) an embedding table. Tables are global, not scoped: two fields naming the
  /// same table share it; the shapes must then agree.
  TableHandle add_table(std::string_view name, index_t rows, index_t dim, Init init) {
    CTRNET_CHECK(rows > 0 && dim > 0, "embedding table '", name, "' has invalid shape [", rows, ", ", dim, "]");
    for (const auto& t : tables_) {
      if (t.name == name) {
        CTRNET_CHECK(t.handle.rows == rows && t.handle.dim == dim, "embedding table '", name,
                     "' is shared with different shapes: [", t.handle.rows, ", ", t.handle.dim, "] vs [", rows, ", ",
                     dim, "]");
        return t.handle;
      }
    }
    TableHandle h{static_cast<index_t>(tables_.size()), rows, dim};
    tables_.push_back({std::string(name), h, init});
    return h;
  }

  const ParamInfo* find(std::string_view name) const {
    for (const auto& p : params_)
      if (p.name == name) return &p;
    return nullptr;
  }
  const TableInfo* find_table(std::string_view name) const {
    for (const auto& t : tables_)
      if (t.name == name) return &t;
    return nullptr;
  }
  index_t dense_size() const { return dense_size_; }
  const std::vector<ParamInfo>& params() const { return params_; }
  const std::vector<TableInfo>& tables() const { return tables_; }

 private:
  std::vector<std::string> scopes_;
  std::vector<ParamInfo> params_;
  std::vector<TableInfo> tables_;
  index_t dense_size_ = 0;
};

/// \brief Sparse gradient of one embedding table, as two plain arrays in the memory space of the
/// policy that writes it (core/memory.hpp): ids()[0, size) — distinct table rows, in order of first
/// touch — and values() [size, dim], row i the gradient of row ids()[i]. That is all an optimizer
/// kernel reads, and what a device backend produces by sorting (id, row) contributions and reducing
/// each id's run in order.
///
/// The CPU kernels build it in place through a host-side index: an id → slot flat open-addressing
/// hash table (linear probing, power-of-two capacity). row(), add() and reserve_more() are that CPU
/// kernel side — host code, callable only inside a kernel of a policy whose memory the host can
/// reach (the guarded test policy faults anywhere else). The index holds copies of the ids, so
/// clear() touches only host memory; neither row() nor clear() allocates in steady state, and
/// clear() costs O(rows touched), not O(table size).
template <class T>
class SparseRows {
 public:
  /// Empties the gradient and sets its row width; the arrays are (re)bound to the thread's current
  /// memory space (the policy's, inside a trainer or model call).
  void reset(index_t dim) {
    dim_ = dim;
    size_ = 0;
    ids_.bind(current_memory());
    values_.bind(current_memory());
    ids_.clear();
    values_.clear();
    where_.clear();
    announced_ = 0;
    keys_.assign(16, kEmpty);
    slots_.assign(16, 0);
  }
  void clear() {
    for (std::size_t h : where_) keys_[h] = kEmpty;
    where_.clear();
    size_ = 0;
    ids_.clear();
    values_.clear();
    announced_ = 0;
  }
  index_t dim() const { return dim_; }
  index_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  /// The arrays (policy memory: dereference only inside a kernel on a device policy).
  const FeatureId* ids() const { return ids_.data(); }
  const T* values() const { return values_.data(); }
  T* values() { return values_.data(); }
  FeatureId id(index_t i) const { return ids_.data()[i]; }
  const T* values(index_t i) const { return values_.data() + i * dim_; }
  T* values(index_t i) { return values_.data() + i * dim_; }
  /// The memory space the arrays live in.
  MemorySpace& space() const { return values_.space(); }
  /// Host copies of the arrays (an explicit copy back, for tests and tools).
  std::vector<FeatureId> download_ids() const { return ids_.to_host(); }
  std::vector<T> download_values() const { return values_.to_host(); }

  // ---- CPU kernel side (host code inside a kernel) ----

  /// The gradient row of `id` (a table row, >= 0), created as zeros when first touched. The
  /// pointer is valid until the next call of row() (the arrays may grow).
  T* row(FeatureId id) {
    if (keys_.empty()) reset(dim_);
    std::size_t h = probe(id);
    if (keys_[h] == kEmpty) {
      if (2 * (where_.size() + 1) > keys_.size()) {
        grow();
        h = probe(id);
      }
      const index_t slot = size_;
      ensure_capacity(slot + 1);
      keys_[h] = id;
      slots_[h] = slot;
      where_.push_back(h);
      ++size_;
      ids_.resize(size_);
      values_.resize(size_ * dim_);
      ids_.data()[slot] = id;
      std::fill_n(values_.data() + slot * dim_, dim_, T(0));
    }
    return values_.data() + slots_[h] * dim_;
  }
  /// Makes room for `ids` more rows than were announced since the last clear(): kernels announce the
  /// id count of their whole input before they touch rows, so the capacity depends on how many ids
  /// a batch has, not on how many of them are distinct, and row() allocates nothing once a batch
  /// shape has been seen.
  void reserve_more(index_t ids) {
    if (keys_.empty()) reset(dim_);
    announced_ += ids;
    const auto rows = static_cast<std::size_t>(std::max<index_t>(announced_, size()));
    std::size_t cap = keys_.size();
    while (2 * (rows + 1) > cap) cap *= 2;
    if (cap != keys_.size()) rehash(cap);
    where_.reserve(rows);
    ensure_capacity(static_cast<index_t>(rows));
  }
  /// Adds another SparseRows (same dim) into this one, in the other's row order (the CPU body of
  /// kernels::sparse_rows_add).
  void add(const SparseRows& o) {
    reserve_more(std::max(o.announced_, o.size()));
    for (index_t i = 0; i < o.size(); ++i) {
      T* dst = row(o.id(i));
      const T* src = o.values(i);
      for (index_t j = 0; j < dim_; ++j) dst[j] += src[j];
    }
  }

 private:
  static constexpr FeatureId kEmpty = -1;

  // Slot of `id`, or of the empty slot where it would go.
  std::size_t probe(FeatureId id) const {
    const std::size_t mask = keys_.size() - 1;
    std::size_t h = static_cast<std::size_t>(static_cast<std::uint64_t>(id) * 0x9E3779B97F4A7C15ull >> 17) & mask;
    while (keys_[h] != kEmpty && keys_[h] != id) h = (h + 1) & mask;
    return h;
  }
  void grow() { rehash(keys_.size() * 2); }
  // Rebuilds the index from the keys it holds (host copies of ids()), never reading the arrays.
  void rehash(std::size_t capacity) {
    std::vector<FeatureId> old(where_.size());
    for (std::size_t i = 0; i < where_.size(); ++i) old[i] = keys_[where_[i]];
    keys_.assign(capacity, kEmpty);
    slots_.assign(keys_.size(), 0);
    for (std::size_t i = 0; i < where_.size(); ++i) {
      const std::size_t h = probe(old[i]);
      keys_[h] = old[i];
      slots_[h] = static_cast<index_t>(i);
      where_[i] = h;
    }
  }
  // Grows the arrays' capacity to at least `rows` rows (doubling), keeping their contents.
  void ensure_capacity(index_t rows) {
    if (rows <= ids_.capacity()) return;
    const index_t cap = std::max<index_t>(rows, 2 * ids_.capacity());
    ids_.reserve(cap);
    values_.reserve(cap * dim_);
  }

  index_t dim_ = 0;
  index_t size_ = 0;
  Buffer<FeatureId> ids_;          // [size]: policy memory
  Buffer<T> values_;               // [size, dim]: policy memory
  std::vector<FeatureId> keys_;    // hash slots: id or kEmpty (host)
  std::vector<index_t> slots_;     // hash slot → row index (host)
  std::vector<std::size_t> where_; // row index → hash slot (clear() empties exactly these)
  index_t announced_ = 0;          // ids announced by reserve_more() since the last clear()
};

/// Read-only access to a model's values, passed to forward/backward.
template <class T>
struct Weights {
  const T* dense = nullptr;
  const Matrix<T>* tables = nullptr;
  ConstMatrixView<T> operator[](ParamHandle h) const { return {dense + h.offset, h.rows, h.cols}; }
  const Matrix<T>& table(TableHandle h) const { return tables[h.id]; }
};

/// Mutable access to a gradient buffer; layers accumulate (+=) into it.
template <class T>
struct Gradients {
  T* dense = nullptr;
  SparseRows<T>* tables = nullptr;
  MatrixView<T> operator[](ParamHandle h) const { return {dense + h.offset, h.rows, h.cols}; }
  SparseRows<T>& table(TableHandle h) const { return tables[h.id]; }
};

/// \brief Owns a model's parameter values: the flat dense buffer and the embedding tables, in the
/// thread's current memory space when allocated (the policy's: core/memory.hpp). Initial values are
/// drawn on the host and copied in.
template <class T>
struct ModelParams {
  Buffer<T> dense;
  std::vector<Matrix<T>> tables;

  void allocate(const ParamRegistry& reg) {
    dense.assign_zero(reg.dense_size());
    tables.resize(reg.tables().size());
    for (const auto& t : reg.tables()) tables[static_cast<std::size_t>(t.handle.id)].resize(t.handle.rows, t.handle.dim, T(0));
  }
  /// Allocates and initialises every tensor from `seed` and its own name.
  void initialize(const ParamRegistry& reg, std::uint64_t seed) {
    allocate(reg);
    dense.write_on_host(0, dense.size(), [&](T* values) {  // the padding between tensors stays 0
      for (const auto& p : reg.params()) {
        Rng rng(mix_seed(seed, fnv1a64(p.name)));
        ctrnet::initialize(values + p.handle.offset, p.handle.rows, p.handle.cols, p.init, rng);
      }
    });
    for (const auto& t : reg.tables()) {
      Rng rng(mix_seed(seed, fnv1a64(t.name)));
      auto& m = tables[static_cast<std::size_t>(t.handle.id)];
      m.write_on_host([&](T* values) { ctrnet::initialize(values, m.rows(), m.cols(), t.init, rng); });
    }
  }
  Weights<T> weights() const { return {dense.data(), tables.data()}; }
  MatrixView<T> view(ParamHandle h) { return {dense.data() + h.offset, h.rows, h.cols}; }
  ConstMatrixView<T> view(ParamHandle h) const { return {dense.data() + h.offset, h.rows, h.cols}; }
};

/// \brief Owns a gradient buffer: flat dense gradient (in the current memory space) and one
/// SparseRows per table.
template <class T>
struct ModelGrads {
  Buffer<T> dense;
  std::vector<SparseRows<T>> tables;

  void allocate(const ParamRegistry& reg) {
    dense.assign_zero(reg.dense_size());
    tables.resize(reg.tables().size());
    for (const auto& t : reg.tables()) tables[static_cast<std::size_t>(t.handle.id)].reset(t.handle.dim);
  }
  void zero() {
    dense.zero();
    for (auto& t : tables) t.clear();
  }
  Gradients<T> gradients() { return {dense.data(), tables.data()}; }
  MatrixView<T> view(ParamHandle h) { return {dense.data() + h.offset, h.rows, h.cols}; }
};

}  // namespace ctrnet
