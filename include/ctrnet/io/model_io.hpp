// Saving and loading models as safetensors files.
//   save_model(model, path, opts)       one tensor per dense parameter view (registry name; a
//                                       [1, d] bias as [d] like PyTorch; weights [out, in]) and per
//                                       embedding table ([rows, dim]); F32 for float models, F64
//                                       for double ones, BF16 tables on request. Written
//                                       atomically (io/output_file.hpp); save_model(model, out,
//                                       opts) writes into an open OutputFile the caller commits.
//   load_model_params(model, path)      checks architecture, schema, names, shapes and dtypes, then
//                                       overwrites every parameter of an already built model; every
//                                       value must be finite (a NaN or inf names the tensor and index).
//   load_model<M>(path)                 rebuilds M from the file's options and schema and loads it;
//                                       predictions are bit-identical to the saved model's (except
//                                       for BF16 tables, which are rounded when saved).
// The traits of a model type M (ModelArchitectureTraits<M>, io/architecture.hpp) are either keyed by
// its body (Model<Body, BinaryHead> aliases) or by M itself (two-tower and item-to-item models,
// io/architecture_two_tower.hpp / io/architecture_item_to_item.hpp), which then also store the
// similarity's or the heads' options.
// __metadata__: "format" = "ctrnet.model" (or "ctrnet.checkpoint"), "ctrnet_version",
// "architecture", "options" (JSON), "schema" (JSON array of fields), "dtype" ("F32"/"F64"),
// optional "seed", plus any user entries. Tensors named "extra.*" (ModelSaveOptions::extra_tensors:
// data that travels with the model, e.g. the raw item ids of the catalogue rows) are written as
// given and skipped by the loaders.
#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/core/finite.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/io/architecture.hpp"
#include "ctrnet/io/safetensors.hpp"

