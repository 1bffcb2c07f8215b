// ctrnet-train: logistic regression and Wide & Deep (see ctrnet_train.hpp).
#include "ctrnet_train.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/wide_deep.hpp"

namespace ctrnet_train {

int train_linear_models(const Args& a, const Schema& schema, const InMemoryDataset& train, const InMemoryDataset* valid,
       const InMemoryDataset* test) {
  if (a.model == "lr") {
    auto m = make_logistic_regression(schema, {}, a.seed);
    return train_and_test(m, a, train, valid, test);
  }
  if (a.model == "wide_deep") {
    WideDeepOptions o;
    o.embedding_dim = a.embedding_dim;
    o.hidden = a.hidden;
    o.dropout = a.dropout;
    auto m = make_wide_deep(schema, o, a.seed);
    return train_and_test(m, a, train, valid, test);
  }
  detail::throw_error("ctrnet-train: unknown model '", a.model, "'");
}

}  // namespace ctrnet_train
