// The backend boundary, proved without a GPU (issue 15): every architecture alias runs build →
// training steps → predict → save/load on testing::cpu_guarded, whose tensors are readable only
// inside a kernel (testing/cpu_guarded.hpp), and matches cpu_scalar bit for bit. A host read of
// policy memory anywhere on that path kills the test binary with SIGSEGV and a backtrace.
//
// And the guard itself is tested: a layer that reads its output on the host after its kernel (a
// planted leak) dies with SIGSEGV in a child process, while the same model without the leak runs.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "../ctr_aliases.hpp"
#include "guarded_checks.hpp"
#include "ctrnet/compose/model.hpp"
#include "ctrnet/compose/sequential.hpp"
#include "ctrnet/data/synthetic.hpp"
#include "ctrnet/heads/binary.hpp"
#include "ctrnet/heads/glove.hpp"
#include "ctrnet/io/architecture_dlrm.hpp"
#include "ctrnet/io/architecture_tab_transformer.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/gemm.hpp"
#include "ctrnet/layers/linear.hpp"
#include "ctrnet/policy/cpu_context.hpp"
#include "ctrnet/testing/cpu_guarded.hpp"
#include "ctrnet/train/trainer.hpp"

using namespace ctrnet;
using namespace ctrnet::guarded_test;

