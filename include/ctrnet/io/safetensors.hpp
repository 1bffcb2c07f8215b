// safetensors files (the format of Hugging Face / PyTorch / JAX): an 8-byte little-endian header
// length N, N bytes of JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}, then the tensors' bytes (offsets relative to the end of the
// header). The writer pads the header with spaces to a multiple of 8 bytes and lays tensors out
// contiguously (largest item size first, then by name), as the reference implementation does; it
// writes atomically (io/output_file.hpp: PATH.tmp-<pid>, fsync, rename, fsync of the folder). The
// reader memory-maps the file and validates every byte of the header before any tensor is touched.
#pragma once
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "ctrnet/core/error.hpp"
#include "ctrnet/io/output_file.hpp"

namespace ctrnet {

static_assert(std::endian::native == std::endian::little,
              "ctrnet's safetensors reader and writer assume a little-endian machine");

/// Element types of the safetensors format.
enum class Dtype { BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64 };

inline std::string_view to_string(Dtype d) {
  switch (d) {
    case Dtype::BOOL: return "BOOL";
    case Dtype::U8: return "U8";
    case Dtype::I8: return "I8";
    case Dtype::U16: return "U16";
    case Dtype::I16: return "I16";
    case Dtype::F16: return "F16";
    case Dtype::BF16: return "BF16";
    case Dtype::U32: return "U32";
    case Dtype::I32: return "I32";
    case Dtype::F32: return "F32";
    case Dtype::U64: return "U64";
    case Dtype::I64: return "I64";
    case Dtype::F64: return "F64";
  }
  return "?";
}

/// Bytes per element.
inline std::size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::BOOL:
    case Dtype::U8:
    case Dtype::I8: return 1;
    case Dtype::U16:
    case Dtype::I16:
    case Dtype::F16:
    case Dtype::BF16: return 2;
    case Dtype::U32:
    case Dtype::I32:
    case Dtype::F32: return 4;
    case Dtype::U64:
    case Dtype::I64:
    case Dtype::F64: return 8;
  }
  return 0;
}

/// The dtype named `s` ("F32", "BF16", ...), or nothing for a name ctrnet does not know.
inline std::optional<Dtype> parse_dtype(std::string_view s) {
  for (Dtype d : {Dtype::BOOL, Dtype::U8, Dtype::I8, Dtype::U16, Dtype::I16, Dtype::F16, Dtype::BF16, Dtype::U32,
                  Dtype::I32, Dtype::F32, Dtype::U64, Dtype::I64, Dtype::F64})
    if (to_string(d) == s) return d;
  return std::nullopt;
}

/// The dtype of a C++ element type.
template <class T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>) return Dtype::F32;
  else if constexpr (std::is_same_v<T, double>) return Dtype::F64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return Dtype::I64;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return Dtype::U64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return Dtype::I32;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return Dtype::U32;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return Dtype::U8;
  else static_assert(sizeof(T) == 0, "ctrnet: no safetensors dtype for this type");
}

/// float → bfloat16 bits, rounding to nearest, ties to even (NaN stays a quiet NaN).
inline std::uint16_t float_to_bf16(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu) != 0) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  const std::uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(rounded >> 16);
}
/// bfloat16 bits → float (exact).
inline float bf16_to_float(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

/// One tensor to write: its bytes must be numel(shape) · dtype_size(dtype) long.
struct TensorToWrite {
  std::string name{};
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape{};
  std::span<const std::byte> data{};
};

/// One tensor of a file that was read: where its bytes lie, relative to the data section.
struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape;
  std::size_t begin = 0;  ///< data_offsets[0]
  std::size_t end = 0;    ///< data_offsets[1]
  std::uint64_t numel() const {
    std::uint64_t n = 1;
    for (auto s : shape) n *= static_cast<std::uint64_t>(s);
    return n;
  }
};

using SafetensorsMetadata = std::map<std::string, std::string>;

