// ctrnet-train: DCN-V2 parallel and DCN-Mix (see ctrnet_train.hpp).
#include "ctrnet_train.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/wide_deep.hpp"

namespace ctrnet_train {

int train_dcn_variants(const Args& a, const Schema& schema, const InMemoryDataset& train, const InMemoryDataset* valid,
       const InMemoryDataset* test) {
  if (a.model == "dcn_v2_parallel") {
    check_model_memory(a, schema, make_dcn_v2_parallel_body(dcn_options(a)));
    auto m = make_dcn_v2_parallel(schema, dcn_options(a), a.seed);
    return train_and_test(m, a, train, valid, test);
  }
  if (a.model == "dcn_mix") {
    check_model_memory(a, schema, make_dcn_mix_body(dcn_options(a)));
    auto m = make_dcn_mix(schema, dcn_options(a), a.seed);
    return train_and_test(m, a, train, valid, test);
  }
  detail::throw_error("ctrnet-train: unknown model '", a.model, "'");
}

}  // namespace ctrnet_train
