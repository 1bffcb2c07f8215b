// Binary cache: a compact columnar file written on the first pass over a text data set and
// memory-mapped (mmap) on later epochs, so they skip parsing; plus a seeded shuffle buffer.
//
// Layout (native little-endian; every section starts on a 64-byte boundary):
//   header   96 bytes: magic "CTRNCACH", version (1), endian tag 0x01020304, rows, num_dense,
//            num_categorical, num_targets, flags, num_groups, footer offset, schema offset and size
//   groups   one per appended batch, columns one after another: labels f32[n], weights f32[n],
//            targets f32[n] x num_targets, dense f32[n x num_dense] (row-major), then per
//            categorical field offsets i64[n + 1] (from 0) and ids i64[offsets[n]]
//   footer   per group: offset, rows, first row, then the id count of each categorical field (u64)
//   schema   the Schema as JSON (schema_to_json)
// The header is written last, so an unfinished file is rejected on load. Loading checks the
// magic, version, endianness, sizes and every group's offsets, and names the file in each error.
#pragma once
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/preprocess.hpp"
#include "ctrnet/data/readers/reader.hpp"
#include "ctrnet/data/schema.hpp"

namespace ctrnet {

namespace detail {

inline constexpr char kCacheMagic[8] = {'C', 'T', 'R', 'N', 'C', 'A', 'C', 'H'};
inline constexpr std::uint32_t kCacheVersion = 1;
inline constexpr std::uint32_t kCacheEndian = 0x01020304;
inline constexpr std::uint64_t kCacheAlign = 64;

struct CacheHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t endian;
  std::uint64_t rows;
  std::uint32_t num_dense;
  std::uint32_t num_categorical;
  std::uint32_t num_targets;
  std::uint32_t flags;
  std::uint64_t num_groups;
  std::uint64_t footer_offset;
  std::uint64_t schema_offset;
  std::uint64_t schema_bytes;
  std::uint8_t reserved[24];
};
static_assert(sizeof(CacheHeader) == 96);

inline std::uint64_t align_up(std::uint64_t x) { return (x + kCacheAlign - 1) / kCacheAlign * kCacheAlign; }

}  // namespace detail

/// \brief Writes a binary cache: `append` each batch (one row group each), then `finish`.
class BinaryCacheWriter {
 public:
  BinaryCacheWriter(std::string path, const Schema& schema, index_t num_targets = 0)
      : path_(std::move(path)), schema_(schema), num_targets_(num_targets) {
    file_.reset(std::fopen(path_.c_str(), "wb"));
    CTRNET_CHECK(file_ != nullptr, "cannot create cache file '", path_, "': ", std::strerror(errno));
    const detail::CacheHeader zero{};
    write(&zero, sizeof zero);  // the real header comes in finish()
  }
  ~BinaryCacheWriter() = default;

  /// Appends the rows of `b` (shaped for the schema) as one row group.
  void append(const BatchView& b) {
    CTRNET_CHECK(!finished_, "cache '", path_, "': append after finish");
    CTRNET_CHECK(b.dense.cols == schema_.num_dense() && b.fields.size() == static_cast<std::size_t>(schema_.num_categorical()) &&
                     static_cast<index_t>(b.targets.size()) == num_targets_,
                 "cache '", path_, "': the batch does not have the schema's shape");
    if (b.size == 0) return;
    const auto n = static_cast<std::size_t>(b.size);
    Group g;
    g.offset = pos_;
    g.rows = n;
    g.first_row = rows_;
    write_section(b.labels, n);
    if (b.weights) write_section(b.weights, n);
    else {
      ones_.assign(n, 1.0f);
      write_section(ones_.data(), n);
    }
    for (const float* t : b.targets) write_section(t, n);
    // Dense rows may be strided in a view: copy row by row into one section.
    pad();
    if (b.dense.cols > 0)
      for (index_t r = 0; r < b.size; ++r) write(&b.dense(r, 0), sizeof(float) * static_cast<std::size_t>(b.dense.cols));
    for (const FieldIds& f : b.fields) {
      rel_.resize(n + 1);
      for (std::size_t r = 0; r <= n; ++r) rel_[r] = static_cast<std::int64_t>(f.offsets[r] - f.offsets[0]);
      write_section(rel_.data(), n + 1);
      const auto count = static_cast<std::uint64_t>(rel_[n]);
      write_section(f.ids + f.offsets[0], count);
      g.id_counts.push_back(count);
    }
    rows_ += n;
    groups_.push_back(std::move(g));
  }