namespace detail {

/// The reference implementation's limit on the header (100 MB), so a corrupted length cannot make
/// the reader parse gigabytes.
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

inline std::string errno_text(int e) { return std::strerror(e); }

/// Owns a file descriptor; closes it on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

/// Deepest nesting of [ and { outside strings; lets the reader refuse pathological headers before
/// handing them to the JSON parser. A valid safetensors header nests 3 deep.
inline std::size_t json_depth(std::string_view s) {
  std::size_t depth = 0, max_depth = 0;
  bool in_string = false, escape = false;
  for (char c : s) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

/// A non-negative integer from a JSON number, or nothing.
inline std::optional<std::uint64_t> json_uint(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (j.is_number_integer()) {
    const auto v = j.get<std::int64_t>();
    if (v >= 0) return static_cast<std::uint64_t>(v);
  }
  return std::nullopt;
}

}  // namespace detail

/// \brief Writes `tensors` and `metadata` as a safetensors file into `out` (io/output_file.hpp),
/// which the caller commits. Throws ctrnet::Error on a bad tensor (size not matching its shape,
/// duplicate or empty or reserved name) or an I/O failure.
inline void write_safetensors(OutputFile& out, std::span<const TensorToWrite> tensors,
                              const SafetensorsMetadata& metadata = {}) {
  const std::string& path = out.path();
  // Layout: largest item size first, then by name (the reference implementation's order), so every
  // tensor starts at a multiple of its item size from the 8-byte aligned data section.
  std::vector<const TensorToWrite*> order;
  order.reserve(tensors.size());
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    const auto sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) {
    nlohmann::json m = nlohmann::json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = std::move(m);
  }
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const TensorToWrite& t = *order[i];
    CTRNET_CHECK(!t.name.empty(), path, ": a tensor needs a name");
    CTRNET_CHECK(t.name != "__metadata__", path, ": '__metadata__' is reserved and cannot name a tensor");
    CTRNET_CHECK(i == 0 || order[i - 1]->name != t.name, path, ": tensor '", t.name, "' is given twice");
    std::uint64_t numel = 1;
    for (auto s : t.shape) {
      CTRNET_CHECK(s >= 0, path, ": tensor '", t.name, "' has a negative dimension ", s);
      numel *= static_cast<std::uint64_t>(s);
    }
    CTRNET_CHECK(numel * dtype_size(t.dtype) == t.data.size(), path, ": tensor '", t.name, "' has ", t.data.size(),
                 " bytes but its shape and dtype ", to_string(t.dtype), " need ", numel * dtype_size(t.dtype));
    header[t.name] = {{"dtype", std::string(to_string(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  // Duplicates that sort apart (same name, different item size) are caught by the header count.
  CTRNET_CHECK(header.size() == order.size() + (metadata.empty() ? 0u : 1u), path,
               ": two tensors have the same name");
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::uint64_t n = text.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));

  out.write(len, 8);
  out.write(text);
  for (const TensorToWrite* t : order) out.write(t->data.data(), t->data.size());
}

/// \brief Writes `tensors` and `metadata` to `path` as a safetensors file, atomically (OutputFile:
/// the bytes go to `path.tmp-<pid>`, which is fsync'ed and renamed over `path`, then the folder is
/// fsync'ed); a crash leaves either the old file or the new one.
inline void write_safetensors(const std::string& path, std::span<const TensorToWrite> tensors,
                              const SafetensorsMetadata& metadata = {}) {
  OutputFile out(path);
  write_safetensors(out, tensors, metadata);
  out.commit();
}

/// \brief A validated, non-owning view of safetensors bytes (a mapped file or a buffer).
/// parse() checks, before anything is read: the length prefix, the header size, that the header is
/// a JSON object without duplicate keys, every tensor's dtype, shape (non-negative, no overflow),
/// data_offsets (in bounds, matching numel · item size), that the tensors neither overlap nor leave
/// holes and cover the data section exactly, and that __metadata__ maps strings to strings. Every
/// failure is a ctrnet::Error naming `source`, the tensor and the problem.
class SafetensorsView {
 public:
  SafetensorsView() = default;

  static SafetensorsView parse(std::span<const std::byte> bytes, const std::string& source) {
    SafetensorsView v;
    v.source_ = source;
    const std::size_t size = bytes.size();
    CTRNET_CHECK(size >= 8, source, ": not a safetensors file: ", size,
                 " bytes, shorter than the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(std::to_integer<unsigned char>(bytes[static_cast<std::size_t>(i)])) << (8 * i);
    CTRNET_CHECK(n <= size - 8, source, ": the header length ", n, " goes beyond the end of the file (", size - 8,
                 " bytes follow the length; truncated file?)");
    CTRNET_CHECK(n <= detail::kMaxSafetensorsHeader, source, ": the header length ", n, " exceeds the limit of ",
                 detail::kMaxSafetensorsHeader, " bytes");
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(n));
    CTRNET_CHECK(!text.empty() && text.front() == '{', source, ": the header is not a JSON object (it must start with '{')");
    CTRNET_CHECK(detail::json_depth(text) <= 16, source, ": the header nests JSON deeper than any safetensors header");

    // Duplicate keys: nlohmann::json keeps the last one silently, so detect them while parsing.
    std::vector<std::vector<std::string>> keys;
    std::string duplicate;
    auto cb = [&](int /*depth*/, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
      using E = nlohmann::json::parse_event_t;
      if (ev == E::object_start) keys.emplace_back();
      else if (ev == E::object_end && !keys.empty()) keys.pop_back();
      else if (ev == E::key && !keys.empty()) {
        const std::string& k = parsed.get_ref<const std::string&>();
        auto& seen = keys.back();
        if (std::find(seen.begin(), seen.end(), k) != seen.end()) {
          if (duplicate.empty()) duplicate = k;
        } else {
          seen.push_back(k);
        }
      }
      return true;
    };
    nlohmann::json h = nlohmann::json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
    CTRNET_CHECK(!h.is_discarded(), source, ": the header is not valid JSON");
    CTRNET_CHECK(h.is_object(), source, ": the header is not a JSON object");
    CTRNET_CHECK(duplicate.empty(), source, ": the header names '", duplicate, "' twice");

    const std::size_t data_size = size - 8 - static_cast<std::size_t>(n);
    v.data_ = bytes.subspan(8 + static_cast<std::size_t>(n));
    for (auto it = h.begin(); it != h.end(); ++it) {
      const std::string& name = it.key();
      const nlohmann::json& t = it.value();
      if (name == "__metadata__") {
        CTRNET_CHECK(t.is_object(), source, ": __metadata__ is not a JSON object of strings");
        for (auto m = t.begin(); m != t.end(); ++m) {
          CTRNET_CHECK(m.value().is_string(), source, ": __metadata__ entry '", m.key(), "' is not a string");
          v.metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      CTRNET_CHECK(t.is_object(), source, ": tensor '", name, "': its entry is not a JSON object");
      TensorInfo info;
      info.name = name;
      const auto dt = t.find("dtype");
      CTRNET_CHECK(dt != t.end() && dt->is_string(), source, ": tensor '", name, "': missing or non-string dtype");
      const auto d = parse_dtype(dt->get_ref<const std::string&>());
      CTRNET_CHECK(d.has_value(), source, ": tensor '", name, "': unknown dtype '", dt->get_ref<const std::string&>(), "'");
      info.dtype = *d;
      const auto sh = t.find("shape");
      CTRNET_CHECK(sh != t.end() && sh->is_array(), source, ": tensor '", name, "': missing shape (expected an array)");
      constexpr unsigned __int128 kSaturated = static_cast<unsigned __int128>(1) << 64;
      unsigned __int128 bytes_needed = dtype_size(info.dtype);
      for (const auto& e : *sh) {
        const auto dim = detail::json_uint(e);
        CTRNET_CHECK(dim.has_value() && *dim <= static_cast<std::uint64_t>(INT64_MAX), source, ": tensor '", name,
                     "': shape entry ", e.dump(), " is not a non-negative integer");
        info.shape.push_back(static_cast<std::int64_t>(*dim));
        bytes_needed *= *dim;
        if (bytes_needed > kSaturated) bytes_needed = kSaturated;  // no 128-bit overflow on the next multiply
      }
      const auto off = t.find("data_offsets");
      CTRNET_CHECK(off != t.end() && off->is_array() && off->size() == 2, source, ": tensor '", name,
                   "': data_offsets must be an array [begin, end]");
      const auto b = detail::json_uint((*off)[0]), e = detail::json_uint((*off)[1]);
      CTRNET_CHECK(b && e, source, ": tensor '", name, "': data_offsets ", off->dump(), " are not non-negative integers");
      CTRNET_CHECK(*b <= *e && *e <= data_size, source, ": tensor '", name, "': data_offsets [", *b, ", ", *e,
                   "] lie outside the data section of ", data_size, " bytes");
      CTRNET_CHECK(bytes_needed == *e - *b, source, ": tensor '", name, "': data_offsets [", *b, ", ", *e,
                   "] hold ", *e - *b, " bytes but shape ", sh->dump(), " of ", to_string(info.dtype), " needs ",
                   bytes_needed >= kSaturated ? std::string("2^64 bytes or more")
                                            : std::to_string(static_cast<std::uint64_t>(bytes_needed)));
      info.begin = static_cast<std::size_t>(*b);
      info.end = static_cast<std::size_t>(*e);
      v.tensors_.push_back(std::move(info));
    }
    std::sort(v.tensors_.begin(), v.tensors_.end(),
              [](const TensorInfo& a, const TensorInfo& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
    std::size_t pos = 0;
    for (const auto& t : v.tensors_) {
      CTRNET_CHECK(t.begin >= pos, source, ": tensor '", t.name, "': data_offsets [", t.begin, ", ", t.end,
                   "] overlap the previous tensor, which ends at ", pos);
      CTRNET_CHECK(t.begin == pos, source, ": tensor '", t.name, "': data_offsets start at ", t.begin,
                   " but the previous tensor ends at ", pos, " (a hole in the data section)");
      pos = t.end;
    }
    CTRNET_CHECK(pos == data_size, source, ": the tensors cover ", pos, " bytes of the data section but it holds ",
                 data_size, " (trailing bytes)");
    return v;
  }

  const std::string& source() const { return source_; }
  /// Tensors in the order of their data.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const SafetensorsMetadata& metadata() const { return metadata_; }
  /// The metadata entry `key`; throws ctrnet::Error when it is missing.
  const std::string& metadata(const std::string& key) const {
    const auto it = metadata_.find(key);
    CTRNET_CHECK(it != metadata_.end(), source_, ": __metadata__ has no entry '", key, "'");
    return it->second;
  }
  const TensorInfo* find(std::string_view name) const {
    for (const auto& t : tensors_)
      if (t.name == name) return &t;
    return nullptr;
  }
  /// The tensor `name`; throws ctrnet::Error when the file lacks it.
  const TensorInfo& at(std::string_view name) const {
    const TensorInfo* t = find(name);
    CTRNET_CHECK(t != nullptr, source_, ": no tensor named '", name, "'");
    return *t;
  }
  /// The bytes of `t` (validated to lie inside the data section).
  std::span<const std::byte> bytes(const TensorInfo& t) const { return data_.subspan(t.begin, t.end - t.begin); }

  /// Copies tensor `name` into `out`, converting BF16 → float/double and F32 ↔ F64 only where
  /// `allow` lists the stored dtype. Checks dtype and element count, naming the tensor.
  template <class T>
  void read(std::string_view name, std::span<T> out, std::initializer_list<Dtype> allow = {dtype_of<T>()}) const {
    const TensorInfo& t = at(name);
    CTRNET_CHECK(std::find(allow.begin(), allow.end(), t.dtype) != allow.end(), source_, ": tensor '", name,
                 "' is stored as ", to_string(t.dtype), ", expected ", allowed_text(allow));
    CTRNET_CHECK(t.numel() == out.size(), source_, ": tensor '", name, "' has ", t.numel(), " elements, expected ",
                 out.size());
    const std::byte* src = data_.data() + t.begin;
    if (t.dtype == dtype_of<T>()) {
      if (!out.empty()) std::memcpy(out.data(), src, out.size_bytes());
    } else if (t.dtype == Dtype::BF16) {
      for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint16_t b;
        std::memcpy(&b, src + 2 * i, 2);
        out[i] = static_cast<T>(bf16_to_float(b));
      }
    } else if (t.dtype == Dtype::F32) {
      for (std::size_t i = 0; i < out.size(); ++i) {
        float f;
        std::memcpy(&f, src + 4 * i, 4);
        out[i] = static_cast<T>(f);
      }
    } else if (t.dtype == Dtype::F64) {
      for (std::size_t i = 0; i < out.size(); ++i) {
        double f;
        std::memcpy(&f, src + 8 * i, 8);
        out[i] = static_cast<T>(f);
      }
    } else {
      detail::throw_error(source_, ": tensor '", name, "': cannot convert ", to_string(t.dtype), " to ",
                          to_string(dtype_of<T>()));
    }
  }

 private:
  static std::string allowed_text(std::initializer_list<Dtype> allow) {
    std::string s;
    for (Dtype d : allow) {
      if (!s.empty()) s += " or ";
      s += to_string(d);
    }
    return s;
  }

  std::string source_;
  std::span<const std::byte> data_;
  std::vector<TensorInfo> tensors_;
  SafetensorsMetadata metadata_;
};

/// \brief A safetensors file, memory-mapped read-only and validated on open (see SafetensorsView).
class SafetensorsFile : public SafetensorsView {
 public:
  explicit SafetensorsFile(const std::string& path) {
    detail::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    CTRNET_CHECK(fd.fd >= 0, path, ": cannot open: ", detail::errno_text(errno));
    struct stat st {};
    CTRNET_CHECK(::fstat(fd.fd, &st) == 0, path, ": cannot stat: ", detail::errno_text(errno));
    CTRNET_CHECK(S_ISREG(st.st_mode), path, ": not a regular file");
    size_ = static_cast<std::size_t>(st.st_size);
    CTRNET_CHECK(size_ >= 8, path, ": not a safetensors file: ", size_, " bytes, shorter than the 8-byte header length");
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.fd, 0);
    CTRNET_CHECK(p != MAP_FAILED, path, ": mmap failed: ", detail::errno_text(errno));
    map_ = p;
    try {
      static_cast<SafetensorsView&>(*this) =
          SafetensorsView::parse(std::span<const std::byte>(static_cast<const std::byte*>(map_), size_), path);
    } catch (...) {
      ::munmap(map_, size_);
      throw;
    }
  }
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile() {
    if (map_ != nullptr) ::munmap(map_, size_);
  }

 private:
  void* map_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace ctrnet
