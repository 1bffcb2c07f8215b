// ctrnet-vt --towers transformer: the item-to-item model with Transformer towers (ItemToItemTransformer / ItemToItemTransformerListwise).
#include "ctrnet_vt.hpp"

namespace ctrnet_vt {

std::optional<RecommendationLists> train_transformer_towers(const Run& run) {
  return run.listwise ? train_model<ItemToItemTransformerListwise>(run) : train_model<ItemToItemTransformer>(run);
}

}  // namespace ctrnet_vt
