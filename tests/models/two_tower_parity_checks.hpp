// cpu_simd-vs-cpu_scalar parity of whole two-tower models (tests/models/test_two_tower*.cpp): one
// TwoTowerTrainer step per retrieval objective (both towers forward, the similarity, the objective
// over the whole batch with logQ correction and accidental-hit masking, both towers backward,
// shard gradients summed) gives the same loss, dense gradient buffer and embedding-table
// gradients on both policies; then the serving vectors agree. Tolerances: simd_parity_checks.hpp.
#pragma once
#include <span>
#include <vector>

#include "ctrnet/train/two_tower_trainer.hpp"
#include "simd_parity_checks.hpp"

namespace ctrnet::parity_test {

/// `proto` (built): for the pointwise, in-batch and mixed objectives, a copy of it trained one
/// step on cpu_scalar and another on cpu_simd, on the positives (queries q[r], items it[r]) of
/// `d`, agree in loss and gradients; `proto` encodes the pairs' queries and candidates alike on
/// both policies.
template <class M>
void check_two_tower_simd_parity(const M& proto, const RetrievalData& d, std::span<const index_t> q,
                                 std::span<const index_t> it, Tolerance tol = {}, double loss_rtol = 1e-5) {
  for (auto obj : {RetrievalObjective::pointwise, RetrievalObjective::in_batch, RetrievalObjective::mixed}) {
    INFO(to_string(obj));
    M m0 = proto, m1 = proto;
    TwoTowerTrainerOptions o;
    o.objective = obj;
    o.shards = 3;
    o.threads = 2;
    o.pointwise_negatives = 2;
    o.mixed_negatives = 5;
    o.progress = ProgressMode::never;
    TwoTowerTrainer<M, cpu_scalar> t0(m0, o);
    TwoTowerTrainer<M, cpu_simd> t1(m1, o);
    const double l0 = t0.train_step(d, q, it), l1 = t1.train_step(d, q, it);
    CHECK(std::isfinite(l0));
    CHECK(l1 == Approx(l0).epsilon(loss_rtol));
    check_grads_match(proto.registry(), t0.gradients(), t1.gradients(), tol);
  }
  Batch pairs;
  gather_pairs(d, q, it, {}, pairs);
  const BatchView b = pairs.view();
  using T = typename M::value_type;
  Matrix<T> u0(b.size, proto.dim()), u1(b.size, proto.dim()), v0(b.size, proto.dim()), v1(b.size, proto.dim());
  typename M::QueryCache qc0, qc1;
  typename M::CandidateCache cc0, cc1;
  proto.encode_queries(cpu_scalar{}, b, u0.view(), qc0);
  proto.encode_queries(cpu_simd{}, b, u1.view(), qc1);
  proto.encode_candidates(cpu_scalar{}, b, v0.view(), cc0);
  proto.encode_candidates(cpu_simd{}, b, v1.view(), cc1);
  check_values_match("query vectors", u0.data(), u1.data(), static_cast<std::size_t>(u0.size()), tol);
  check_values_match("candidate vectors", v0.data(), v1.data(), static_cast<std::size_t>(v0.size()), tol);
}

}  // namespace ctrnet::parity_test