  /// Writes the footer, the schema and the header; the file is then complete.
  void finish() {
    CTRNET_CHECK(!finished_, "cache '", path_, "': finish called twice");
    pad();
    const std::uint64_t footer = pos_;
    for (const Group& g : groups_) {
      const std::uint64_t head[3] = {g.offset, g.rows, g.first_row};
      write(head, sizeof head);
      write(g.id_counts.data(), sizeof(std::uint64_t) * g.id_counts.size());
    }
    const std::string js = schema_to_json(schema_).dump();
    const std::uint64_t schema_at = pos_;
    write(js.data(), js.size());
    detail::CacheHeader h{};
    std::memcpy(h.magic, detail::kCacheMagic, 8);
    h.version = detail::kCacheVersion;
    h.endian = detail::kCacheEndian;
    h.rows = rows_;
    h.num_dense = static_cast<std::uint32_t>(schema_.num_dense());
    h.num_categorical = static_cast<std::uint32_t>(schema_.num_categorical());
    h.num_targets = static_cast<std::uint32_t>(num_targets_);
    h.flags = 1;  // weights stored
    h.num_groups = groups_.size();
    h.footer_offset = footer;
    h.schema_offset = schema_at;
    h.schema_bytes = js.size();
    CTRNET_CHECK(std::fseek(file_.get(), 0, SEEK_SET) == 0, "cache '", path_, "': cannot seek");
    CTRNET_CHECK(std::fwrite(&h, sizeof h, 1, file_.get()) == 1, "cache '", path_, "': write failed");
    CTRNET_CHECK(std::fclose(file_.release()) == 0, "cache '", path_, "': close failed: ", std::strerror(errno));
    finished_ = true;
  }

  std::uint64_t rows() const { return rows_; }

 private:
  struct Group {
    std::uint64_t offset = 0, rows = 0, first_row = 0;
    std::vector<std::uint64_t> id_counts;
  };
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  void write(const void* p, std::size_t bytes) {
    if (bytes == 0) return;
    CTRNET_CHECK(std::fwrite(p, 1, bytes, file_.get()) == bytes, "cache '", path_, "': write failed: ", std::strerror(errno));
    pos_ += bytes;
  }
  void pad() {
    static const char zeros[detail::kCacheAlign] = {};
    write(zeros, static_cast<std::size_t>(detail::align_up(pos_) - pos_));
  }
  template <class T>
  void write_section(const T* p, std::size_t count) {
    pad();
    write(p, sizeof(T) * count);
  }

  std::string path_;
  Schema schema_;
  index_t num_targets_ = 0;
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::uint64_t pos_ = 0, rows_ = 0;
  std::vector<Group> groups_;
  std::vector<float> ones_;
  std::vector<std::int64_t> rel_;
  bool finished_ = false;
};

/// \brief A memory-mapped binary cache: random access to rows without parsing.
class BinaryCache {
 public:
  /// Maps `path` and checks it; throws ctrnet::Error naming the file and the problem.
  explicit BinaryCache(std::string path) : path_(std::move(path)) {
    const int fd = ::open(path_.c_str(), O_RDONLY);
    CTRNET_CHECK(fd >= 0, "cannot open cache file '", path_, "': ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      detail::throw_error("cannot stat cache file '", path_, "'");
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      ::close(fd);
      CTRNET_CHECK(p != MAP_FAILED, "cannot map cache file '", path_, "': ", std::strerror(errno));
      map_ = std::unique_ptr<const unsigned char, Unmapper>(static_cast<const unsigned char*>(p), Unmapper{size_});
    } else {
      ::close(fd);
    }
    load();
  }

  const std::string& path() const { return path_; }
  const Schema& schema() const { return schema_; }
  index_t size() const { return static_cast<index_t>(h_.rows); }
  index_t num_targets() const { return static_cast<index_t>(h_.num_targets); }
  index_t num_groups() const { return static_cast<index_t>(groups_.size()); }

