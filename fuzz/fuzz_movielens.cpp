// libFuzzer target: the MovieLens readers (data/readers/movielens.hpp): u.data (tab-separated),
// ratings.csv (with its header), u.user and u.item, on arbitrary bytes. The readers take paths, so
// each input is written to a per-process temporary file first. Accepts only a clean read or
// ctrnet::Error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "ctrnet/data/readers/movielens.hpp"

namespace {
std::string write_temp(const char* suffix, const std::uint8_t* data, std::size_t size) {
  const std::string path = "/tmp/ctrnet_fuzz_movielens_" + std::to_string(::getpid()) + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ctrnet;
  const std::string tsv = write_temp(".data", data, size), csv = write_temp(".csv", data, size);
  try {
    MovieLensRatingsReader(tsv).read_all();
  } catch (const Error&) {
  }
  try {
    MovieLensRatingsReader(csv).read_all();
  } catch (const Error&) {
  }
  try {
    read_movielens_users(tsv);
  } catch (const Error&) {
  }
  try {
    read_movielens_items(tsv);
  } catch (const Error&) {
  }
  std::remove(tsv.c_str());
  std::remove(csv.c_str());
  return 0;
}
