// ctrnet-train: logistic regression and Wide & Deep (see ctrnet_train.hpp).
#include "ctrnet_train.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/wide_deep.hpp"

namespace ctrnet_train {

int train_linear_models(const Args& a, const Schema& schema, const InMemoryDataset& train, const InMemoryDataset* valid,
       const InMemoryDataset* test) {
  if (a.model == "lr") {
    {
      const LogisticRegressionOptions lo;  // make_logistic_regression's body, for the memory check
      WideLinear::Options w;
      w.crosses = lo.crosses;
      w.cross_buckets = lo.cross_buckets;
      w.dense = lo.dense;
      check_model_memory(a, schema, WideLinear(w));
    }
    auto m = make_logistic_regression(schema, {}, a.seed);
    return train_and_test(m, a, train, valid, test);
  }
  if (a.model == "wide_deep") {
    WideDeepOptions o;
    o.embedding_dim = a.embedding_dim;
    o.hidden = a.hidden;
    o.dropout = a.dropout;
    check_model_memory(a, schema, make_wide_deep_body(o));
    auto m = make_wide_deep(schema, o, a.seed);
    return train_and_test(m, a, train, valid, test);
  }
  detail::throw_error("ctrnet-train: unknown model '", a.model, "'");
}

}  // namespace ctrnet_train
