// Memory spaces and owning buffers (core/memory.hpp, core/matrix.hpp) and staging
// (data/staging.hpp): which space a buffer allocates in, that resizing keeps contents and
// capacity, that copies and fills go through the space, and that a staged batch holds the same
// values as the host batch — checked on the host and on the guarded space (whose memory the test
// reads back only through copies).
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "ctrnet/core/matrix.hpp"
#include "ctrnet/data/staging.hpp"
#include "ctrnet/testing/cpu_guarded.hpp"

using namespace ctrnet;
using testing::cpu_guarded;
using testing::GuardedContext;

namespace {

/// A MemorySpace that counts its calls and forwards them to the host.
struct CountingSpace final : MemorySpace {
  int allocations = 0, frees = 0, copies = 0, zeroes = 0;
  const char* name() const override { return "counting"; }
  bool host_accessible() const override { return true; }
  void* allocate(std::size_t bytes) override {
    ++allocations;
    return host_memory().allocate(bytes);
  }
  void deallocate(void* p, std::size_t bytes) noexcept override {
    ++frees;
    host_memory().deallocate(p, bytes);
  }
  void copy(void* dst, const void* src, std::size_t bytes) override {
    ++copies;
    host_memory().copy(dst, src, bytes);
  }
  void zero(void* dst, std::size_t bytes) override {
    ++zeroes;
    host_memory().zero(dst, bytes);
  }
};

}  // namespace

TEST_CASE("A buffer allocates in the current space, once per growth, and keeps its space", "[memory]") {
  CountingSpace counting;
  Buffer<float> b;
  {
    const MemoryScope scope(counting);
    CHECK(&current_memory() == &counting);
    b.resize(10);
    b.resize(5);
    b.resize(10);  // within capacity: no allocation
  }
  CHECK(&current_memory() == &host_memory());  // the scope ended
  CHECK(counting.allocations == 1);
  CHECK(&b.space() == &counting);
  b.resize(100);  // grows in its own space, not the (host) current one
  CHECK(counting.allocations == 2);
  CHECK(counting.frees == 1);
  CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % kAlignment == 0);
  b = Buffer<float>();
  CHECK(counting.frees == 2);
}

TEST_CASE("Buffer: growth keeps the contents; assign, zero and copies go through the space", "[memory]") {
  GuardedContext ctx;
  MemorySpace& guarded = ctx.memory();
  for (MemorySpace* space : {&host_memory(), &guarded}) {
    INFO(space->name());
    Buffer<double> b(*space);
    const std::vector<double> values{1, 2, 3, 4, 5};
    b.upload(values.data(), 5);
    b.resize(1000);  // reallocates: the first five values move along
    b.resize(5);
    CHECK(b.to_host() == values);
    b.assign(3, 7.5);
    CHECK(b.to_host() == std::vector<double>{7.5, 7.5, 7.5});
    b.assign_zero(4);
    CHECK(b.to_host() == std::vector<double>(4, 0.0));
    Buffer<double> c(b);  // a copy lives in the source's space
    CHECK(&c.space() == space);
    CHECK(c.to_host() == b.to_host());
    Buffer<double> h;  // an unbound buffer takes the copied one's space
    h = c;
    CHECK(&h.space() == space);
    Buffer<double> moved(std::move(c));
    CHECK(c.data() == nullptr);
    CHECK(moved.to_host() == std::vector<double>(4, 0.0));
  }
}

TEST_CASE("Matrix: a non-zero fill and an upload reach guarded memory through copies", "[memory]") {
  GuardedContext ctx;
  Matrix<float> m(ctx.memory());
  m.resize(3, 4, 1.5f);
  std::vector<float> out(12);
  m.download(out.data());
  CHECK(out == std::vector<float>(12, 1.5f));
  const std::vector<float> in{1, 2, 3, 4, 5, 6};
  m.upload(in.data(), 2, 3);
  CHECK(m.rows() == 2);
  CHECK(m.cols() == 3);
  out.assign(6, 0.f);
  m.download(out.data());
  CHECK(out == in);
  Matrix<float> copy = m;  // copy construction in guarded memory
  out.assign(6, 0.f);
  copy.download(out.data());
  CHECK(out == in);
}

TEST_CASE("Staging: on the host the view itself, on a device space a copy with the same values", "[memory][staging]") {
  Schema s;
  s.add_dense("x").add_dense("y");
  s.add_categorical("a", 10, 2);
  Field seq;
  seq.name = "seq";
  seq.kind = FieldKind::sequence;
  seq.vocab_size = 10;
  seq.embedding_dim = 2;
  s.add(seq);
  Batch batch(s);
  batch.reset(s, 1);
  for (int r = 0; r < 5; ++r) {
    const std::vector<float> dense{float(r), float(10 * r)};
    const std::vector<FeatureId> a{r % 10};
    std::vector<FeatureId> ids;
    for (int k = 0; k < r; ++k) ids.push_back((r + k) % 10);
    const std::vector<std::span<const FeatureId>> cat{a, ids};
    batch.add(dense, cat, r % 2 ? 1.f : 0.f, 0.5f + float(r));
    batch.targets[0].push_back(float(r * r));
  }
  const BatchView host = batch.view();
  const BatchView part = host.rows(2, 3);  // a slice: offsets do not start at 0

  StagedBatch staging;
  CHECK(&staging.stage(cpu_scalar{}, part) == &part);  // host memory: nothing copied

  GuardedContext ctx;
  const cpu_guarded gp(ctx);
  const BatchView& v = staging.stage(gp, part, s);
  REQUIRE(v.size == 3);
  CHECK(v.first_row == 2);
  CHECK(ctx.arena().contains(v.dense.data));
  CHECK(ctx.arena().contains(v.labels));
  auto read = [&](const auto* p, index_t n) {
    std::vector<std::remove_cv_t<std::remove_pointer_t<decltype(p)>>> out(static_cast<std::size_t>(n));
    ctx.memory().copy(out.data(), p, out.size() * sizeof(out[0]));
    return out;
  };
  CHECK(read(v.dense.data, 6) == std::vector<float>{2, 20, 3, 30, 4, 40});
  CHECK(read(v.labels, 3) == std::vector<float>{0, 1, 0});
  CHECK(read(v.weights, 3) == std::vector<float>{2.5f, 3.5f, 4.5f});
  CHECK(read(v.targets[0], 3) == std::vector<float>{4, 9, 16});
  for (std::size_t f = 0; f < 2; ++f) {
    INFO("field " << f);
    const auto off = read(v.fields[f].offsets, 4);
    CHECK(off[0] == 0);  // rebased
    const auto ids = read(v.fields[f].ids, off[3]);
    for (index_t r = 0; r < 3; ++r) {
      const auto want = part.fields[f].of(r);
      CHECK(std::vector<FeatureId>(ids.begin() + off[static_cast<std::size_t>(r)],
                                   ids.begin() + off[static_cast<std::size_t>(r) + 1]) ==
            std::vector<FeatureId>(want.begin(), want.end()));
    }
  }
  // Slicing the staged view is pointer arithmetic: no host read of guarded memory.
  const BatchView sub = v.rows(1, 2);
  CHECK(sub.first_row == 3);
  CHECK(read(sub.labels, 2) == std::vector<float>{1, 0});
}
