// No heap allocation in steady state (issue 15, "Claims that tests check"): after a first
// training step has sized every cache, gradient buffer and optimizer state, further steps on
// batches of the same shape — and inference with a reused Cache — allocate nothing through
// operator new, for every architecture alias the Trainer trains on the CPU policies (on one thread:
// see allocations_of).
//
// This file replaces the global operator new/delete with counting versions. Counting is on only
// between AllocationCounter's construction and count(), so Catch2 and the set-up allocate freely.
// oneTBB's own task pools (not operator new) are not counted: they are sized on first use and
// reused by the library.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "ctrnet/data/synthetic.hpp"
#include "ctrnet/models/two_tower_transformer.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"
#include "ctrnet/train/trainer.hpp"
#include "ctrnet/two_tower.hpp"
#include "../ctr_aliases.hpp"
#include "../retrieval_fixture.hpp"

// The replacements below pair malloc/aligned_alloc with free, which g++ cannot see through.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

// A counted allocation; a place for a debugger's breakpoint (`break on_counted_allocation`).
[[gnu::noinline]] void on_counted_allocation() { g_allocations.fetch_add(1, std::memory_order_relaxed); }

void* counted_alloc(std::size_t n, std::size_t align) {
  if (g_counting.load(std::memory_order_relaxed)) on_counted_allocation();
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align)
                                              : std::malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace ctrnet;

namespace {

/// Counts the operator-new calls (all threads) while it lives.
class AllocationCounter {
 public:
  AllocationCounter() {
    g_allocations.store(0);
    g_counting.store(true);
  }
  ~AllocationCounter() { g_counting.store(false); }
  long count() {
    g_counting.store(false);
    return g_allocations.load();
  }
};

SyntheticCTR small_generator() {
  SyntheticOptions o;
  o.num_dense = 5;
  o.num_categorical = 6;
  o.vocab_size = 200;
  o.num_crosses = 2;
  o.seed = 3;
  return SyntheticCTR(o);
}

TrainerOptions trainer_options(int threads) {
  TrainerOptions o;
  o.batch_size = 96;
  o.shards = 4;
  o.threads = threads;
  o.progress = ProgressMode::never;
  o.optimizer.kind = DenseKind::adam;
  o.embedding_optimizer.kind = SparseKind::rowwise_adagrad;
  return o;
}

// The allocations of three more runs of `pass` (which the caller has run once). On one thread:
// every code path of a step runs on the calling thread, so the check is deterministic. On several
// threads a oneTBB worker allocates a kernel's thread-local scratch the first time the scheduler
// gives it that kernel, which a test cannot force (on a loaded machine that may happen after any
// number of steps), so the claim is checked on one thread.
template <class Pass>
long allocations_of(Pass pass) {
  AllocationCounter counter;
  for (int i = 0; i < 3; ++i) pass();
  return counter.count();
}

// Warms the trainer up on `batches` (every batch once: the caches, the sparse-gradient tables and
// the optimizer state reach their size), then counts the allocations of further passes over the
// same batches and of inference with a reused Cache.
template <class M, class P>
void check_steady_state(M& model, const std::vector<Batch>& batches, P policy) {
  // Views are made once, like the staging of a batch (Trainer::fit re-uses one view's capacity).
  std::vector<BatchView> views(batches.size());
  for (std::size_t i = 0; i < batches.size(); ++i) batches[i].view(views[i]);
  Trainer<M, P> trainer(model, trainer_options(1), policy);
  for (const BatchView& v : views) trainer.train_step(v);
  Matrix<float> out(views.front().size, model.output_width());
  typename M::Cache cache;
  model.predict(policy, views.front(), out.view(), cache);
  trainer.predict_rows(views.front(), out.view());

  const long train = allocations_of([&] {
    for (const BatchView& v : views) trainer.train_step(v);
  });
  const long predict = allocations_of([&] {
    model.predict(policy, views.front(), out.view(), cache);
    trainer.predict_rows(views.front(), out.view());
  });
  CHECK(train == 0);
  CHECK(predict == 0);
}

template <class Make>
void check_alias(const char* name, Make make) {
  const SyntheticCTR gen = small_generator();
  std::vector<Batch> batches(3);
  for (std::size_t i = 0; i < batches.size(); ++i) gen.generate(96, 100 + i, batches[i]);
  {
    INFO(name << ", cpu_simd");
    auto m = make(gen.schema());
    cpu_simd one_thread;  // model.predict below runs outside the trainer's one-thread arena
    one_thread.max_threads = 1;
    check_steady_state(m, batches, one_thread);
  }
  {
    INFO(name << ", cpu_scalar");
    auto m = make(gen.schema());
    check_steady_state(m, batches, cpu_scalar{});
  }
}


}  // namespace