namespace {

SyntheticCTR generator() {
  SyntheticOptions o;
  o.num_dense = 4;
  o.num_categorical = 5;
  o.vocab_size = 60;
  o.num_crosses = 2;
  o.seed = 17;
  return SyntheticCTR(o);
}

TrainerOptions trainer_options() {
  TrainerOptions o;
  o.batch_size = 48;
  o.shards = 3;  // three shards: the shard gradients are reduced through kernels too
  o.threads = 1;
  o.progress = ProgressMode::never;
  o.optimizer.kind = DenseKind::adam;
  o.embedding_optimizer.kind = SparseKind::rowwise_adagrad;
  o.table_rules.push_back({"wide", SparseOptimizerOptions{.kind = SparseKind::ftrl}});
  return o;
}

/// Three synthetic CTR batches of 48 rows.
std::vector<Batch> ctr_batches(const SyntheticCTR& gen) {
  std::vector<Batch> batches(3);
  for (std::size_t i = 0; i < batches.size(); ++i) gen.generate(48, 200 + i, batches[i]);
  return batches;
}

/// Trains `make(schema)` for a step per batch, predicts, saves and reloads (when `Save`), on
/// cpu_scalar and on cpu_guarded; every loss, prediction and parameter must agree bit for bit.
template <bool Save = true, class Make>
void check_alias(const char* name, Make make, const Schema& schema, const std::vector<Batch>& batches) {
  INFO(name);
  std::vector<BatchView> views(batches.size());
  for (std::size_t i = 0; i < batches.size(); ++i) batches[i].view(views[i]);
  const auto make_model = [&] { return make(schema); };

  // cpu_scalar: the reference.
  auto ref = make_model();
  std::vector<double> ref_loss;
  Matrix<float> ref_out(views[0].size, ref.output_width());
  {
    Trainer<decltype(ref), cpu_scalar> trainer(ref, trainer_options());
    for (const auto& v : views) ref_loss.push_back(trainer.train_step(v));
    trainer.predict_rows(views[0], ref_out.view());
  }

  GuardedContext ctx;
  const cpu_guarded gp(ctx);
  auto model = [&] {
    const PolicyScope scope(gp);  // the parameters are allocated in the guarded arena
    return make_model();
  }();
  REQUIRE_FALSE(model.params().dense.space().host_accessible());
  std::vector<float> got_out(static_cast<std::size_t>(ref_out.size()));
  {
    Trainer<decltype(model), cpu_guarded> trainer(model, trainer_options(), gp);
    for (std::size_t i = 0; i < views.size(); ++i) {
      const double loss = trainer.train_step(views[i]);
      CHECK(std::memcmp(&loss, &ref_loss[i], sizeof loss) == 0);
    }
    Matrix<float> out;
    {
      const PolicyScope scope(gp);
      out.resize(views[0].size, model.output_width());  // predictions where the policy writes them
    }
    trainer.predict_rows(views[0], out.view());
    out.download(got_out.data());  // the explicit copy back
  }
  CHECK(std::memcmp(got_out.data(), ref_out.data(), got_out.size() * sizeof(float)) == 0);
  const auto want = host_params(ref), got = host_params(model);
  REQUIRE(want.size() == got.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(same_bits(want[i], got[i]));

  // Save from guarded memory, load into guarded memory and into the host; both predict the same.
  if constexpr (Save) check_save_load(model, gp, views[1]);

  CHECK(ctx.arena().kernel_entries() > 100);  // the work went through the guard
  CHECK(ctx.arena().used_bytes() > 0);
}

template <class Make>
void check_alias(const char* name, Make make) {
  const SyntheticCTR gen = generator();
  check_alias(name, make, gen.schema(), ctr_batches(gen));
}


}  // namespace

TEST_CASE("guarded memory faults on host access outside a kernel and opens inside one", "[guarded]") {
  GuardedContext ctx;
  const cpu_guarded gp(ctx);
  Matrix<float> m(ctx.memory());
  m.resize(4, 4, 2.f);  // a non-zero fill is staged on the host and copied in
  std::vector<float> host(16);
  m.download(host.data());
  CHECK(host == std::vector<float>(16, 2.f));
  kernels::scale(gp, 3.f, m.view());  // a kernel may touch it
  m.download(host.data());
  CHECK(host == std::vector<float>(16, 6.f));

  const auto r = run_in_child([&] {  // the child reads an element on the host: SIGSEGV
    volatile float x = m(1, 1);
    static_cast<void>(x);
  });
  CHECK(WIFSIGNALED(r.status));
  CHECK(WTERMSIG(r.status) == SIGSEGV);
  CHECK_THAT(r.stderr_text, Catch::Contains("host code touched policy memory outside a kernel"));
}

namespace {

/// A test layer with a planted leak: y = x through a kernel, then (when `leak`) a host read of
/// its output, as a careless layer might do to inspect a value.
struct MaybeLeakyCopy {
  using input_kind = Dense;
  template <class T>
  struct Cache {
    T first = T(0);
  };
  bool leak = false;
  index_t width = 0;
  index_t build(index_t in, ParamRegistry&) {
    width = in;
    return in;
  }
  index_t out_dim() const { return width; }
  template <class P, class T>
  void forward(const P& p, const Weights<T>&, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    kernels::copy(p, x, y);
    if (leak) c.first = y(0, 0);  // the planted host read of policy memory
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>&, Cache<T>&, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>&) const {
    if (!dx.empty()) kernels::axpy(p, T(1), dy, dx);
  }
};

// Builds a model whose body holds MaybeLeakyCopy on cpu_guarded and runs one training step.
void train_step_with(bool leak) {
  const SyntheticCTR gen = generator();
  Batch batch;
  gen.generate(32, 5, batch);
  BatchView v;
  batch.view(v);
  GuardedContext ctx;
  const cpu_guarded gp(ctx);
  using Body = Sequential<FeatureInput, MaybeLeakyCopy, Linear>;
  Model<Body, BinaryHead> model(Body(FeatureInput(), MaybeLeakyCopy{leak}, Linear(1)), BinaryHead{});
  model.build(gp, gen.schema(), 1);
  typename decltype(model)::Cache cache;
  auto grads = [&] {
    const PolicyScope scope(gp);
    return model.make_grads();
  }();
  model.forward_backward(gp, v, cache, grads, Context{}, 32.0);
}

}  // namespace

TEST_CASE("a planted host read of a cache in a test layer kills the guarded run", "[guarded]") {
  const auto clean = run_in_child([] { train_step_with(false); });
  INFO(clean.stderr_text);
  CHECK(WIFEXITED(clean.status));
  CHECK(WEXITSTATUS(clean.status) == 0);
  const auto leaky = run_in_child([] { train_step_with(true); });
  CHECK(WIFSIGNALED(leaky.status));
  CHECK(WTERMSIG(leaky.status) == SIGSEGV);
  CHECK_THAT(leaky.stderr_text, Catch::Contains("host code touched policy memory outside a kernel"));
}

TEST_CASE("LR and Wide & Deep run on cpu_guarded and match cpu_scalar bit for bit", "[guarded]") {
  test_util::visit_linear_aliases([](const char* name, auto make) { check_alias(name, make); });
}

TEST_CASE("The DCN family runs on cpu_guarded and matches cpu_scalar bit for bit", "[guarded]") {
  test_util::visit_dcn_aliases([](const char* name, auto make) { check_alias(name, make); });
}

TEST_CASE("A multi-output model (DCN-V2 body, BinaryHead + GloveHead) runs on cpu_guarded bit for bit",
          "[guarded][multi_output]") {
  const SyntheticCTR gen = generator();
  std::vector<Batch> batches = ctr_batches(gen);
  for (Batch& b : batches) {  // a count target per row for the GloVe head
    b.targets.assign(1, {});
    for (index_t r = 0; r < b.size(); ++r) b.targets[0].push_back(static_cast<float>(r % 4 == 0 ? 0 : r % 7 + 1));
  }
  // Saved with both heads' options (architecture "dcn_v2_stacked+binary+glove", io/architecture.hpp).
  check_alias("DCN-V2 + GloVe", [](const Schema& s) {
    DCNOptions o = test_util::small_dcn();
    o.outputs = 2;  // one logit column per head
    using M = Model<DCNv2StackedBody, BinaryHead, GloveHead>;
    M m(make_dcn_v2_stacked_body(o), BinaryHead(HeadOptions{1.0, 0}), GloveHead(HeadOptions{0.5, 1}));
    m.build(s, 3);
    return m;
  }, gen.schema(), batches);
}

TEST_CASE("DLRM and TabTransformer run on cpu_guarded and match cpu_scalar bit for bit", "[guarded]") {
  test_util::visit_interaction_aliases([](const char* name, auto make) { check_alias(name, make); });
}

namespace {

// The custom layer of docs/custom_tower.md ("A custom layer written against the policy"), verbatim:
// y = x + f(x Wᵀ + b), every line of arithmetic a kernel.
class ResidualDense {
 public:
  using input_kind = Dense;
  template <class T>
  struct Cache {
    ConstMatrixView<T> x;   // the input (owned by the caller)
    Matrix<T> z, h, dz;     // workspaces: resized every step, allocated only the first time
  };
  explicit ResidualDense(Activation f = Activation::relu) : f_(f) {}