  /// Copies rows [begin, begin + n) into `out`.
  void read(index_t begin, index_t n, Batch& out) const {
    CTRNET_CHECK(begin >= 0 && n >= 0 && begin + n <= size(), "cache '", path_, "': rows [", begin, ", ", begin + n,
                 ") are outside [0, ", size(), ")");
    prepare(out);
    for (index_t r = begin; r < begin + n;) {
      const Group& g = group_of(r);
      const auto local = static_cast<std::uint64_t>(r) - g.first_row;
      const index_t take = std::min<index_t>(begin + n - r, static_cast<index_t>(g.rows - local));
      append_from(g, local, static_cast<std::uint64_t>(take), out);
      r += take;
    }
    out.set_size(n);
  }

  /// Copies the rows `rows` (in that order) into `out`.
  void gather(std::span<const index_t> rows, Batch& out) const {
    prepare(out);
    for (index_t r : rows) {
      CTRNET_CHECK(r >= 0 && r < size(), "cache '", path_, "': row ", r, " is outside [0, ", size(), ")");
      const Group& g = group_of(r);
      append_from(g, static_cast<std::uint64_t>(r) - g.first_row, 1, out);
    }
    out.set_size(static_cast<index_t>(rows.size()));
  }

  /// Every row, in order, as an in-memory data set.
  InMemoryDataset to_dataset() const {
    Batch b;
    read(0, size(), b);
    return InMemoryDataset(schema_, std::move(b));
  }

  /// First row of each row group (for a group-level shuffle).
  std::vector<std::pair<index_t, index_t>> group_ranges() const {
    std::vector<std::pair<index_t, index_t>> r;
    for (const Group& g : groups_) r.emplace_back(static_cast<index_t>(g.first_row), static_cast<index_t>(g.rows));
    return r;
  }

 private:
  struct Unmapper {
    std::uint64_t bytes;
    void operator()(const unsigned char* p) const { ::munmap(const_cast<unsigned char*>(p), bytes); }
  };
  struct Group {
    std::uint64_t offset = 0, rows = 0, first_row = 0;
    std::uint64_t labels = 0, weights = 0, dense = 0;
    std::vector<std::uint64_t> targets, offsets, ids;  // section offsets in the file
  };

  [[noreturn]] void corrupt(const std::string& what) const {
    detail::throw_error("cache file '", path_, "' is not a valid ctrnet cache: ", what);
  }