namespace ctrnet {

struct ModelSaveOptions {
  /// Store embedding tables as bfloat16 (round to nearest, ties to even): half the size, about 3
  /// significant digits. Dense parameters always keep the model's precision. Opt-in, because the
  /// loaded model then no longer predicts bit for bit like the saved one.
  bool bf16_tables = false;
  /// The seed the model was initialised (or trained) with, recorded as metadata "seed".
  std::optional<std::uint64_t> seed{};
  /// Extra metadata entries; they must not use a key ctrnet writes itself.
  SafetensorsMetadata metadata{};
  /// Extra tensors written after the model's (the data must outlive the call); each name must
  /// start with "extra." (is_extra_tensor), and load_model / load_model_params skip them.
  std::vector<TensorToWrite> extra_tensors{};
};

/// Whether a tensor name is one of ModelSaveOptions::extra_tensors' (not a model parameter).
inline bool is_extra_tensor(std::string_view name) { return name.starts_with("extra."); }

namespace detail {

inline constexpr const char* kReservedMetadata[] = {"format", "ctrnet_version", "architecture", "options",
                                                    "schema", "dtype",          "seed"};

/// The stored shape of a dense parameter: a [1, d] bias is [d] (PyTorch), everything else as
/// registered ([out, in] for weights).
inline std::vector<std::int64_t> stored_shape(const ParamInfo& p) {
  const bool bias = p.name == "bias" || (p.name.size() > 5 && p.name.ends_with(".bias"));
  if (bias && p.handle.rows == 1) return {static_cast<std::int64_t>(p.handle.cols)};
  return {static_cast<std::int64_t>(p.handle.rows), static_cast<std::int64_t>(p.handle.cols)};
}

inline std::string shape_text(std::span<const std::int64_t> s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

/// Host copies of tensors that live in a device memory space (or converted to BF16), kept alive
/// while the tensors that point into them are written.
struct StagedTensors {
  std::vector<std::vector<std::uint16_t>> bf16;
  std::vector<AlignedVector<std::byte>> host;
  /// `bytes` bytes at `data` (memory of `space`) as host bytes: a view when the space is the host's,
  /// else a copy.
  std::span<const std::byte> on_host(const void* data, std::size_t bytes, MemorySpace& space) {
    if (space.host_accessible()) return {static_cast<const std::byte*>(data), bytes};
    auto& h = host.emplace_back(bytes);
    space.copy(h.data(), data, bytes);
    return {h.data(), bytes};
  }
};

/// Tensors of a model's parameters (views into `model`, or into `staged`, which must outlive the
/// returned list: BF16 tables, and parameters copied back from a device memory space).
template <class M>
std::vector<TensorToWrite> model_tensors(const M& model, bool bf16_tables, StagedTensors& staged) {
  using T = typename M::value_type;
  const auto& reg = model.registry();
  const auto& params = model.params();
  std::vector<TensorToWrite> out;
  staged.bf16.clear();
  staged.bf16.reserve(reg.tables().size());
  staged.host.clear();
  staged.host.reserve(reg.tables().size() + 1);
  const std::span<const std::byte> dense =
      staged.on_host(params.dense.data(), static_cast<std::size_t>(params.dense.size()) * sizeof(T), params.dense.space());
  for (const auto& p : reg.params())
    out.push_back({p.name, dtype_of<T>(), stored_shape(p),
                   dense.subspan(static_cast<std::size_t>(p.handle.offset) * sizeof(T),
                                 static_cast<std::size_t>(p.handle.size()) * sizeof(T))});
  for (const auto& t : reg.tables()) {
    const auto& m = params.tables[static_cast<std::size_t>(t.handle.id)];
    const std::vector<std::int64_t> shape{static_cast<std::int64_t>(m.rows()), static_cast<std::int64_t>(m.cols())};
    const std::span<const std::byte> bytes =
        staged.on_host(m.data(), static_cast<std::size_t>(m.size()) * sizeof(T), m.space());
    if (bf16_tables) {
      const std::span<const T> values(reinterpret_cast<const T*>(bytes.data()), static_cast<std::size_t>(m.size()));
      auto& b = staged.bf16.emplace_back(values.size());
      for (std::size_t i = 0; i < values.size(); ++i) b[i] = float_to_bf16(static_cast<float>(values[i]));
      out.push_back({t.name, Dtype::BF16, shape, std::as_bytes(std::span<const std::uint16_t>(b))});
    } else {
      out.push_back({t.name, dtype_of<T>(), shape, bytes});
    }
  }
  return out;
}

/// Reads tensor `name` of `f` into n values at `dst` in `space` (through a host copy for a device
/// space).
template <class T>
void read_tensor_into(const SafetensorsView& f, const std::string& name, T* dst, index_t n, MemorySpace& space,
                      std::initializer_list<Dtype> accept) {
  if (space.host_accessible()) {
    f.read(name, std::span<T>(dst, static_cast<std::size_t>(n)), accept);
    return;
  }
  AlignedVector<T> host(static_cast<std::size_t>(n));
  f.read(name, std::span<T>(host), accept);
  space.copy(dst, host.data(), static_cast<std::size_t>(n) * sizeof(T));
}

/// ctrnet's metadata entries of a model file, merged with the user's.
template <class M>
SafetensorsMetadata model_metadata(const M& model, const ModelSaveOptions& opts, const char* format) {
  using Traits = ModelArchitectureTraits<M>;
  SafetensorsMetadata md = opts.metadata;
  for (const char* k : kReservedMetadata)
    CTRNET_CHECK(md.find(k) == md.end(), "save_model: metadata key '", k, "' is reserved for ctrnet");
  md["format"] = format;
  md["ctrnet_version"] = std::string(kVersion);
  md["architecture"] = std::string(Traits::name);
  md["options"] = nlohmann::json(Traits::options(model)).dump();
  md["schema"] = schema_to_json(model.schema()).dump();
  md["dtype"] = std::string(to_string(dtype_of<typename M::value_type>()));
  if (opts.seed) md["seed"] = std::to_string(*opts.seed);
  return md;
}

inline nlohmann::json parse_metadata_json(const SafetensorsView& f, const std::string& key) {
  const std::string& text = f.metadata(key);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  CTRNET_CHECK(!j.is_discarded(), f.source(), ": __metadata__ '", key, "' is not valid JSON");
  check_json_keys_unique(text, f.source() + ": __metadata__ '" + key + "'");  // a repeated key is an error too
  return j;
}
inline Schema metadata_schema(const SafetensorsView& f) {
  return schema_from_json(parse_metadata_json(f, "schema"), f.source() + ": __metadata__ 'schema'");
}

/// Checks the file's architecture against M's.
template <class M>
void check_architecture(const SafetensorsView& f) {
  const std::string& arch = f.metadata("architecture");
  CTRNET_CHECK(arch == architecture_name<M>, f.source(), ": the file holds a '", arch, "' model, expected '",
               architecture_name<M>, "'");
}

/// Throws unless every value stored in tensor `t` of `f` is finite and, with `non_negative`, >= 0;
/// names the file, the tensor, the first bad index (row and column for a matrix) and its value.
/// Scans the file's bytes (F32, F64 or BF16; other dtypes are left to the reader's dtype check), so
/// it runs before anything is copied into a model.
inline void check_finite_tensor(const SafetensorsView& f, const TensorInfo& t, bool non_negative = false) {
  if (t.dtype != Dtype::F32 && t.dtype != Dtype::F64 && t.dtype != Dtype::BF16) return;
  const std::size_t width = dtype_size(t.dtype);
  const std::span<const std::byte> bytes = f.bytes(t);
  const std::size_t i = first_non_finite_bytes(bytes, width, non_negative);
  if (i == bytes.size() / width) return;
  double v = 0;
  if (t.dtype == Dtype::F32) {
    float x;
    std::memcpy(&x, bytes.data() + 4 * i, 4);
    v = x;
  } else if (t.dtype == Dtype::F64) {
    std::memcpy(&v, bytes.data() + 8 * i, 8);
  } else {
    std::uint16_t x;
    std::memcpy(&x, bytes.data() + 2 * i, 2);
    v = bf16_to_float(x);
  }
  std::string where = "index " + std::to_string(i);
  if (t.shape.size() == 2 && t.shape[1] > 0)
    where += " (row " + std::to_string(static_cast<std::int64_t>(i) / t.shape[1]) + ", column " +
             std::to_string(static_cast<std::int64_t>(i) % t.shape[1]) + ")";
  throw_error(f.source(), ": tensor '", t.name, "' holds ", value_text(v), " at ", where, "; expected finite values",
              non_negative ? " >= 0" : "",
              " (the file is damaged, or the run that wrote it diverged: use an earlier file or retrain)");
}

/// Checks the file's __metadata__ 'dtype' against the precision T of the model loading it.
template <class T>
void check_metadata_dtype(const SafetensorsView& f) {
  const std::string& dtype = f.metadata("dtype");
  CTRNET_CHECK(dtype == to_string(dtype_of<T>()), f.source(), ": __metadata__ 'dtype' is '", dtype,
               "', expected '", to_string(dtype_of<T>()), "' (the precision of the model loading it)");
}

/// Tensors of a checkpoint's training state beyond the model: "optimizer.*" (optimizer state) and
/// "trainer.*" (e.g. the early-stopping copy of the best parameters); see checkpoint.hpp.
inline bool is_training_state(std::string_view name) {
  return name.starts_with("optimizer.") || name.starts_with("trainer.");
}

/// Loads every parameter of `model` from `f`. With `training_state`, tensors of a checkpoint's
/// training state (is_training_state) may be present beyond the model's own; any other extra
/// tensor is an error (and tables must then be stored in the model's precision, not BF16). Every
/// value read is checked finite (check_finite_tensor).
template <class M>
void load_params_from(M& model, const SafetensorsView& f, bool training_state) {
  using T = typename M::value_type;
  CTRNET_CHECK(model.built(), f.source(), ": build the model before loading parameters into it");
  check_architecture<M>(f);
  if constexpr (ModelKeyedArchitecture<M>) {
    // One name covers several model types (e.g. "two_tower" for every tower kind): reading the
    // file's options names a mismatch (tower kind, similarity, head) before the tensors do.
    const nlohmann::json oj = parse_metadata_json(f, "options");
    try {
      static_cast<void>(oj.template get<typename ArchitectureTraits<M>::Options>());
    } catch (const Error& e) {
      throw_error(f.source(), ": __metadata__ 'options': ", e.what());
    } catch (const nlohmann::json::exception& e) {
      throw_error(f.source(), ": __metadata__ 'options': ", e.what());
    }
  }
  const Schema file_schema = metadata_schema(f);
  const nlohmann::json mine = schema_to_json(model.schema()), theirs = schema_to_json(file_schema);
  if (mine != theirs) {
    std::string where = "the number of fields differs (" + std::to_string(mine.size()) + " vs " +
                        std::to_string(theirs.size()) + ")";
    for (std::size_t i = 0; i < std::min(mine.size(), theirs.size()); ++i)
      if (mine[i] != theirs[i]) {
        where = "field " + std::to_string(i) + " is " + theirs[i].dump() + " in the file, " + mine[i].dump() +
                " in the model";
        break;
      }
    detail::throw_error(f.source(), ": the file's schema differs from the model's: ", where);
  }
  const auto& reg = model.registry();
  auto& params = model.params();
  // Everything is checked (names, shapes, dtypes, finite values) before any parameter is written.
  auto check = [&](const std::string& name, const std::vector<std::int64_t>& want, bool bf16) {
    const TensorInfo* t = f.find(name);
    CTRNET_CHECK(t != nullptr, f.source(), ": missing tensor '", name, "' (", shape_text(want), ")");
    CTRNET_CHECK(t->shape == want, f.source(), ": tensor '", name, "' has shape ", shape_text(t->shape),
                 ", the model expects ", shape_text(want));
    CTRNET_CHECK(t->dtype == dtype_of<T>() || (bf16 && t->dtype == Dtype::BF16), f.source(), ": tensor '", name,
                 "' is stored as ", to_string(t->dtype), ", expected ", to_string(dtype_of<T>()),
                 bf16 ? " (or BF16)" : "");
    check_finite_tensor(f, *t);
  };
  auto table_shape = [&](const TableInfo& tb) {
    const auto& m = params.tables[static_cast<std::size_t>(tb.handle.id)];
    return std::vector<std::int64_t>{static_cast<std::int64_t>(m.rows()), static_cast<std::int64_t>(m.cols())};
  };
  for (const auto& p : reg.params()) check(p.name, stored_shape(p), false);
  for (const auto& tb : reg.tables()) check(tb.name, table_shape(tb), !training_state);  // checkpoints: no BF16
  for (const auto& t : f.tensors()) {
    if ((training_state && is_training_state(t.name)) || is_extra_tensor(t.name)) continue;
    CTRNET_CHECK(reg.find(t.name) != nullptr || reg.find_table(t.name) != nullptr, f.source(), ": unexpected tensor '",
                 t.name, "': the model has no parameter of that name");
  }
  check_metadata_dtype<T>(f);
  for (const auto& p : reg.params())
    read_tensor_into(f, p.name, params.dense.data() + p.handle.offset, p.handle.size(), params.dense.space(),
                     {dtype_of<T>()});
  for (const auto& tb : reg.tables()) {
    auto& m = params.tables[static_cast<std::size_t>(tb.handle.id)];
    read_tensor_into(f, tb.name, m.data(), m.size(), m.space(), {dtype_of<T>(), Dtype::BF16});
  }
}

/// Whether the file's format carries training state (checkpoints do).
inline bool holds_training_state(const SafetensorsView& f) {
  const auto it = f.metadata().find("format");
  CTRNET_CHECK(it != f.metadata().end(), f.source(), ": not a ctrnet file (__metadata__ has no 'format')");
  CTRNET_CHECK(it->second == "ctrnet.model" || it->second == "ctrnet.checkpoint", f.source(), ": unknown format '",
               it->second, "'");
  return it->second == "ctrnet.checkpoint";
}

inline void check_width(std::int64_t v, std::uint64_t limit, const char* what, const std::string& source) {
  CTRNET_CHECK(v >= 0 && static_cast<std::uint64_t>(v) <= limit, source, ": __metadata__ 'options': ", what, " = ", v,
               " is negative or larger than the ", limit, " elements the file stores");
}
inline void check_option_sizes(const LogisticRegressionOptions&, std::uint64_t, std::size_t, const std::string&) {}
inline void check_option_sizes(const WideDeepOptions& o, std::uint64_t elements, std::size_t, const std::string& src) {
  check_width(o.embedding_dim, elements, "embedding_dim", src);
  for (auto w : o.hidden) check_width(w, elements, "a hidden width", src);
}
inline void check_option_sizes(const DCNOptions& o, std::uint64_t elements, std::size_t tensors, const std::string& src) {
  check_width(o.embedding_dim, elements, "embedding_dim", src);
  for (auto w : o.hidden) check_width(w, elements, "a hidden width", src);
  check_width(o.cross_depth, tensors, "cross_depth", src);
  check_width(o.rank, elements, "rank", src);
  check_width(o.experts, elements, "experts", src);
}

template <class BodyOptions, class... Heads>
void check_option_sizes(const HeadedOptions<BodyOptions, Heads...>& o, std::uint64_t elements, std::size_t tensors,
                        const std::string& src) {
  check_option_sizes(o.body, elements, tensors, src);
}

/// Rebuilds an unbuilt model of type M from the file's options and schema.
template <class M>
M rebuild_model(const SafetensorsView& f) {
  using Traits = ModelArchitectureTraits<M>;
  check_architecture<M>(f);
  const std::string& dtype = f.metadata("dtype");
  CTRNET_CHECK(dtype == to_string(dtype_of<typename M::value_type>()), f.source(), ": the file holds a ", dtype,
               " model, the requested type is ", to_string(dtype_of<typename M::value_type>()));
  typename Traits::Options o;
  const nlohmann::json oj = parse_metadata_json(f, "options");
  try {
    o = oj.get<typename Traits::Options>();
  } catch (const Error& e) {
    throw_error(f.source(), ": __metadata__ 'options': ", e.what());
  } catch (const nlohmann::json::exception& e) {
    throw_error(f.source(), ": __metadata__ 'options': ", e.what());
  }
  Schema schema;
  try {
    schema = metadata_schema(f);
  } catch (const nlohmann::json::exception& e) {
    throw_error(f.source(), ": __metadata__ 'schema': ", e.what());
  }
  // Before allocating anything the file's sizes do not back: every width must be at most the
  // number of stored elements (each appears in some tensor's shape), the cross depth at most the
  // number of tensors; then a registry-only build must match the file's names and shapes.
  std::uint64_t elements = 0;
  for (const auto& t : f.tensors()) elements += t.numel();
  check_option_sizes(o, elements, f.tensors().size(), f.source());
  for (const auto& fld : schema.fields())
    CTRNET_CHECK(static_cast<std::uint64_t>(fld.embedding_dim) <= elements &&
                     static_cast<std::uint64_t>(fld.rows()) <= elements,
                 f.source(), ": schema field '", fld.name, "' declares more rows or columns than the file stores");
  {
    ParamRegistry reg;
    Traits::declare(o, schema, reg);
    for (const auto& p : reg.params()) {
      const TensorInfo* t = f.find(p.name);
      CTRNET_CHECK(t != nullptr, f.source(), ": missing tensor '", p.name, "' (", shape_text(stored_shape(p)), ")");
      CTRNET_CHECK(t->shape == stored_shape(p), f.source(), ": tensor '", p.name, "' has shape ", shape_text(t->shape),
                   ", the model expects ", shape_text(stored_shape(p)));
    }
    for (const auto& tb : reg.tables()) {
      const std::vector<std::int64_t> want{static_cast<std::int64_t>(tb.handle.rows),
                                           static_cast<std::int64_t>(tb.handle.dim)};
      const TensorInfo* t = f.find(tb.name);
      CTRNET_CHECK(t != nullptr, f.source(), ": missing tensor '", tb.name, "' (", shape_text(want), ")");
      CTRNET_CHECK(t->shape == want, f.source(), ": tensor '", tb.name, "' has shape ", shape_text(t->shape),
                   ", the model expects ", shape_text(want));
    }
  }
  M m = Traits::make_model(o);
  m.build(schema, 0);
  return m;
}

}  // namespace detail

/// \brief Writes `model` as a safetensors file into an open output (io/output_file.hpp), which the
/// caller commits, e.g. together with other outputs (OutputFiles).
template <SavableArchitecture M>
void save_model(const M& model, OutputFile& out, const ModelSaveOptions& opts = {}) {
  CTRNET_CHECK(model.built(), "save_model: the model is not built");
  detail::StagedTensors staged;
  auto tensors = detail::model_tensors(model, opts.bf16_tables, staged);
  for (const auto& t : opts.extra_tensors) {
    CTRNET_CHECK(is_extra_tensor(t.name), "save_model: extra tensor '", t.name, "' must be named extra.<name>");
    tensors.push_back(t);
  }
  write_safetensors(out, tensors, detail::model_metadata(model, opts, "ctrnet.model"));
}

/// \brief Writes `model` to `path` (atomically: OutputFile) as a safetensors file; see the header
/// comment.
template <SavableArchitecture M>
void save_model(const M& model, const std::string& path, const ModelSaveOptions& opts = {}) {
  OutputFile out(path);
  save_model(model, out, opts);
  out.commit();
}

/// \brief Loads the parameters stored in `f` into the built `model` (same architecture, schema,
/// names, shapes; dtype F32 for float models, F64 for double ones, BF16 accepted for tables).
template <SavableArchitecture M>
void load_model_params(M& model, const SafetensorsView& f) {
  detail::load_params_from(model, f, detail::holds_training_state(f));
}
template <SavableArchitecture M>
void load_model_params(M& model, const std::string& path) {
  const SafetensorsFile f(path);
  load_model_params(model, f);
}

/// \brief Rebuilds a model of type M from a file written by save_model (or save_checkpoint).
template <SavableArchitecture M>
M load_model(const SafetensorsView& f) {
  detail::holds_training_state(f);  // checks the format
  M m = detail::rebuild_model<M>(f);
  load_model_params(m, f);
  return m;
}
template <SavableArchitecture M>
M load_model(const std::string& path) {
  const SafetensorsFile f(path);
  return load_model<M>(f);
}

}  // namespace ctrnet
