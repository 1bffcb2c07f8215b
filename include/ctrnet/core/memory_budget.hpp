// Memory budget: what a run's parameters, optimizer state and buffers will need, added up and
// checked against the memory the machine has available BEFORE anything is allocated, so that a
// too-large option (--hash-buckets, --embedding-dim, ...) is a ctrnet::Error that names the need,
// what is available and the option to lower, instead of std::bad_alloc, std::length_error or
// the kernel's OOM killer.
//
//   MemoryBudget b;
//   b.add("embedding tables and their optimizer state", table_bytes, "--hash-buckets or --embedding-dim");
//   b.add("dense parameters, gradients and optimizer state", dense_bytes, "--embedding-dim or --hidden");
//   b.check();  // throws when b.total() > available_memory_bytes()
//
// Sizes are doubles (bytes), so adding up absurd sizes cannot overflow; checked_product() is the
// integer check for shapes that must still fit in index_t.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/types.hpp"

namespace ctrnet {

namespace detail {

/// The value (in bytes) of the line `key:  N kB` of a /proc/meminfo-style text, if present.
inline std::optional<std::uint64_t> meminfo_value(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::istringstream is{std::string(line.substr(key.size() + 1))};
      std::uint64_t v = 0;
      std::string unit;
      if (is >> v) {
        is >> unit;
        if (unit == "kB") return v * 1024u;
        if (unit.empty()) return v;
      }
      return std::nullopt;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

inline std::optional<std::string> read_small_file(const char* path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

/// A cgroup v2 memory.max / memory.current value ("max": no limit).
inline std::optional<std::uint64_t> cgroup_value(const char* path) {
  const auto s = read_small_file(path);
  if (!s) return std::nullopt;
  std::istringstream is(*s);
  std::uint64_t v = 0;
  if (!(is >> v)) return std::nullopt;
  return v;
}

}  // namespace detail

/// \brief Where available_memory_bytes() found its number (for messages).
struct AvailableMemory {
  std::uint64_t bytes = 0;
  std::string source;  ///< e.g. "MemAvailable in /proc/meminfo"
};

/// \brief The memory this process can still take: MemAvailable from /proc/meminfo, lowered to the
/// room left under the cgroup v2 limit (memory.max - memory.current) when one is set. nullopt
/// when neither can be read (not Linux): the caller then skips the check.
inline std::optional<AvailableMemory> available_memory() {
  std::optional<AvailableMemory> out;
  if (const auto text = detail::read_small_file("/proc/meminfo"))
    if (const auto v = detail::meminfo_value(*text, "MemAvailable")) out = AvailableMemory{*v, "MemAvailable in /proc/meminfo"};
  const auto max = detail::cgroup_value("/sys/fs/cgroup/memory.max");
  const auto cur = detail::cgroup_value("/sys/fs/cgroup/memory.current");
  if (max && cur) {
    const std::uint64_t room = *max > *cur ? *max - *cur : 0;
    if (!out || room < out->bytes) out = AvailableMemory{room, "the cgroup limit /sys/fs/cgroup/memory.max less memory.current"};
  }
  return out;
}

/// "512 bytes", "3.2 MB", "1.5 GB", "2.1e+03 TB" (powers of 1000).
inline std::string format_bytes(double bytes) {
  static const char* units[] = {"bytes", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (u < 4 && bytes >= 1000.0) {
    bytes /= 1000.0;
    ++u;
  }
  char buf[64];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f %s", bytes, units[u]);
  else if (bytes < 1e4) std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  else std::snprintf(buf, sizeof buf, "%.3g %s", bytes, units[u]);
  return buf;
}

/// `a * b` for shapes (both >= 0); a ctrnet::Error naming `what` when the product does not fit
/// in index_t (e.g. "--hash-buckets 100000000000000 x --embedding-dim 200000").
inline index_t checked_product(index_t a, index_t b, std::string_view what) {
  CTRNET_CHECK(a >= 0 && b >= 0, what, ": negative size (", a, " x ", b, ")");
  CTRNET_CHECK(a == 0 || b <= std::numeric_limits<index_t>::max() / a, what, ": ", a, " x ", b,
               " elements overflow a 64-bit size; lower it");
  return a * b;
}

/// \brief A list of memory needs (what, bytes, the option that lowers it) and their check
/// against the available memory.
class MemoryBudget {
 public:
  struct Item {
    std::string what;    ///< e.g. "embedding tables and their optimizer state"
    double bytes = 0;
    std::string option;  ///< the option(s) that lower it, e.g. "--hash-buckets or --embedding-dim"
  };

  /// Adds a need of `bytes` (>= 0; sizes may be computed in double so they cannot overflow).
  void add(std::string what, double bytes, std::string option = {}) {
    CTRNET_CHECK(bytes >= 0.0 && !std::isnan(bytes), "MemoryBudget::add: '", what, "' needs ", bytes, " bytes");
    items_.push_back({std::move(what), bytes, std::move(option)});
  }
  /// Adds `elements` floats (4 bytes each) times `copies` (value, gradient, optimizer slots, ...).
  void add_floats(std::string what, double elements, double copies, std::string option = {}) {
    add(std::move(what), elements * 4.0 * copies, std::move(option));
  }

  double total() const {
    double t = 0;
    for (const auto& i : items_) t += i.bytes;
    return t;
  }
  const std::vector<Item>& items() const { return items_; }

  /// "about 1.5 GB: embedding tables ...: 1.2 GB; dense ...: 300.0 MB"
  std::string describe() const {
    std::ostringstream os;
    os << "about " << format_bytes(total());
    const char* sep = " (";
    for (const auto& i : sorted()) {
      os << sep << i.what << ": " << format_bytes(i.bytes);
      sep = "; ";
    }
    if (!items_.empty()) os << ')';
    return os.str();
  }

  /// Throws ctrnet::Error when total() exceeds `available` bytes: the message gives the need,
  /// item by item (largest first), what is available (from `source`) and the option to lower
  /// (the largest item's). `who` starts the message ("this run", "ctrnet-vt", ...).
  void check(std::uint64_t available, std::string_view source, std::string_view who = "this run") const {
    const double need = total();
    if (need <= static_cast<double>(available)) return;
    const auto s = sorted();
    std::ostringstream os;
    os << "not enough memory: " << who << " needs " << describe() << " but only " << format_bytes(static_cast<double>(available))
       << " is available (" << source << ")";
    if (!s.empty() && !s.front().option.empty()) os << "; lower " << s.front().option;
    throw Error(os.str());
  }

  /// The same against available_memory(); does nothing when that is unknown.
  void check(std::string_view who = "this run") const {
    if (const auto a = available_memory()) check(a->bytes, a->source, who);
  }

 private:
  std::vector<Item> sorted() const {
    std::vector<Item> s = items_;
    std::stable_sort(s.begin(), s.end(), [](const Item& x, const Item& y) { return x.bytes > y.bytes; });
    return s;
  }
  std::vector<Item> items_;
};

}  // namespace ctrnet