  index_t build(index_t in, ParamRegistry& reg) {
    d_ = in;
    w_ = reg.add("weight", in, in, Init::glorot_uniform());
    b_ = reg.add("bias", 1, in, Init::zeros());
    return in;
  }
  index_t out_dim() const { return d_; }

  template <class P, class T>
  void forward(const P& p, const Weights<T>& w, ConstMatrixView<T> x, MatrixView<T> y, Cache<T>& c,
               const Context& = {}) const {
    using namespace kernels;
    c.z.resize(x.rows, d_);
    c.h.resize(x.rows, d_);
    gemm(p, Trans::no, Trans::yes, T(1), x, w[w_], T(0), c.z.view());           // z = x Wᵀ
    bias_activation_forward(p, f_, T(0), w[b_].data, c.z.view(), c.h.view());   // z += b, h = f(z)
    copy(p, x, y);                                                              // y = x
    axpy(p, T(1), c.h.cview(), y);                                              // y += h
    c.x = x;
  }
  template <class P, class T>
  void backward(const P& p, const Weights<T>& w, Cache<T>& c, ConstMatrixView<T> dy, MatrixView<T> dx,
                const Gradients<T>& g) const {
    using namespace kernels;
    c.dz.resize(dy.rows, d_);
    activation_bias_backward(p, f_, T(0), c.z.cview(), c.h.cview(), dy, c.dz.view(), g[b_].data);  // dz; db +=
    gemm(p, Trans::yes, Trans::no, T(1), c.dz.cview(), c.x, T(1), g[w_]);      // dW += dzᵀ x
    if (dx.empty()) return;                                                     // input gradient not needed
    gemm(p, Trans::no, Trans::no, T(1), c.dz.cview(), w[w_], T(1), dx);        // dx += dz W
    axpy(p, T(1), dy, dx);                                                      // dx += dy
  }

