// ctrnet-train: dlrm (see ctrnet_train.hpp). Placeholder until the model lands (issue 8).
#include "ctrnet_train.hpp"

namespace ctrnet_train {

int train_dlrm_models(const Args& a, const Schema&, const InMemoryDataset&, const InMemoryDataset*, const InMemoryDataset*) {
  detail::throw_error("ctrnet-train: model '", a.model, "' is not built yet");
}

}  // namespace ctrnet_train