  void load() {
    if (size_ < sizeof(detail::CacheHeader)) corrupt("it has " + std::to_string(size_) + " bytes, less than the 96-byte header");
    std::memcpy(&h_, map_.get(), sizeof h_);
    if (std::memcmp(h_.magic, detail::kCacheMagic, 8) != 0)
      corrupt("bad magic (expected \"CTRNCACH\"; an unfinished write leaves zeros)");
    if (h_.version != detail::kCacheVersion)
      corrupt("version " + std::to_string(h_.version) + ", this build reads version " + std::to_string(detail::kCacheVersion));
    if (h_.endian != detail::kCacheEndian) corrupt("written on a machine of the other byte order");
    if (h_.footer_offset > size_ || h_.schema_offset > size_ || h_.schema_bytes > size_ - h_.schema_offset)
      corrupt("footer or schema outside the file");
    const std::uint64_t nf = h_.num_categorical;
    const std::uint64_t entry = (3 + nf) * 8;
    if (h_.num_groups > (size_ - h_.footer_offset) / (entry ? entry : 1) || h_.footer_offset + h_.num_groups * entry > h_.schema_offset)
      corrupt("the group table does not fit before the schema");
    try {
      schema_ = schema_from_json_text(std::string_view(reinterpret_cast<const char*>(map_.get() + h_.schema_offset),
                                                       static_cast<std::size_t>(h_.schema_bytes)),
                                      "the schema");
    } catch (const nlohmann::json::exception& e) {
      corrupt(std::string("the schema is not valid JSON: ") + e.what());
    } catch (const Error& e) {
      corrupt(e.what());
    }
    if (static_cast<std::uint64_t>(schema_.num_dense()) != h_.num_dense ||
        static_cast<std::uint64_t>(schema_.num_categorical()) != nf)
      corrupt("the header's field counts do not match its schema");
    std::uint64_t rows = 0;
    const unsigned char* ft = map_.get() + h_.footer_offset;
    for (std::uint64_t gi = 0; gi < h_.num_groups; ++gi) {
      Group g;
      std::uint64_t head[3];
      std::memcpy(head, ft + gi * entry, sizeof head);
      g.offset = head[0];
      g.rows = head[1];
      g.first_row = head[2];
      if (g.first_row != rows || g.rows == 0 || g.rows > h_.rows || g.rows > h_.footer_offset / 4) corrupt("row group " + std::to_string(gi) + " has bad row counts");
      std::uint64_t pos = g.offset;
      auto section = [&](std::uint64_t bytes) {
        pos = detail::align_up(pos);
        if (pos > h_.footer_offset || bytes > h_.footer_offset - pos)
          corrupt("row group " + std::to_string(gi) + " runs past its end");
        const std::uint64_t at = pos;
        pos += bytes;
        return at;
      };
      const std::uint64_t n = g.rows;
      g.labels = section(4 * n);
      g.weights = section(4 * n);
      for (std::uint32_t t = 0; t < h_.num_targets; ++t) g.targets.push_back(section(4 * n));
      if (h_.num_dense > 0 && n > (h_.footer_offset / 4) / h_.num_dense) corrupt("row group " + std::to_string(gi) + " is too large");
      g.dense = section(4 * n * h_.num_dense);
      for (std::uint64_t f = 0; f < nf; ++f) {
        std::uint64_t count;
        std::memcpy(&count, ft + gi * entry + 24 + f * 8, 8);
        if (count > h_.footer_offset / 8) corrupt("row group " + std::to_string(gi) + " has a bad id count");
        g.offsets.push_back(section(8 * (n + 1)));
        g.ids.push_back(section(8 * count));
        // Offsets start at 0, never decrease and end at the id count.
        const auto* off = reinterpret_cast<const std::int64_t*>(map_.get() + g.offsets.back());
        if (off[0] != 0 || static_cast<std::uint64_t>(off[n]) != count)
          corrupt("row group " + std::to_string(gi) + ", field '" + schema_.categorical(static_cast<index_t>(f)).name +
                  "': offsets do not match the id count");
        for (std::uint64_t r = 0; r < n; ++r)
          if (off[r + 1] < off[r]) corrupt("row group " + std::to_string(gi) + ": decreasing offsets");
      }
      rows += n;
      groups_.push_back(std::move(g));
    }
    if (rows != h_.rows) corrupt("the row groups hold " + std::to_string(rows) + " rows, the header says " + std::to_string(h_.rows));
  }

  const Group& group_of(index_t r) const {
    auto it = std::upper_bound(groups_.begin(), groups_.end(), static_cast<std::uint64_t>(r),
                               [](std::uint64_t row, const Group& g) { return row < g.first_row; });
    return *(it - 1);
  }

  template <class T>
  const T* at(std::uint64_t offset) const {
    return reinterpret_cast<const T*>(map_.get() + offset);
  }

  void prepare(Batch& out) const {
    if (out.num_dense() != schema_.num_dense() || out.ids.size() != static_cast<std::size_t>(schema_.num_categorical()) ||
        static_cast<index_t>(out.targets.size()) != num_targets())
      out.reset(schema_, num_targets());
    out.clear();
  }

  void append_from(const Group& g, std::uint64_t local, std::uint64_t n, Batch& out) const {
    const std::uint64_t nd = h_.num_dense;
    const float* dense = at<float>(g.dense) + local * nd;
    out.dense_values.insert(out.dense_values.end(), dense, dense + n * nd);
    for (std::size_t f = 0; f < g.ids.size(); ++f) {
      const auto* off = at<std::int64_t>(g.offsets[f]);
      const auto* ids = at<FeatureId>(g.ids[f]);
      auto& dst = out.ids[f];
      for (std::uint64_t r = local; r < local + n; ++r) {
        dst.insert(dst.end(), ids + off[r], ids + off[r + 1]);
        out.offsets[f].push_back(static_cast<index_t>(dst.size()));
      }
    }
    out.labels.insert(out.labels.end(), at<float>(g.labels) + local, at<float>(g.labels) + local + n);
    out.weights.insert(out.weights.end(), at<float>(g.weights) + local, at<float>(g.weights) + local + n);
    for (std::size_t t = 0; t < g.targets.size(); ++t)
      out.targets[t].insert(out.targets[t].end(), at<float>(g.targets[t]) + local, at<float>(g.targets[t]) + local + n);
  }