TEST_CASE("the counter sees an allocation (the test can fail)", "[allocations]") {
  static std::vector<int>* volatile sink = nullptr;  // escapes, so the allocations cannot be elided
  AllocationCounter counter;
  sink = new std::vector<int>(1000);
  const long n = counter.count();
  delete sink;
  CHECK(n >= 2);
}

TEST_CASE("Logistic regression and Wide & Deep train and predict without heap allocation after the first step",
          "[allocations]") {
  test_util::visit_linear_aliases([](const char* name, auto make) { check_alias(name, make); });
}

TEST_CASE("The DCN family trains and predicts without heap allocation after the first step", "[allocations]") {
  test_util::visit_dcn_aliases([](const char* name, auto make) { check_alias(name, make); });
}

TEST_CASE("DLRM and TabTransformer train and predict without heap allocation after the first step", "[allocations]") {
  test_util::visit_interaction_aliases([](const char* name, auto make) { check_alias(name, make); });
}

namespace {
// Three batches of 24 random (query row, item row) pairs of `d`: a first pass of training steps
// sizes everything, a second one must allocate nothing.
template <class M>
void check_two_tower_steps(M& model, const RetrievalData& d, TwoTowerTrainerOptions o, std::uint64_t seed) {
  std::vector<std::vector<index_t>> qs(3), is(3);
  Rng rng(seed);
  for (std::size_t b = 0; b < qs.size(); ++b)
    for (int r = 0; r < 24; ++r) {
      qs[b].push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(d.num_queries()))));
      is[b].push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(d.num_items()))));
    }
  o.shards = 4;
  o.threads = 1;
  o.progress = ProgressMode::never;
  TwoTowerTrainer<M> trainer(model, o);
  auto pass = [&] {
    for (std::size_t b = 0; b < qs.size(); ++b) trainer.train_step(d, qs[b], is[b]);
  };
  pass();
  CHECK(allocations_of(pass) == 0);
}
}  // namespace

TEST_CASE("Two-tower training steps allocate nothing after the first, for every retrieval objective",
          "[allocations][two_tower]") {
  const RetrievalData d = ctrnet::test_util::retrieval_data();
  for (RetrievalObjective obj : {RetrievalObjective::in_batch, RetrievalObjective::mixed, RetrievalObjective::pointwise}) {
    INFO("objective " << static_cast<int>(obj));
    TwoTowerOptions mo;
    mo.embedding_dim = 4;
    mo.query_hidden = {8};
    mo.candidate_hidden = {8};
    mo.output_dim = 4;
    TwoTowerMLP model = make_two_tower_mlp(d.schema, mo);
    TwoTowerTrainerOptions o;
    o.objective = obj;
    o.mixed_negatives = 8;
    o.pointwise_negatives = 2;
    check_two_tower_steps(model, d, o, 9);
  }
}

TEST_CASE("Two-tower Transformer training steps (sequence gather/scatter) allocate nothing after the first",
          "[allocations][two_tower]") {
  const RetrievalData d = ctrnet::test_util::retrieval_data(true);
  TwoTowerTransformerOptions mo;
  mo.embedding_dim = 4;
  mo.max_len = 4;  // sequences of up to 6 ids: truncated and padded
  mo.heads = 2;
  mo.output_dim = 4;
  TwoTowerTransformer model = make_two_tower_transformer(d.schema, mo);
  TwoTowerTrainerOptions o;
  o.objective = RetrievalObjective::in_batch;
  check_two_tower_steps(model, d, o, 11);
}
