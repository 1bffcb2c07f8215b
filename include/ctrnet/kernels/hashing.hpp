// Hashing kernels over the ids of a batch (integer data, but batch data all the same: a device
// policy would hash where the ids live).
//
//   hash_cross_ids   the cross-product id of fields f_1..f_m (WideLinear's φ_c) for example r:
//                      h_0 = 0x9E3779B97F4A7C15,  h_k = mix_seed(h_{k−1}, id_{f_k}(r)),  id(r) = h_m,
//                    where every crossed field must hold exactly one id in every example; the
//                    output is a one-id-per-row FieldIds (offsets[r] = r). IdMapper hashes it into
//                    the cross table's buckets later, inside the embedding kernels.
// One reference overload on cpu_scalar serves every CPU policy (cpu_simd derives from it): the
// work is a few splitmix64 rounds per row.
#pragma once
#include <cstdint>

#include "ctrnet/core/rng.hpp"
#include "ctrnet/core/types.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

namespace ctrnet::kernels {

/// Where hash_cross_ids found an example whose crossed field does not hold exactly one id: the
/// first one in (row, then crossed-field) order. row < 0: every example was fine.
struct CrossIdError {
  index_t row = -1;    ///< the example (row of the batch view)
  index_t field = -1;  ///< index into `fields` of the offending field
  index_t count = 0;   ///< how many ids it holds there
  bool ok() const { return row < 0; }
};

/// fields: the batch's categorical fields; cross: [num_cross] indices into `fields` of the crossed
/// fields, in cross order. ids: [rows], offsets: [rows + 1] (both overwritten). Stops at the first
/// example with a crossed field that does not hold exactly one id and reports it (the caller
/// raises the error, with the field's name).
inline CrossIdError hash_cross_ids(const cpu_scalar& policy, const FieldIds* fields, const index_t* cross, index_t num_cross,
                                   index_t rows, FeatureId* ids, index_t* offsets) {
  CTRNET_KERNEL_SCOPE(policy);
  for (index_t r = 0; r < rows; ++r) {
    std::uint64_t h = 0x9E3779B97F4A7C15ull;
    for (index_t k = 0; k < num_cross; ++k) {
      const FieldIds& fid = fields[cross[k]];
      if (fid.count(r) != 1) return {r, cross[k], fid.count(r)};
      h = mix_seed(h, static_cast<std::uint64_t>(fid.ids[fid.offsets[r]]));
    }
    ids[r] = static_cast<FeatureId>(h);
    offsets[r] = r;
  }
  offsets[rows] = rows;
  return {};
}

}  // namespace ctrnet::kernels
