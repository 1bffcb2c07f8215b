// ctrnet-train: DCN and DCN-V2 stacked (see ctrnet_train.hpp).
#include "ctrnet_train.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/wide_deep.hpp"

namespace ctrnet_train {

int train_dcn_models(const Args& a, const Schema& schema, const InMemoryDataset& train, const InMemoryDataset* valid,
       const InMemoryDataset* test) {
  if (a.model == "dcn") {
    check_model_memory(a, schema, make_dcn_body(dcn_options(a)));
    auto m = make_dcn(schema, dcn_options(a), a.seed);
    return train_and_test(m, a, train, valid, test);
  }
  if (a.model == "dcn_v2") {
    check_model_memory(a, schema, make_dcn_v2_stacked_body(dcn_options(a)));
    auto m = make_dcn_v2_stacked(schema, dcn_options(a), a.seed);
    return train_and_test(m, a, train, valid, test);
  }
  detail::throw_error("ctrnet-train: unknown model '", a.model, "'");
}

}  // namespace ctrnet_train
