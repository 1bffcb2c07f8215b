// Logistic regression: p = σ(b + Σ_d w_d x_d + Σ_f v_f[id_f] + Σ_c u_c[φ_c(x)]), i.e. the wide
// part of Wide & Deep alone (WideLinear), trained with binary cross-entropy. The classic CTR
// baseline (McMahan et al. 2013 train it with FTRL-Proximal).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ctrnet/compose/model.hpp"
#include "ctrnet/heads/binary.hpp"
#include "ctrnet/layers/wide.hpp"

namespace ctrnet {

using LogisticRegression = Model<WideLinear, BinaryHead>;

struct LogisticRegressionOptions {
  std::vector<std::vector<std::string>> crosses{};  ///< optional hashed cross-product features
  index_t cross_buckets = 1 << 18;
  bool dense = true;
};

/// Builds (and initialises from `seed`) a logistic regression over every field of `schema`.
inline LogisticRegression make_logistic_regression(const Schema& schema, const LogisticRegressionOptions& o = {},
                                                   std::uint64_t seed = 1) {
  WideLinear::Options w;
  w.crosses = o.crosses;
  w.cross_buckets = o.cross_buckets;
  w.dense = o.dense;
  LogisticRegression m{WideLinear(w), BinaryHead{}};
  m.build(schema, seed);
  return m;
}

}  // namespace ctrnet