  std::string path_;
  std::uint64_t size_ = 0;
  std::unique_ptr<const unsigned char, Unmapper> map_{nullptr, Unmapper{0}};
  detail::CacheHeader h_{};
  Schema schema_;
  std::vector<Group> groups_;
};

/// Writes `data` to a cache file in row groups of `group_rows`.
inline void write_cache(const std::string& path, const InMemoryDataset& data, index_t group_rows = 65536) {
  CTRNET_CHECK(group_rows > 0, "write_cache: group_rows must be positive");
  BinaryCacheWriter w(path, data.schema(), data.num_targets());
  const BatchView all = data.data().view();
  for (index_t b = 0; b < data.size(); b += group_rows) w.append(all.rows(b, std::min(group_rows, data.size() - b)));
  w.finish();
}

/// The first pass over a text file: streams `reader` into a cache file in row groups of
/// `group_rows`; returns the number of rows written. Later epochs open the file as a BinaryCache.
template <LineParser Parser>
index_t write_cache(const std::string& path, TextReader<Parser>& reader, index_t group_rows = 65536) {
  BinaryCacheWriter w(path, reader.schema());
  Batch b;
  while (reader.next_batch(b, group_rows) > 0) w.append(b.view());
  w.finish();
  return static_cast<index_t>(w.rows());
}

/// \brief Streams a cache in a shuffled order with bounded memory: the row groups in a seeded
/// random order, rows through a shuffle buffer of `buffer_rows` (each output row is drawn
/// uniformly from the buffer, its slot refilled with the next incoming row). The order depends
/// only on (seed, epoch), never on threads or timing.
class CacheShuffler {
 public:
  CacheShuffler(const BinaryCache& cache, index_t buffer_rows, std::uint64_t seed)
      : cache_(&cache), buffer_rows_(buffer_rows), seed_(seed) {
    CTRNET_CHECK(buffer_rows > 0, "shuffle buffer: buffer_rows must be positive, got ", buffer_rows);
    start_epoch(0);
  }

  /// Restarts the stream with the order of epoch `epoch`.
  void start_epoch(std::uint64_t epoch) {
    rng_.reseed(mix_seed(seed_, epoch));
    groups_ = cache_->group_ranges();
    for (std::size_t i = groups_.size(); i > 1; --i) std::swap(groups_[i - 1], groups_[rng_.below(i)]);
    next_group_ = 0;
    next_row_ = 0;
    left_in_group_ = 0;
    buffer_.clear();
  }

  /// Replaces `out` with the next (up to) `n` rows; returns how many (0 when the epoch is over).
  index_t next_batch(Batch& out, index_t n) {
    CTRNET_CHECK(n > 0, "next_batch: n must be positive, got ", n);
    picked_.clear();
    while (static_cast<index_t>(picked_.size()) < n) {
      while (static_cast<index_t>(buffer_.size()) < buffer_rows_ && pull(incoming_)) buffer_.push_back(incoming_);
      if (buffer_.empty()) break;
      const std::size_t j = static_cast<std::size_t>(rng_.below(buffer_.size()));
      picked_.push_back(buffer_[j]);
      if (pull(incoming_)) buffer_[j] = incoming_;
      else {
        buffer_[j] = buffer_.back();
        buffer_.pop_back();
      }
    }
    cache_->gather(picked_, out);
    return static_cast<index_t>(picked_.size());
  }

 private:
  bool pull(index_t& row) {
    while (left_in_group_ == 0) {
      if (next_group_ >= groups_.size()) return false;
      next_row_ = groups_[next_group_].first;
      left_in_group_ = groups_[next_group_].second;
      ++next_group_;
    }
    row = next_row_++;
    --left_in_group_;
    return true;
  }

  const BinaryCache* cache_;
  index_t buffer_rows_;
  std::uint64_t seed_;
  Rng rng_{0};
  std::vector<std::pair<index_t, index_t>> groups_;
  std::size_t next_group_ = 0;
  index_t next_row_ = 0, left_in_group_ = 0, incoming_ = 0;
  std::vector<index_t> buffer_, picked_;
};

}  // namespace ctrnet
