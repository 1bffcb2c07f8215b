// Schema: the run-time description of a data set's fields (dense, categorical, multi-hot bag,
// sequence), how categorical ids map to embedding rows (vocabulary check or hashing), and
// which table and tower each field uses.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/core/types.hpp"

namespace ctrnet {

enum class FieldKind { dense, categorical, multi_hot, sequence };
enum class Pooling { sum, mean };

inline const char* to_string(FieldKind k) {
  switch (k) {
    case FieldKind::dense: return "dense";
    case FieldKind::categorical: return "categorical";
    case FieldKind::multi_hot: return "multi_hot";
    case FieldKind::sequence: return "sequence";
  }
  return "?";
}

/// \brief One field of a schema.
/// A categorical field either has `vocab_size` (ids must lie in [0, vocab_size), anything else is
/// an error) or `hash_buckets` (any 64-bit id is hashed into [0, hash_buckets) with `hash_seed`).
struct Field {
  std::string name{};
  FieldKind kind = FieldKind::dense;
  index_t vocab_size = 0;
  index_t hash_buckets = 0;
  std::uint64_t hash_seed = 0;
  index_t embedding_dim = 0;  ///< 0: the model's default dimension
  std::string table{};        ///< embedding table name; empty: the field's own name
  Pooling pooling = Pooling::sum;
  std::string tower{};        ///< "query", "candidate", "pair" or empty

  bool is_categorical() const { return kind != FieldKind::dense; }
  index_t rows() const { return vocab_size > 0 ? vocab_size : hash_buckets; }
  const std::string& table_name() const { return table.empty() ? name : table; }
};

/// Maps raw ids of one field to table rows: checks against a vocabulary or hashes into buckets.
struct IdMapper {
  index_t size = 0;
  bool hashed = false;
  std::uint64_t seed = 0;
  const std::string* field = nullptr;

  explicit IdMapper(const Field& f) : size(f.rows()), hashed(f.hash_buckets > 0), seed(f.hash_seed), field(&f.name) {}

  /// The table row of `id`. Throws ctrnet::Error naming the field and row for an id outside the
  /// vocabulary. Hashing uses mix_seed (splitmix64 rounds), a fixed documented function.
  index_t operator()(FeatureId id, index_t example_row) const {
    if (hashed) return static_cast<index_t>(mix_seed(seed, static_cast<std::uint64_t>(id)) % static_cast<std::uint64_t>(size));
    if (id < 0 || id >= size)
      detail::throw_error("field '", *field, "': id ", id, " in example ", example_row,
                          " is outside the vocabulary [0, ", size, ")");
    return static_cast<index_t>(id);
  }
};

/// \brief Ordered list of fields. Dense fields become columns of Batch::dense in schema order;
/// categorical / multi-hot / sequence fields become id lists in schema order.
class Schema {
 public:
  Schema& add(Field f) {
    CTRNET_CHECK(!f.name.empty(), "schema: a field needs a name");
    CTRNET_CHECK(find(f.name) < 0, "schema: field '", f.name, "' is declared twice");
    CTRNET_CHECK(f.vocab_size >= 0 && f.hash_buckets >= 0 && f.embedding_dim >= 0, "schema: field '", f.name,
                 "' has a negative vocab_size, hash_buckets or embedding_dim (", f.vocab_size, ", ", f.hash_buckets,
                 ", ", f.embedding_dim, ")");
    if (f.is_categorical()) {
      CTRNET_CHECK((f.vocab_size > 0) != (f.hash_buckets > 0), "schema: categorical field '", f.name,
                   "' needs exactly one of vocab_size or hash_buckets (got ", f.vocab_size, " and ", f.hash_buckets,
                   ")");
      CTRNET_CHECK(f.embedding_dim >= 0, "schema: field '", f.name, "' has a negative embedding_dim");
      categorical_.push_back(static_cast<index_t>(fields_.size()));
    } else {
      dense_.push_back(static_cast<index_t>(fields_.size()));
    }
    fields_.push_back(std::move(f));
    return *this;
  }
  Schema& add_dense(std::string name) {
    Field f;
    f.name = std::move(name);
    return add(std::move(f));
  }
  /// A one-id field checked against a vocabulary [0, vocab_size).
  Schema& add_categorical(std::string name, index_t vocab_size, index_t embedding_dim = 0) {
    Field f;
    f.name = std::move(name);
    f.kind = FieldKind::categorical;
    f.vocab_size = vocab_size;
    f.embedding_dim = embedding_dim;
    return add(std::move(f));
  }
  /// A one-id field whose raw 64-bit ids are hashed into `buckets` rows.
  Schema& add_hashed(std::string name, index_t buckets, std::uint64_t seed = 0, index_t embedding_dim = 0) {
    Field f;
    f.name = std::move(name);
    f.kind = FieldKind::categorical;
    f.hash_buckets = buckets;
    f.hash_seed = seed;
    f.embedding_dim = embedding_dim;
    return add(std::move(f));
  }

  index_t size() const { return static_cast<index_t>(fields_.size()); }
  const Field& field(index_t i) const { return fields_[static_cast<std::size_t>(i)]; }
  const std::vector<Field>& fields() const { return fields_; }
  index_t find(std::string_view name) const {
    for (std::size_t i = 0; i < fields_.size(); ++i)
      if (fields_[i].name == name) return static_cast<index_t>(i);
    return -1;
  }
  const Field& field(std::string_view name) const {
    const index_t i = find(name);
    CTRNET_CHECK(i >= 0, "schema: no field named '", name, "'");
    return field(i);
  }

  index_t num_dense() const { return static_cast<index_t>(dense_.size()); }
  index_t num_categorical() const { return static_cast<index_t>(categorical_.size()); }
  /// The i-th dense field (column i of Batch::dense).
  const Field& dense(index_t i) const { return field(dense_[static_cast<std::size_t>(i)]); }
  /// The i-th categorical field (id list i of a Batch).
  const Field& categorical(index_t i) const { return field(categorical_[static_cast<std::size_t>(i)]); }
  /// Position of a field among the categorical ones, or -1.
  index_t categorical_index(std::string_view name) const {
    for (std::size_t i = 0; i < categorical_.size(); ++i)
      if (fields_[static_cast<std::size_t>(categorical_[i])].name == name) return static_cast<index_t>(i);
    return -1;
  }
  index_t dense_index(std::string_view name) const {
    for (std::size_t i = 0; i < dense_.size(); ++i)
      if (fields_[static_cast<std::size_t>(dense_[i])].name == name) return static_cast<index_t>(i);
    return -1;
  }

 private:
  std::vector<Field> fields_;
  std::vector<index_t> dense_;
  std::vector<index_t> categorical_;
};

}  // namespace ctrnet
