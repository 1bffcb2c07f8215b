// libFuzzer target: the binary cache loader (data/binary_cache.hpp, BinaryCache), which maps a file
// and checks its header, group table, sections, offsets and schema. BinaryCache takes a path, so
// each input is written to a per-process temporary file first. Loading must give a cache or a
// ctrnet::Error; a cache it accepted must then read every row (in order, gathered backwards, and
// through a shuffle buffer) with consistent offsets and no error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "ctrnet/data/binary_cache.hpp"

namespace {
bool consistent(const ctrnet::Batch& b, ctrnet::index_t rows) {
  if (b.size() != rows || static_cast<ctrnet::index_t>(b.labels.size()) != rows) return false;
  for (std::size_t f = 0; f < b.offsets.size(); ++f) {
    const auto& off = b.offsets[f];
    if (off.size() != static_cast<std::size_t>(rows) + 1 || off[0] != 0 ||
        off.back() != static_cast<ctrnet::index_t>(b.ids[f].size()))
      return false;
    for (std::size_t r = 1; r < off.size(); ++r)
      if (off[r] < off[r - 1]) return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ctrnet;
  const std::string path = "/tmp/ctrnet_fuzz_binary_cache_" + std::to_string(::getpid()) + ".bin";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  std::optional<BinaryCache> cache;
  try {
    cache.emplace(path);
  } catch (const Error&) {
  }
  std::remove(path.c_str());  // the mapping outlives the name
  if (!cache) return 0;
  try {
    const index_t n = cache->size();
    Batch b;
    cache->read(0, n, b);
    if (!consistent(b, n)) __builtin_trap();
    std::vector<index_t> rows;
    for (index_t r = n; r-- > 0;) rows.push_back(r);
    cache->gather(rows, b);
    if (!consistent(b, n)) __builtin_trap();
    CacheShuffler shuffle(*cache, 3, 7);
    index_t seen = 0;
    for (index_t got; (got = shuffle.next_batch(b, 2)) > 0; seen += got)
      if (!consistent(b, got)) __builtin_trap();
    if (seen != n) __builtin_trap();
  } catch (const Error&) {
    __builtin_trap();  // an accepted cache must read
  }
  return 0;
}
