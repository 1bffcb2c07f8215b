// ctrnet-train: DLRM (see ctrnet_train.hpp). The bottom MLP's hidden widths come from --bottom
// (its output width is --embedding-dim), the top MLP's from --hidden, then the logit.
#include "ctrnet_train.hpp"
#include "ctrnet/io/architecture_dlrm.hpp"
#include "ctrnet/models/dlrm.hpp"

namespace ctrnet_train {

int train_dlrm_models(const Args& a, const Schema& schema, const InMemoryDataset& train, const InMemoryDataset* valid,
                      const InMemoryDataset* test) {
  if (a.model == "dlrm") {
    DLRMOptions o;
    o.embedding_dim = a.embedding_dim;
    o.bottom = a.bottom;
    o.top = a.hidden;
    o.dropout = a.dropout;
    check_model_memory(a, schema, make_dlrm_body(o));
    auto m = make_dlrm(schema, o, a.seed);
    return train_and_test(m, a, train, valid, test);
  }
  detail::throw_error("ctrnet-train: unknown model '", a.model, "'");
}

}  // namespace ctrnet_train