 private:
  Activation f_;
  index_t d_ = 0;
  ParamHandle w_, b_;
};

}  // namespace

TEST_CASE("The custom layer of docs/custom_tower.md runs on cpu_guarded and matches cpu_scalar bit for bit",
          "[guarded][custom]") {
  ResidualDense layer(Activation::gelu);
  ParamRegistry reg;
  const index_t B = 16, d = layer.build(7, reg);
  std::vector<float> x(static_cast<std::size_t>(B * d)), dy(x.size());
  Rng rng(7);
  for (float& v : x) v = static_cast<float>(rng.uniform(-1, 1));
  for (float& v : dy) v = static_cast<float>(rng.uniform(-1, 1));

  struct Run {
    std::vector<float> y, dx, g;
  };
  auto run = [&](const auto& policy) {
    const PolicyScope scope(policy);  // params, inputs, outputs and the cache in the policy's memory
    ModelParams<float> params;
    params.initialize(reg, 3);
    Matrix<float> xm, dym, y, dx;
    xm.upload(x.data(), B, d);
    dym.upload(dy.data(), B, d);
    y.resize(B, d);
    dx.resize(B, d, 0.f);
    ModelGrads<float> g;
    g.allocate(reg);
    ResidualDense::Cache<float> c;
    layer.forward(policy, params.weights(), xm.cview(), y.view(), c);
    layer.backward(policy, params.weights(), c, dym.cview(), dx.view(), g.gradients());
    Run r{std::vector<float>(x.size()), std::vector<float>(x.size()), std::vector<float>(static_cast<std::size_t>(g.dense.size()))};
    y.download(r.y.data());
    dx.download(r.dx.data());
    g.dense.download(r.g.data());
    return r;
  };
  GuardedContext ctx;
  const Run a = run(cpu_guarded(ctx)), b = run(cpu_scalar{});
  CHECK(same_bits(a.y, b.y));
  CHECK(same_bits(a.dx, b.dx));
  CHECK(same_bits(a.g, b.g));
  CHECK(ctx.arena().kernel_entries() >= 8);
}

TEST_CASE("An id outside its vocabulary is a clear error when the batch is staged, before any kernel runs",
          "[guarded][errors]") {
  const SyntheticCTR gen = generator();
  Batch batch;
  gen.generate(48, 9, batch);
  batch.ids[1][5] = 1000000;  // field 1 (a vocabulary of 60 ids), the id of example 5
  BatchView v;
  batch.view(v);
  GuardedContext ctx;
  const cpu_guarded gp(ctx);
  auto model = [&] {
    const PolicyScope scope(gp);
    return make_logistic_regression(gen.schema());
  }();
  Trainer<decltype(model), cpu_guarded> trainer(model, trainer_options(), gp);
  const auto before = host_params(model);
  const std::uint64_t kernels_before = ctx.arena().kernel_entries();
  const std::string field = gen.schema().categorical(1).name;
  CHECK_THROWS_WITH(trainer.train_step(v), Catch::Contains("field '" + field + "': id 1000000 in example 5") &&
                                               Catch::Contains("outside the vocabulary [0, 60)"));
  CHECK(ctx.arena().kernel_entries() == kernels_before);  // no kernel ran
  CHECK(trainer.step() == 0);
  CHECK(host_params(model) == before);
  // On the CPU policies the embedding kernels find it, with the same message.
  auto host_model = make_logistic_regression(gen.schema());
  Trainer<decltype(host_model), cpu_scalar> host_trainer(host_model, trainer_options());
  CHECK_THROWS_WITH(host_trainer.train_step(v), Catch::Contains("field '" + field + "': id 1000000 in example 5"));
}

TEST_CASE("A bad head target (a negative GloVe count) is a clear error when the batch is staged, before any kernel runs",
          "[guarded][errors]") {
  const SyntheticCTR gen = generator();
  Batch batch;
  gen.generate(48, 11, batch);
  batch.targets.assign(1, std::vector<float>(48, 2.0f));
  batch.targets[0][7] = -3.0f;  // the count of example 7
  BatchView v;
  batch.view(v);
  auto make = [&] {
    const DCNOptions o = test_util::small_dcn();
    Linear::Options lo;
    lo.units = 2;
    using M = Model<DCNv2StackedBody, BinaryHead, GloveHead>;
    M m(DCNv2StackedBody(detail::dcn_input(o), detail::dcn_v2_cross(o), detail::dcn_deep(o),
                         Named<Linear>("logit", Linear(lo))),
        BinaryHead(HeadOptions{1.0, 0}), GloveHead(HeadOptions{0.5, 1}));
    m.build(gen.schema(), 3);
    return m;
  };
  GuardedContext ctx;
  const cpu_guarded gp(ctx);
  auto model = [&] {
    const PolicyScope scope(gp);
    return make();
  }();
  Trainer<decltype(model), cpu_guarded> trainer(model, trainer_options(), gp);
  const auto before = host_params(model);
  const std::uint64_t kernels_before = ctx.arena().kernel_entries();
  const char* want = "GloveHead: the co-occurrence count of row 7 is -3; expected a finite count >= 0";
  CHECK_THROWS_WITH(trainer.train_step(v), want);
  CHECK(ctx.arena().kernel_entries() == kernels_before);  // no kernel ran
  CHECK(trainer.step() == 0);
  CHECK(host_params(model) == before);
  // On the CPU policies the loss kernel finds it, with the same message.
  auto host_model = make();
  Trainer<decltype(host_model), cpu_scalar> host_trainer(host_model, trainer_options());
  CHECK_THROWS_WITH(host_trainer.train_step(v), want);
}

TEST_CASE("cpu_simd carries its execution context: kernels run in its arena, training matches the default bit for bit",
          "[policy][cpu_context]") {
  // A GEMM big enough to split: its epilogue records the arena it runs in.
  const index_t m = 256, n = 256, kk = 64;
  Matrix<float> a(m, kk, 0.5f), b(kk, n, 0.25f), c(m, n, 0.0f);
  CpuContext ctx(3);  // 3 slots, more than this machine's cores: distinguishable from the default arena
  const cpu_simd in_ctx = cpu_simd_in(ctx);
  CHECK(&memory_of(in_ctx) == &host_memory());
  std::atomic<int> seen_concurrency{0};
  kernels::gemm_epilogue(in_ctx, kernels::Trans::no, kernels::Trans::no, 1.0f, a.cview(), b.cview(), 0.0f, c.view(),
                         [&](index_t, index_t, index_t, index_t) {
                           seen_concurrency = tbb::this_task_arena::max_concurrency();
                         });
  CHECK(seen_concurrency.load() == 3);
  CHECK(c(0, 0) == 0.5f * 0.25f * static_cast<float>(kk));

  // A Trainer given that policy runs in ctx; one given plain cpu_simd runs in its own arena. The
  // results are the same bits (they never depend on the threads).
  const SyntheticCTR gen = generator();
  const std::vector<Batch> batches = ctr_batches(gen);
  auto make = [&] { return make_dcn_v2_stacked(gen.schema(), test_util::small_dcn()); };
  auto m1 = make(), m2 = make();
  TrainerOptions o = trainer_options();
  o.threads = 2;
  Trainer<decltype(m1), cpu_simd> t1(m1, o);
  Trainer<decltype(m2), cpu_simd> t2(m2, o, in_ctx);
  CHECK(t1.policy().cpu != nullptr);  // the trainer's own context
  CHECK(t2.policy().cpu == &ctx);     // the policy's
  for (const Batch& batch : batches) {
    BatchView v;
    batch.view(v);
    const double l1 = t1.train_step(v), l2 = t2.train_step(v);
    CHECK(same_bits(l1, l2));
  }
  CHECK(host_params(m1) == host_params(m2));
}
