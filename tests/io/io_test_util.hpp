// Shared helpers of the model persistence tests (tests/io/test_model_io*.cpp): a temporary
// directory, a small schema with vocabulary and hashed fields, batches, seeded parameter noise and
// bitwise comparisons.
#pragma once
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "ctrnet/io/model_io.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"
#include "../temp_dir.hpp"

namespace ctrnet::io_test {

namespace fs = std::filesystem;

using test_util::TempDir;

inline Schema small_schema() {
  Schema s;
  s.add_dense("x0").add_dense("x1");
  s.add_categorical("a", 5, 3);
  s.add_categorical("b", 7);
  s.add_hashed("h", 11, 42);
  return s;
}

inline Batch small_batch(const Schema& s, int n, std::uint64_t seed) {
  Batch b(s);
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    std::vector<float> d{float(rng.normal()), float(rng.normal())};
    std::vector<FeatureId> ids{FeatureId(rng.below(5)), FeatureId(rng.below(7)), FeatureId(rng.next_u64() >> 1)};
    b.add_one_hot(d, ids, rng.bernoulli(0.5) ? 1.f : 0.f, 1.f);
  }
  return b;
}

/// Whether every dense parameter view of `a` and `b` holds the same bits.
template <class M>
bool same_dense(const M& a, const M& b) {
  for (const auto& p : a.registry().params())
    if (std::memcmp(a.params().dense.data() + p.handle.offset, b.params().dense.data() + p.handle.offset,
                    static_cast<std::size_t>(p.handle.size()) * sizeof(typename M::value_type)) != 0)
      return false;
  return true;
}

/// Replaces every parameter with seeded noise, so zero-initialised biases and tables are covered too.
template <class M>
void randomize(M& m, std::uint64_t seed) {
  using T = typename M::value_type;
  Rng rng(seed);
  for (const auto& p : m.registry().params())  // only the views: the padding between them is not saved
    for (index_t i = 0; i < p.handle.size(); ++i)
      m.params().dense[static_cast<std::size_t>(p.handle.offset + i)] = static_cast<T>(rng.normal(0.0, 0.5));
  for (auto& t : m.params().tables)
    for (index_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(rng.normal(0.0, 0.5));
}

template <class M>
Matrix<typename M::value_type> predict(const M& m, const Batch& b) {
  Matrix<typename M::value_type> out(b.size(), m.output_width());
  typename M::Cache c;
  m.predict(cpu_scalar{}, b.view(), out.view(), c);
  return out;
}

template <class T>
bool bit_identical(const Matrix<T>& a, const Matrix<T>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(T)) == 0;
}

inline DCNOptions small_dcn(index_t rank = 0) {
  DCNOptions o;
  o.embedding_dim = 4;
  o.cross_depth = 2;
  o.rank = rank;
  o.hidden = {6, 5};
  o.experts = 3;
  o.expert_activation = Activation::tanh;
  return o;
}

/// Overwrites element `index` of tensor `name` in the safetensors file at `path` with `value` (the
/// tensor must store elements of sizeof(T) bytes): a damaged file, byte for byte like the saved one otherwise.
template <class T>
void patch_tensor(const std::string& path, const std::string& name, std::size_t index, T value) {
  std::size_t offset = 0;
  {
    const SafetensorsFile f(path);
    const TensorInfo& t = f.at(name);
    REQUIRE(dtype_size(t.dtype) == sizeof(T));  // e.g. std::uint16_t bits for a BF16 tensor
    REQUIRE(index < t.numel());
    std::ifstream in(path, std::ios::binary);
    std::uint64_t header = 0;
    in.read(reinterpret_cast<char*>(&header), 8);
    offset = 8 + static_cast<std::size_t>(header) + t.begin + index * sizeof(T);
  }
  std::fstream io(path, std::ios::binary | std::ios::in | std::ios::out);
  io.seekp(static_cast<std::streamoff>(offset));
  io.write(reinterpret_cast<const char*>(&value), sizeof(T));
  REQUIRE(io.good());
}

/// Replaces the one occurrence of `from` in the file at `path` by `to` (same length), e.g. a
/// metadata value in the JSON header.
inline void patch_text(const std::string& path, const std::string& from, const std::string& to) {
  REQUIRE(from.size() == to.size());
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const auto at = bytes.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(bytes.find(from, at + 1) == std::string::npos);
  bytes.replace(at, from.size(), to);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace ctrnet::io_test
